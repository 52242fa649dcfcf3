import { createServer, type IncomingMessage, type Server } from 'node:http';
import express from 'express';
import Fastify from 'fastify';
import type { AccessTokenClaims, BearerAuthOptions, TokenVerifier } from '../../src/index.ts';
import * as fastifyAuth from '../../src/fastify.ts';
import * as expressAuth from '../../src/express.ts';
import * as fetchAuth from '../../src/fetch.ts';

/**
 * The same small orders API in each framework, on a real socket: GET /orders and POST /orders need
 * `orders:read`, GET /admin needs `orders:write`; each answers with the claims its handler received.
 */
export interface RunningApp {
  url: string;
  close(): Promise<void>;
}

/** `options`: the middleware's options over `{ realm: 'orders' }`. */
export type AppFactory = (verifier: TokenVerifier, options?: BearerAuthOptions) => Promise<RunningApp>;

const echo = (auth: AccessTokenClaims, via: string) => ({ via, sub: auth.sub, client_id: auth.client_id, scope: auth.scope, aud: auth.aud });

export const fastifyApp: AppFactory = async (verifier, options = {}) => {
  const app = Fastify();
  // A form parser keeping repeated fields (what @fastify/formbody would do).
  app.addContentTypeParser('application/x-www-form-urlencoded', { parseAs: 'string' }, (_request, body, done) => {
    done(null, new URLSearchParams(body as string));
  });
  const auth = fastifyAuth.bearerAuth(verifier, { realm: 'orders', ...options });
  const read = { preHandler: [auth, fastifyAuth.requireScopes('orders:read')] };
  app.get('/orders', read, async (request) => echo(request.auth, 'fastify'));
  app.post('/orders', read, async (request) => echo(request.auth, 'fastify'));
  app.get('/admin', { preHandler: [auth, fastifyAuth.requireScopes('orders:write')] }, async (request) => echo(request.auth, 'fastify'));
  await app.listen({ port: 0, host: '127.0.0.1' });
  const { port } = app.server.address() as { port: number };
  return { url: `http://127.0.0.1:${port}`, close: () => app.close() };
};

export const expressApp: AppFactory = async (verifier, options = {}) => {
  const app = express();
  app.use(express.urlencoded({ extended: false }));
  const auth = expressAuth.bearerAuth(verifier, { realm: 'orders', ...options });
  app.get('/orders', auth, expressAuth.requireScopes('orders:read'), (req, res) => {
    res.json({ ...echo(req.auth, 'express'), locals: res.locals.auth.sub });
  });
  app.post('/orders', auth, expressAuth.requireScopes('orders:read'), (req, res) => {
    res.json({ ...echo(req.auth, 'express'), locals: res.locals.auth.sub });
  });
  app.get('/admin', auth, expressAuth.requireScopes('orders:write'), (req, res) => {
    res.json(echo(req.auth, 'express'));
  });
  return listen(createServer(app));
};

export const fetchApp: AppFactory = async (verifier, options = {}) => {
  const orders = fetchAuth.withBearerAuth(
    verifier,
    fetchAuth.requireScopes('orders:read')(async (_request, auth) => Response.json(echo(auth, 'fetch'))),
    { realm: 'orders', ...options },
  );
  const admin = fetchAuth.withBearerAuth(
    verifier,
    fetchAuth.requireScopes('orders:write')(async (_request, auth) => Response.json(echo(auth, 'fetch'))),
    { realm: 'orders', ...options },
  );
  const handler = (request: Request) => (new URL(request.url).pathname === '/admin' ? admin(request) : orders(request));
  return listen(createServer((req, res) => {
    handler(toRequest(req)).then(
      async (response) => {
        res.writeHead(response.status, Object.fromEntries(response.headers));
        res.end(Buffer.from(await response.arrayBuffer()));
      },
      () => {
        res.writeHead(500).end();
      },
    );
  }));
};

/** Node's request as a fetch Request: what a fetch-style runtime hands its handler. */
function toRequest(req: IncomingMessage): Request {
  const headers = new Headers();
  for (const [name, value] of Object.entries(req.headers)) {
    if (value !== undefined) headers.set(name, Array.isArray(value) ? value.join(', ') : value);
  }
  const hasBody = req.method !== 'GET' && req.method !== 'HEAD';
  return new Request(`http://${req.headers.host}${req.url}`, {
    method: req.method!,
    headers,
    ...(hasBody ? { body: req as unknown as ReadableStream, duplex: 'half' } : {}),
  } as RequestInit);
}

async function listen(server: Server): Promise<RunningApp> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  return {
    url: `http://127.0.0.1:${port}`,
    close: () => new Promise<void>((resolve, reject) => {
      server.closeAllConnections();
      server.close((err) => (err ? reject(err) : resolve()));
    }),
  };
}

export const FRAMEWORKS: [string, AppFactory][] = [
  ['fastify', fastifyApp],
  ['express', expressApp],
  ['fetch', fetchApp],
];
