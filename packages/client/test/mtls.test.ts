import assert from 'node:assert/strict';
import { createHash, X509Certificate } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import Fastify, { type FastifyInstance } from 'fastify';
import { decodeJwt, exportJWK } from 'jose';
import { createValidator } from '@latchkey/resource-server';
import { bearerAuth } from '@latchkey/resource-server/fastify';
import { API, freePort, type CertifiedKey, type Latchkey, startLatchkey, testPki, type TestPki, tlsRequest } from '@latchkey/testing';
import { ClientCredentials, DiscoveryError, LatchkeyClient, OAuthError, type FetchLike, type MtlsOptions } from '../src/index.ts';

/**
 * Mutual TLS (RFC 8705) through the SDK, against a real Latchkey with its mutual-TLS listener: the
 * `mtls` option presents a client certificate on every connection, sends requests to the server's
 * `mtls_endpoint_aliases` (§5), authenticates with `tls_client_auth` (§2.1) or
 * `self_signed_tls_client_auth` (§2.2), and gets access tokens bound to the certificate (§3.1,
 * `cnf.x5t#S256`) that an API behind @latchkey/resource-server accepts from `authorizedFetch` and
 * refuses from a connection with another certificate.
 */

/** RFC 8705 §3.1: base64url of the SHA-256 of the certificate's DER. */
const thumbprint = (certificate: CertifiedKey) => createHash('sha256').update(certificate.der).digest('base64url');

/** A fetch that records the origin and path of every request, and passes `init` (its dispatcher included) to Node's fetch. */
function recordingFetch() {
  const urls: URL[] = [];
  const wrapped: FetchLike = (input, init) => {
    urls.push(new URL(input instanceof Request ? input.url : input));
    return fetch(input, init);
  };
  return { fetch: wrapped, urls };
}

