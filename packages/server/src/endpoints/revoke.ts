import { authenticateClient } from '../client-auth/authenticate.ts';
import type { ServerContext } from '../context.ts';
import { UnauthorizedClient } from '../errors.ts';
import { sha256 } from '../lib/random.ts';
import { OPAQUE_TOKEN_PREFIX } from '../tokens/access-token.ts';
import { findOwnAccessToken } from '../tokens/find-own-token.ts';
import { namesItsFamily, refreshTokenFamily } from '../grants/refresh-family.ts';
import type { EndpointRequest } from './endpoint-request.ts';

/**
 * RFC 7009 §2.1: revokes an access or refresh token of the calling client. A JWT access token's `jti` is
 * remembered until the token expires, so introspection and revocation-aware resource servers refuse it.
 */
export async function revocationEndpoint(ctx: ServerContext, request: EndpointRequest): Promise<void> {
  // RFC 7009 §2.1: the client authenticates as it does at the token endpoint (public clients by client_id).
  const client = await authenticateClient(request, ctx, { allowPublic: true });
  const token = request.params.require('token');
  // RFC 7009 §2.1: token_type_hint is only a hint; an unknown value does not change the outcome.
  request.params.get('token_type_hint');

  // RFC 7009 §2.1: revoking a refresh token SHOULD also invalidate the access tokens of the same
  // grant (docs/security.md I63): the whole family goes.
  const family = await refreshFamily(ctx, token);
  if (family) {
    if (family.clientId !== client.clientId) throw new UnauthorizedClient('the token was not issued to this client');
    await ctx.storage.grants.revokeGrant(family.grantId, ctx.now());
    return;
  }
  const found = await findOwnAccessToken(ctx, token);
  // RFC 7009 §2.2: "invalid tokens do not cause an error response since the client cannot handle such
  // an error in a reasonable way".
  if (!found) return;
  // RFC 7009 §2.1: the server "verifies whether the token was issued to the client making the
  // revocation request. If this validation fails, the request is refused and the client is informed".
  if (found.claims.client_id !== client.clientId) {
    throw new UnauthorizedClient('the token was not issued to this client');
  }
  await found.revoke(client.clientId);
}

/**
 * The family of a refresh token: found by its hash while it has a row, else (rotated, past its grace
 * window) by the family it names, checked by its MAC (grants/refresh-family.ts). Older refresh tokens
 * are 43 base64url characters without a prefix; access tokens are JWTs or start with lko_.
 */
async function refreshFamily(ctx: ServerContext, token: string): Promise<{ grantId: string; clientId: string } | undefined> {
  const named = namesItsFamily(token);
  if (!named && (token.startsWith(OPAQUE_TOKEN_PREFIX) || token.length > 200 || token.includes('.'))) return undefined;
  const row = await ctx.storage.refreshTokens.find(sha256(token));
  if (row) return { grantId: row.grantId, clientId: row.clientId };
  const grantId = named ? refreshTokenFamily(ctx.macKey, token) : undefined;
  const grant = grantId === undefined ? undefined : await ctx.storage.grants.findGrant(grantId);
  return grant ? { grantId: grant.id, clientId: grant.clientId } : undefined;
}
