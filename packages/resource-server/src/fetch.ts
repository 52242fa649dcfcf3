import type { AccessTokenClaims } from './claims.ts';
import type { BearerAuthOptions, ProtectedResourceMetadataOptions } from './defaults.ts';
import {
  assertAuthentication,
  assertScopes,
  authenticate,
  bearerAuthConfig,
  challengeOf,
  checkAcrValues,
  checkAuthenticationRequirements,
  checkMaxAge,
  checkScopes,
  errorReply,
  markScopes,
  rememberChallenge,
  scopesOf,
  type AuthenticationRequirement,
  type AuthenticationRequirements,
  type ChallengeConfig,
  type TokenVerifier,
} from './lib/bearer.ts';
import { parseClientCertHeader } from './lib/binding.ts';
import { ConfigurationError } from './errors.ts';
import { protectedResourceMetadata, protectedResourceMetadataReply, resourceMetadataPaths } from './resource-metadata.ts';

export type { BearerAuthOptions, ProtectedResourceMetadataOptions } from './defaults.ts';
export type { AuthenticationRequirements, TokenVerifier } from './lib/bearer.ts';

/** A fetch-style handler that receives the verified claims as its second argument. */
export type AuthenticatedHandler = (request: Request, auth: AccessTokenClaims) => Response | Promise<Response>;

/**
 * Wraps a fetch-style handler (`(request: Request) => Promise<Response>`: Deno, Bun, Hono, Next.js
 * route handlers, service workers): the handler runs only with a verified access token (RFC 6750
 * Bearer, RFC 9449 DPoP with its proof). The `htu` of proofs is `request.url` unless `dpop.publicUrl`
 * is set. A fetch handler sees no connection: a certificate-bound token (RFC 8705) is checked against
 * the RFC 9440 `Client-Cert` header, read only with `trustClientCertHeader: true`.
 *
 * @example
 * const handler = withBearerAuth(createValidator({ issuer, audience }), requireScopes('orders:read')(
 *   async (request, auth) => Response.json({ for: auth.sub }),
 * ));
 */
export function withBearerAuth(
  verifier: TokenVerifier,
  handler: AuthenticatedHandler,
  options: BearerAuthOptions = {},
): (request: Request) => Promise<Response> {
  const config = bearerAuthConfig(verifier, options);
  if (typeof handler !== 'function') throw new TypeError('withBearerAuth needs a handler');
  if (!config.trustedProxies.empty) {
    throw new ConfigurationError('a fetch handler sees no peer address: instead of trustedProxies, set trustClientCertHeader when a proxy sets Client-Cert');
  }
  // The scopes the wrapped requireScopes checks need, named in the 401 when resourceMetadata is set.
  const routeScopes = config.resourceMetadata === undefined ? undefined : scopesOf([handler]);
  return async function latchkeyBearerAuth(request) {
    rememberChallenge(request, config);
    let auth: AccessTokenClaims;
    try {
      auth = await authenticate(config, {
        authorization: request.headers.get('authorization') ?? undefined,
        bodyToken: await formBodyToken(request),
        dpop: request.headers.get('dpop') ?? undefined,
        method: request.method,
        url: request.url,
        // RFC 9440 §4: the header is believed only where a proxy is known to set it (and strip clients').
        clientCertificate: config.trustClientCertHeader ? parseClientCertHeader(request.headers.get('client-cert') ?? undefined) : undefined,
      });
    } catch (err) {
      return respond(err, config, routeScopes);
    }
    return handler(request, auth);
  };
}

/**
 * Wraps an authenticated handler: 403 `insufficient_scope` (RFC 6750 §3.1) unless the token has
 * every one of `scopes`.
 *
 * @example
 * const place = withBearerAuth(validator, requireScopes('orders:write')(async (request, auth) => placeOrder(request, auth)));
 */
export function requireScopes(...scopes: string[]): (handler: AuthenticatedHandler) => AuthenticatedHandler {
  const required = checkScopes(scopes);
  return (handler) =>
    markScopes(
      async function latchkeyRequireScopes(request: Request, auth: AccessTokenClaims) {
        try {
          assertScopes(auth, required);
        } catch (err) {
          return respond(err, challengeOf(request));
        }
        return handler(request, auth);
      },
      // Nested checks (requireScopes('a')(requireScopes('b')(handler))) require both.
      [...new Set([...required, ...scopesOf([handler])])],
    );
}

