import { nowSeconds } from '../lib/clock.ts';
import type { ServerContext } from '../context.ts';
import type { Storage } from '../storage/storage.ts';

/** Finding a token of ours: the keys, the issuer, and the stores of opaque tokens and revocations. */
export type OwnTokenDeps = Pick<ServerContext, 'keys' | 'settings'> & { storage: Pick<Storage, 'opaqueTokens' | 'revocations'> };
import { sha256 } from '../lib/random.ts';
import { authenticationClaims } from '../users/authentication-context.ts';
import { MAX_TOKEN_LENGTH, OPAQUE_TOKEN_PREFIX, verifyOwnAccessToken, type AccessTokenClaims } from './access-token.ts';

/** An access token this server issued and that is valid now, whatever its format. */
export interface OwnAccessToken {
  claims: AccessTokenClaims;
  /** How revocation forgets it: by jti (JWT, remembered until exp) or by deleting the opaque record. */
  revoke(clientId: string): Promise<void>;
}

/**
 * Finds an unexpired access token of ours: an opaque token by the hash of its value, a JWT by its
 * signature (tokens/own-token-verify.ts). Revocation of JWTs is not checked here.
 */
export async function findOwnAccessToken(ctx: OwnTokenDeps, token: string): Promise<OwnAccessToken | undefined> {
  if (token.length > MAX_TOKEN_LENGTH) return undefined;
  if (token.startsWith(OPAQUE_TOKEN_PREFIX)) {
    const tokenHash = sha256(token);
    const record = await ctx.storage.opaqueTokens.find(tokenHash);
    // RFC 7662 §2.2: active only before its expiration time.
    if (!record || nowSeconds() >= record.expiresAt) return undefined;
    return {
      claims: {
        iss: ctx.settings.issuer,
        sub: record.subject,
        aud: record.audience.length === 1 ? record.audience[0]! : record.audience,
        exp: record.expiresAt,
        iat: record.issuedAt,
        jti: record.jti,
        client_id: record.clientId,
        scope: record.scope,
        ...(record.act ? { act: record.act } : {}),
        ...(record.cnf ? { cnf: record.cnf } : {}),
        ...(record.authentication ? authenticationClaims(record.authentication) : {}),
      },
      revoke: (clientId) => ctx.storage.opaqueTokens.delete(tokenHash, clientId),
    };
  }
  const claims = await verifyOwnAccessToken(ctx.keys, ctx.settings.issuer, token);
  if (!claims) return undefined;
  if (await ctx.storage.revocations.isAccessTokenRevoked(claims.jti)) return undefined;
  return {
    claims,
    revoke: (clientId) =>
      ctx.storage.revocations.revokeAccessToken(claims.jti, clientId, claims.exp, nowSeconds()),
  };
}
