import type { AccessTokenClaims } from './claims.ts';
import type { BearerAuthOptions } from './defaults.ts';
import {
  assertScopes,
  authenticate,
  bearerAuthConfig,
  checkScopes,
  errorReply,
  realmOf,
  rememberRealm,
  type TokenVerifier,
} from './lib/bearer.ts';

export type { BearerAuthOptions } from './defaults.ts';
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
  return async function latchkeyBearerAuth(request) {
    rememberRealm(request, config.realm);
    let auth: AccessTokenClaims;
    try {
      auth = await authenticate(config, {
        authorization: request.headers.get('authorization') ?? undefined,
        bodyToken: await formBodyToken(request),
      });
    } catch (err) {
      return respond(err, config.realm);
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
    async function latchkeyRequireScopes(request, auth) {
      try {
        assertScopes(auth, required);
      } catch (err) {
        return respond(err, realmOf(request));
      }
      return handler(request, auth);
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

function respond(err: unknown, realm: string): Response {
  const reply = errorReply(err, realm);
  if (!reply) throw err;
  return new Response(reply.body === undefined ? null : JSON.stringify(reply.body), { status: reply.status, headers: reply.headers });
}
