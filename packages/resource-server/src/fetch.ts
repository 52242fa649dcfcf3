import type { AccessTokenClaims } from './claims.ts';
import type { BearerAuthOptions, ProtectedResourceMetadataOptions } from './defaults.ts';
import {
  assertScopes,
  authenticate,
  bearerAuthConfig,
  challengeOf,
  checkScopes,
  errorReply,
  markScopes,
  rememberChallenge,
  scopesOf,
  type ChallengeConfig,
  type TokenVerifier,
} from './lib/bearer.ts';
import { protectedResourceMetadata, protectedResourceMetadataReply, resourceMetadataPaths } from './resource-metadata.ts';

export type { BearerAuthOptions, ProtectedResourceMetadataOptions } from './defaults.ts';
export type { TokenVerifier } from './lib/bearer.ts';

/** A fetch-style handler that receives the verified claims as its second argument. */
export type AuthenticatedHandler = (request: Request, auth: AccessTokenClaims) => Response | Promise<Response>;

/**
 * Wraps a fetch-style handler (`(request: Request) => Promise<Response>`: Deno, Bun, Hono, Next.js
 * route handlers, service workers): the handler runs only with a verified bearer token (RFC 6750).
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
  // The scopes the wrapped requireScopes checks need, named in the 401 when resourceMetadata is set.
  const routeScopes = config.resourceMetadata === undefined ? undefined : scopesOf([handler]);
  return async function latchkeyBearerAuth(request) {
    rememberChallenge(request, config);
    let auth: AccessTokenClaims;
    try {
      auth = await authenticate(config, {
        authorization: request.headers.get('authorization') ?? undefined,
        bodyToken: await formBodyToken(request),
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
