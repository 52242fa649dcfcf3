import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import express from 'express';
import Fastify from 'fastify';
import { discoverOAuthProtectedResourceMetadata, extractWWWAuthenticateParams, selectResourceURL } from '@modelcontextprotocol/sdk/client/auth.js';
import { API, type Latchkey, startLatchkey } from '@latchkey/testing';
import {
  ConfigurationError,
  createBearerAuth,
  createIntrospector,
  createValidator,
  protectedResourceMetadata,
  resourceMetadataUrl,
  type BearerAuthOptions,
  type ProtectedResourceMetadataOptions,
  type TokenVerifier,
} from '../src/index.ts';
import * as expressAuth from '../src/express.ts';
import * as fastifyAuth from '../src/fastify.ts';
import * as fetchAuth from '../src/fetch.ts';
import { accessClaims, signWithServerKey } from './helpers/tokens.ts';

/**
 * RFC 9728: the metadata document and where it is (§2, §3.1), served by each framework's entry (§3.2)
 * with CORS for browser clients, and `resource_metadata` in the challenges (§5.1) with the `scope`
 * the route needs (RFC 6750 §3), all through real HTTP.
 */

interface App {
  url: string;
  close(): Promise<void>;
}

/**
 * The same API in each framework: the metadata of `metadata.resource`; GET /orders needs orders:read,
 * GET /admin orders:write, GET /open any token.
 */
type Factory = (verifier: TokenVerifier, metadata: ProtectedResourceMetadataOptions, options: BearerAuthOptions) => Promise<App>;

const fastifyApp: Factory = async (verifier, metadata, options) => {
  const app = Fastify();
  fastifyAuth.protectedResourceMetadata(app, metadata);
  const auth = fastifyAuth.bearerAuth(verifier, options);
  app.get('/orders', { preHandler: [auth, fastifyAuth.requireScopes('orders:read')] }, async () => ({ ok: true }));
  app.get('/admin', { preHandler: [auth, fastifyAuth.requireScopes('orders:write')] }, async () => ({ ok: true }));
  app.get('/open', { preHandler: auth }, async () => ({ ok: true }));
  await app.listen({ port: 0, host: '127.0.0.1' });
  return { url: `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`, close: () => app.close() };
};

const expressApp: Factory = async (verifier, metadata, options) => {
  const app = express();
  app.use(expressAuth.protectedResourceMetadata(metadata));
  const auth = expressAuth.bearerAuth(verifier, options);
  app.get('/orders', auth, expressAuth.requireScopes('orders:read'), (_req, res) => void res.json({ ok: true }));
  app.get('/admin', auth, expressAuth.requireScopes('orders:write'), (_req, res) => void res.json({ ok: true }));
  app.get('/open', auth, (_req, res) => void res.json({ ok: true }));
  return listen(createServer(app));
};

const fetchApp: Factory = async (verifier, metadata, options) => {
  const ok = async () => Response.json({ ok: true });
  const serveMetadata = fetchAuth.protectedResourceMetadataHandler(metadata);
  const routes: Record<string, (request: Request) => Promise<Response>> = {
    '/orders': fetchAuth.withBearerAuth(verifier, fetchAuth.requireScopes('orders:read')(ok), options),
    '/admin': fetchAuth.withBearerAuth(verifier, fetchAuth.requireScopes('orders:write')(ok), options),
    '/open': fetchAuth.withBearerAuth(verifier, ok, options),
  };
  const handler = async (request: Request) => {
    const { pathname } = new URL(request.url);
    if (pathname.startsWith('/.well-known/')) return serveMetadata(request);
    return routes[pathname]?.(request) ?? new Response(null, { status: 404 });
  };
  // Node's http server wrapping the fetch handler, as a fetch-style runtime would.
  return listen(createServer((req, res) => {
    const headers = new Headers();
    for (const [name, value] of Object.entries(req.headers)) if (typeof value === 'string') headers.set(name, value);
    handler(new Request(`http://${req.headers.host}${req.url}`, { method: req.method!, headers })).then(
      async (response) => {
        res.writeHead(response.status, Object.fromEntries(response.headers));
        res.end(Buffer.from(await response.arrayBuffer()));
      },
      () => void res.writeHead(500).end(),
    );
  }));
};

async function listen(server: Server): Promise<App> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () => new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    }),
  };
}

const FRAMEWORKS: [string, Factory][] = [
  ['fastify', fastifyApp],
  ['express', expressApp],
  ['fetch', fetchApp],
];

const ISSUER = 'https://auth.example.com';
const ROOT = '/.well-known/oauth-protected-resource';

