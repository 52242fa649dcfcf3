import type { AccessTokenClaims } from './claims.ts';
import type { BearerAuthOptions } from './defaults.ts';
import {
  assertAuthentication,
  assertScopes,
  bearerAuthConfig,
  checkAcrValues,
  checkAuthenticationRequirements,
  checkMaxAge,
  checkScopes,
  errorReply,
  verifiedToken,
  type AuthenticationRequirements,
  type BearerRequest,
  type ErrorReply,
  type TokenVerifier,
} from './lib/bearer.ts';

export type { AuthenticationRequirements, BearerRequest, ErrorReply } from './lib/bearer.ts';

/**
 * The framework-neutral core the Fastify, Express and fetch middleware are built on, for code that
 * speaks HTTP its own way (latchkey-gateway, a custom server): read and verify a request's access token
 * (RFC 6750 §2, DPoP RFC 9449 §7, certificate binding RFC 8705 §3), check its scopes, and word the
 * RFC 6750 §3 answer to any refusal (RFC 9470 §3 for a sign-in that is not strong or recent enough).
 */
export interface BearerAuth {
  /** The `realm` of the challenges. */
  readonly realm: string;
  /**
   * RFC 6750 §2, RFC 9449 §7: the token of a request (the Authorization header with the Bearer or DPoP
   * scheme, or a form body's `access_token` when the caller read one), verified, with its binding: the
   * DPoP proof (pass `dpop`, `method` and `url`), the client certificate (pass `clientCertificate`).
   * Throws this package's errors: MissingTokenError, InvalidRequestError, TokenValidationError,
   * InvalidDpopProofError, UseDpopNonceError, JwksUnavailableError, IntrospectionUnavailableError.
   */
  authenticate(request: BearerRequest): Promise<{ token: string; claims: AccessTokenClaims; scheme: 'bearer' | 'dpop' }>;
  /**
   * A check that the claims carry every one of `scopes`, throwing InsufficientScopeError (RFC 6750
   * §3.1) otherwise. The scope names are checked now: a mistake fails at configuration time.
   */
  requireScopes(...scopes: string[]): (claims: AccessTokenClaims) => void;
  /**
   * A check that the claims' `acr` is one of `values`, throwing InsufficientUserAuthenticationError
   * (RFC 9470 §3, 401, the challenge naming `acr_values`) otherwise, or when the token has no `acr`.
   * The values are checked now.
   */
  requireAcr(...values: string[]): (claims: AccessTokenClaims) => void;
  /**
   * A check that the claims' `auth_time` is at most `maxAgeSeconds` old (with a leeway of
   * `VALIDATOR_DEFAULTS.clockToleranceSeconds`), throwing InsufficientUserAuthenticationError (RFC 9470
   * §3, 401, the challenge naming `max_age`) otherwise, or when the token has no `auth_time`.
   */
  requireAuthTime(maxAgeSeconds: number): (claims: AccessTokenClaims) => void;
  /** requireAcr and requireAuthTime in one check, whose challenge names both `acr_values` and `max_age`. */
  requireAuthentication(requirements: AuthenticationRequirements): (claims: AccessTokenClaims) => void;
  /**
   * The RFC 6750 §3 / RFC 9449 §7.1 / RFC 9470 §3 answer (status, headers, body) to an error of this package;
   * undefined for anything else. The challenges offer the schemes of the `dpop` mode. `scopes`: what the route requires, named in the `scope` of a 400 or 401 challenge (a 403
   * names the scopes its check required).
   */
  errorReply(err: unknown, scopes?: readonly string[]): ErrorReply | undefined;
}

/**
 * @example
 * const bearer = createBearerAuth(createValidator({ issuer, audience }), { realm: 'orders', resourceMetadata: true });
 * const mayRead = bearer.requireScopes('orders:read');
 * const signedInWithMfa = bearer.requireAcr('urn:latchkey:acr:mfa', 'phr');
 * try {
 *   const { claims } = await bearer.authenticate({
 *     authorization: req.headers.authorization,
 *     bodyToken: undefined,
 *     dpop: req.headers.dpop,
 *     method: req.method,
 *     url: `https://api.example.com${req.url}`,
 *   });
 *   mayRead(claims);
 *   signedInWithMfa(claims); // 401 insufficient_user_authentication, acr_values="urn:latchkey:acr:mfa phr"
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
    requireAcr(...values) {
      const required = { acrValues: checkAcrValues(values), maxAge: undefined };
      return (claims) => assertAuthentication(claims, required);
    },
    requireAuthTime(maxAgeSeconds) {
      const required = { acrValues: undefined, maxAge: checkMaxAge(maxAgeSeconds) };
      return (claims) => assertAuthentication(claims, required);
    },
    requireAuthentication(requirements) {
      const required = checkAuthenticationRequirements(requirements);
      return (claims) => assertAuthentication(claims, required);
    },
    errorReply: (err, scopes) => errorReply(err, config, scopes),
  };
}
