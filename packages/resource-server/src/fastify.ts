import type { FastifyReply, FastifyRequest } from 'fastify';
import type { AccessTokenClaims } from './claims.ts';
import type { BearerAuthOptions } from './defaults.ts';
import {
  assertScopes,
  authenticate,
  bearerAuthConfig,
  checkScopes,
  errorReply,
  formBodyToken,
  realmOf,
  rememberRealm,
  type TokenVerifier,
} from './lib/bearer.ts';

declare module 'fastify' {
  interface FastifyRequest {
    /** The verified claims, set by `bearerAuth` (@latchkey/resource-server/fastify); only on routes behind it. */
    auth: AccessTokenClaims;
  }
}

export type { BearerAuthOptions } from './defaults.ts';
export type { TokenVerifier } from './lib/bearer.ts';

type PreHandler = (request: FastifyRequest, reply: FastifyReply) => Promise<FastifyReply | undefined>;

/**
 * A Fastify preHandler that verifies the request's bearer token (RFC 6750) and sets `request.auth`.
 * Form bodies count only if a parser for `application/x-www-form-urlencoded` is registered.
 *
 * @example
 * const auth = bearerAuth(createValidator({ issuer, audience }), { realm: 'orders' });
 * app.get('/orders', { preHandler: [auth, requireScopes('orders:read')] }, async (request) => request.auth.sub);
 */
export function bearerAuth(verifier: TokenVerifier, options: BearerAuthOptions = {}): PreHandler {
  const config = bearerAuthConfig(verifier, options);
  return async function latchkeyBearerAuth(request, reply) {
    rememberRealm(request, config.realm);
    try {
      request.auth = await authenticate(config, {
        authorization: request.headers.authorization,
        bodyToken: formBodyToken(request.method, request.headers['content-type'], request.body),
      });
    } catch (err) {
      return send(reply, err, config.realm);
    }
    return undefined;
  };
}

/**
 * A Fastify preHandler, after `bearerAuth`, that answers 403 `insufficient_scope` (RFC 6750 §3.1)
 * unless the token has every one of `scopes`.
 *
 * @example
 * app.post('/orders', { preHandler: [auth, requireScopes('orders:write')] }, placeOrder);
 */
export function requireScopes(...scopes: string[]): PreHandler {
  const required = checkScopes(scopes);
  return async function latchkeyRequireScopes(request, reply) {
    if (request.auth === undefined) throw new Error('requireScopes runs after bearerAuth');
    try {
      assertScopes(request.auth, required);
    } catch (err) {
      return send(reply, err, realmOf(request));
    }
    return undefined;
  };
}

function send(reply: FastifyReply, err: unknown, realm: string): FastifyReply {
  const response = errorReply(err, realm);
  if (!response) throw err;
  return reply.code(response.status).headers(response.headers).send(response.body === undefined ? undefined : JSON.stringify(response.body));
}
