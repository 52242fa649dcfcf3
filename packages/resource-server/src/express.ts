import type { IncomingMessage, ServerResponse } from 'node:http';
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
export type { TokenVerifier } from './lib/bearer.ts';

/** The parts of Express's request and response used here (Node's own types: connect works too). */
type AuthRequest = IncomingMessage & { body?: unknown; auth?: AccessTokenClaims; originalUrl?: string; route?: unknown };
type AuthResponse = ServerResponse & { locals?: Record<string, unknown> };
type Middleware = (req: AuthRequest, res: AuthResponse, next: (err?: unknown) => void) => void;

/**
 * An Express middleware that verifies the request's bearer token (RFC 6750) and sets `req.auth` and
 * `res.locals.auth`. Form bodies count only if `express.urlencoded()` ran before it.
 *
 * @example
 * app.get('/orders', bearerAuth(createValidator({ issuer, audience })), requireScopes('orders:read'), (req, res) => {
 *   res.json({ for: req.auth.sub });
 * });
 */
export function bearerAuth(verifier: TokenVerifier, options: BearerAuthOptions = {}): Middleware {
  const config = bearerAuthConfig(verifier, options);
  return function latchkeyBearerAuth(req, res, next) {
    rememberChallenge(req, config);
    authenticate(config, {
      authorization: req.headers.authorization,
      bodyToken: formBodyToken(req.method ?? 'GET', req.headers['content-type'], req.body),
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
