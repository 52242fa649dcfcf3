import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { API, INVENTORY, type Latchkey, startLatchkey } from '@latchkey/testing';
import { ConfigError, parseConfig } from '../src/config/parse.ts';
import { createGateway } from '../src/gateway.ts';
import { baseConfig, get, startGateway, startUpstream, type RunningGateway, type Upstream } from './helpers.ts';

/**
 * RFC 9728 at the gateway: each route's protected resource metadata (its audience as the resource,
 * the issuer, its scopes) at the well-known path followed by its prefix, and `resource_metadata` in
 * the route's 401 and 403 challenges, with the scope the method needs (RFC 6750 §3).
 */
describe('protected resource metadata', () => {
  let latchkey: Latchkey;
  let upstream: Upstream;
  let gw: RunningGateway;
  const ROOT = '/.well-known/oauth-protected-resource';
  const PUBLIC = 'https://gateway.example.com';

  before(async () => {
    latchkey = await startLatchkey();
    upstream = await startUpstream();
    gw = await startGateway(
      baseConfig(
        latchkey,
        [
          { name: 'orders', prefix: '/orders', upstream: upstream.url, audience: API, methods: { GET: ['orders:read'], POST: ['orders:write'] } },
          {
            // The issuer refuses this exchange's scope for a token without it: a 403 after the token was accepted.
            name: 'stock',
            prefix: '/stock',
            upstream: upstream.url,
            audience: API,
            methods: { GET: ['orders:read'] },
            forward: { mode: 'exchange', audience: INVENTORY, scopes: ['inventory:read'] },
          },
          { name: 'open', prefix: '/open', upstream: upstream.url, audience: 'https://open.example.com/v1', methods: { GET: [] } },
        ],
        { resourceMetadata: true },
      ),
    );
  });
  after(async () => {
    await gw?.close();
    await upstream?.close();
    await latchkey?.close();
  });

  test('each route\'s document at the well-known path followed by its prefix: its audience, the issuer, its scopes, the header', async () => {
    const res = await fetch(`${gw.url}${ROOT}/orders`, { headers: { origin: 'https://app.example.net' } });
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('content-type'), 'application/json; charset=utf-8');
    assert.equal(res.headers.get('cache-control'), 'public, max-age=3600');
    assert.equal(res.headers.get('access-control-allow-origin'), '*');
    assert.deepEqual(await res.json(), {
      resource: API,
      authorization_servers: [latchkey.issuer],
      scopes_supported: ['orders:read', 'orders:write'],
      bearer_methods_supported: ['header'],
    });
    // A route whose methods need no scope has none to list.
    assert.deepEqual(await (await fetch(`${gw.url}${ROOT}/open`)).json(), {
      resource: 'https://open.example.com/v1',
      authorization_servers: [latchkey.issuer],
      bearer_methods_supported: ['header'],
    });
  });

  test('HEAD, a CORS preflight, another method; a path that is no route\'s: 404, never a route\'s 401', async () => {
    const head = await fetch(`${gw.url}${ROOT}/orders`, { method: 'HEAD' });
    assert.equal(head.status, 200);
    assert.equal(await head.text(), '');
    const preflight = await fetch(`${gw.url}${ROOT}/orders`, {
      method: 'OPTIONS',
      headers: { origin: 'https://app.example.net', 'access-control-request-method': 'GET', 'access-control-request-headers': 'mcp-protocol-version' },
    });
    assert.equal(preflight.status, 204);
    assert.equal(preflight.headers.get('access-control-allow-origin'), '*');
    assert.equal(preflight.headers.get('access-control-allow-methods'), 'GET, HEAD, OPTIONS');
    assert.equal(preflight.headers.get('access-control-allow-headers'), 'mcp-protocol-version');
    const post = await fetch(`${gw.url}${ROOT}/orders`, { method: 'POST' });
    assert.equal(post.status, 405);
    assert.equal(post.headers.get('allow'), 'GET, HEAD, OPTIONS');
    for (const path of [ROOT, `${ROOT}/orders/42`, `${ROOT}/nothing`]) assert.equal((await fetch(`${gw.url}${path}`)).status, 404, path);
  });

  test('no token: 401 naming the method\'s scope and the route\'s metadata URL, exposed to browsers', async () => {
    const res = await fetch(`${gw.url}/orders/42`);
    assert.equal(res.status, 401);
    assert.equal(res.headers.get('www-authenticate'), `Bearer realm="gateway", scope="orders:read", resource_metadata="${PUBLIC}${ROOT}/orders", DPoP realm="gateway", scope="orders:read", resource_metadata="${PUBLIC}${ROOT}/orders", algs="ES256 ES384 PS256 RS256 EdDSA"`);
    assert.equal(res.headers.get('access-control-expose-headers'), 'WWW-Authenticate');
    const open = await fetch(`${gw.url}/open`);
    assert.equal(open.headers.get('www-authenticate'), `Bearer realm="gateway", resource_metadata="${PUBLIC}${ROOT}/open", DPoP realm="gateway", resource_metadata="${PUBLIC}${ROOT}/open", algs="ES256 ES384 PS256 RS256 EdDSA"`);
  });

  test('a token for another resource: 401 invalid_token with the metadata URL', async () => {
    const res = await get(`${gw.url}/orders`, await latchkey.token(latchkey.stranger, 'other:read'));
    assert.equal(res.status, 401);
    assert.equal(
      res.headers.get('www-authenticate'),
      `Bearer realm="gateway", error="invalid_token", error_description="the access token is not meant for this resource", scope="orders:read", resource_metadata="${PUBLIC}${ROOT}/orders", DPoP realm="gateway", scope="orders:read", resource_metadata="${PUBLIC}${ROOT}/orders", algs="ES256 ES384 PS256 RS256 EdDSA"`,
    );
  });

  test('a missing scope: 403 naming it and the metadata URL; after the token, an exchange refused for its scope too', async () => {
    const token = await latchkey.token(latchkey.reader, 'orders:read');
    const res = await fetch(`${gw.url}/orders`, { method: 'POST', headers: { authorization: `Bearer ${token}` } });
    assert.equal(res.status, 403);
    assert.equal(
      res.headers.get('www-authenticate'),
      `Bearer realm="gateway", error="insufficient_scope", error_description="the access token lacks a scope this resource requires", scope="orders:write", resource_metadata="${PUBLIC}${ROOT}/orders", DPoP realm="gateway", scope="orders:write", resource_metadata="${PUBLIC}${ROOT}/orders", algs="ES256 ES384 PS256 RS256 EdDSA"`,
    );
    assert.equal(res.headers.get('access-control-expose-headers'), 'WWW-Authenticate');
    const exchange = await get(`${gw.url}/stock/items`, token);
    assert.equal(exchange.status, 403);
    assert.equal(
      exchange.headers.get('www-authenticate'),
      `Bearer realm="gateway", error="insufficient_scope", error_description="the access token lacks a scope this resource requires", scope="inventory:read", resource_metadata="${PUBLIC}${ROOT}/stock", DPoP realm="gateway", scope="inventory:read", resource_metadata="${PUBLIC}${ROOT}/stock", algs="ES256 ES384 PS256 RS256 EdDSA"`,
    );
    assert.equal((await get(`${gw.url}/orders`, token)).status, 200, 'a good token still passes');
  });
});

