import { SIGNING_ALGORITHMS } from '../keys/key-ring.ts';
import { listSigningKeys, rotateSigningKeys, rotationAlgorithms } from '../keys/key-admin.ts';
import { print, requirePositional, UsageError, type CommandArgs } from './io.ts';
import { withContext } from './with-context.ts';

export async function keysCommand(args: CommandArgs): Promise<number> {
  const sub = args.positionals[0];
  return withContext(args, async (ctx) => {
    switch (sub) {
      case 'list': {
        const { keys: rows, rotation_days: rotationDays } = await listSigningKeys(ctx);
        const schedule =
          rotationDays === 0
            ? 'Keys rotate only by hand (LATCHKEY_KEY_ROTATION_DAYS=0).'
            : `Keys rotate every ${rotationDays} days (LATCHKEY_KEY_ROTATION_DAYS), the successor published ${ctx.settings.keyPrepublishSeconds} s before it signs.`;
        print(
          args,
          { keys: rows, rotation_days: rotationDays },
          [
            ...rows.map((r) => {
              const when = r.status === 'next' ? ` from ${r.signs_from}` : r.status === 'published' ? ` until ${r.unpublish_at}` : '';
              const next = r.next_rotation_at ? `, next rotation ${r.next_rotation_at}` : '';
              return `${r.kid}  ${r.alg}  ${r.status}${when}  (age ${age(r.age_seconds)}${next})`;
            }),
            schedule,
          ].join('\n'),
        );
        return 0;
      }
      case 'rotate': {
        const alg = typeof args.values.alg === 'string' ? args.values.alg : 'all';
        const algs = rotationAlgorithms(alg);
        if (!algs) throw new UsageError(`--alg must be one of ${SIGNING_ALGORITHMS.join(', ')} or all`);
        // --now: sign with the new key at once (a compromised key); by default it is published first.
        const result = await rotateSigningKeys(ctx, algs, { immediately: args.values.now === true });
        const { rotated, old_keys_published_for_seconds: retainSeconds } = result;
        print(
          args,
          result,
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

/** A key's age for people: `40 s`, `12 min`, `5 h`, `91 days`. */
function age(seconds: number): string {
  if (seconds < 60) return `${seconds} s`;
  if (seconds < 3600) return `${Math.floor(seconds / 60)} min`;
  if (seconds < 2 * 86400) return `${Math.floor(seconds / 3600)} h`;
  return `${Math.floor(seconds / 86400)} days`;
}
