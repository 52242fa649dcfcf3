import type { FastifyInstance, FastifyReply, FastifyRequest, RouteOptions } from 'fastify';
import type { AccessTokenClaims } from './claims.ts';
import type { BearerAuthOptions, ProtectedResourceMetadataOptions } from './defaults.ts';
import {
  assertScopes,
  authenticate,
  bearerAuthConfig,
  challengeOf,
  checkScopes,
  errorReply,
  formBodyToken,
  markScopes,
  rememberChallenge,
  scopesOf,
  type ChallengeConfig,
  type TokenVerifier,
} from './lib/bearer.ts';
import { protectedResourceMetadata as metadataDocument, protectedResourceMetadataReply, resourceMetadataPaths } from './resource-metadata.ts';

declare module 'fastify' {
  interface FastifyRequest {
    /** The verified claims, set by `bearerAuth` (@latchkey/resource-server/fastify); only on routes behind it. */
    auth: AccessTokenClaims;
  }
}

export type { BearerAuthOptions, ProtectedResourceMetadataOptions } from './defaults.ts';
export type { TokenVerifier } from './lib/bearer.ts';

type PreHandler = (request: FastifyRequest, reply: FastifyReply) => Promise<FastifyReply | undefined>;

/** Where protectedResourceMetadata's onRoute hook puts the scopes of a route's requireScopes checks. */
const ROUTE_SCOPES = Symbol('latchkey.routeScopes');

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
    rememberChallenge(request, config);
    try {
      request.auth = await authenticate(config, {
        authorization: request.headers.authorization,
        bodyToken: formBodyToken(request.method, request.headers['content-type'], request.body),
      });
    } catch (err) {
      const routeConfig = request.routeOptions.config as { [ROUTE_SCOPES]?: string[] } | undefined;
      return send(reply, err, config, config.resourceMetadata === undefined ? undefined : routeConfig?.[ROUTE_SCOPES]);
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
  return markScopes(async function latchkeyRequireScopes(request: FastifyRequest, reply: FastifyReply) {
    if (request.auth === undefined) throw new Error('requireScopes runs after bearerAuth');
    try {
      assertScopes(request.auth, required);
    } catch (err) {
      return send(reply, err, challengeOf(request));
    }
    return undefined;
  }, required);
}

/**
 * Serves this resource's metadata (RFC 9728 §3) on `app`: GET, HEAD and OPTIONS (CORS preflight, any
 * origin, no credentials; 405 for other methods) at `/.well-known/oauth-protected-resource` followed
 * by the resource's path, and for a resource with a path at `/.well-known/oauth-protected-resource`
 * too. It also lets `bearerAuth` name, in a 401 challenge, the scopes of the `requireScopes`
 * preHandlers of each route registered after it (an onRoute hook). The options are checked now.
 *
 * @example
 * protectedResourceMetadata(app, { resource: 'https://api.example.com', authorizationServers: [issuer], scopesSupported: ['orders:read'] });
 */
export function protectedResourceMetadata(app: FastifyInstance, options: ProtectedResourceMetadataOptions): void {
  const document = metadataDocument(options);
  for (const url of resourceMetadataPaths(document.resource)) {
    app.route({
      // Every common method, so that one other than GET, HEAD and OPTIONS is answered 405, not 404.
      method: ['GET', 'HEAD', 'OPTIONS', 'POST', 'PUT', 'PATCH', 'DELETE'],
      url,
      exposeHeadRoute: false,
      handler: async (request, reply) => {
        const answer = protectedResourceMetadataReply(document, {
          method: request.method,
          accessControlRequestHeaders: request.headers['access-control-request-headers'],
        });
        return reply.code(answer.status).headers(answer.headers).send(answer.body);
      },
    });
  }
  app.addHook('onRoute', (route: RouteOptions) => {
    const hooks = route.preHandler === undefined ? [] : Array.isArray(route.preHandler) ? route.preHandler : [route.preHandler];
    const scopes = scopesOf(hooks);
    if (scopes.length > 0) route.config = { ...route.config, [ROUTE_SCOPES]: scopes } as RouteOptions['config'];
  });
}

function send(reply: FastifyReply, err: unknown, challenge: ChallengeConfig, routeScopes?: readonly string[]): FastifyReply {
  const response = errorReply(err, challenge, routeScopes);
  if (!response) throw err;
  return reply.code(response.status).headers(response.headers).send(response.body === undefined ? undefined : JSON.stringify(response.body));
}
