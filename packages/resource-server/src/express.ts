import type { IncomingMessage, ServerResponse } from 'node:http';
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

declare global {
  // Express's own declaration-merging points (@types/express-serve-static-core).
  namespace Express {
    interface Request {
      /** The verified claims, set by `bearerAuth` (@latchkey/resource-server/express); only on routes behind it. */
      auth: AccessTokenClaims;
    }
    interface Locals {
      /** The verified claims, set by `bearerAuth`; only on routes behind it. */
      auth: AccessTokenClaims;
    }
  }
}

export type { BearerAuthOptions, ProtectedResourceMetadataOptions } from './defaults.ts';
export type { AuthenticationRequirements, TokenVerifier } from './lib/bearer.ts';

/** The parts of Express's request and response used here (Node's own types: connect works too). */
type AuthRequest = IncomingMessage & { body?: unknown; auth?: AccessTokenClaims; originalUrl?: string; route?: unknown; protocol?: string; host?: string };
type AuthResponse = ServerResponse & { locals?: Record<string, unknown> };
type Middleware = (req: AuthRequest, res: AuthResponse, next: (err?: unknown) => void) => void;

/**
 * An Express middleware that verifies the request's access token (RFC 6750 Bearer, RFC 9449 DPoP
 * with its proof, RFC 8705 certificate binding) and sets `req.auth` and `res.locals.auth`. Form
 * bodies count only if `express.urlencoded()` ran before it. The `htu` of proofs is `req.protocol`
 * and `req.host` (Express's `trust proxy` decides whether X-Forwarded-* count) followed by
 * `req.originalUrl`, unless `dpop.publicUrl` is set; the client certificate is the TLS connection's,
 * or a `Client-Cert` header from one of `trustedProxies`.
 *
 * @example
 * app.get('/orders', bearerAuth(createValidator({ issuer, audience })), requireScopes('orders:read'), (req, res) => {
 *   res.json({ for: req.auth.sub });
 * });
 */
export function bearerAuth(verifier: TokenVerifier, options: BearerAuthOptions = {}): Middleware {
  const config = bearerAuthConfig(verifier, options);
  if (config.trustClientCertHeader) throw new ConfigurationError('trustClientCertHeader is for the fetch middleware; with Express, list the proxies in trustedProxies');
  return function latchkeyBearerAuth(req, res, next) {
    rememberChallenge(req, config);
    authenticate(config, {
      authorization: req.headers.authorization,
      bodyToken: formBodyToken(req.method ?? 'GET', req.headers['content-type'], req.body),
      dpop: req.headers.dpop,
      method: req.method,
      url: requestUrl(req),
      clientCertificate: requestCertificate(req.socket, req.headers['client-cert'], config.trustedProxies),
    }).then(
      (claims) => {
        req.auth = claims;
        if (res.locals) res.locals.auth = claims;
        next();
      },
      (err: unknown) => send(res, err, config, next, config.resourceMetadata === undefined ? undefined : routeScopes(req)),
    );
  };
}

/**
 * An Express middleware, after `bearerAuth`: 403 `insufficient_scope` (RFC 6750 §3.1) unless the
 * token has every one of `scopes`.
 *
 * @example
 * app.post('/orders', auth, requireScopes('orders:write'), placeOrder);
 */
export function requireScopes(...scopes: string[]): Middleware {
  const required = checkScopes(scopes);
  return markScopes(function latchkeyRequireScopes(req: AuthRequest, res: AuthResponse, next: (err?: unknown) => void) {
    if (req.auth === undefined) return next(new Error('requireScopes runs after bearerAuth'));
    try {
      assertScopes(req.auth, required);
    } catch (err) {
      return send(res, err, challengeOf(req), next);
    }
    next();
  }, required);
}

/**
 * An Express middleware, after `bearerAuth`: 401 `insufficient_user_authentication` (RFC 9470 §3),
 * with `acr_values` in the challenge, unless the token's `acr` is one of `values`.
 *
 * @example
 * app.post('/payments', auth, requireAcr('urn:latchkey:acr:mfa', 'phr'), pay);
 */
export function requireAcr(...values: string[]): Middleware {
  return stepUp('requireAcr', { acrValues: checkAcrValues(values), maxAge: undefined });
}

