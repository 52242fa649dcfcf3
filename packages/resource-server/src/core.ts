import type { AccessTokenClaims } from './claims.ts';
import type { BearerAuthOptions } from './defaults.ts';
import { assertScopes, bearerAuthConfig, checkScopes, errorReply, verifiedToken, type BearerRequest, type ErrorReply, type TokenVerifier } from './lib/bearer.ts';

export type { BearerRequest, ErrorReply } from './lib/bearer.ts';

/**
 * The framework-neutral core the Fastify, Express and fetch middleware are built on, for code that
 * speaks HTTP its own way (latchkey-gateway, a custom server): read and verify a request's bearer token
 * (RFC 6750 §2), check its scopes, and word the RFC 6750 §3 answer to any refusal.
 */
export interface BearerAuth {
  /** The `realm` of the challenges. */
  readonly realm: string;
  /**
   * RFC 6750 §2: the token of a request (the Authorization header, or a form body's `access_token`
   * when the caller read one), verified. Throws this package's errors: MissingTokenError,
   * InvalidRequestError, TokenValidationError, JwksUnavailableError, IntrospectionUnavailableError.
   */
  authenticate(request: BearerRequest): Promise<{ token: string; claims: AccessTokenClaims }>;
  /**
   * A check that the claims carry every one of `scopes`, throwing InsufficientScopeError (RFC 6750
   * §3.1) otherwise. The scope names are checked now: a mistake fails at configuration time.
   */
  requireScopes(...scopes: string[]): (claims: AccessTokenClaims) => void;
  /**
   * The RFC 6750 §3 answer (status, headers, body) to an error of this package; undefined for anything
   * else. `scopes`: what the route requires, named in the `scope` of a 400 or 401 challenge (a 403
   * names the scopes its check required).
   */
  errorReply(err: unknown, scopes?: readonly string[]): ErrorReply | undefined;
}

/**
 * @example
 * const bearer = createBearerAuth(createValidator({ issuer, audience }), { realm: 'orders', resourceMetadata: true });
 * const mayRead = bearer.requireScopes('orders:read');
 * try {
 *   const { claims } = await bearer.authenticate({ authorization: req.headers.authorization, bodyToken: undefined });
 *   mayRead(claims);
 * } catch (err) {
 *   const reply = bearer.errorReply(err, ['orders:read']);
 *   if (!reply) throw err;
 *   res.writeHead(reply.status, reply.headers).end(reply.body && JSON.stringify(reply.body));
 * }
 */
export function createBearerAuth(verifier: TokenVerifier, options: BearerAuthOptions = {}): BearerAuth {
  const config = bearerAuthConfig(verifier, options);
  return {
    realm: config.realm,
    authenticate: (request) => verifiedToken(config, request),
    requireScopes(...scopes) {
      const required = checkScopes(scopes);
      return (claims) => assertScopes(claims, required);
    },
    errorReply: (err, scopes) => errorReply(err, config, scopes),
  };
}
