import { nowSeconds } from '../lib/clock.ts';
import { pickSigner, SIGNING_ALGORITHMS, type SigningAlgorithm } from '../keys/key-ring.ts';
import { keyRetentionSeconds } from '../server.ts';
import type { StoredSigningKey } from '../storage/signing-key-store.ts';
import { print, requirePositional, UsageError, type CommandArgs } from './io.ts';
import { withContext } from './with-context.ts';

const iso = (seconds: number | null) => (seconds === null ? null : new Date(seconds * 1000).toISOString());

export async function keysCommand(args: CommandArgs): Promise<number> {
  const sub = args.positionals[0];
  return withContext(args, async (ctx) => {
    switch (sub) {
      case 'list': {
        const keys = await ctx.storage.signingKeys.listAll();
        const now = nowSeconds();
        const rows = keys.map((k) => ({
          kid: k.kid,
          alg: k.alg,
          status: status(k, keys, now),
          created_at: iso(k.createdAt),
          signs_from: iso(k.activatesAt),
          signs_until: iso(k.retiredAt),
          unpublish_at: iso(k.expiresAt),
        }));
        print(
          args,
          { keys: rows },
          rows
            .map((r) => {
              const when = r.status === 'next' ? ` from ${r.signs_from}` : r.status === 'published' ? ` until ${r.unpublish_at}` : '';
              return `${r.kid}  ${r.alg}  ${r.status}${when}`;
            })
            .join('\n'),
        );
        return 0;
      }
      case 'rotate': {
        const alg = typeof args.values.alg === 'string' ? args.values.alg : 'all';
        const algs: SigningAlgorithm[] =
          alg === 'all' ? [...SIGNING_ALGORITHMS] : (SIGNING_ALGORITHMS as readonly string[]).includes(alg) ? [alg as SigningAlgorithm] : [];
        if (algs.length === 0) throw new UsageError(`--alg must be one of ${SIGNING_ALGORITHMS.join(', ')} or all`);
        const retainSeconds = await keyRetentionSeconds(ctx);
        // --now: sign with the new key at once (a compromised key); by default it is published first.
        const prepublishSeconds = args.values.now ? 0 : ctx.settings.keyPrepublishSeconds;
        const rotated = [];
        for (const a of algs) {
          const r = await ctx.keys.rotate(a, { retainSeconds, prepublishSeconds });
          rotated.push({ alg: a, kid: r.kid, signs_from: iso(r.activatesAt), retired: r.retired });
        }
        print(
          args,
          { rotated, old_keys_published_for_seconds: retainSeconds, prepublish_seconds: prepublishSeconds },
          rotated
            .map(
              (r) =>
                `${r.alg}: new key ${r.kid} is published now and signs from ${r.signs_from}; ` +
                `${r.retired.join(', ') || 'no key'} stays published ${retainSeconds} s after that`,
            )
            .join('\n'),
        );
        return 0;
      }
      case 'revoke': {
        const kid = requirePositional(args.positionals, 'the key id (kid)');
        const { alg, successor } = await ctx.keys.revoke(kid);
        print(
          args,
          { revoked: kid, alg, signs_now: successor ?? null },
          `${kid} (${alg}) is no longer published: tokens it signed stop validating at once on every node; ` +
            `resource servers drop it at their next JWKS refresh.` +
            (successor ? `\n${successor} signs ${alg} tokens from now on.` : ''),
        );
        return 0;
      }
      default:
        throw new UsageError(`unknown keys command "${sub ?? ''}"`);
    }
  });
}

/** signing: signs now; next: published, signs later; published: retired, still in the JWKS; expired. */
function status(key: StoredSigningKey, all: StoredSigningKey[], now: number): string {
  if (key.expiresAt !== null && key.expiresAt <= now) return 'expired';
  if (pickSigner(all, key.alg, now)?.kid === key.kid) return 'signing';
  if (key.activatesAt > now) return 'next';
  return 'published';
}
