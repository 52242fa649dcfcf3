import { SIGNING_ALGORITHMS, type SigningAlgorithm } from '../keys/key-ring.ts';
import { keyRetentionSeconds } from '../server.ts';
import { print, UsageError, type CommandArgs } from './io.ts';
import { withContext } from './with-context.ts';

export async function keysCommand(args: CommandArgs): Promise<number> {
  const sub = args.positionals[0];
  return withContext(args, async (ctx) => {
    switch (sub) {
      case 'list': {
        const keys = await ctx.storage.signingKeys.listAll();
        const now = Math.floor(Date.now() / 1000);
        const rows = keys.map((k) => ({
          kid: k.kid,
          alg: k.alg,
          status: k.retiredAt === null ? 'signing' : k.expiresAt !== null && k.expiresAt <= now ? 'expired' : 'published',
          created_at: new Date(k.createdAt * 1000).toISOString(),
          unpublish_at: k.expiresAt === null ? null : new Date(k.expiresAt * 1000).toISOString(),
        }));
        print(
          args,
          { keys: rows },
          rows.map((r) => `${r.kid}  ${r.alg}  ${r.status}${r.unpublish_at ? ` until ${r.unpublish_at}` : ''}`).join('\n'),
        );
        return 0;
      }
      case 'rotate': {
        const alg = typeof args.values.alg === 'string' ? args.values.alg : 'all';
        const algs: SigningAlgorithm[] =
          alg === 'all' ? [...SIGNING_ALGORITHMS] : (SIGNING_ALGORITHMS as readonly string[]).includes(alg) ? [alg as SigningAlgorithm] : [];
        if (algs.length === 0) throw new UsageError(`--alg must be one of ${SIGNING_ALGORITHMS.join(', ')} or all`);
        const retain = await keyRetentionSeconds(ctx);
        const rotated = [];
        for (const a of algs) rotated.push({ alg: a, ...(await ctx.keys.rotate(a, retain)) });
        print(
          args,
          { rotated, old_keys_published_for_seconds: retain },
          rotated
            .map((r) => `${r.alg}: new signer ${r.kid}; ${r.retired.join(', ') || 'no key'} stays published for ${retain} s`)
            .join('\n'),
        );
        return 0;
      }
      default:
        throw new UsageError(`unknown keys command "${sub ?? ''}"`);
    }
  });
}
