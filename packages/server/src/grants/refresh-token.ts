import { InvalidGrant, InvalidRequest, InvalidScope, UnauthorizedClient } from '../errors.ts';
import { sha256 } from '../lib/random.ts';
import { open, seal } from '../lib/sealed-box.ts';
import type { Client } from '../registry/types.ts';
import { confirmationOf, senderMatches } from '../tokens/confirmation.ts';
import type { FoundRefreshToken } from '../storage/refresh-token-store.ts';
import type { GrantDeps, GrantHandler } from './grant.ts';
import { rotatesRefreshTokens } from '../profiles/fapi2.ts';
import { namesItsFamily, newRefreshToken, refreshTokenFamily } from './refresh-family.ts';
import { refreshGraceSeconds } from './refresh-grace.ts';
import { parseScope } from './select-audience.ts';
import type { TokenResponse } from './token-response.ts';
import { issueUserTokens, scopesForResources, type UserTokenDeps } from './user-tokens.ts';

/** A refresh: the token families and grants, the user, the tokens issued, the MAC key of family tags. */
type RefreshDeps = UserTokenDeps & GrantDeps<'refreshTokens' | 'grants' | 'users', 'logger' | 'macKey' | 'metrics'>;

/** Longer than any refresh token Latchkey issues (43 characters before family tags, now about 95). */
const MAX_REFRESH_TOKEN_LENGTH = 200;
/** What the successor response is sealed for (lib/sealed-box.ts). */
const SUCCESSOR_PURPOSE = 'refresh-successor';

/**
 * RFC 6749 §6 with OAuth 2.1 §4.3 and RFC 9700 §4.14.2: every refresh rotates the token. A rotated
 * token presented again is reuse: the whole family (the grant) is revoked, its access tokens
 * included. A retry within the grace window (`refreshGraceSeconds`, a response lost on the way) gets
 * the very same new pair instead, so a flaky network does not log the user out; never two live pairs.
 * The window is per client: none for public clients unless configured (grants/refresh-grace.ts).
 */
export const refreshTokenGrant: GrantHandler<RefreshDeps> = {
  grantType: 'refresh_token',
  async handle(ctx, client, params, sender) {
    if (!client.grantTypes.includes('refresh_token')) {
      throw new UnauthorizedClient('the client is not allowed the refresh_token grant');
    }
    const presented = params.get('refresh_token');
    if (presented === undefined || presented === '') throw new InvalidRequest('the refresh_token parameter is required');
    const invalid = new InvalidGrant('the refresh token is invalid, expired or revoked');
    if (presented.length > MAX_REFRESH_TOKEN_LENGTH) throw invalid;
    const tokenHash = sha256(presented);
    const now = ctx.now();
    const found = await ctx.storage.refreshTokens.find(tokenHash);
    if (!found) return refuseRowless(ctx, client, presented, now, invalid);
    // docs/security.md F46: a refresh token works only for the client it was issued to.
    if (found.clientId !== client.clientId) throw invalid;
    if (found.grantRevokedAt !== null || found.expiresAt <= now) throw invalid;
    // RFC 9449 §5: a public client's refresh token is bound to its DPoP key, so the refresh request
    // "MUST" carry a proof by that key; RFC 8705 §4 likewise for a certificate. Checked before reuse
    // detection too: a thief without the key can neither refresh nor get a retry's response.
    if (found.cnf && !senderMatches(found.cnf, sender)) {
      throw new InvalidGrant('the refresh token is bound to another key or certificate, or the proof is missing');
    }
    // docs/security.md F48: a disabled (or deleted) user's tokens cannot be refreshed.
    const user = await ctx.storage.users.findById(found.userId);
    if (!user || user.disabledAt !== null) throw new InvalidGrant('the user is disabled');

    // Reuse is detected before anything else about the request is judged (a rotated token presented
    // with a wider scope is still reuse, RFC 9700 §4.14.2).
    if (found.consumedAt !== null) return answerRetryOrRevoke(ctx, client, presented, found, now);

    const granted = found.scope.split(' ').filter((s) => s !== '');
    const requested = parseScope(params.get('scope'));
    // RFC 6749 §6: "The requested scope MUST NOT include any scope not originally granted".
    if (requested !== undefined && requested.some((s) => !granted.includes(s))) {
      throw new InvalidScope('the requested scope exceeds the scope originally granted');
    }

    // RFC 8707: checked before the token is rotated, so a bad resource spends nothing.
    scopesForResources(client, requested ?? granted, params.getAll('resource'));

    const successorToken = newRefreshToken(ctx.macKey, found.grantId);
    // The refresh token keeps the original scope (docs/security.md F47); only this access token narrows.
    const response = await issueUserTokens(ctx, {
      client,
      grantId: found.grantId,
      user,
      scope: requested ?? granted,
      resources: params.getAll('resource'),
      authentication: { time: found.authTime, methods: found.amr },
      nonce: null,
      onRevokedGrant: 'fail',
      cnf: confirmationOf(sender),
    });
    // FAPI 2.0 §5.3.2.1 item 9: "shall not use refresh token rotation except in extraordinary
    // circumstances". A `fapi2` client keeps its refresh token: no successor, nothing consumed.
    if (!rotatesRefreshTokens(client)) return response;
    response.refresh_token = successorToken;
    const grace = refreshGraceSeconds(client, ctx.settings);
    const rotated = await ctx.storage.refreshTokens.rotate(
      tokenHash,
      {
        tokenHash: sha256(successorToken),
        grantId: found.grantId,
        scope: found.scope,
        authTime: found.authTime,
        amr: found.amr,
        createdAt: now,
        expiresAt: found.expiresAt,
        // The successor keeps the family's binding (RFC 9449 §5).
        ...(found.cnf ? { cnf: found.cnf } : {}),
      },
      {
        // The response a retry within the window gets, readable only with the old token itself.
        successorEnc: grace > 0 ? seal(presented, SUCCESSOR_PURPOSE, JSON.stringify(response)) : null,
        // Older tokens have no family in them: their rows stay, so that their reuse is recognised.
        forgetAt: namesItsFamily(presented) ? now + grace : null,
        now,
      },
    );
    if (rotated) return response;
    // Another request rotated this token between our read and our update: behave as its retry (or, if
    // its row is gone already, the family having rotated on meanwhile, as a replay).
    const again = await ctx.storage.refreshTokens.find(tokenHash);
    if (!again) return refuseRowless(ctx, client, presented, now, invalid);
    if (again.consumedAt === null) throw invalid;
    return answerRetryOrRevoke(ctx, client, presented, again, now);
  },
};

