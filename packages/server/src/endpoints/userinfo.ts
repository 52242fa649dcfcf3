import type { ServerContext } from '../context.ts';
import { InsufficientScope, InvalidRequest, InvalidToken } from '../errors.ts';
import { userinfoAudience } from '../grants/user-tokens.ts';
import { findOwnAccessToken } from '../tokens/find-own-token.ts';
import { userClaims } from '../users/claims.ts';

export interface UserinfoRequest {
  authorization: string | undefined;
  /** RFC 6750 §2.2: the form-encoded body's `access_token` (POST only). */
  bodyToken: string | undefined;
}

/** No token at all: RFC 6750 §3.1 says the challenge then carries no error code. */
export class MissingBearerToken extends Error {}

/**
 * OIDC Core §5.3 UserInfo: the claims of the user the access token stands for, limited by its scopes.
 * The token must be one of ours, unexpired and unrevoked, carry `openid`, and be meant for this
 * endpoint (its `aud` names it). `sub` is the ID token's `sub` (docs/security.md J69).
 */
export async function userinfoEndpoint(ctx: ServerContext, request: UserinfoRequest): Promise<Record<string, unknown>> {
  const token = bearerToken(request);
  const found = await findOwnAccessToken(ctx, token);
  if (!found) throw new InvalidToken('the access token is invalid, expired or revoked');
  const { claims } = found;
  const audience = Array.isArray(claims.aud) ? claims.aud : [claims.aud];
  if (!audience.includes(userinfoAudience(ctx))) throw new InvalidToken('the access token is not meant for the userinfo endpoint');
  const scopes = (claims.scope ?? '').split(' ');
  if (!scopes.includes('openid')) throw new InsufficientScope('the access token lacks the openid scope', 'openid');
  const user = await ctx.storage.users.findById(claims.sub);
  if (!user || user.disabledAt !== null) throw new InvalidToken('the user is unknown or disabled');
  return { sub: user.id, ...userClaims(user, scopes) };
}

/** RFC 6750 §2: the token from the header (scheme matched without regard to case) or the body, not both. */
function bearerToken(request: UserinfoRequest): string {
  const header = request.authorization;
  let fromHeader: string | undefined;
  // RFC 6750 §3.1: a request with another authentication scheme (Basic, ...) carries no token, and
  // its challenge "SHOULD NOT include an error code".
  if (header !== undefined && /^bearer(\s|$)/i.test(header)) {
    const match = /^bearer +([A-Za-z0-9\-._~+/]+=*) *$/i.exec(header);
    if (!match) throw new InvalidToken('the Authorization header is not a well-formed Bearer token');
    fromHeader = match[1];
  }
  // RFC 6750 §2: "Clients MUST NOT use more than one method to transmit the token in each request."
  if (fromHeader !== undefined && request.bodyToken !== undefined) {
    throw new InvalidRequest('the access token was sent in more than one way');
  }
  const token = fromHeader ?? request.bodyToken;
  if (token === undefined) throw new MissingBearerToken();
  return token;
}
