import { createServer } from 'node:http';
import { createRemoteJWKSet, jwtVerify } from 'jose';
import { listen, sendJson } from './web.ts';

/**
 * A tiny protected API: `GET /orders` wants a Latchkey access token (RFC 9068 JWT, `typ: at+jwt`, ES256) for
 * this API's resource identifier, with the `orders:read` scope. Errors follow RFC 6750 §3.
 */

export interface OrdersApiOptions {
  /** The Latchkey issuer (no trailing slash). */
  issuer: string;
  /** This API's resource identifier in Latchkey: the `aud` its tokens carry, e.g. https://orders.example. */
  audience: string;
  /** 0 (the default): a free port. */
  port?: number;
  host?: string;
}

export interface RunningApi {
  /** The base URL; the orders are at `${url}/orders`. */
  url: string;
  close(): Promise<void>;
}

const REQUIRED_SCOPE = 'orders:read';

const ORDERS = [
  { id: 'A-1001', item: 'Pocket watch', quantity: 1, total: '129.00 EUR' },
  { id: 'A-1002', item: 'Jar of orange marmalade', quantity: 3, total: '14.70 EUR' },
];

export async function startOrdersApi(options: OrdersApiOptions): Promise<RunningApi> {
  const issuer = options.issuer.replace(/\/+$/, '');
  const jwks = createRemoteJWKSet(new URL(`${issuer}/jwks`));
  const realm = 'realm="orders"';

  const server = createServer((req, res) => {
    void (async () => {
      const path = new URL(req.url ?? '/', 'http://localhost').pathname;
      if (path !== '/orders') return sendJson(res, 404, { error: 'not_found' });
      if (req.method !== 'GET') return sendJson(res, 405, { error: 'method_not_allowed' }, { allow: 'GET' });

      const authorization = req.headers.authorization ?? '';
      // RFC 6750 §3.1: a request without a Bearer credential gets a bare challenge, without an error code.
      if (!/^Bearer\s/i.test(authorization)) {
        return sendJson(res, 401, { error: 'unauthorized' }, { 'www-authenticate': `Bearer ${realm}` });
      }
      const match = /^Bearer +([A-Za-z0-9\-._~+/]+=*)$/i.exec(authorization);
      if (!match?.[1]) return challenge(400, 'invalid_request', 'expected one Bearer token');
      let scopes: string[];
      let sub: string | undefined;
      try {
        const { payload } = await jwtVerify(match[1], jwks, {
          issuer,
          audience: options.audience,
          algorithms: ['ES256'],
          typ: 'at+jwt',
        });
        scopes = typeof payload.scope === 'string' ? payload.scope.split(' ') : [];
        sub = payload.sub;
      } catch (err) {
        return challenge(401, 'invalid_token', `the access token is not valid: ${(err as Error).message}`);
      }
      if (!scopes.includes(REQUIRED_SCOPE)) {
        return challenge(403, 'insufficient_scope', `the ${REQUIRED_SCOPE} scope is required`, REQUIRED_SCOPE);
      }
      sendJson(res, 200, { orders: ORDERS, sub });
    })().catch(() => {
      if (!res.headersSent) sendJson(res, 500, { error: 'server_error' });
      else res.destroy();
    });

    function challenge(status: number, error: string, description: string, scope?: string): void {
      // Quotes and backslashes cannot appear in a quoted-string without escaping; the description drops them.
      const safe = description.replace(/["\\]/g, "'");
      const header = `Bearer ${realm}, error="${error}", error_description="${safe}"${scope ? `, scope="${scope}"` : ''}`;
      sendJson(res, status, { error, error_description: description }, { 'www-authenticate': header });
    }
  });

  return listen(server, options.host ?? '127.0.0.1', options.port ?? 0);
}