/**
 * An Express middleware, after `bearerAuth`: 401 `insufficient_user_authentication` (RFC 9470 §3),
 * with `max_age` in the challenge, unless the token's `auth_time` is at most `maxAgeSeconds` old (with
 * the validator's default leeway).
 *
 * @example
 * app.delete('/account', auth, requireAuthTime(300), closeAccount);
 */
export function requireAuthTime(maxAgeSeconds: number): Middleware {
  return stepUp('requireAuthTime', { acrValues: undefined, maxAge: checkMaxAge(maxAgeSeconds) });
}

/**
 * requireAcr and requireAuthTime in one middleware, whose challenge names both `acr_values` and
 * `max_age` (RFC 9470 §3).
 *
 * @example
 * app.post('/payouts', auth, requireAuthentication({ acrValues: ['phr'], maxAgeSeconds: 300 }), payOut);
 */
export function requireAuthentication(requirements: AuthenticationRequirements): Middleware {
  return stepUp('requireAuthentication', checkAuthenticationRequirements(requirements));
}

function stepUp(name: string, required: AuthenticationRequirement): Middleware {
  return function latchkeyRequireAuthentication(req, res, next) {
    if (req.auth === undefined) return next(new Error(`${name} runs after bearerAuth`));
    try {
      assertAuthentication(req.auth, required);
    } catch (err) {
      return send(res, err, challengeOf(req), next);
    }
    next();
  };
}

/**
 * An Express (or connect, or node:http) middleware serving this resource's metadata (RFC 9728 §3):
 * GET, HEAD and OPTIONS (CORS preflight, any origin, no credentials) at
 * `/.well-known/oauth-protected-resource` followed by the resource's path, and for a resource with a
 * path at `/.well-known/oauth-protected-resource` too; 405 for other methods there; every other path
 * goes on to `next`. Mount it at the root. The options are checked now.
 *
 * @example
 * app.use(protectedResourceMetadata({ resource: 'https://api.example.com', authorizationServers: [issuer] }));
 */
export function protectedResourceMetadata(options: ProtectedResourceMetadataOptions): Middleware {
  const document = metadataDocument(options);
  const paths = new Set(resourceMetadataPaths(document.resource));
  return function latchkeyProtectedResourceMetadata(req, res, next) {
    const target = req.originalUrl ?? req.url ?? '/';
    const query = target.indexOf('?');
    if (!paths.has(query === -1 ? target : target.slice(0, query))) return next();
    const reply = protectedResourceMetadataReply(document, {
      method: req.method ?? 'GET',
      accessControlRequestHeaders: req.headers['access-control-request-headers'],
    });
    res.writeHead(reply.status, reply.headers).end(reply.body);
  };
}

/**
 * The URL the request was received at: Express's `req.protocol` and `req.host` (which honour its
 * `trust proxy` setting) and `req.originalUrl`; on plain node:http or connect, the socket and `Host`.
 */
function requestUrl(req: AuthRequest): string {
  const protocol = req.protocol ?? ((req.socket as { encrypted?: boolean }).encrypted ? 'https' : 'http');
  const host = req.host ?? req.headers.host ?? 'invalid';
  return `${protocol}://${host}${req.originalUrl ?? req.url ?? '/'}`;
}

/**
 * The scopes of the requireScopes middleware on the route being dispatched for this method (Express's
 * `req.route`), for the 401 challenge; undefined when bearerAuth runs outside a route (`app.use`).
 */
function routeScopes(req: AuthRequest): string[] | undefined {
  const route = req.route as { stack?: { method?: string; handle?: unknown }[]; methods?: Record<string, boolean> } | undefined;
  if (!Array.isArray(route?.stack)) return undefined;
  let method = req.method?.toLowerCase();
  // Express dispatches HEAD to the GET handlers of a route without its own HEAD.
  if (method === 'head' && !route.methods?.head) method = 'get';
  return scopesOf(route.stack.filter((layer) => layer.method === undefined || layer.method === method).map((layer) => layer.handle));
}

function send(res: ServerResponse, err: unknown, challenge: ChallengeConfig, next: (err?: unknown) => void, scopes?: readonly string[]): void {
  const response = errorReply(err, challenge, scopes);
  if (!response) return next(err);
  res.statusCode = response.status;
  for (const [name, value] of Object.entries(response.headers)) res.setHeader(name, value);
  res.end(response.body === undefined ? undefined : JSON.stringify(response.body));
}
