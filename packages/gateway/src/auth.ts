import {
  createBearerAuth,
  InsufficientScopeError,
  InvalidDpopProofError,
  UseDpopNonceError,
  IntrospectionUnavailableError,
  InvalidRequestError,
  JwksUnavailableError,
  MissingTokenError,
  TokenValidationError,
  type AccessTokenClaims,
  type DpopMode,
  type ErrorReply,
} from '@latchkey/resource-server';

/**
 * Authentication at the edge goes through @latchkey/resource-server's core, so the gateway reads the
 * Authorization header (RFC 6750 §2.1: scheme case-insensitive, b64token syntax, the query never read),
 * checks DPoP proofs (RFC 9449 §7) and certificate binding (RFC 8705 §3), and words its challenges
 * (RFC 6750 §3, `scope=` on insufficient_scope, the DPoP challenge with `algs`, 503 with Retry-After
 * when the issuer's keys cannot be had) exactly as every other Latchkey API does. The gateway never
 * reads the body (it streams to the upstream untouched), so a token in a form body (RFC 6750 §2.2) is
 * not seen.
 */

/** What authentication reads of a request at the edge. */
export interface EdgeRequest {
  authorization: string | undefined;
  /** The `DPoP` header field(s). */
  dpop: string | string[] | undefined;
  method: string;
  /** The URL the client addressed (the route's public URL): a proof's `htu`. */
  url: string;
  /** The client certificate's DER: a trusted proxy's `Client-Cert`, or the TLS peer's. */
  clientCertificate: Uint8Array | undefined;
}

export type AuthResult =
  | { ok: true; claims: AccessTokenClaims; token: string; scheme: 'bearer' | 'dpop' }
  /** `clientId`: when the token was good but lacked a scope, whose it was (for the log). */
  | { ok: false; reply: ErrorReply; reason: string; clientId: string | undefined };

export type Authenticate = (request: EdgeRequest) => Promise<AuthResult>;

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
  dpop: DpopMode,
): Authenticate {
  // The proofs' jti go to the library's one replay store of this process, kept across reloads.
  const bearer = createBearerAuth(verify, { realm, resourceMetadata: resourceMetadata ?? false, dpop: { mode: dpop } });
  const challengeScopes = resourceMetadata === undefined ? undefined : scopes;
  const checkScopes = scopes.length > 0 ? bearer.requireScopes(...scopes) : () => {};
  return async function authenticate(request) {
    let verified: AccessTokenClaims | undefined;
    try {
      const { token, claims, scheme } = await bearer.authenticate({ ...request, bodyToken: undefined });
      verified = claims;
      checkScopes(claims);
      return { ok: true, claims, token, scheme };
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
  if (err instanceof InvalidDpopProofError) return 'invalid_dpop_proof';
  if (err instanceof UseDpopNonceError) return 'use_dpop_nonce';
  if (err instanceof InvalidRequestError) return 'invalid_request';
  if (err instanceof MissingTokenError) return 'missing_token';
  return 'malformed';
}