describe('mutual TLS (RFC 8705)', () => {
  let l: Latchkey;
  let pki: TestPki;
  /** The https origin of Latchkey's mutual-TLS listener. */
  let mtlsOrigin: string;
  let svcCert: CertifiedKey;
  let otherCert: CertifiedKey;
  let selfSigned: CertifiedKey;
  let sanClient: string;
  let selfClient: string;
  let api: FastifyInstance;
  let apiUrl: string;

  const mtls = (certificate: CertifiedKey): MtlsOptions => ({ cert: certificate.cert, key: certificate.key, ca: pki.ca });

  before(async () => {
    pki = testPki();
    const server = pki.server();
    const mtlsPort = await freePort();
    l = await startLatchkey({ settings: { mtlsPort, mtlsCertFile: server.certFile, mtlsKeyFile: server.keyFile, mtlsClientCaFile: pki.caFile } });
    mtlsOrigin = `https://127.0.0.1:${mtlsPort}`;
    svcCert = pki.client({ subject: '/O=Example/CN=inventory', san: ['DNS:inventory.internal'] });
    otherCert = pki.client({ subject: '/O=Example/CN=intruder', san: ['DNS:intruder.internal'] });
    selfSigned = pki.selfSigned({ subject: '/CN=self-signed-svc' });
    const base = { type: 'confidential' as const, grantTypes: ['client_credentials'], scopes: ['orders:read'], tlsClientCertificateBoundAccessTokens: true };
    const registry = l.running.registry;
    sanClient = (await registry.createClient({ ...base, name: 'inventory', tokenEndpointAuthMethod: 'tls_client_auth', tlsClientAuth: { sanDns: 'inventory.internal' } })).client.clientId;
    const selfJwk = await exportJWK(new X509Certificate(selfSigned.cert).publicKey);
    selfClient = (await registry.createClient({ ...base, name: 'self-signed', tokenEndpointAuthMethod: 'self_signed_tls_client_auth', jwks: { keys: [selfJwk] } })).client.clientId;

    // The orders API over https, asking for client certificates (any: the binding check decides).
    api = Fastify({ https: { key: server.key, cert: server.cert, ca: pki.ca, requestCert: true, rejectUnauthorized: false } });
    api.get('/orders', { preHandler: bearerAuth(createValidator({ issuer: l.issuer, audience: API })) }, async (request) => ({ clientId: request.auth.client_id }));
    await api.listen({ port: 0, host: '127.0.0.1' });
    apiUrl = `https://127.0.0.1:${(api.server.address() as AddressInfo).port}`;
  });
  after(async () => {
    await api?.close();
    await l?.close();
    pki?.remove();
  });

  test('tls_client_auth (§2.1): client credentials over the mutual-TLS alias, the token bound to the certificate (§3.1)', async () => {
    const recorded = recordingFetch();
    const client = new LatchkeyClient({ issuer: l.issuer, clientId: sanClient, mtls: mtls(svcCert), fetch: recorded.fetch });
    const tokens = await new ClientCredentials({ client, scope: 'orders:read' }).getToken();
    assert.equal(tokens.tokenType, 'Bearer', 'a certificate-bound token keeps the Bearer type (RFC 8705 §3)');
    assert.deepEqual(decodeJwt(tokens.accessToken).cnf, { 'x5t#S256': thumbprint(svcCert) });
    const tokenRequests = recorded.urls.filter((u) => u.pathname === '/token');
    assert.deepEqual(tokenRequests.map((u) => u.origin), [mtlsOrigin], 'the token request went to mtls_endpoint_aliases.token_endpoint');
  });

  test('self_signed_tls_client_auth (§2.2): the certificate holding the registered key authenticates', async () => {
    const client = new LatchkeyClient({ issuer: l.issuer, clientId: selfClient, tokenEndpointAuthMethod: 'self_signed_tls_client_auth', mtls: mtls(selfSigned) });
    const tokens = await client.clientCredentialsGrant({ scope: 'orders:read' });
    assert.deepEqual(decodeJwt(tokens.accessToken).cnf, { 'x5t#S256': thumbprint(selfSigned) });
  });

  test('another certificate, or none, is refused invalid_client', async () => {
    const intruder = new LatchkeyClient({ issuer: l.issuer, clientId: sanClient, mtls: mtls(otherCert) });
    await assert.rejects(intruder.clientCredentialsGrant({ scope: 'orders:read' }), (err: unknown) => err instanceof OAuthError && err.error === 'invalid_client');
    const bare = new LatchkeyClient({ issuer: l.issuer, clientId: sanClient });
    await assert.rejects(bare.clientCredentialsGrant({ scope: 'orders:read' }), (err: unknown) => err instanceof OAuthError && err.error === 'invalid_client');
  });

  test('authorizedFetch presents the certificate: the API accepts the bound token, and refuses it from a connection with another certificate or none', async () => {
    const client = new LatchkeyClient({ issuer: l.issuer, clientId: sanClient, mtls: mtls(svcCert) });
    const tokens = new ClientCredentials({ client, scope: 'orders:read' });
    const res = await tokens.authorizedFetch(`${apiUrl}/orders`);
    assert.equal(res.status, 200, await res.clone().text());
    assert.deepEqual(await res.json(), { clientId: sanClient });

    const authorization = `Bearer ${await tokens.getAccessToken()}`;
    const stolen = await tlsRequest(`${apiUrl}/orders`, { ca: pki.ca, client: otherCert, headers: { authorization } });
    assert.equal(stolen.status, 401, stolen.text);
    assert.match(String(stolen.headers['www-authenticate']), /invalid_token/);
    const without = await tlsRequest(`${apiUrl}/orders`, { ca: pki.ca, headers: { authorization } });
    assert.equal(without.status, 401, without.text);
  });

  test('introspection and revocation go to the aliases too, authenticated by the certificate', async () => {
    const recorded = recordingFetch();
    const client = new LatchkeyClient({ issuer: l.issuer, clientId: sanClient, mtls: mtls(svcCert), fetch: recorded.fetch });
    const { accessToken } = await client.clientCredentialsGrant({ scope: 'orders:read' });
    const info = await client.introspect(accessToken);
    assert.equal(info.active, true);
    assert.deepEqual(info.cnf, { 'x5t#S256': thumbprint(svcCert) }, 'RFC 8705 §3.2: introspection returns the binding');
    await client.revoke(accessToken);
    assert.equal((await client.introspect(accessToken)).active, false);
    for (const path of ['/token', '/introspect', '/revoke']) {
      const origins = new Set(recorded.urls.filter((u) => u.pathname === path).map((u) => u.origin));
      assert.deepEqual([...origins], [mtlsOrigin], path);
    }
  });

  test('mistakes in the options fail when the client is created', () => {
    const issuer = l.issuer;
    assert.throws(() => new LatchkeyClient({ issuer, clientId: 'x', tokenEndpointAuthMethod: 'tls_client_auth' }), /needs mtls/);
    assert.throws(() => new LatchkeyClient({ issuer, clientId: 'x', clientSecret: 's', tokenEndpointAuthMethod: 'tls_client_auth', mtls: mtls(svcCert) }), /clientSecret/);
    assert.throws(() => new LatchkeyClient({ issuer, clientId: 'x', mtls: { cert: 'not a certificate', key: svcCert.key } }), /mtls\.cert must be PEM/);
    assert.throws(() => new LatchkeyClient({ issuer, clientId: 'x', mtls: { cert: svcCert.cert, key: otherCert.key } }), TypeError, 'a key of another certificate');
  });

  test('discovery holds mtls_endpoint_aliases to https, like every endpoint', async () => {
    const metadata = (await (await fetch(`${l.issuer}/.well-known/openid-configuration`)).json()) as Record<string, any>;
    metadata.mtls_endpoint_aliases.token_endpoint = 'http://mtls.example.com/token';
    const forged: FetchLike = async () => Response.json(metadata);
    const client = new LatchkeyClient({ issuer: l.issuer, clientId: sanClient, mtls: mtls(svcCert), fetch: forged });
    await assert.rejects(client.metadata(), (err: unknown) => err instanceof DiscoveryError && /mtls_endpoint_aliases\.token_endpoint/.test(err.message));
  });
});
