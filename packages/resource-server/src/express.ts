import type { IncomingMessage, ServerResponse } from 'node:http';
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

export type { BearerAuthOptions } from './defaults.ts';
export type { TokenVerifier } from './lib/bearer.ts';

/** The parts of Express's request and response used here (Node's own types: connect works too). */
type AuthRequest = IncomingMessage & { body?: unknown; auth?: AccessTokenClaims };
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
    rememberRealm(req, config.realm);
    authenticate(config, {
      authorization: req.headers.authorization,
      bodyToken: formBodyToken(req.method ?? 'GET', req.headers['content-type'], req.body),
    }).then(
      (claims) => {
        req.auth = claims;
        if (res.locals) res.locals.auth = claims;
        next();
      },
      (err: unknown) => send(res, err, config.realm, next),
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
  return function latchkeyRequireScopes(req, res, next) {
    if (req.auth === undefined) return next(new Error('requireScopes runs after bearerAuth'));
    try {
      assertScopes(req.auth, required);
    } catch (err) {
      return send(res, err, realmOf(req), next);
    }
    next();
  };
}

function send(res: ServerResponse, err: unknown, realm: string, next: (err?: unknown) => void): void {
  const response = errorReply(err, realm);
  if (!response) return next(err);
  res.statusCode = response.status;
  for (const [name, value] of Object.entries(response.headers)) res.setHeader(name, value);
  res.end(response.body === undefined ? undefined : JSON.stringify(response.body));
}
