import assert from 'node:assert/strict';
import { request } from 'node:http';
import { after, before, describe, test } from 'node:test';
import { createRemoteJWKSet, decodeJwt, jwtVerify } from 'jose';
import { createValidator } from '@latchkey/resource-server';
import { baseConfig, get, metricValue, startGateway, startUpstream, type RunningGateway, type Upstream } from './helpers.ts';
import { API, INVENTORY, type Latchkey, OTHER_API, startLatchkey } from '@latchkey/testing';

/**
 * The three forwarding modes against a real Latchkey server and real upstreams that echo what they
 * receive: claims (headers plus a gateway JWT the upstream verifies), exchange (RFC 8693, cached),
 * passthrough (explicit, with a warning); and the identity headers a client sends never arriving
 * (docs/security.md K76).
 */
describe('forwarding modes', () => {
  let latchkey: Latchkey;
  let orders: Upstream;
  let inventory: Upstream;
  let legacy: Upstream;
  let gw: RunningGateway;

  before(async () => {
    latchkey = await startLatchkey();
    orders = await startUpstream();
    inventory = await startUpstream();
    legacy = await startUpstream();
    gw = await startGateway(
      baseConfig(latchkey, [
        {
          name: 'orders',
          prefix: '/orders',
          upstream: `${orders.url}/v1`,
          audience: API,
          methods: { GET: ['orders:read'], POST: ['orders:write'] },
          stripPrefix: true,
          forward: { mode: 'claims', audience: 'https://orders.internal' },
        },
        {
          name: 'inventory',
          prefix: '/inventory',
          upstream: inventory.url,
          audience: API,
          methods: { GET: ['inventory:read'] },
          forward: { mode: 'exchange', audience: INVENTORY, scopes: ['inventory:read'] },
        },
        {
          // Asks the issuer for a scope the caller's token may lack: the issuer decides.
          name: 'stock',
          prefix: '/stock',
          upstream: inventory.url,
          audience: API,
          methods: { GET: ['orders:read'] },
          forward: { mode: 'exchange', audience: INVENTORY, scopes: ['inventory:read'] },
        },
        {
          // The gateway's client has no token exchange policy for this audience: a misconfiguration.
          name: 'other',
          prefix: '/other',
          upstream: inventory.url,
          audience: API,
          methods: { GET: ['orders:read'] },
          forward: { mode: 'exchange', audience: OTHER_API },
        },
        {
          name: 'legacy',
          prefix: '/legacy',
          upstream: legacy.url,
          audience: API,
          methods: { GET: ['orders:read'] },
          forward: { mode: 'passthrough' },
        },
      ]),
    );
  });
  after(async () => {
    await gw?.close();
    await Promise.all([orders?.close(), inventory?.close(), legacy?.close()]);
    await latchkey?.close();
  });

  test('claims mode: verified claims as headers, Authorization removed, a gateway JWT the upstream verifies with jose', async () => {
    const token = await latchkey.token(latchkey.reader, 'orders:read');
    const res = await get(`${gw.url}/orders/42?expand=items`, token);
    assert.equal(res.status, 200, await res.clone().text());
    const seen = orders.last();
    // The prefix is stripped and the upstream's base path put in front; the query is kept.
    assert.equal(seen.url, '/v1/42?expand=items');
    assert.equal(seen.headers.authorization, undefined, 'the caller\'s token does not reach the upstream');
    assert.equal(seen.headers['x-auth-subject'], latchkey.reader[0]);
    assert.equal(seen.headers['x-auth-client-id'], latchkey.reader[0]);
    assert.equal(seen.headers['x-auth-scopes'], 'orders:read');

    // What an upstream does: verify the gateway's JWT against the gateway's JWKS.
    const jwks = createRemoteJWKSet(new URL(`${gw.url}/.well-known/jwks.json`));
    const { payload, protectedHeader } = await jwtVerify(String(seen.headers['x-auth-token']), jwks, {
      issuer: 'https://gateway.example.com',
      audience: 'https://orders.internal',
      typ: 'gateway+jwt',
      algorithms: ['ES256'],
      requiredClaims: ['sub', 'client_id', 'scope', 'iat', 'exp', 'jti'],
    });
    assert.equal(protectedHeader.typ, 'gateway+jwt');
    assert.equal(payload.sub, latchkey.reader[0]);
    assert.equal(payload.client_id, latchkey.reader[0]);
    assert.equal(payload.scope, 'orders:read');
    assert.equal(payload.exp! - payload.iat!, 60, 'short-lived: 60 s');
    // Meant for that upstream only: another audience refuses it.
    await assert.rejects(jwtVerify(String(seen.headers['x-auth-token']), jwks, { issuer: 'https://gateway.example.com', audience: 'https://inventory.internal' }));

    // Or with @latchkey/resource-server (the article's pattern 1: services trust the gateway):
    const gatewayTokens = createValidator({
      issuer: 'https://gateway.example.com',
      audience: 'https://orders.internal',
      tokenType: 'gateway+jwt',
      jwksUri: `${gw.url}/.well-known/jwks.json`,
    });
    const verified = await gatewayTokens.validate(String(seen.headers['x-auth-token']));
    assert.equal(verified.sub, latchkey.reader[0]);
    assert.deepEqual(verified.scope, ['orders:read']);
    // Explicit typing keeps the two kinds apart: the caller's access token is no gateway token.
    await assert.rejects(gatewayTokens.validate(token), (err: Error & { check?: string }) => err.check === 'typ' || err.check === 'key');

    const published = (await (await fetch(`${gw.url}/.well-known/jwks.json`)).json()) as { keys: Record<string, unknown>[] };
    assert.equal(published.keys.length, 1);
    assert.equal(published.keys[0]!.d, undefined, 'public key only');
  });

  test('claims mode: the gateway JWT is reused for the same caller token in the first half of its life, and never outlives that token', async () => {
    const token = await latchkey.token(latchkey.reader, 'orders:read');
    await get(`${gw.url}/orders/a`, token);
    const first = String(orders.last().headers['x-auth-token']);
    await get(`${gw.url}/orders/b`, token);
    assert.equal(orders.last().headers['x-auth-token'], first, 'same caller token: same JWT');
    await get(`${gw.url}/orders/c`, await latchkey.token(latchkey.reader, 'orders:read'));
    assert.notEqual(orders.last().headers['x-auth-token'], first, 'another caller token: another JWT');

    const longLived = await startGateway(
      baseConfig(latchkey, [{ prefix: '/orders', upstream: orders.url, audience: API, methods: { GET: ['orders:read'] } }], { signing: { tokenTtlSeconds: 3600 } }),
    );
    try {
      assert.equal((await get(`${longLived.url}/orders/d`, token)).status, 200);
      const jwt = decodeJwt(String(orders.last().headers['x-auth-token']));
      assert.equal(jwt.exp, decodeJwt(token).exp, 'capped at the caller token\'s exp, not an hour');
    } finally {
      await longLived.close();
    }
  });

  test('claims mode with a user\'s token: X-Auth-Subject is the user, X-Auth-Client-Id the app', async () => {
    const token = await latchkey.userToken('openid orders:read');
    const res = await get(`${gw.url}/orders`, token);
    assert.equal(res.status, 200);
    const seen = orders.last();
    assert.equal(seen.url, '/v1');
    assert.equal(seen.headers['x-auth-subject'], latchkey.seed.user.id);
    assert.equal(seen.headers['x-auth-client-id'], latchkey.shop);
    assert.equal(decodeJwt(String(seen.headers['x-auth-token'])).sub, latchkey.seed.user.id);
  });

  test('forged identity headers never reach an upstream, in any mode', async () => {
    const token = await latchkey.token(latchkey.stocker, 'orders:read inventory:read');
    const forged = {
      'X-Auth-Subject': 'admin',
      'x-auth-anything': 'forged',
      'X-Auth-Token': 'forged.jwt.value',
      Forwarded: 'for=203.0.113.9;proto=https',
      'X-Forwarded-For': '203.0.113.9',
      'X-Forwarded-Host': 'evil.example',
      'X-Forwarded-Proto': 'https',
      'X-Real-IP': '203.0.113.9',
    };
    for (const [path, upstream] of [['/orders/1', orders], ['/inventory/1', inventory], ['/legacy/1', legacy]] as const) {
      const res = await get(`${gw.url}${path}`, token, forged);
      assert.equal(res.status, 200, `${path}: ${await res.clone().text()}`);
      const { headers, rawHeaders } = upstream.last();
      assert.ok(headers['x-auth-subject'] === undefined || headers['x-auth-subject'] === latchkey.stocker[0], `${path}: forged subject`);
      assert.equal(headers['x-auth-anything'], undefined, path);
      assert.notEqual(headers['x-auth-token'], 'forged.jwt.value', path);
      assert.equal(headers.forwarded, undefined, path);
      assert.equal(headers['x-real-ip'], undefined, path);
      assert.equal(headers['x-forwarded-for'], '127.0.0.1', `${path}: the gateway sets X-Forwarded-For itself`);
      assert.equal(headers['x-forwarded-proto'], 'http', path);
      assert.equal(headers['x-forwarded-host'], new URL(gw.url).host, path);
      // Each identity header appears once: the gateway's.
      const names = rawHeaders.filter((_, i) => i % 2 === 0).map((n) => n.toLowerCase());
      assert.equal(names.filter((n) => n === 'x-forwarded-for').length, 1, path);
      assert.ok(names.filter((n) => n === 'x-auth-subject').length <= 1, path);
    }
  });

  test('underscore spellings (X_Auth_Subject) are removed too, since some upstreams read _ as -', async () => {
    const token = await latchkey.token(latchkey.reader, 'orders:read');
    // fetch refuses nothing here, but send it raw to be sure of the exact header names on the wire.
    const status = await new Promise<number>((resolve, reject) => {
      const req = request(`${gw.url}/orders/underscore`, {
        headers: { authorization: `Bearer ${token}`, X_Auth_Subject: 'admin', 'X-Auth_Scopes': 'orders:write', X_Forwarded_For: '203.0.113.9' },
      });
      req.on('response', (res) => {
        res.resume();
        resolve(res.statusCode!);
      });
      req.on('error', reject);
      req.end();
    });
    assert.equal(status, 200);
    const names = orders.last().rawHeaders.filter((_, i) => i % 2 === 0).map((n) => n.toLowerCase());
    assert.ok(!names.some((n) => n.includes('_')), `no underscore header reaches the upstream: ${names.join(', ')}`);
    assert.equal(orders.last().headers['x-auth-scopes'], 'orders:read');
  });

  test('exchange mode: the upstream gets a token of its own (RFC 8693), verifiable for its audience; the exchange is cached', async () => {
    const token = await latchkey.token(latchkey.stocker, 'orders:read inventory:read');
    const before = await (await fetch(`${gw.url}/metrics`)).text();
    const res = await get(`${gw.url}/inventory/items`, token);
    assert.equal(res.status, 200, await res.clone().text());
    const authorization = String(inventory.last().headers.authorization);
    assert.match(authorization, /^Bearer /);
    const exchanged = authorization.slice('Bearer '.length);
    assert.notEqual(exchanged, token, 'not the caller\'s token');
    // The inventory service verifies it with @latchkey/resource-server, for its own audience.
    const claims = await createValidator({ issuer: latchkey.issuer, audience: INVENTORY }).validate(exchanged);
    assert.deepEqual(claims.aud, [INVENTORY]);
    assert.deepEqual(claims.scope, ['inventory:read']);
    assert.equal(claims.sub, latchkey.stocker[0], 'the subject is kept');
    assert.deepEqual(claims.payload.act, { sub: latchkey.gatewayClient[0] }, 'the gateway is named as the actor');
    assert.equal(inventory.last().headers['x-auth-subject'], undefined, 'exchange mode sends no claim headers');

    // The same token again: the exchanged token comes from the cache.
    assert.equal((await get(`${gw.url}/inventory/items`, token)).status, 200);
    assert.equal(inventory.last().headers.authorization, authorization);
    const metrics = await (await fetch(`${gw.url}/metrics`)).text();
    assert.equal(metricValue(metrics, 'latchkey_gateway_cache_misses_total', { cache: 'exchange' }) - metricValue(before, 'latchkey_gateway_cache_misses_total', { cache: 'exchange' }), 1);
    assert.ok(metricValue(metrics, 'latchkey_gateway_cache_hits_total', { cache: 'exchange' }) >= 1);
  });

  test('exchange mode with a user\'s token: the user stays the subject', async () => {
    const token = await latchkey.userToken('openid orders:read inventory:read');
    const res = await get(`${gw.url}/inventory/items`, token);
    assert.equal(res.status, 200, await res.clone().text());
    const exchanged = String(inventory.last().headers.authorization).slice('Bearer '.length);
    const payload = decodeJwt(exchanged);
    assert.equal(payload.sub, latchkey.seed.user.id);
    assert.equal(payload.aud, INVENTORY);
  });

  test('exchange mode: the route\'s own scope check comes first (403 insufficient_scope, nothing exchanged)', async () => {
    const token = await latchkey.token(latchkey.reader, 'orders:read');
    const res = await get(`${gw.url}/inventory/items`, token);
    assert.equal(res.status, 403);
    assert.match(res.headers.get('www-authenticate')!, /error="insufficient_scope"/);
    assert.match(res.headers.get('www-authenticate')!, /scope="inventory:read"/);
  });

  test('exchange mode: the issuer refusing the scope (invalid_scope) is 403 insufficient_scope naming it', async () => {
    const token = await latchkey.token(latchkey.reader, 'orders:read');
    const before = inventory.received.length;
    const res = await get(`${gw.url}/stock/items`, token);
    assert.equal(res.status, 403, await res.clone().text());
    assert.equal(res.headers.get('www-authenticate'), 'Bearer realm="gateway", error="insufficient_scope", error_description="the access token lacks a scope this resource requires", scope="inventory:read", DPoP realm="gateway", scope="inventory:read", algs="ES256 ES384 PS256 RS256 EdDSA"');
    assert.equal(inventory.received.length, before, 'nothing reached the upstream');
  });

  test('exchange mode: no token exchange policy for the audience is a gateway misconfiguration: 502, logged', async () => {
    const token = await latchkey.token(latchkey.reader, 'orders:read');
    const res = await get(`${gw.url}/other/items`, token);
    assert.equal(res.status, 502);
    assert.equal(((await res.json()) as { error: string }).error, 'bad_gateway');
    assert.ok(gw.logs().some((l) => l.level === 50 && /token exchange/.test(String(l.msg)) && /invalid_target/.test(String(l.err))));
  });

  test('passthrough: only when configured, with a startup warning; the caller\'s token goes through unchanged', async () => {
    const warning = gw.logs().find((l) => l.level === 40 && l.route === 'legacy');
    assert.ok(warning, 'a startup warning names the passthrough route');
    assert.match(String(warning.msg), /passthrough/);
    const token = await latchkey.token(latchkey.reader, 'orders:read');
    const res = await get(`${gw.url}/legacy/x`, token);
    assert.equal(res.status, 200);
    assert.equal(legacy.last().headers.authorization, `Bearer ${token}`);
    assert.equal(legacy.last().headers['x-auth-subject'], undefined);
  });

  /** A raw request (node:http keeps repeated headers and exact names), resolving to the status. */
  function raw(path: string, headers: [string, string][]): Promise<number> {
    return new Promise((resolve, reject) => {
      const { hostname, port, host } = new URL(gw.url);
      // An array keeps repeated headers; the path goes as written, with no client-side normalisation.
      const req = request({ hostname, port, path, headers: [['Host', host], ...headers].flat() as unknown as Record<string, string> });
      req.on('response', (res) => {
        res.resume();
        resolve(res.statusCode!);
      });
      req.on('error', reject);
      req.end();
    });
  }

  test('passthrough forwards exactly the token that was checked, never a second Authorization sent along', async () => {
    const token = await latchkey.token(latchkey.reader, 'orders:read');
    const status = await raw('/legacy/two', [
      ['Authorization', `Bearer ${token}`],
      ['Authorization', 'Bearer unchecked-token'],
    ]);
    assert.equal(status, 200);
    const { rawHeaders } = legacy.last();
    const sent = rawHeaders.filter((_, i) => i % 2 === 1 && rawHeaders[i - 1]!.toLowerCase() === 'authorization');
    assert.deepEqual(sent, [`Bearer ${token}`]);
  });

  test('method and path override headers are removed: a GET allowed with orders:read cannot become a DELETE upstream', async () => {
    const token = await latchkey.token(latchkey.reader, 'orders:read');
    const status = await raw('/orders/1', [
      ['Authorization', `Bearer ${token}`],
      ['X-HTTP-Method-Override', 'DELETE'],
      ['X-Method-Override', 'DELETE'],
      ['X-HTTP-Method', 'DELETE'],
      ['X-Original-URL', '/admin'],
      ['X-Rewrite-URL', '/admin'],
    ]);
    assert.equal(status, 200);
    const names = orders.last().rawHeaders.filter((_, i) => i % 2 === 0).map((n) => n.toLowerCase());
    for (const name of ['x-http-method-override', 'x-method-override', 'x-http-method', 'x-original-url', 'x-rewrite-url']) {
      assert.ok(!names.includes(name), name);
    }
  });

  test('behind a trusted proxy: its Forwarded and X-Forwarded-* are kept and appended to; identity headers are still removed', async () => {
    const trusting = await startGateway(
      baseConfig(latchkey, [{ prefix: '/orders', upstream: orders.url, audience: API, methods: { GET: ['orders:read'] } }], { trustedProxies: ['127.0.0.0/8', '::1'] }),
    );
    try {
      const token = await latchkey.token(latchkey.reader, 'orders:read');
      const res = await get(`${trusting.url}/orders/9`, token, {
        Forwarded: 'for=203.0.113.9;proto=https',
        'X-Forwarded-For': '203.0.113.9',
        'X-Forwarded-Proto': 'https',
        'X-Forwarded-Host': 'shop.example',
        'X-Auth-Subject': 'admin',
      });
      assert.equal(res.status, 200);
      const { headers } = orders.last();
      assert.equal(headers.forwarded, 'for=203.0.113.9;proto=https');
      assert.equal(headers['x-forwarded-for'], '203.0.113.9, 127.0.0.1');
      assert.equal(headers['x-forwarded-proto'], 'https');
      assert.equal(headers['x-forwarded-host'], 'shop.example');
      assert.equal(headers['x-auth-subject'], latchkey.reader[0]);
    } finally {
      await trusting.close();
    }
  });

  // `;` parameters: Tomcat/Jetty/Spring drop them, so `/legacy;x/orders` would be routed here by one
  // prefix and served by the upstream under another.
  test('paths an upstream would read differently are refused or normalised before a route is chosen', async () => {
    const token = await latchkey.token(latchkey.reader, 'orders:read');
    const auth: [string, string][] = [['Authorization', `Bearer ${token}`]];
    for (const path of ['/orders/../legacy/x', '/orders/%2e%2e/legacy/x', '/orders/..;/legacy', '/orders%2Flegacy', '/orders//x', '/orders\\..\\x', '/legacy;x/orders', '/orders;jsessionid=1/7', '/orders%3Bx/7']) {
      assert.equal(await raw(path, auth), 400, path);
    }
    // %6f is an unreserved "o": /%6frders is /orders.
    assert.equal(await raw('/%6frders/7', auth), 200);
    assert.equal(orders.last().url, '/v1/7');
    assert.equal(await raw('/ordersx', auth), 404, 'prefixes match whole segments');
  });
});
