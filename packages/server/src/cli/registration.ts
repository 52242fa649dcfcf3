import { nowSeconds } from '../lib/clock.ts';
import { createInitialAccessToken, listInitialAccessTokens, revokeInitialAccessToken, tokenState } from '../registration/initial-access-tokens.ts';
import type { InitialAccessToken } from '../storage/initial-access-token-store.ts';
import { print, UsageError, type CommandArgs } from './io.ts';
import { withContext } from './with-context.ts';

/**
 * `latchkey registration tokens create|list|revoke`: the initial access tokens that allow a client to
 * register itself when LATCHKEY_REGISTRATION=initial-access-token (RFC 7591 §3).
 */
export async function registrationCommand(args: CommandArgs): Promise<number> {
  const [group, sub, id] = args.positionals;
  if (group !== 'tokens') throw new UsageError(`unknown registration command "${group ?? ''}"`);
  return withContext(args, async (ctx) => {
    const now = nowSeconds();
    switch (sub) {
      case 'create': {
        const maxUses = args.values['single-use'] === true ? 1 : positiveInteger(args.values['max-uses'], '--max-uses');
        if (args.values['single-use'] === true && args.values['max-uses'] !== undefined) {
          throw new UsageError('--single-use and --max-uses cannot be given together');
        }
        const { token, value } = await createInitialAccessToken(
          ctx.storage,
          {
            ...(typeof args.values.description === 'string' ? { description: args.values.description } : {}),
            ...(args.values['expires-in'] !== undefined ? { expiresInSeconds: positiveInteger(args.values['expires-in'], '--expires-in') } : {}),
            ...(maxUses !== undefined ? { maxUses } : {}),
          },
          now,
        );
        print(
          args,
          { initial_access_token: value, token: tokenJson(token, now) },
          `created initial access token ${token.id}\n${tokenText(token, now)}\n\ninitial_access_token: ${value}\n\n` +
            'Give it to the client developer, who sends it as "Authorization: Bearer ..." to the registration endpoint.\n' +
            'It is shown only this once; Latchkey keeps only its hash.',
        );
        return 0;
      }
      case 'list': {
        const tokens = await listInitialAccessTokens(ctx.storage);
        print(
          args,
          { tokens: tokens.map((t) => tokenJson(t, now)) },
          tokens.length ? tokens.map((t) => `${t.id}  ${tokenState(t, now).padEnd(8)} ${usesText(t).padEnd(12)} ${expiryText(t)}  ${t.description}`).join('\n') : 'no initial access tokens',
        );
        return 0;
      }
      case 'revoke': {
        if (!id) throw new UsageError('the token id is required');
        await revokeInitialAccessToken(ctx.storage, requireId(id), now);
        print(args, { revoked: id }, `revoked initial access token ${id}: it allows no more registrations`);
        return 0;
      }
      default:
        throw new UsageError(`unknown registration tokens command "${sub ?? ''}"`);
    }
  });
}

function requireId(id: string): string {
  if (!/^[A-Za-z0-9_-]{1,64}$/.test(id)) throw new UsageError('the token id is the one `registration tokens list` shows');
  return id;
}

function positiveInteger(value: string | string[] | boolean | undefined, option: string): number | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'string' || !/^\d{1,9}$/.test(value) || Number(value) < 1) throw new UsageError(`${option} must be a positive whole number`);
  return Number(value);
}

/** A token as shown to operators: never its value or its hash. */
function tokenJson(t: InitialAccessToken, now: number) {
  const iso = (s: number | null) => (s === null ? null : new Date(s * 1000).toISOString());
  return {
    id: t.id,
    description: t.description,
    state: tokenState(t, now),
    uses: t.uses,
    max_uses: t.maxUses,
    created_at: iso(t.createdAt),
    expires_at: iso(t.expiresAt),
    last_used_at: iso(t.lastUsedAt),
    revoked_at: iso(t.revokedAt),
  };
}

function usesText(t: InitialAccessToken): string {
  return t.maxUses === null ? `${t.uses} used` : `${t.uses} of ${t.maxUses} used`;
}

function expiryText(t: InitialAccessToken): string {
  return t.expiresAt === null ? 'no expiry' : `expires ${new Date(t.expiresAt * 1000).toISOString()}`;
}

function tokenText(t: InitialAccessToken, now: number): string {
  return [
    `id:          ${t.id}`,
    `state:       ${tokenState(t, now)}`,
    `uses:        ${usesText(t)}`,
    `expiry:      ${expiryText(t)}`,
    ...(t.description ? [`description: ${t.description}`] : []),
  ].join('\n');
}