describe('the metadata document (RFC 9728 §2)', () => {
  test('the configured members, in the RFC order; bearer_methods_supported defaults to header', () => {
    assert.deepEqual(
      JSON.stringify(protectedResourceMetadata({
        resourceName: 'Orders',
        scopesSupported: ['orders:read', 'orders:write'],
        authorizationServers: [ISSUER],
        resource: API,
        resourceDocumentation: 'https://docs.example.com/orders',
      })),
      JSON.stringify({
        resource: API,
        authorization_servers: [ISSUER],
        scopes_supported: ['orders:read', 'orders:write'],
        bearer_methods_supported: ['header'],
        resource_name: 'Orders',
        resource_documentation: 'https://docs.example.com/orders',
      }),
    );
    assert.deepEqual(protectedResourceMetadata({ resource: API, bearerMethodsSupported: ['header', 'body'] }).bearer_methods_supported, ['header', 'body']);
  });

  test('the resource is an https URL without a fragment (plain http on loopback only); issuers likewise, without a query', () => {
    for (const resource of ['http://api.example.com', 'https://api.example.com/#x', 'ftp://api.example.com', 'not a url', '']) {
      assert.throws(() => protectedResourceMetadata({ resource }), ConfigurationError, resource);
      assert.throws(() => resourceMetadataUrl(resource), ConfigurationError, resource);
    }
    for (const resource of ['http://localhost:3000', 'http://127.0.0.1:3000/mcp', 'http://[::1]/api', 'https://api.example.com/v1?tenant=a']) {
      assert.equal(protectedResourceMetadata({ resource }).resource, resource);
    }
    for (const issuer of ['http://auth.example.com', 'https://auth.example.com?x=1', 'https://auth.example.com#x', 'auth']) {
      assert.throws(() => protectedResourceMetadata({ resource: API, authorizationServers: [issuer] }), ConfigurationError, issuer);
    }
    assert.throws(() => protectedResourceMetadata({ resource: API, authorizationServers: ISSUER as never }), ConfigurationError);
    assert.throws(() => protectedResourceMetadata({ resource: API, scopesSupported: ['orders read'] }), ConfigurationError);
    assert.throws(() => protectedResourceMetadata({ resource: API, bearerMethodsSupported: ['cookie' as never] }), ConfigurationError);
    assert.throws(() => protectedResourceMetadata({ resource: API, jwksUri: 'http://keys.example.com/jwks.json' }), ConfigurationError);
    assert.throws(() => protectedResourceMetadata({ resource: API, resourceName: ' ' }), ConfigurationError);
  });

  test('the metadata URL: the well-known segment between the host and the path (§3.1), without a stray slash', () => {
    const cases: [string, string][] = [
      ['https://api.example.com', `https://api.example.com${ROOT}`],
      ['https://api.example.com/', `https://api.example.com${ROOT}`],
      ['https://api.example.com/mcp', `https://api.example.com${ROOT}/mcp`],
      ['https://api.example.com/a/b/', `https://api.example.com${ROOT}/a/b/`],
      ['https://api.example.com:8443/v1?tenant=a', `https://api.example.com:8443${ROOT}/v1?tenant=a`],
      ['https://api.example.com?tenant=a', `https://api.example.com${ROOT}?tenant=a`],
      ['http://localhost:3000/mcp', `http://localhost:3000${ROOT}/mcp`],
    ];
    for (const [resource, url] of cases) assert.equal(resourceMetadataUrl(resource), url, resource);
  });
});

for (const [name, start] of FRAMEWORKS) {
  describe(`${name}: serving the metadata (RFC 9728 §3)`, () => {
    let app: App;
    const metadata = { resource: 'https://api.example.com/orders', authorizationServers: [ISSUER], scopesSupported: ['orders:read', 'orders:write'] };
    before(async () => {
      app = await start(createValidator({ issuer: ISSUER, audience: metadata.resource }), metadata, {});
    });
    after(async () => {
      await app?.close();
    });

    const expected = {
      resource: 'https://api.example.com/orders',
      authorization_servers: [ISSUER],
      scopes_supported: ['orders:read', 'orders:write'],
      bearer_methods_supported: ['header'],
    };

    test('GET at the path-suffixed URL and at the root one: 200 application/json, public, any origin', async () => {
      for (const path of [`${ROOT}/orders`, ROOT]) {
        const res = await fetch(`${app.url}${path}`, { headers: { origin: 'https://app.example.net' } });
        assert.equal(res.status, 200, path);
        assert.equal(res.headers.get('content-type'), 'application/json; charset=utf-8');
        assert.equal(res.headers.get('cache-control'), 'public, max-age=3600');
        assert.equal(res.headers.get('access-control-allow-origin'), '*');
        assert.equal(res.headers.get('access-control-allow-credentials'), null);
        assert.deepEqual(await res.json(), expected);
      }
    });

    test('HEAD: the headers without content', async () => {
      const res = await fetch(`${app.url}${ROOT}/orders`, { method: 'HEAD' });
      assert.equal(res.status, 200);
      assert.equal(res.headers.get('content-type'), 'application/json; charset=utf-8');
      assert.equal(await res.text(), '');
    });

    test('a CORS preflight is answered: GET allowed from any origin, the asked headers allowed, no credentials', async () => {
      const res = await fetch(`${app.url}${ROOT}/orders`, {
        method: 'OPTIONS',
        headers: { origin: 'https://app.example.net', 'access-control-request-method': 'GET', 'access-control-request-headers': 'mcp-protocol-version' },
      });
      assert.equal(res.status, 204);
      assert.equal(res.headers.get('access-control-allow-origin'), '*');
      assert.equal(res.headers.get('access-control-allow-methods'), 'GET, HEAD, OPTIONS');
      assert.equal(res.headers.get('access-control-allow-headers'), 'mcp-protocol-version');
      assert.equal(res.headers.get('access-control-allow-credentials'), null);
    });

    test('another path under the well-known prefix is not the document', async () => {
      assert.equal((await fetch(`${app.url}${ROOT}/inventory`)).status, 404);
    });

    test('another method: 405 with Allow', async () => {
      const res = await fetch(`${app.url}${ROOT}/orders`, { method: 'POST' });
      assert.equal(res.status, 405);
      assert.equal(res.headers.get('allow'), 'GET, HEAD, OPTIONS');
    });
  });
}

