import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { after, before, describe, test } from 'node:test';
import { baseConfig, eventually, get, metricValue, rewriteConfig, startGateway, startUpstream, type RunningGateway, type Upstream } from './helpers.ts';
import { API, type Latchkey, startLatchkey } from '@latchkey/testing';

/**
 * The configuration file is watched: a change is applied atomically (a new route table in one
 * assignment), and a file with mistakes keeps the previous routes and logs why.
 */
describe('configuration reload', () => {
  let latchkey: Latchkey;
  let upstream: Upstream;
  let gw: RunningGateway;
  let token: string;
  const orders = { name: 'orders', prefix: '/orders', upstream: '', audience: API, methods: { GET: ['orders:read'] } };

  before(async () => {
    latchkey = await startLatchkey();
    upstream = await startUpstream();
    orders.upstream = upstream.url;
    gw = await startGateway(baseConfig(latchkey, [orders]), { watch: true });
    token = await latchkey.token(latchkey.reader, 'orders:read');
    assert.equal((await get(`${gw.url}/orders`, token)).status, 200);
  });
  after(async () => {
    await gw?.close();
    await upstream?.close();
    await latchkey?.close();
  });

  const reloads = async (result: string) => metricValue(await (await fetch(`${gw.url}/metrics`)).text(), 'latchkey_gateway_config_reloads_total', { result });
  const failuresLogged = () => gw.logs().filter((l) => l.msg === 'configuration reload failed: keeping the previous routes');

  test('a file that is not even YAML keeps the old routes, and the log says why', async () => {
    writeFileSync(gw.file, 'routes: [\n  - prefix: /orders\n');
    await eventually(() => failuresLogged().length >= 1);
    assert.match(String((failuresLogged().at(-1)!.problems as string[])[0]), /not valid YAML/);
    assert.equal((await get(`${gw.url}/orders`, token)).status, 200);
    assert.equal(await reloads('failure'), 1);
  });

  test('a file with a mistake the parser finds, or one the resource-server package refuses, keeps the old routes', async () => {
    rewriteConfig(gw, baseConfig(latchkey, [{ ...orders, prefix: '/v2', methods: { GET: ['not a scope'] } }]));
    await eventually(() => failuresLogged().length >= 2);
    assert.match(String(failuresLogged().at(-1)!.problems), /routes\[0\]\.methods\.GET: "not a scope" is not a scope/);
    rewriteConfig(gw, baseConfig(latchkey, [{ ...orders, prefix: '/v2' }], { algorithms: ['HS256'] }));
    await eventually(() => failuresLogged().length >= 3);
    assert.match(String(failuresLogged().at(-1)!.problems), /HS256/);
    assert.equal((await get(`${gw.url}/orders`, token)).status, 200);
    assert.equal((await get(`${gw.url}/v2`, token)).status, 404);
  });

  test('a good file replaces the routes; the issuer\'s keys, already fetched, are kept', async () => {
    const jwksFetches = async () => metricValue(await (await fetch(`${gw.url}/metrics`)).text(), 'latchkey_gateway_jwks_refreshes_total');
    const fetchesBefore = await jwksFetches();
    rewriteConfig(gw, baseConfig(latchkey, [{ ...orders, name: 'orders-v2', prefix: '/v2', methods: { GET: ['orders:read'], POST: ['orders:read'] } }]));
    await eventually(async () => (await get(`${gw.url}/v2/1`, token)).status === 200);
    assert.equal((await get(`${gw.url}/orders`, token)).status, 404, 'the old route is gone');
    assert.equal((await fetch(`${gw.url}/v2/1`, { method: 'POST', headers: { authorization: `Bearer ${token}` } })).status, 200);
    assert.equal(await jwksFetches(), fetchesBefore, 'no JWKS fetch after the reload: the validator was reused');
    assert.equal(await reloads('success'), 1);
    assert.ok(gw.logs().some((l) => l.msg === 'configuration reloaded' && l.routes === 1));
  });

  test('resourceMetadata turned on by a reload: the route\'s metadata is served and its challenges name it; off again, neither', async () => {
    const v2 = { ...orders, name: 'orders-v2', prefix: '/v2' };
    const metadataPath = '/.well-known/oauth-protected-resource/v2';
    rewriteConfig(gw, baseConfig(latchkey, [v2], { resourceMetadata: true }));
    await eventually(async () => (await fetch(`${gw.url}${metadataPath}`)).status === 200);
    assert.equal(((await (await fetch(`${gw.url}${metadataPath}`)).json()) as { resource: string }).resource, API);
    assert.equal(
      (await get(`${gw.url}/v2`)).headers.get('www-authenticate'),
      `Bearer realm="gateway", scope="orders:read", resource_metadata="https://gateway.example.com${metadataPath}", DPoP realm="gateway", scope="orders:read", resource_metadata="https://gateway.example.com${metadataPath}", algs="ES256 ES384 PS256 RS256 EdDSA"`,
    );
    rewriteConfig(gw, baseConfig(latchkey, [v2]));
    await eventually(async () => (await fetch(`${gw.url}${metadataPath}`)).status === 404);
    assert.equal((await get(`${gw.url}/v2`)).headers.get('www-authenticate'), 'Bearer realm="gateway", DPoP realm="gateway", algs="ES256 ES384 PS256 RS256 EdDSA"');
  });
});
