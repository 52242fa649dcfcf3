import assert from 'node:assert/strict';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { API, type Latchkey, startLatchkey } from '@latchkey/testing';
import { ordersApi as expressOrdersApi } from '../examples/express-orders-api.ts';
import { ordersApi as fastifyOrdersApi } from '../examples/fastify-orders-api.ts';
import { ordersHandler } from '../examples/fetch-orders-api.ts';
import { ordersApi as protectedResourceApi } from '../examples/protected-resource-api.ts';
import { dpopClient, ordersApi as dpopOrdersApi } from '../examples/dpop-orders-api.ts';
import { ordersApi as mtlsOrdersApi } from '../examples/mtls-orders-api.ts';
import { selfSignedCertificate, testPki, tlsRequest } from '@latchkey/testing';
import { certificateThumbprint } from '../src/index.ts';
import { accessClaims, signWithServerKey } from './helpers/tokens.ts';

/**
 * The examples run as written, importing the package by its name (its built dist/, which `npm ci`
 * builds): a token with orders:read lists orders, placing one needs orders:write, no token is 401.
 */
describe('examples', () => {
  let l: Latchkey;
  let read: string;

  before(async () => {
    l = await startLatchkey();
    read = await l.token();
  });
  after(async () => {
    await l?.close();
  });

  const expectations = async (base: string, token: string) => {
    const list = await fetch(`${base}/orders`, { headers: { authorization: `Bearer ${token}` } });
    assert.equal(list.status, 200);
    assert.equal(((await list.json()) as { for: string }).for, l.reader[0]);
    assert.equal((await fetch(`${base}/orders`, { method: 'POST', headers: { authorization: `Bearer ${token}` } })).status, 403);
    assert.equal((await fetch(`${base}/orders`)).status, 401);
  };

  test('fastify-orders-api.ts: JWTs validated, lko_ tokens introspected', async () => {
    const app = fastifyOrdersApi({ issuer: l.issuer, audience: API, introspection: { clientId: l.apiClient[0], clientSecret: l.apiClient[1] } });
    await app.listen({ port: 0, host: '127.0.0.1' });
    try {
      const base = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
      await expectations(base, read);
      // An lko_ token goes to introspection (the validator would call it malformed): inactive here.
      const res = await fetch(`${base}/orders`, { headers: { authorization: `Bearer lko_${'x'.repeat(43)}` } });
      assert.equal(res.status, 401);
      assert.match(res.headers.get('www-authenticate')!, /error_description="the access token is not active"/);
    } finally {
      await app.close();
    }
  });

  test('express-orders-api.ts', async () => {
    const server = expressOrdersApi({ issuer: l.issuer, audience: API }).listen(0, '127.0.0.1');
    await new Promise((resolve) => server.once('listening', resolve));
    try {
      await expectations(`http://127.0.0.1:${(server.address() as AddressInfo).port}`, read);
    } finally {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    }
  });

  test('protected-resource-api.ts: the metadata, and challenges that name it (RFC 9728)', async () => {
    const app = protectedResourceApi({ issuer: l.issuer, resource: API });
    await app.listen({ port: 0, host: '127.0.0.1' });
    try {
      const base = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
      await expectations(base, read);
      const metadataUrl = 'https://api.example.com/.well-known/oauth-protected-resource';
      assert.equal((await fetch(`${base}/orders`)).headers.get('www-authenticate'), `Bearer realm="orders", scope="orders:read", resource_metadata="${metadataUrl}", DPoP realm="orders", scope="orders:read", resource_metadata="${metadataUrl}", algs="ES256 ES384 PS256 RS256 EdDSA"`);
      const denied = await fetch(`${base}/orders`, { method: 'POST', headers: { authorization: `Bearer ${read}` } });
      assert.match(denied.headers.get('www-authenticate')!, /error="insufficient_scope", .*scope="orders:write", resource_metadata=/);
      assert.deepEqual(await (await fetch(`${base}/.well-known/oauth-protected-resource`)).json(), {
        resource: API,
        authorization_servers: [l.issuer],
        scopes_supported: ['orders:read', 'orders:write'],
        bearer_methods_supported: ['header'],
        resource_name: 'Orders API',
      });
    } finally {
      await app.close();
    }
  });

  test('fetch-orders-api.ts', async () => {
    const handler = ordersHandler({ issuer: l.issuer, audience: API });
    const call = (init: RequestInit = {}) => handler(new Request('http://api.test/orders', init));
    const list = await call({ headers: { authorization: `Bearer ${read}` } });
    assert.equal(list.status, 200);
    assert.equal(((await list.json()) as { for: string }).for, l.reader[0]);
    assert.equal((await call({ method: 'POST', headers: { authorization: `Bearer ${read}` } })).status, 403);
    assert.equal((await call()).status, 401);
  });

  test('dpop-orders-api.ts: the example client gets a DPoP-bound token from Latchkey and calls the API (nonce retried); as Bearer it is refused', async () => {
    const app = dpopOrdersApi({ issuer: l.issuer, audience: API });
    await app.listen({ port: 0, host: '127.0.0.1' });
    try {
      const base = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
      const client = await dpopClient();
      const bound = await client.clientCredentials(`${l.issuer}/token`, l.reader[0], l.reader[1], 'orders:read');
      const res = await client.fetch(`${base}/orders?page=1`, bound);
      assert.equal(res.status, 200);
      assert.deepEqual(await res.json(), { orders: [{ id: 1, item: 'tea' }], for: l.reader[0], boundTo: client.jkt });
      const stolen = await fetch(`${base}/orders`, { headers: { authorization: `Bearer ${bound}` } });
      assert.equal(stolen.status, 401);
      // A plain bearer token still works: the mode is 'allowed'.
      const plain = await fetch(`${base}/orders`, { headers: { authorization: `Bearer ${read}` } });
      assert.equal(plain.status, 200);
      assert.equal(((await plain.json()) as { boundTo: unknown }).boundTo, null);
    } finally {
      await app.close();
    }
  });

  test('mtls-orders-api.ts: a certificate-bound token works only on a connection with its certificate', async () => {
    const server = selfSignedCertificate();
    const pki = testPki();
    const api = mtlsOrdersApi({ issuer: l.issuer, audience: API, tls: { cert: server.cert, key: server.key, ca: pki.ca } });
    await new Promise<void>((resolve) => api.listen(0, '127.0.0.1', resolve));
    try {
      const url = `https://127.0.0.1:${(api.address() as AddressInfo).port}/orders`;
      const [alice, mallory] = [pki.client({ subject: '/CN=alice' }), pki.client({ subject: '/CN=mallory' })];
      const bound = await signWithServerKey(l, accessClaims(l.issuer, { cnf: { 'x5t#S256': certificateThumbprint(alice.der) } }));
      assert.equal((await tlsRequest(url, { ca: server.cert, client: alice, headers: { authorization: `Bearer ${bound}` } })).status, 200);
      assert.equal((await tlsRequest(url, { ca: server.cert, client: mallory, headers: { authorization: `Bearer ${bound}` } })).status, 401);
      assert.equal((await tlsRequest(url, { ca: server.cert, headers: { authorization: `Bearer ${read}` } })).status, 200);
    } finally {
      api.closeAllConnections();
      await new Promise((resolve) => api.close(resolve));
      server.remove();
      pki.remove();
    }
  });
});