describe('challenges naming the metadata (RFC 9728 §5.1), against a real Latchkey', () => {
  let l: Latchkey;
  let reader: string;
  const metadataUrl = `https://api.example.com${ROOT}`;

  before(async () => {
    l = await startLatchkey();
    reader = await l.token();
  });
  after(async () => {
    await l?.close();
  });

  for (const [name, start] of FRAMEWORKS) {
    describe(name, () => {
      let app: App;
      before(async () => {
        // resourceMetadata: true, the URL derived from the validator's audience.
        app = await start(createValidator({ issuer: l.issuer, audience: API }), { resource: API, authorizationServers: [l.issuer] }, { realm: 'orders', resourceMetadata: true });
      });
      after(async () => {
        await app?.close();
      });

      const get = (path: string, token?: string) => fetch(`${app.url}${path}`, { headers: token === undefined ? {} : { authorization: `Bearer ${token}` } });

      test('no token: 401 naming the scope the route needs and the metadata URL derived from the audience; the header is exposed to browsers', async () => {
        const res = await get('/orders');
        assert.equal(res.status, 401);
        assert.equal(res.headers.get('www-authenticate'), `Bearer realm="orders", scope="orders:read", resource_metadata="${metadataUrl}", DPoP realm="orders", scope="orders:read", resource_metadata="${metadataUrl}", algs="ES256 ES384 PS256 RS256 EdDSA"`);
        assert.equal(res.headers.get('access-control-expose-headers'), 'WWW-Authenticate');
        assert.equal(await res.text(), '');
      });

      test('no token on a route without requireScopes: the metadata URL, no scope', async () => {
        const res = await get('/open');
        assert.equal(res.status, 401);
        assert.equal(res.headers.get('www-authenticate'), `Bearer realm="orders", resource_metadata="${metadataUrl}", DPoP realm="orders", resource_metadata="${metadataUrl}", algs="ES256 ES384 PS256 RS256 EdDSA"`);
      });

      test('a token for another resource: 401 invalid_token with the scope and the metadata URL', async () => {
        const elsewhere = await l.token(l.stranger, 'other:read');
        const res = await get('/orders', elsewhere);
        assert.equal(res.status, 401);
        assert.equal(
          res.headers.get('www-authenticate'),
          `Bearer realm="orders", error="invalid_token", error_description="the access token is not meant for this resource", scope="orders:read", resource_metadata="${metadataUrl}", DPoP realm="orders", scope="orders:read", resource_metadata="${metadataUrl}", algs="ES256 ES384 PS256 RS256 EdDSA"`,
        );
        assert.equal(res.headers.get('access-control-expose-headers'), 'WWW-Authenticate');
      });

      test('a missing scope: 403 insufficient_scope naming the scope the check needs and the metadata URL', async () => {
        const res = await get('/admin', reader);
        assert.equal(res.status, 403);
        assert.equal(
          res.headers.get('www-authenticate'),
          `Bearer realm="orders", error="insufficient_scope", error_description="the access token lacks a scope this resource requires", scope="orders:write", resource_metadata="${metadataUrl}", DPoP realm="orders", scope="orders:write", resource_metadata="${metadataUrl}", algs="ES256 ES384 PS256 RS256 EdDSA"`,
        );
        assert.equal(res.headers.get('access-control-expose-headers'), 'WWW-Authenticate');
      });

      test('a good token still passes', async () => {
        assert.equal((await get('/orders', reader)).status, 200);
        assert.equal((await get('/open', reader)).status, 200);
      });
    });
  }

  test('an explicit URL is named as given (normalised by URL); an expired token is refused with it', async () => {
    const app = await fetchApp(createValidator({ issuer: l.issuer, audience: API }), { resource: API }, { resourceMetadata: 'https://meta.example.com/orders.json' });
    try {
      const expired = await signWithServerKey(l, accessClaims(l.issuer, { exp: Math.floor(Date.now() / 1000) - 60 }));
      const res = await fetch(`${app.url}/orders`, { headers: { authorization: `Bearer ${expired}` } });
      assert.equal(res.status, 401);
      assert.match(res.headers.get('www-authenticate')!, /error_description="the access token has expired", scope="orders:read", resource_metadata="https:\/\/meta\.example\.com\/orders\.json", DPoP /);
    } finally {
      await app.close();
    }
  });

  test('the core names the scopes it is given in a 401, and the metadata URL', async () => {
    const bearer = createBearerAuth(createValidator({ issuer: l.issuer, audience: API }), { resourceMetadata: true });
    const err = await bearer.authenticate({ authorization: undefined, bodyToken: undefined }).catch((e: unknown) => e);
    assert.equal(bearer.errorReply(err, ['orders:read', 'orders:write'])!.headers['www-authenticate'], `Bearer realm="api", scope="orders:read orders:write", resource_metadata="${metadataUrl}", DPoP realm="api", scope="orders:read orders:write", resource_metadata="${metadataUrl}", algs="ES256 ES384 PS256 RS256 EdDSA"`);
    assert.equal(bearer.errorReply(err)!.headers['www-authenticate'], `Bearer realm="api", resource_metadata="${metadataUrl}", DPoP realm="api", resource_metadata="${metadataUrl}", algs="ES256 ES384 PS256 RS256 EdDSA"`);
  });
});

