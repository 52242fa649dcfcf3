import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { createRemoteJWKSet, decodeJwt, jwtVerify } from 'jose';
import { basicAuth, countingFetch, type Latchkey, startLatchkey, storeClient } from '@latchkey/testing';
import { ClientCredentials, InvalidResponseError, LatchkeyClient, OAuthError, type FetchLike } from '../src/index.ts';
import { listen, readBody, startFlakyProxy } from './helpers/http-servers.ts';

/**
 * A service's tokens, against Latchkey. The client credentials grant through the ClientCredentials token
 * source: one request however many callers, a cache until shortly before expiry, retries with backoff on
 * 5xx and network errors and never on 4xx, authorizedFetch's single retry on 401 invalid_token; the client
 * authentication methods; revocation (RFC 7009) and introspection (RFC 7662).
 */

const API = 'https://api.example.com';

describe('client credentials', () => {
  let lk: Latchkey;
  let svc: { id: string; secret: string };

  before(async () => {
    lk = await startLatchkey();
    const created = await lk.running.registry.createClient({ name: 'svc-a', type: 'confidential', grantTypes: ['client_credentials'], scopes: ['orders:read'] });
    svc = { id: created.client.clientId, secret: created.clientSecret! };
  });
  after(async () => lk?.close());

  const serviceClient = (fetchImpl?: FetchLike, secret = svc.secret) =>
    new LatchkeyClient({ issuer: lk.issuer, clientId: svc.id, clientSecret: secret, ...(fetchImpl ? { fetch: fetchImpl } : {}) });

  /** Sends token-endpoint requests through `proxyUrl`, everything else straight to Latchkey. */
  const viaProxy =
    (proxyUrl: string, inner: FetchLike = (i, init) => fetch(i, init)): FetchLike =>
    (input, init) => {
      const url = new URL(input instanceof Request ? input.url : input.toString());
      return url.pathname === '/token' ? inner(`${proxyUrl}${url.pathname}${url.search}`, init) : inner(input, init);
    };

  test('100 concurrent callers produce exactly one token request, and later callers get the cached token', async () => {
    const counter = countingFetch();
    const source = new ClientCredentials({ client: serviceClient(counter.fetch), scope: 'orders:read' });
    const tokens = await Promise.all(Array.from({ length: 100 }, () => source.getAccessToken()));
    assert.equal(counter.count('/token'), 1);
    assert.equal(new Set(tokens).size, 1);
    const claims = decodeJwt(tokens[0]!);
    assert.equal(claims.client_id, svc.id);
    assert.equal(claims.aud, API);
    await Promise.all(Array.from({ length: 100 }, () => source.getAccessToken()));
    assert.equal(counter.count('/token'), 1);
    assert.equal(counter.count('/.well-known/openid-configuration'), 1, 'discovery ran once');
  });

  test('the token is cached until 60 s before it expires; the margin is configurable', async (t) => {
    const counter = countingFetch();
    const source = new ClientCredentials({ client: serviceClient(counter.fetch), resource: API });
    const margin = new ClientCredentials({ client: serviceClient(counter.fetch), resource: API, refreshMarginSeconds: 120 });
    const first = await source.getAccessToken();
    const firstWithMargin = await margin.getAccessToken();
    const start = Date.now();
    t.mock.timers.enable({ apis: ['Date'], now: start + 470_000 });
    assert.equal(await source.getAccessToken(), first, '470 s into a 600 s token');
    assert.equal(await margin.getAccessToken(), firstWithMargin, '470 s: more than 120 s left');
    t.mock.timers.setTime(start + 485_000);
    assert.notEqual(await margin.getAccessToken(), firstWithMargin, '485 s: less than 120 s left');
    assert.equal(await source.getAccessToken(), first);
    t.mock.timers.setTime(start + 545_000);
    assert.notEqual(await source.getAccessToken(), first, '545 s: less than 60 s left');
    assert.equal(counter.count('/token'), 4);
  });

  test('5xx answers and dropped connections are retried with growing, jittered delays, then the token comes', async () => {
    const proxy = await startFlakyProxy(lk.issuer, ['drop', '503', '500-json', 'pass']);
    try {
      const source = new ClientCredentials({ client: serviceClient(viaProxy(proxy.url)), retry: { maxAttempts: 4, baseDelayMs: 40 } });
      const token = await source.getAccessToken();
      assert.equal(decodeJwt(token).client_id, svc.id);
      assert.equal(proxy.arrivals.length, 4);
      const gaps = proxy.arrivals.slice(1).map((at, i) => at - proxy.arrivals[i]!);
      // Equal jitter: attempt n waits between half and all of 40 ms × 2^(n-1).
      assert.ok(gaps[0]! >= 18, `first backoff ${gaps[0]} ms`);
      assert.ok(gaps[1]! >= 38, `second backoff ${gaps[1]} ms`);
      assert.ok(gaps[2]! >= 78, `third backoff ${gaps[2]} ms`);
    } finally {
      await proxy.close();
    }
  });

  test('retries are bounded: the last failure is thrown after maxAttempts', async () => {
    const proxy = await startFlakyProxy(lk.issuer, ['503']);
    try {
      const source = new ClientCredentials({ client: serviceClient(viaProxy(proxy.url)), retry: { maxAttempts: 3, baseDelayMs: 5 } });
      await assert.rejects(source.getAccessToken(), (err: unknown) => err instanceof InvalidResponseError && err.status === 503);
      assert.equal(proxy.arrivals.length, 3);
    } finally {
      await proxy.close();
    }
  });

  test('a 4xx is never retried: a wrong secret fails at once with invalid_client', async () => {
    const proxy = await startFlakyProxy(lk.issuer, ['pass']);
    try {
      const source = new ClientCredentials({ client: serviceClient(viaProxy(proxy.url), 'wrong-secret'), retry: { maxAttempts: 5, baseDelayMs: 5 } });
      await assert.rejects(source.getAccessToken(), (err: unknown) => {
        assert.ok(err instanceof OAuthError);
        assert.equal(err.error, 'invalid_client');
        assert.equal(err.status, 401);
        return true;
      });
      const scope = new ClientCredentials({ client: serviceClient(viaProxy(proxy.url)), scope: 'orders:write', retry: { maxAttempts: 5, baseDelayMs: 5 } });
      await assert.rejects(scope.getAccessToken(), (err: unknown) => err instanceof OAuthError && err.error === 'invalid_scope' && err.status === 400);
      assert.equal(proxy.arrivals.length, 2, 'one request each');
    } finally {
      await proxy.close();
    }
  });

  test('authorizedFetch sends the Bearer token and, on 401 invalid_token (a revoked token), gets a new token and retries once', async () => {
    // The orders API: verifies the JWT with jose against the JWKS, and asks introspection about revocation.
    const apiClient = await lk.running.registry.createClient({ name: 'orders-api', type: 'confidential', grantTypes: [], scopes: [], introspectFor: [API] });
    const jwks = createRemoteJWKSet(new URL(`${lk.issuer}/jwks`));
    const answers: number[] = [];
    const api = await listen(async (req, res) => {
      const body = await readBody(req);
      const reply = (status: number, headers: Record<string, string>, json: unknown) => {
        answers.push(status);
        res.writeHead(status, { 'content-type': 'application/json', ...headers });
        res.end(JSON.stringify(json));
      };
      if (req.url === '/plain-401') return reply(401, { 'www-authenticate': 'Bearer realm="orders"' }, {});
      if (req.url === '/forbidden') return reply(403, { 'www-authenticate': 'Bearer realm="orders", error="insufficient_scope", scope="orders:write"' }, {});
      const token = /^Bearer (.+)$/.exec(req.headers.authorization ?? '')?.[1];
      const invalid = (why: string) => reply(401, { 'www-authenticate': `Bearer realm="orders", error="invalid_token", error_description="${why}"` }, { error: 'invalid_token' });
      if (!token) return invalid('no token');
      try {
        await jwtVerify(token, jwks, { issuer: lk.issuer, audience: API, typ: 'at+jwt', algorithms: ['ES256'] });
      } catch {
        return invalid('the token is not valid');
      }
      const introspection = await fetch(`${lk.issuer}/introspect`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: basicAuth(apiClient.client.clientId, apiClient.clientSecret!) },
        body: new URLSearchParams({ token }).toString(),
      });
      if (!((await introspection.json()) as { active: boolean }).active) return invalid('the token was revoked');
      return reply(200, {}, { orders: [], method: req.method, body });
    });
    try {
      const counter = countingFetch();
      const client = serviceClient(counter.fetch);
      const source = new ClientCredentials({ client, scope: 'orders:read' });
      const ok = await source.authorizedFetch(`${api.url}/orders`);
      assert.equal(ok.status, 200);
      const firstToken = await source.getAccessToken();
      await client.revoke(firstToken);

      const retried = await source.authorizedFetch(`${api.url}/orders`, { method: 'POST', headers: { 'content-type': 'text/plain' }, body: 'two apples' });
      assert.equal(retried.status, 200);
      assert.deepEqual(await retried.json(), { orders: [], method: 'POST', body: 'two apples' }, 'the retry carried the body again');
      assert.deepEqual(answers, [200, 401, 200]);
      assert.equal(counter.count('/token'), 2, 'one new token');
      assert.notEqual(await source.getAccessToken(), firstToken);

      // Only invalid_token is retried: a bare 401 challenge and a 403 are answered as they are.
      assert.equal((await source.authorizedFetch(`${api.url}/plain-401`)).status, 401);
      assert.equal((await source.authorizedFetch(`${api.url}/forbidden`)).status, 403);
      assert.equal(counter.count('/token'), 2);
      assert.deepEqual(answers, [200, 401, 200, 401, 403]);
    } finally {
      await api.close();
    }
  });

  test('invalidate(token) drops the cached token only while it is still the cached one', async () => {
    const counter = countingFetch();
    const source = new ClientCredentials({ client: serviceClient(counter.fetch) });
    const first = await source.getAccessToken();
    source.invalidate(first);
    const second = await source.getAccessToken();
    assert.notEqual(second, first);
    source.invalidate(first);
    assert.equal(await source.getAccessToken(), second);
    assert.equal(counter.count('/token'), 2);
  });

  test('client_secret_post sends the credentials in the body', async () => {
    const created = await lk.running.registry.createClient({
      name: 'svc-post',
      type: 'confidential',
      grantTypes: ['client_credentials'],
      scopes: ['orders:read'],
      tokenEndpointAuthMethod: 'client_secret_post',
    });
    const bodies: string[] = [];
    const client = new LatchkeyClient({
      issuer: lk.issuer,
      clientId: created.client.clientId,
      clientSecret: created.clientSecret!,
      tokenEndpointAuthMethod: 'client_secret_post',
      fetch: (input, init) => {
        // oauth4webapi sends the form as URLSearchParams.
        if (init?.body instanceof URLSearchParams) bodies.push(init.body.toString());
        return fetch(input, init);
      },
    });
    const tokens = await client.clientCredentialsGrant({ scope: 'orders:read' });
    assert.equal(decodeJwt(tokens.accessToken).client_id, created.client.clientId);
    const form = new URLSearchParams(bodies[0]);
    assert.equal(form.get('client_id'), created.client.clientId);
    assert.equal(form.get('client_secret'), created.clientSecret);
    // The server enforces the registered method: Basic is refused for this client.
    const basic = new LatchkeyClient({ issuer: lk.issuer, clientId: created.client.clientId, clientSecret: created.clientSecret! });
    await assert.rejects(basic.clientCredentialsGrant(), (err: unknown) => err instanceof OAuthError && err.error === 'invalid_client');
  });

  test('client_secret_basic form-encodes the id and secret before base64 (RFC 6749 §2.3.1)', async () => {
    const clientId = 'svc:a b';
    const secret = 'p@ss:w rd+%/é';
    await storeClient(lk.running, { clientId, type: 'confidential', method: 'client_secret_basic', secret, grantTypes: ['client_credentials'] });
    const headers: string[] = [];
    const client = new LatchkeyClient({
      issuer: lk.issuer,
      clientId,
      clientSecret: secret,
      fetch: (input, init) => {
        const auth = new Headers(init?.headers).get('authorization');
        if (auth) headers.push(auth);
        return fetch(input, init);
      },
    });
    const tokens = await client.clientCredentialsGrant({ scope: 'orders:read' });
    assert.equal(decodeJwt(tokens.accessToken).client_id, clientId);
    assert.equal(Buffer.from(headers[0]!.slice('Basic '.length), 'base64').toString('utf8'), 'svc%3Aa+b:p%40ss%3Aw+rd%2B%25%2F%C3%A9');
  });

  /** Revocation (RFC 7009) and introspection (RFC 7662) through the SDK, against Latchkey. */
  describe('revocation and introspection', () => {
    let service: LatchkeyClient;
    let stranger: LatchkeyClient;

    before(async () => {
      const make = async (name: string) => {
        const created = await lk.running.registry.createClient({ name, type: 'confidential', grantTypes: ['client_credentials'], scopes: ['orders:read'] });
        return new LatchkeyClient({ issuer: lk.issuer, clientId: created.client.clientId, clientSecret: created.clientSecret! });
      };
      service = await make('svc-a');
      stranger = await make('svc-b');
    });

    test('an active token introspects with its claims; after revocation it is exactly { active: false }', async () => {
      const { accessToken } = await service.clientCredentialsGrant({ scope: 'orders:read' });
      const active = await service.introspect(accessToken, { tokenTypeHint: 'access_token' });
      assert.equal(active.active, true);
      assert.equal(active.client_id, service.clientId);
      assert.equal(active.scope, 'orders:read');
      assert.equal(active.aud, 'https://api.example.com');
      assert.equal(active.iss, lk.issuer);
      await service.revoke(accessToken, { tokenTypeHint: 'access_token' });
      assert.deepEqual(await service.introspect(accessToken), { active: false });
    });

    test('revoking an unknown token succeeds (RFC 7009 §2.2)', async () => {
      await service.revoke('no-such-token');
    });

    test("another client's token: revocation is refused (unauthorized_client), introspection says inactive", async () => {
      const { accessToken } = await service.clientCredentialsGrant();
      await assert.rejects(stranger.revoke(accessToken), (err: unknown) => err instanceof OAuthError && err.error === 'unauthorized_client' && err.status === 400);
      assert.deepEqual(await stranger.introspect(accessToken), { active: false });
      assert.equal((await service.introspect(accessToken)).active, true, 'still active');
    });

    test('a public client may revoke its tokens but not introspect (invalid_client, 401)', async () => {
      const publicClient = new LatchkeyClient({ issuer: lk.issuer, clientId: lk.seed.publicClient });
      await publicClient.revoke('no-such-token');
      await assert.rejects(publicClient.introspect('anything'), (err: unknown) => err instanceof OAuthError && err.error === 'invalid_client' && err.status === 401);
    });
  });
});

describe('ClientCredentials options are checked when it is created', () => {
  test('maxAttempts below 1 and a negative margin are refused', () => {
    const client = new LatchkeyClient({ issuer: 'https://login.example.com', clientId: 'service', clientSecret: 's' });
    assert.throws(() => new ClientCredentials({ client, retry: { maxAttempts: 0 } }), TypeError);
    assert.throws(() => new ClientCredentials({ client, refreshMarginSeconds: -1 }), TypeError);
  });
});