describe('resourceMetadata in the configuration', () => {
  const route = { prefix: '/orders', upstream: 'http://127.0.0.1:9', audience: 'https://api.example.com', methods: { GET: ['orders:read'] } };
  const problems = (raw: Record<string, unknown>): string[] => {
    try {
      parseConfig(raw);
    } catch (err) {
      assert.ok(err instanceof ConfigError);
      return err.problems;
    }
    return [];
  };

  test('off by default; on, it needs an https publicUrl (the challenges name the metadata by its URL)', () => {
    assert.equal(parseConfig({ issuer: 'https://auth.example.com', publicUrl: 'https://gw.example.com', routes: [route] }).resourceMetadata, false);
    const passthrough = { ...route, forward: { mode: 'passthrough' } };
    assert.deepEqual(problems({ issuer: 'https://auth.example.com', resourceMetadata: true, routes: [passthrough] }), [
      'publicUrl: required when resourceMetadata is true (the challenges name each route\'s metadata by its URL)',
    ]);
    assert.deepEqual(problems({ issuer: 'https://auth.example.com', publicUrl: 'http://gw.example.com', resourceMetadata: true, routes: [route] }), [
      'publicUrl: must use https when resourceMetadata is true, unless its host is localhost, 127.0.0.1 or [::1]',
    ]);
    assert.deepEqual(problems({ issuer: 'https://auth.example.com', publicUrl: 'https://gw.example.com', resourceMetadata: 'yes', routes: [route] }), ['resourceMetadata: must be true or false']);
    assert.ok(problems({ issuer: 'https://auth.example.com', publicUrl: 'https://gw.example.com', routes: [{ ...route, prefix: '/.well-known/oauth-protected-resource/orders' }] })[0]!.includes('served by the gateway itself'));
  });

  test('an audience that cannot be a resource identifier (not https) fails when the gateway is built', async () => {
    const config = parseConfig({ issuer: 'https://auth.example.com', publicUrl: 'https://gw.example.com', resourceMetadata: true, routes: [{ ...route, audience: 'urn:orders' }] });
    await assert.rejects(createGateway(config, { logLevel: 'silent' }), (err: unknown) => err instanceof ConfigError && /routes\[0\] \(\/orders\): resource must be an https URL/.test(err.message));
  });
});