describe('an MCP client (@modelcontextprotocol/sdk) finds the metadata', () => {
  let server: Server;
  let base: string;

  before(async () => {
    server = createServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    const resource = `${base}/mcp`;
    const app = express();
    app.use(expressAuth.protectedResourceMetadata({ resource, authorizationServers: [ISSUER], scopesSupported: ['mcp:tools'] }));
    app.post('/mcp', expressAuth.bearerAuth(createValidator({ issuer: ISSUER, audience: resource }), { resourceMetadata: true }), expressAuth.requireScopes('mcp:tools'), (_req, res) => void res.json({}));
    server.on('request', app);
  });
  after(async () => {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  });

  test('from the 401 challenge, and by path-aware discovery; the resource is accepted for the server URL', async () => {
    const serverUrl = `${base}/mcp`;
    const challenge = extractWWWAuthenticateParams(await fetch(serverUrl, { method: 'POST' }));
    assert.equal(challenge.resourceMetadataUrl?.href, `${base}${ROOT}/mcp`);
    assert.equal(challenge.scope, 'mcp:tools');
    const fromChallenge = await discoverOAuthProtectedResourceMetadata(serverUrl, { resourceMetadataUrl: challenge.resourceMetadataUrl! });
    const discovered = await discoverOAuthProtectedResourceMetadata(serverUrl);
    assert.deepEqual(fromChallenge, discovered);
    assert.equal(discovered.resource, serverUrl);
    assert.deepEqual(discovered.authorization_servers, [ISSUER]);
    assert.equal((await selectResourceURL(serverUrl, {} as never, discovered))?.href, serverUrl);
  });
});

test('resourceMetadata is checked when the middleware is created', () => {
  const validator = createValidator({ issuer: ISSUER, audience: API });
  const introspector = createIntrospector({ issuer: ISSUER, clientId: 'c', clientSecret: 's' });
  assert.throws(() => fastifyAuth.bearerAuth(introspector, { resourceMetadata: true }), ConfigurationError);
  assert.throws(() => expressAuth.bearerAuth(async () => ({}) as never, { resourceMetadata: true }), ConfigurationError);
  assert.throws(() => fetchAuth.withBearerAuth(createValidator({ issuer: ISSUER, audience: 'urn:orders' }), async () => new Response(), { resourceMetadata: true }), ConfigurationError);
  for (const bad of ['http://meta.example.com/x', 'https://meta.example.com/#x', 'nope', 1]) {
    assert.throws(() => createBearerAuth(validator, { resourceMetadata: bad as never }), ConfigurationError, String(bad));
  }
  assert.throws(() => fetchAuth.protectedResourceMetadataHandler({ resource: 'http://api.example.com' }), ConfigurationError);
  assert.throws(() => expressAuth.protectedResourceMetadata({ resource: API, authorizationServers: ['http://auth.example.com'] }), ConfigurationError);
  assert.throws(() => fastifyAuth.protectedResourceMetadata(Fastify(), { resource: API, scopesSupported: ['a b'] }), ConfigurationError);
});
