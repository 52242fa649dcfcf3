import {
  createBearerAuth,
  InsufficientScopeError,
  IntrospectionUnavailableError,
  InvalidRequestError,
  JwksUnavailableError,
  MissingTokenError,
  TokenValidationError,
  type AccessTokenClaims,
  type ErrorReply,
} from '@latchkey/resource-server';

/**
 * Authentication at the edge goes through @latchkey/resource-server's core, so the gateway reads the
 * Authorization header (RFC 6750 §2.1: scheme case-insensitive, b64token syntax, the query never read)
 * and words its challenges (RFC 6750 §3, `scope=` on insufficient_scope, 503 with Retry-After when the
 * issuer's keys cannot be had) exactly as every other Latchkey API does. The gateway never reads the
 * body (it streams to the upstream untouched), so a token in a form body (RFC 6750 §2.2) is not seen.
 */

export type AuthResult =
  | { ok: true; claims: AccessTokenClaims; token: string }
  /** `clientId`: when the token was good but lacked a scope, whose it was (for the log). */
  | { ok: false; reply: ErrorReply; reason: string; clientId: string | undefined };

export type Authenticate = (authorization: string | undefined) => Promise<AuthResult>;

/**
 * An authenticator for one route and method: `verify` (a validator's or an introspector's) and the
 * scopes the method requires, whose names are checked here, at configuration time. With the route's
 * metadata URL, every challenge names it (RFC 9728 §5.1), and a 401 names the method's scopes.
 */
export function createAuthenticator(
  verify: (token: string) => Promise<AccessTokenClaims>,
  scopes: readonly string[],
  realm: string,
  resourceMetadata: string | undefined,
): Authenticate {
  const bearer = createBearerAuth(verify, { realm, resourceMetadata: resourceMetadata ?? false });
  const challengeScopes = resourceMetadata === undefined ? undefined : scopes;
  const checkScopes = scopes.length > 0 ? bearer.requireScopes(...scopes) : () => {};
  return async function authenticate(authorization) {
    let verified: AccessTokenClaims | undefined;
    try {
      const { token, claims } = await bearer.authenticate({ authorization, bodyToken: undefined });
      verified = claims;
      checkScopes(claims);
      return { ok: true, claims, token };
    } catch (err) {
      const reply = bearer.errorReply(err, challengeScopes);
      if (!reply) throw err;
      return { ok: false, reply, reason: denialReason(err), clientId: verified?.client_id };
    }
  };
}

/** The `reason` label of a refusal: the check that failed. */
function denialReason(err: unknown): string {
  if (err instanceof TokenValidationError) return err.check;
  if (err instanceof JwksUnavailableError) return 'jwks_unavailable';
  if (err instanceof IntrospectionUnavailableError) return 'introspection_unavailable';
  if (err instanceof InsufficientScopeError) return 'insufficient_scope';
  if (err instanceof InvalidRequestError) return 'invalid_request';
  if (err instanceof MissingTokenError) return 'missing_token';
  return 'malformed';
}
