import assert from 'node:assert/strict';
import { createHash, X509Certificate } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { decodeJwt } from 'jose';
import { testPki, tlsRequest, type TestPki } from '@latchkey/testing';
import { startDemo, type RunningDemo } from '../demo.ts';

/**
 * The shop demo's service-to-service calls over mutual TLS (RFC 8705): the demo makes its own CA and
 * certificates at start; the orders service authenticates at Latchkey's mutual-TLS listener with its
 * certificate (tls_client_auth), gets tokens bound to it (cnf.x5t#S256), and the inventory and
 * notifications services accept those tokens only on a connection with that certificate.
 */
describe('the shop demo over mutual TLS', () => {
  let demo: RunningDemo;
  let dataDir: string;
  let other: TestPki;
  const events: string[] = [];
  let orders: { clientId: string; certFile: string; keyFile: string; caFile: string };
  let cert: string;
  let key: string;

  before(async () => {
    dataDir = mkdtempSync(join(tmpdir(), 'latchkey-shop-mtls-'));
    other = testPki();
    demo = await startDemo({
      ports: { issuer: 0, issuerMtls: 0, gateway: 0, shop: 0, orders: 0, inventory: 0, inventoryMtls: 0, notifications: 0, notificationsMtls: 0 },
      dataDir,
      log: (service, message) => events.push(`[${service}] ${message}`),
    });
    orders = JSON.parse(readFileSync(join(dataDir, 'clients.json'), 'utf8')).orders;
    cert = readFileSync(orders.certFile, 'utf8');
    key = readFileSync(orders.keyFile, 'utf8');
  });
  after(async () => {
    await demo?.close();
    other?.remove();
    if (dataDir) rmSync(dataDir, { recursive: true, force: true });
  });

  /** A client-credentials token of the orders service, from Latchkey's mutual-TLS listener. */
  const ordersToken = async (scope: string) => {
    const res = await tlsRequest(`${demo.urls.issuerMtls}/token`, {
      ca: demo.ca.cert,
      client: { cert, key, der: Buffer.alloc(0) },
      form: { grant_type: 'client_credentials', client_id: orders.clientId, scope },
    });
    assert.equal(res.status, 200, res.text);
    return res.body.access_token as string;
  };

  test('the demo makes its CA and certificates in its data directory; the orders service\'s is issued by the CA and names it', () => {
    assert.equal(statSync(join(dataDir, 'pki')).mode & 0o777, 0o700);
    assert.equal(statSync(orders.keyFile).mode & 0o077, 0, 'the private key is owner-only');
    const ca = new X509Certificate(demo.ca.cert);
    const issued = new X509Certificate(cert);
    assert.ok(issued.verify(ca.publicKey), 'signed by the demo CA');
    assert.match(issued.subjectAltName ?? '', /DNS:orders-service\.shop\.internal/);
    assert.ok(dataDir && orders.certFile.startsWith(dataDir), 'inside the data directory, which the demo empties at every start');
  });

  test('Latchkey announces its mutual-TLS listener, and the orders service gets a token there only with its certificate (RFC 8705 §2.1)', async () => {
    const metadata = (await (await fetch(`${demo.urls.issuer}/.well-known/openid-configuration`)).json()) as Record<string, any>;
    assert.equal(metadata.mtls_endpoint_aliases.token_endpoint, `${demo.urls.issuerMtls}/token`);

    const token = await ordersToken('inventory:reserve');
    const thumbprint = createHash('sha256').update(new X509Certificate(cert).raw).digest('base64url');
    assert.deepEqual(decodeJwt(token).cnf, { 'x5t#S256': thumbprint }, 'bound to the certificate (§3.1)');

    const form = { grant_type: 'client_credentials', client_id: orders.clientId, scope: 'inventory:reserve' };
    const without = await tlsRequest(`${demo.urls.issuerMtls}/token`, { ca: demo.ca.cert, form });
    assert.equal(without.body.error, 'invalid_client', without.text);
    const stranger = other.client({ subject: '/CN=orders-service', san: ['DNS:orders-service.shop.internal'] });
    const lookAlike = await tlsRequest(`${demo.urls.issuerMtls}/token`, { ca: demo.ca.cert, client: stranger, form });
    assert.equal(lookAlike.body.error, 'invalid_client', 'the same name from another authority proves nothing');
  });

  test('the inventory takes the orders service\'s token with its certificate, and refuses it with another certificate or over plain http (RFC 8705 §3)', async () => {
    const token = await ordersToken('inventory:reserve');
    const reservation = { sku: 'cozy', quantity: 1, reference: 'mtls test' };
    const own = await jsonPost(`${demo.urls.inventoryMtls}/reservations`, token, reservation, { ca: demo.ca.cert, cert, key });
    assert.equal(own.status, 201, own.text);
    assert.equal(JSON.parse(own.text).reservation.clientId, 'orders-service');
    assert.ok(events.some((e) => e.startsWith('[inventory] reserved 1 x cozy for mtls test') && e.includes('bound to the certificate')), events.join('\n'));

    const stranger = other.client({ subject: '/CN=thief' });
    const stolen = await jsonPost(`${demo.urls.inventoryMtls}/reservations`, token, reservation, { ca: demo.ca.cert, cert: stranger.cert, key: stranger.key });
    assert.equal(stolen.status, 401, stolen.text);
    assert.match(stolen.wwwAuthenticate, /invalid_token/);
    const plain = await jsonPost(`${demo.urls.inventory}/reservations`, token, reservation);
    assert.equal(plain.status, 401, plain.text);
    assert.equal(demo.inventory.products().find((p) => p.sku === 'cozy')!.stock, 2, 'only the request with the certificate reserved');
  });
});

/** A JSON POST with a bearer token: over https presenting `tls.cert` when given, else over http. */
function jsonPost(url: string, token: string, body: unknown, tls?: { ca: string; cert: string; key: string }): Promise<{ status: number; text: string; wwwAuthenticate: string }> {
  const payload = JSON.stringify(body);
  const headers = { authorization: `Bearer ${token}`, 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(payload)) };
  return new Promise((resolve, reject) => {
    const onResponse = (res: import('node:http').IncomingMessage) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8'), wwwAuthenticate: String(res.headers['www-authenticate'] ?? '') }));
    };
    const req = tls
      ? httpsRequest(url, { method: 'POST', headers, ca: tls.ca, cert: tls.cert, key: tls.key, agent: false }, onResponse)
      : httpRequest(url, { method: 'POST', headers, agent: false }, onResponse);
    req.on('error', reject);
    req.end(payload);
  });
}
