import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, describe, test } from 'node:test';
import { generateKeyPair, SignJWT } from 'jose';
import { signCompact } from '../../server/src/tokens/jws-sign.ts';
import { API, type Credentials, type Latchkey, postForm, startLatchkey } from '@latchkey/testing';
import { baseConfig, get, metricValue, startGateway, startUpstream, type RunningGateway, type Upstream } from './helpers.ts';

/**
 * Token validation at the edge, through @latchkey/resource-server, against a real Latchkey server:
 * RFC 6750 answers with `WWW-Authenticate` (docs/security.md K70-K72), unknown keys, rotation picked up
 * without a restart, the issuer going away, introspection routes, 405, per-client rate limits, metrics.
 */
describe('validation at the edge', () => {
  let latchkey: Latchkey;
  let upstream: Upstream;
  let gw: RunningGateway;
  let limited: Credentials;
  /** A token seen before the issuer goes down, so its key is cached. */
  let early: string;

  before(async () => {
    latchkey = await startLatchkey();
    upstream = await startUpstream();
    const created = await latchkey.running.registry.createClient({ name: 'limited', type: 'confidential', grantTypes: ['client_credentials'], scopes: ['orders:read'] });
    limited = [created.client.clientId, created.clientSecret!];
    gw = await startGateway(
      baseConfig(
        latchkey,
        [
          { name: 'orders', prefix: '/orders', upstream: upstream.url, audience: API, methods: { GET: ['orders:read'], POST: ['orders:write'] } },
          { name: 'audited', prefix: '/audited', upstream: upstream.url, audience: API, validation: 'introspection', methods: { GET: ['orders:read'], POST: ['orders:write'] } },
        ],
        { rateLimit: { requestsPerSecond: 100, burst: 100, clients: { [limited[0]]: { requestsPerSecond: 0.5, burst: 2 } } } },
      ),
    );
    early = await latchkey.token(latchkey.writer, 'orders:read');
    assert.equal((await get(`${gw.url}/orders`, early)).status, 200);
  });
  after(async () => {
    await gw?.close();
    await upstream?.close();
    await latchkey?.close();
  });

  const metrics = async () => (await fetch(`${gw.url}/metrics`)).text();

  /** An access token with honest claims signed by a key the issuer never published. */
  async function rogueToken(): Promise<string> {
    const { privateKey } = await generateKeyPair('ES256');
    const now = Math.floor(Date.now() / 1000);
    return new SignJWT({ client_id: latchkey.reader[0], scope: 'orders:read' })
      .setProtectedHeader({ alg: 'ES256', kid: `rogue-${randomUUID()}`, typ: 'at+jwt' })
      .setIssuer(latchkey.issuer)
      .setSubject(latchkey.reader[0])
      .setAudience(API)
      .setIssuedAt(now)
      .setExpirationTime(now + 300)
      .setJti(randomUUID())
      .sign(privateKey);
  }

  test('no token: 401 with a bare Bearer challenge, no error code (RFC 6750 §3.1); another scheme counts as none', async () => {
    for (const headers of [{}, { authorization: 'Basic dXNlcjpwYXNz' }] as Record<string, string>[]) {
      const res = await fetch(`${gw.url}/orders`, { headers });
      assert.equal(res.status, 401);
      assert.equal(res.headers.get('www-authenticate'), 'Bearer realm="gateway", DPoP realm="gateway", algs="ES256 ES384 PS256 RS256 EdDSA"');
      assert.equal(await res.text(), '');
    }
    // RFC 6750 §2.1 via K70: the scheme is case-insensitive.
    assert.equal((await get(`${gw.url}/orders`, undefined, { authorization: `bEaReR ${early}` })).status, 200);
  });

  test('a token for another API: 401 invalid_token (audience enforced per route, K76)', async () => {
    const token = await latchkey.token(latchkey.stranger, 'other:read');
    const res = await get(`${gw.url}/orders`, token);
    assert.equal(res.status, 401);
    assert.equal(
      res.headers.get('www-authenticate'),
      'Bearer realm="gateway", error="invalid_token", error_description="the access token is not meant for this resource", DPoP realm="gateway", algs="ES256 ES384 PS256 RS256 EdDSA"',
    );
    assert.equal(((await res.json()) as { error: string }).error, 'invalid_token');
    assert.ok(metricValue(await metrics(), 'latchkey_gateway_denials_total', { route: 'orders', reason: 'audience' }) >= 1);
  });

  test('a missing scope: 403 insufficient_scope with scope= (RFC 6750 §3.1), per method', async () => {
    const token = await latchkey.token(latchkey.reader, 'orders:read');
    assert.equal((await get(`${gw.url}/orders`, token)).status, 200);
    const res = await fetch(`${gw.url}/orders`, { method: 'POST', headers: { authorization: `Bearer ${token}` }, body: '{}' });
    assert.equal(res.status, 403);
    assert.equal(
      res.headers.get('www-authenticate'),
      'Bearer realm="gateway", error="insufficient_scope", error_description="the access token lacks a scope this resource requires", scope="orders:write", DPoP realm="gateway", scope="orders:write", algs="ES256 ES384 PS256 RS256 EdDSA"',
    );
  });

  test('an expired token: 401 invalid_token', async () => {
    const token = await latchkey.token(latchkey.reader, 'orders:read');
    const realNow = Date.now;
    // Two hours on: past exp (10 minutes) and its 5 s leeway.
    Date.now = () => realNow() + 2 * 3600 * 1000;
    let res: Response;
    try {
      res = await get(`${gw.url}/orders`, token);
    } finally {
      Date.now = realNow;
    }
    assert.equal(res.status, 401);
    assert.match(res.headers.get('www-authenticate')!, /error="invalid_token", error_description="the access token has expired"/);
  });

  test('a token whose nbf is in the future: 401 invalid_token (RFC 7519 §4.1.5); nbf past is accepted', async () => {
    // Latchkey itself sets no nbf: the issuer's own key signs one that does.
    const signer = await latchkey.running.server.context.keys.signer('ES256');
    const now = Math.floor(Date.now() / 1000);
    const token = (nbf: number) =>
      signCompact(signer, 'at+jwt', {
        iss: latchkey.issuer,
        sub: latchkey.reader[0],
        aud: API,
        iat: now,
        nbf,
        exp: now + 300,
        jti: randomUUID(),
        client_id: latchkey.reader[0],
        scope: 'orders:read',
      });
    assert.equal((await get(`${gw.url}/orders`, token(now - 60))).status, 200, 'control');
    const res = await get(`${gw.url}/orders`, token(now + 120));
    assert.equal(res.status, 401);
    assert.match(res.headers.get('www-authenticate')!, /error="invalid_token", error_description="the access token is not valid yet"/);
  });

  test('an unknown key: one rate-limited JWKS refetch, then 401 invalid_token', async () => {
    const refreshes = () => metrics().then((m) => metricValue(m, 'latchkey_gateway_jwks_refreshes_total', { result: 'success' }));
    const before = await refreshes();
    const res = await get(`${gw.url}/orders`, await rogueToken());
    assert.equal(res.status, 401);
    assert.match(res.headers.get('www-authenticate')!, /error="invalid_token", error_description="the access token is not signed by a key of the issuer"/);
    assert.equal(await refreshes(), before + 1, 'the issuer was asked once');
    // Within the cooldown, more unknown kids do not make the gateway hammer the issuer.
    const again = await Promise.all([1, 2, 3].map(async () => (await get(`${gw.url}/orders`, await rogueToken())).status));
    assert.deepEqual(again, [401, 401, 401]);
    assert.equal(await refreshes(), before + 1);
  });

  test('a key rotation at the issuer is picked up without a restart', async () => {
    await sleep(1100); // past the 1 s cooldown of the previous test's refetch
    await latchkey.running.server.context.keys.rotate('ES256', { retainSeconds: 3600, prepublishSeconds: 0 });
    const fresh = await latchkey.token(latchkey.reader, 'orders:read');
    assert.notEqual(JSON.parse(Buffer.from(fresh.split('.')[0]!, 'base64url').toString()).kid, JSON.parse(Buffer.from(early.split('.')[0]!, 'base64url').toString()).kid);
    assert.equal((await get(`${gw.url}/orders`, fresh)).status, 200, 'the new key is fetched');
    assert.equal((await get(`${gw.url}/orders`, early)).status, 200, 'the retired key still verifies its tokens');
  });

  test('method not allowed: 405 with Allow (HEAD comes with GET)', async () => {
    const token = await latchkey.token(latchkey.reader, 'orders:read');
    const res = await fetch(`${gw.url}/orders/1`, { method: 'DELETE', headers: { authorization: `Bearer ${token}` } });
    assert.equal(res.status, 405);
    assert.equal(res.headers.get('allow'), 'GET, POST, HEAD');
    assert.equal((await fetch(`${gw.url}/orders/1`, { method: 'HEAD', headers: { authorization: `Bearer ${token}` } })).status, 200);
  });

  test('per-client rate limit: a token bucket per client_id, 429 with Retry-After; other clients unaffected', async () => {
    const token = await latchkey.token(limited, 'orders:read');
    const statuses: number[] = [];
    for (let i = 0; i < 3; i++) statuses.push((await get(`${gw.url}/orders`, token)).status);
    assert.deepEqual(statuses, [200, 200, 429]);
    const res = await get(`${gw.url}/orders`, token);
    assert.equal(res.status, 429);
    assert.ok(Number(res.headers.get('retry-after')) >= 1);
    assert.equal(((await res.json()) as { error: string }).error, 'too_many_requests');
    assert.equal((await get(`${gw.url}/orders`, await latchkey.token(latchkey.reader, 'orders:read'))).status, 200);
  });

  test('introspection route: active tokens pass, revoked ones do not; cached by hash, scopes still checked per method', async () => {
    const token = await latchkey.token(latchkey.reader, 'orders:read');
    const before = await metrics();
    assert.equal((await get(`${gw.url}/audited/1`, token)).status, 200);
    assert.equal((await get(`${gw.url}/audited/2`, token)).status, 200);
    const post = await fetch(`${gw.url}/audited/3`, { method: 'POST', headers: { authorization: `Bearer ${token}` } });
    assert.equal(post.status, 403, 'the cached result is checked against this method\'s scopes');
    const after = await metrics();
    const delta = (name: string) => metricValue(after, name, { cache: 'introspection' }) - metricValue(before, name, { cache: 'introspection' });
    assert.equal(delta('latchkey_gateway_cache_misses_total'), 1, 'the issuer was asked once');
    assert.equal(delta('latchkey_gateway_cache_hits_total'), 2);

    const revoked = await latchkey.token(latchkey.reader, 'orders:read');
    assert.equal((await postForm(`${latchkey.issuer}/revoke`, { token: revoked }, { basic: latchkey.reader })).status, 200);
    const res = await get(`${gw.url}/audited/1`, revoked);
    assert.equal(res.status, 401);
    assert.match(res.headers.get('www-authenticate')!, /error="invalid_token", error_description="the access token is not active"/);
  });

  test('metrics: requests by route and outcome, denial reasons, JWKS refreshes, cache hits, upstream latency', async () => {
    const text = await metrics();
    assert.ok(metricValue(text, 'latchkey_gateway_requests_total', { route: 'orders', outcome: 'forwarded' }) >= 1);
    assert.ok(metricValue(text, 'latchkey_gateway_requests_total', { route: 'orders', outcome: 'denied' }) >= 1);
    assert.ok(metricValue(text, 'latchkey_gateway_requests_total', { route: 'orders', outcome: 'rate_limited' }) >= 1);
    assert.ok(metricValue(text, 'latchkey_gateway_requests_total', { route: 'orders', outcome: 'method_not_allowed' }) >= 1);
    for (const reason of ['missing_token', 'audience', 'insufficient_scope', 'expired', 'key', 'rate_limited', 'method_not_allowed']) {
      assert.ok(metricValue(text, 'latchkey_gateway_denials_total', { reason }) >= 1, reason);
    }
    assert.ok(metricValue(text, 'latchkey_gateway_denials_total', { route: 'audited', reason: 'inactive' }) >= 1);
    assert.ok(metricValue(text, 'latchkey_gateway_jwks_refreshes_total', { result: 'success' }) >= 2);
    assert.ok(metricValue(text, 'latchkey_gateway_upstream_duration_seconds_count', { route: 'orders' }) >= 1);
    assert.match(text, /latchkey_gateway_cache_hits_total\{cache="introspection"\}/);
    assert.match(text, /^latchkey_gateway_process_cpu_seconds_total/m);
    const health = await fetch(`${gw.url}/healthz`);
    assert.equal(health.status, 200);
    assert.deepEqual(await health.json(), { status: 'ok' });
  });

  test('the issuer going down: cached keys keep working; an unknown key is 503, not 401; introspection is 503', async () => {
    const cached = await latchkey.token(latchkey.reader, 'orders:read');
    const unknown = await rogueToken();
    await sleep(1100); // past the cooldown: the next unknown kid asks the issuer, which is gone
    await latchkey.running.close();
    assert.equal((await get(`${gw.url}/orders`, early)).status, 200);
    assert.equal((await get(`${gw.url}/orders`, cached)).status, 200);
    const res = await get(`${gw.url}/orders`, unknown);
    assert.equal(res.status, 503);
    assert.ok(Number(res.headers.get('retry-after')) >= 1);
    assert.equal(res.headers.get('www-authenticate'), null);
    assert.equal(((await res.json()) as { error: string }).error, 'temporarily_unavailable');
    assert.ok(metricValue(await metrics(), 'latchkey_gateway_jwks_refreshes_total', { result: 'failure' }) >= 1);
    const introspected = await get(`${gw.url}/audited/1`, cached);
    assert.equal(introspected.status, 503);
  });
});