/**
 * A token that was rotated before. Within the grace window, and while its successor is unused, the
 * successor's response is answered again; otherwise it is reuse (RFC 9700 §4.14.2): the family is
 * revoked and the request refused.
 */
async function answerRetryOrRevoke(
  ctx: RefreshDeps,
  client: Client,
  presented: string,
  found: FoundRefreshToken,
  now: number,
): Promise<TokenResponse> {
  const grace = refreshGraceSeconds(client, ctx.settings);
  if (grace > 0 && found.consumedAt !== null && now - found.consumedAt <= grace && found.successorEnc && found.successorHash) {
    const successor = await ctx.storage.refreshTokens.find(found.successorHash);
    const sealed = successor && successor.consumedAt === null ? open(presented, SUCCESSOR_PURPOSE, found.successorEnc) : undefined;
    if (sealed !== undefined) {
      const response = JSON.parse(sealed) as TokenResponse;
      // The access token inside may have expired or been revoked since; the pair is still the one.
      return response;
    }
  }
  await ctx.storage.grants.revokeGrant(found.grantId, now);
  ctx.metrics.refreshReuse.inc();
  ctx.logger.warn({ clientId: client.clientId, grantId: found.grantId }, 'refresh token reused: token family revoked');
  throw new InvalidGrant('the refresh token was used before');
}

/**
 * A presented token without a row. Rows of rotated tokens go once their grace window is over, but such
 * a token still names its family: if its MAC is genuine, presenting it is reuse (RFC 9700 §4.14.2), and
 * the family is revoked. Only the family's own client can do that (a token presented by another client
 * is merely invalid, RFC 6749 §6), and only while the family lives: rows also go when it ends, and an
 * expired family's token is expired, not reused.
 */
async function refuseRowless(ctx: RefreshDeps, client: Client, presented: string, now: number, invalid: InvalidGrant): Promise<never> {
  const grantId = refreshTokenFamily(ctx.macKey, presented);
  const grant = grantId === undefined ? undefined : await ctx.storage.grants.findGrant(grantId);
  if (!grant || grant.clientId !== client.clientId || grant.revokedAt !== null) throw invalid;
  if (grant.createdAt + ctx.settings.refreshTokenTtlSeconds <= now) throw invalid;
  await ctx.storage.grants.revokeGrant(grant.id, now);
  ctx.metrics.refreshReuse.inc();
  ctx.logger.warn({ clientId: client.clientId, grantId: grant.id }, 'refresh token reused: token family revoked');
  throw new InvalidGrant('the refresh token was used before');
}
