import type { FastifyInstance, FastifyReply, FastifyRequest, RouteOptions } from 'fastify';
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
  formBodyToken,
  markScopes,
  rememberChallenge,
  scopesOf,
  type AuthenticationRequirement,
  type AuthenticationRequirements,
  type ChallengeConfig,
  type TokenVerifier,
} from './lib/bearer.ts';
import { requestCertificate } from './lib/binding.ts';
import { ConfigurationError } from './errors.ts';
import { protectedResourceMetadata as metadataDocument, protectedResourceMetadataReply, resourceMetadataPaths } from './resource-metadata.ts';

declare module 'fastify' {
  interface FastifyRequest {
    /** The verified claims, set by `bearerAuth` (@latchkey/resource-server/fastify); only on routes behind it. */
    auth: AccessTokenClaims;
  }
}

export type { BearerAuthOptions, ProtectedResourceMetadataOptions } from './defaults.ts';
export type { AuthenticationRequirements, TokenVerifier } from './lib/bearer.ts';

type PreHandler = (request: FastifyRequest, reply: FastifyReply) => Promise<FastifyReply | undefined>;

/** Where protectedResourceMetadata's onRoute hook puts the scopes of a route's requireScopes checks. */
const ROUTE_SCOPES = Symbol('latchkey.routeScopes');

/**
 * A Fastify preHandler that verifies the request's access token (RFC 6750 Bearer, RFC 9449 DPoP with
 * its proof, RFC 8705 certificate binding) and sets `request.auth`. Form bodies count only if a parser
 * for `application/x-www-form-urlencoded` is registered. The `htu` of proofs is the request's
 * `protocol` and `host` (Fastify's `trustProxy` decides whether X-Forwarded-* count) unless
 * `dpop.publicUrl` is set; the client certificate is the TLS connection's, or a `Client-Cert` header
 * from one of `trustedProxies`.
 *
 * @example
 * const auth = bearerAuth(createValidator({ issuer, audience }), { realm: 'orders' });
 * app.get('/orders', { preHandler: [auth, requireScopes('orders:read')] }, async (request) => request.auth.sub);
 */
export function bearerAuth(verifier: TokenVerifier, options: BearerAuthOptions = {}): PreHandler {
  const config = bearerAuthConfig(verifier, options);
  if (config.trustClientCertHeader) throw new ConfigurationError('trustClientCertHeader is for the fetch middleware; with Fastify, list the proxies in trustedProxies');
  return async function latchkeyBearerAuth(request, reply) {
    rememberChallenge(request, config);
    try {
      request.auth = await authenticate(config, {
        authorization: request.headers.authorization,
        bodyToken: formBodyToken(request.method, request.headers['content-type'], request.body),
        dpop: request.headers.dpop,
        method: request.method,
        url: `${request.protocol}://${request.host}${request.url}`,
        clientCertificate: requestCertificate(request.raw.socket, request.headers['client-cert'], config.trustedProxies),
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
 * A Fastify preHandler, after `bearerAuth`, that answers 401 `insufficient_user_authentication` (RFC
 * 9470 §3), with `acr_values` in the challenge, unless the token's `acr` is one of `values`.
 *
 * @example
 * app.post('/payments', { preHandler: [auth, requireAcr('urn:latchkey:acr:mfa', 'phr')] }, pay);
 */
export function requireAcr(...values: string[]): PreHandler {
  return stepUp('requireAcr', { acrValues: checkAcrValues(values), maxAge: undefined });
}

/**
 * A Fastify preHandler, after `bearerAuth`, that answers 401 `insufficient_user_authentication` (RFC
 * 9470 §3), with `max_age` in the challenge, unless the token's `auth_time` is at most `maxAgeSeconds`
 * old (with the validator's default leeway).
 *
 * @example
 * app.delete('/account', { preHandler: [auth, requireAuthTime(300)] }, closeAccount);
 */
export function requireAuthTime(maxAgeSeconds: number): PreHandler {
  return stepUp('requireAuthTime', { acrValues: undefined, maxAge: checkMaxAge(maxAgeSeconds) });
}

/**
 * requireAcr and requireAuthTime in one preHandler, whose challenge names both `acr_values` and
 * `max_age` (RFC 9470 §3).
 *
 * @example
 * app.post('/payouts', { preHandler: [auth, requireAuthentication({ acrValues: ['phr'], maxAgeSeconds: 300 })] }, payOut);
 */
export function requireAuthentication(requirements: AuthenticationRequirements): PreHandler {
  return stepUp('requireAuthentication', checkAuthenticationRequirements(requirements));
}

function stepUp(name: string, required: AuthenticationRequirement): PreHandler {
  return async function latchkeyRequireAuthentication(request: FastifyRequest, reply: FastifyReply) {
    if (request.auth === undefined) throw new Error(`${name} runs after bearerAuth`);
    try {
      assertAuthentication(request.auth, required);
    } catch (err) {
      return send(reply, err, challengeOf(request));
    }
    return undefined;
  };
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