/**
 * Wraps an authenticated handler: 401 `insufficient_user_authentication` (RFC 9470 §3), with
 * `acr_values` in the challenge, unless the token's `acr` is one of `values`.
 *
 * @example
 * const pay = withBearerAuth(validator, requireAcr('urn:latchkey:acr:mfa', 'phr')(async (request, auth) => payment(request, auth)));
 */
export function requireAcr(...values: string[]): (handler: AuthenticatedHandler) => AuthenticatedHandler {
  return stepUp({ acrValues: checkAcrValues(values), maxAge: undefined });
}

/**
 * Wraps an authenticated handler: 401 `insufficient_user_authentication` (RFC 9470 §3), with
 * `max_age` in the challenge, unless the token's `auth_time` is at most `maxAgeSeconds` old (with the
 * validator's default leeway).
 *
 * @example
 * const close = withBearerAuth(validator, requireAuthTime(300)(async (request, auth) => closeAccount(auth)));
 */
export function requireAuthTime(maxAgeSeconds: number): (handler: AuthenticatedHandler) => AuthenticatedHandler {
  return stepUp({ acrValues: undefined, maxAge: checkMaxAge(maxAgeSeconds) });
}

/**
 * requireAcr and requireAuthTime in one wrapper, whose challenge names both `acr_values` and
 * `max_age` (RFC 9470 §3).
 *
 * @example
 * const payOut = withBearerAuth(validator, requireAuthentication({ acrValues: ['phr'], maxAgeSeconds: 300 })(handler));
 */
export function requireAuthentication(requirements: AuthenticationRequirements): (handler: AuthenticatedHandler) => AuthenticatedHandler {
  return stepUp(checkAuthenticationRequirements(requirements));
}

function stepUp(required: AuthenticationRequirement): (handler: AuthenticatedHandler) => AuthenticatedHandler {
  return (handler) =>
    markScopes(
      async function latchkeyRequireAuthentication(request: Request, auth: AccessTokenClaims) {
        try {
          assertAuthentication(auth, required);
        } catch (err) {
          return respond(err, challengeOf(request));
        }
        return handler(request, auth);
      },
      // The scopes of requireScopes checks wrapped inside, still named in withBearerAuth's 401.
      scopesOf([handler]),
    );
}

/**
 * A fetch-style handler serving this resource's metadata (RFC 9728 §3) at
 * `/.well-known/oauth-protected-resource` followed by the resource's path, and for a resource with a
 * path at `/.well-known/oauth-protected-resource` too: GET and HEAD, OPTIONS preflights (any origin,
 * no credentials), 405 for other methods, 404 for other paths. The options are checked now.
 *
 * @example
 * const metadata = protectedResourceMetadataHandler({ resource: 'https://api.example.com', authorizationServers: [issuer] });
 * Deno.serve((request) => new URL(request.url).pathname.startsWith('/.well-known/') ? metadata(request) : api(request));
 */
export function protectedResourceMetadataHandler(options: ProtectedResourceMetadataOptions): (request: Request) => Response {
  const document = protectedResourceMetadata(options);
  const paths = new Set(resourceMetadataPaths(document.resource));
  return function latchkeyProtectedResourceMetadata(request) {
    if (!paths.has(new URL(request.url).pathname)) return new Response(null, { status: 404 });
    const reply = protectedResourceMetadataReply(document, {
      method: request.method,
      accessControlRequestHeaders: request.headers.get('access-control-request-headers') ?? undefined,
    });
    return new Response(reply.body ?? null, { status: reply.status, headers: reply.headers });
  };
}

/**
 * RFC 6750 §2.2: `access_token` of a form-encoded body of a method with a body. A clone is read, so
 * the handler still gets the body.
 */
async function formBodyToken(request: Request): Promise<unknown> {
  if (request.method === 'GET' || request.method === 'HEAD' || request.body === null) return undefined;
  const type = request.headers.get('content-type')?.split(';')[0]?.trim().toLowerCase();
  if (type !== 'application/x-www-form-urlencoded') return undefined;
  const all = new URLSearchParams(await request.clone().text()).getAll('access_token');
  return all.length === 0 ? undefined : all.length === 1 ? all[0] : all;
}

function respond(err: unknown, challenge: ChallengeConfig, routeScopes?: readonly string[]): Response {
  const reply = errorReply(err, challenge, routeScopes);
  if (!reply) throw err;
  return new Response(reply.body === undefined ? null : JSON.stringify(reply.body), { status: reply.status, headers: reply.headers });
}
