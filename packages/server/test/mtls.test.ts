import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { decodeJwt, exportJWK } from 'jose';
import {
  backends,
  dpopProver,
  FormBrowser,
  freePort,
  pkcePair,
  postForm,
  runAuthorization,
  seedUserFlow,
  startServer,
  testPki,
  tlsRequest,
  type CertifiedKey,
  type RunningServer,
  type TestDatabase,
  type TestPki,
  type UserFlowSeed,
  walkAuthorization,
} from '@latchkey/testing';

/**
 * Mutual TLS (RFC 8705) at the authorization server: a second https listener that asks for client
 * certificates, announced as mtls_endpoint_aliases; tls_client_auth (a CA and a registered subject)
 * and self_signed_tls_client_auth (a registered key); certificate-bound access tokens (cnf.x5t#S256)
 * in the token, introspection and at userinfo; and the RFC 9440 Client-Cert header, believed only from
 * a trusted proxy.
 */
for (const backend of await backends()) {
  describe(`mutual TLS (${backend.name})`, { skip: backend.skip }, () => {
    let db: TestDatabase;
    let s: RunningServer;
    let pki: TestPki;
    let mtls: string;
    let seed: UserFlowSeed;
    let svcCert: CertifiedKey;
    let otherCert: CertifiedKey;
    let selfSigned: CertifiedKey;
    let dnClient: string;
    let sanClient: string;
    let selfClient: string;
    let boundSecretClient: { clientId: string; clientSecret: string };
    let webClient: string;

    /** A code-grant client authenticated by tls_client_auth with the SAN of `svcCert`. */
    async function webClientBySan(name: string, extra: { tlsClientCertificateBoundAccessTokens?: true; profile?: 'fapi2' }): Promise<string> {
      const created = await s.registry.createClient({
        name,
        type: 'confidential',
        grantTypes: ['authorization_code', 'refresh_token'],
        scopes: ['openid', 'orders:read'],
        redirectUris: [seed.redirectUri],
        tokenEndpointAuthMethod: 'tls_client_auth',
        tlsClientAuth: { sanDns: 'inventory.internal' },
        ...extra,
      });
      return created.client.clientId;
    }

    before(async () => {
      pki = testPki();
      const server = pki.server();
      db = await backend.create();
      const mtlsPort = await freePort();
      s = await startServer(db, { mtlsPort, mtlsCertFile: server.certFile, mtlsKeyFile: server.keyFile, mtlsClientCaFile: pki.caFile, registration: 'open' });
      mtls = `https://127.0.0.1:${mtlsPort}`;
      seed = await seedUserFlow(s);
      svcCert = pki.client({ subject: '/O=Example/CN=inventory', san: ['DNS:inventory.internal'] });
      otherCert = pki.client({ subject: '/O=Example/CN=intruder', san: ['DNS:intruder.internal'] });
      selfSigned = pki.selfSigned({ subject: '/CN=self-signed-svc' });
      const base = { type: 'confidential' as const, grantTypes: ['client_credentials'], scopes: ['orders:read'] };
      dnClient = (await s.registry.createClient({ ...base, name: 'dn', tokenEndpointAuthMethod: 'tls_client_auth', tlsClientAuth: { subjectDn: 'CN=inventory,O=Example' }, tlsClientCertificateBoundAccessTokens: true })).client.clientId;
      sanClient = (await s.registry.createClient({ ...base, name: 'san', tokenEndpointAuthMethod: 'tls_client_auth', tlsClientAuth: { sanDns: 'inventory.internal' } })).client.clientId;
      const selfJwk = await exportJWK(new X509Certificate(selfSigned.cert).publicKey);
      selfClient = (await s.registry.createClient({ ...base, name: 'self', tokenEndpointAuthMethod: 'self_signed_tls_client_auth', jwks: { keys: [selfJwk] } })).client.clientId;
      const bound = await s.registry.createClient({ ...base, name: 'bound-secret', tlsClientCertificateBoundAccessTokens: true });
      boundSecretClient = { clientId: bound.client.clientId, clientSecret: bound.clientSecret! };
      webClient = await webClientBySan('web over mTLS', { tlsClientCertificateBoundAccessTokens: true });
    });
    after(async () => {
      await s?.close();
      await db?.drop();
      pki?.remove();
    });

    const token = (clientId: string, client?: CertifiedKey, base = mtls, extra: Record<string, string> = {}) =>
      tlsRequest(`${base}/token`, { ca: pki.ca, client, form: { grant_type: 'client_credentials', client_id: clientId, ...extra } });

    test('discovery announces the aliases, the certificate methods and bound tokens (RFC 8705 §3.3, §5)', async () => {
      const body = (await (await fetch(`${s.url}/.well-known/oauth-authorization-server`)).json()) as Record<string, any>;
      assert.equal(body.tls_client_certificate_bound_access_tokens, true);
      assert.equal(body.mtls_endpoint_aliases.token_endpoint, `${mtls}/token`);
      assert.equal(body.mtls_endpoint_aliases.userinfo_endpoint, `${mtls}/userinfo`);
      assert.equal(body.mtls_endpoint_aliases.pushed_authorization_request_endpoint, `${mtls}/par`);
      for (const method of ['tls_client_auth', 'self_signed_tls_client_auth']) assert.ok(body.token_endpoint_auth_methods_supported.includes(method), method);
      // The mutual-TLS listener serves the same documents.
      const same = await tlsRequest(`${mtls}/.well-known/oauth-authorization-server`, { ca: pki.ca });
      assert.equal(same.body.issuer, s.issuer);
    });

    test('RFC 8705 §2.1 tls_client_auth by subject DN: the CA-issued certificate with that subject authenticates', async () => {
      const res = await token(dnClient, svcCert);
      assert.equal(res.status, 200, res.text);
      assert.equal(res.body.token_type, 'Bearer', 'a certificate-bound token is still a Bearer token type (RFC 8705 §3)');
    });

    test('RFC 8705 §2.1 tls_client_auth refuses another subject, a self-signed look-alike, no certificate, and the plain listener', async () => {
      const lookAlike = pki.selfSigned({ subject: '/O=Example/CN=inventory', san: ['DNS:inventory.internal'] });
      for (const [name, res] of [
        ['another subject', await token(dnClient, otherCert)],
        ['self-signed with the same subject', await token(dnClient, lookAlike)],
        ['no certificate', await token(dnClient)],
        ['SAN client, another SAN', await token(sanClient, otherCert)],
        ['SAN client, self-signed same SAN', await token(sanClient, lookAlike)],
      ] as const) {
        assert.equal(res.status, 401, `${name}: ${res.text}`);
        assert.equal(res.body.error, 'invalid_client', name);
      }
      const plain = await postForm(`${s.url}/token`, { grant_type: 'client_credentials', client_id: dnClient });
      assert.equal(plain.status, 401);
    });

    test('RFC 8705 §2.1.2 tls_client_auth by subjectAltName dNSName', async () => {
      const res = await token(sanClient, svcCert);
      assert.equal(res.status, 200, res.text);
      assert.equal(decodeJwt(res.body.access_token).cnf, undefined, 'not bound unless the client asks for it');
    });

    test('RFC 8705 §2.2 self_signed_tls_client_auth: the certificate holding a registered key, and no other', async () => {
      assert.equal((await token(selfClient, selfSigned)).status, 200);
      const other = pki.selfSigned({ subject: '/CN=self-signed-svc' });
      const refused = await token(selfClient, other);
      assert.equal(refused.status, 401);
      assert.equal(refused.body.error, 'invalid_client');
      assert.equal((await token(selfClient, svcCert)).status, 401, 'a CA-issued certificate with another key is no proof either');
    });

    test('RFC 8705 §3: certificate-bound tokens carry cnf.x5t#S256 of the certificate, in the JWT and in introspection', async () => {
      const res = await token(dnClient, svcCert);
      const thumbprint = new X509Certificate(svcCert.cert).fingerprint256.replaceAll(':', '');
      const expected = Buffer.from(thumbprint, 'hex').toString('base64url');
      assert.deepEqual(decodeJwt(res.body.access_token).cnf, { 'x5t#S256': expected });
      const introspected = await tlsRequest(`${mtls}/introspect`, { ca: pki.ca, client: svcCert, form: { token: res.body.access_token, client_id: dnClient } });
      assert.equal(introspected.body.active, true, introspected.text);
      assert.deepEqual(introspected.body.cnf, { 'x5t#S256': expected });
    });

    test('RFC 8705 §3.4: a client registered for bound tokens must present a certificate, whatever its authentication', async () => {
      const basic = `Basic ${Buffer.from(`${boundSecretClient.clientId}:${boundSecretClient.clientSecret}`).toString('base64')}`;
      const without = await postForm(`${s.url}/token`, { grant_type: 'client_credentials' }, { basic: [boundSecretClient.clientId, boundSecretClient.clientSecret] });
      assert.equal(without.status, 400, without.text);
      assert.equal(without.body.error, 'invalid_request');
      // Any certificate will do to bind: the secret authenticates the client, the certificate holds the token.
      const withCert = await tlsRequest(`${mtls}/token`, { ca: pki.ca, client: selfSigned, form: { grant_type: 'client_credentials' }, headers: { authorization: basic } });
      assert.equal(withCert.status, 200, withCert.text);
      assert.ok((decodeJwt(withCert.body.access_token).cnf as Record<string, string>)['x5t#S256']);
    });

    test('a DPoP proof for the alias URL is accepted on the mutual-TLS listener, and DPoP decides the binding', async () => {
      const key = await dpopProver();
      const ok = await tlsRequest(`${mtls}/token`, {
        ca: pki.ca,
        client: svcCert,
        form: { grant_type: 'client_credentials', client_id: sanClient },
        headers: { dpop: await key.proof({ htu: `${mtls}/token` }) },
      });
      assert.equal(ok.status, 200, ok.text);
      assert.equal(ok.body.token_type, 'DPoP');
      const wrong = await tlsRequest(`${mtls}/token`, {
        ca: pki.ca,
        client: svcCert,
        form: { grant_type: 'client_credentials', client_id: sanClient },
        headers: { dpop: await key.proof({ htu: `${s.issuer}/token` }) },
      });
      assert.equal(wrong.body.error, 'invalid_dpop_proof', 'htu must name the URL the request was sent to');
    });

    test('RFC 8705 §2.1.2 and §3.4 in dynamic registration: the subject member and bound tokens, echoed; two subjects refused', async () => {
      const register = (body: Record<string, unknown>) =>
        fetch(`${s.url}/register`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
      const base = { redirect_uris: ['https://app.example/cb'], token_endpoint_auth_method: 'tls_client_auth', tls_client_certificate_bound_access_tokens: true };
      const ok = await register({ ...base, tls_client_auth_san_dns: 'inventory.internal' });
      const body = (await ok.json()) as Record<string, unknown>;
      assert.equal(ok.status, 201, JSON.stringify(body));
      assert.equal(body.tls_client_auth_san_dns, 'inventory.internal');
      assert.equal(body.tls_client_certificate_bound_access_tokens, true);
      const two = await register({ ...base, tls_client_auth_san_dns: 'a.example', tls_client_auth_subject_dn: 'CN=a' });
      assert.equal(two.status, 400);
      assert.equal(((await two.json()) as { error: string }).error, 'invalid_client_metadata');
    });

    test('RFC 8705 §3 at userinfo: a certificate-bound token works only with its certificate', async () => {
      const browser = new FormBrowser();
      const result = await runAuthorization(browser, s, { clientId: webClient, scope: 'openid orders:read' });
      const code = result.callback.searchParams.get('code');
      assert.ok(code, result.callback.href);
      const tokens = await tlsRequest(`${mtls}/token`, {
        ca: pki.ca,
        client: svcCert,
        form: { grant_type: 'authorization_code', code, code_verifier: result.verifier, redirect_uri: seed.redirectUri, client_id: webClient },
      });
      assert.equal(tokens.status, 200, tokens.text);
      const authorization = `Bearer ${tokens.body.access_token}`;
      const own = await tlsRequest(`${mtls}/userinfo`, { ca: pki.ca, client: svcCert, headers: { authorization } });
      assert.equal(own.status, 200, own.text);
      assert.equal(own.body.sub, seed.user.id);
      const other = await tlsRequest(`${mtls}/userinfo`, { ca: pki.ca, client: otherCert, headers: { authorization } });
      assert.equal(other.status, 401);
      const none = await fetch(`${s.url}/userinfo`, { headers: { authorization } });
      assert.equal(none.status, 401);
      assert.match(none.headers.get('www-authenticate')!, /invalid_token/);
    });

    test('FAPI 2.0 with mutual TLS: PAR and the code exchange on the aliases by tls_client_auth, certificate-bound tokens without DPoP (§5.3.2.1 items 5, 6)', async () => {
      const fapi = await webClientBySan('FAPI over mTLS', { profile: 'fapi2' });
      const { verifier, challenge } = pkcePair();
      const params = {
        response_type: 'code',
        client_id: fapi,
        redirect_uri: seed.redirectUri,
        scope: 'openid orders:read',
        state: 'state-mtls',
        nonce: 'nonce-mtls',
        code_challenge: challenge,
        code_challenge_method: 'S256',
      };
      // The profile refuses /authorize without PAR, and PAR without the client's certificate.
      const noCertificate = await tlsRequest(`${mtls}/par`, { ca: pki.ca, form: params });
      assert.equal(noCertificate.status, 401, noCertificate.text);
      assert.equal(noCertificate.body.error, 'invalid_client');
      const pushed = await tlsRequest(`${mtls}/par`, { ca: pki.ca, client: svcCert, form: params });
      assert.equal(pushed.status, 201, pushed.text);
      const url = `${s.issuer}/authorize?${new URLSearchParams({ client_id: fapi, request_uri: pushed.body.request_uri }).toString()}`;
      const { callback } = await walkAuthorization(new FormBrowser(), s.issuer, url);
      const code = callback.searchParams.get('code');
      assert.ok(code, callback.href);
      const exchange = (client?: CertifiedKey) =>
        tlsRequest(`${mtls}/token`, {
          ca: pki.ca,
          client,
          form: { grant_type: 'authorization_code', code, code_verifier: verifier, redirect_uri: seed.redirectUri, client_id: fapi },
        });
      const refused = await exchange(otherCert);
      assert.equal(refused.status, 401, refused.text);
      assert.equal(refused.body.error, 'invalid_client');
      const tokens = await exchange(svcCert);
      assert.equal(tokens.status, 200, tokens.text);
      assert.equal(tokens.body.token_type, 'Bearer');
      const thumbprint = Buffer.from(new X509Certificate(svcCert.cert).fingerprint256.replaceAll(':', ''), 'hex').toString('base64url');
      assert.deepEqual(decodeJwt(tokens.body.access_token).cnf, { 'x5t#S256': thumbprint }, 'the profile binds the token to the certificate even without the per-client setting');
      const info = await tlsRequest(`${mtls}/userinfo`, { ca: pki.ca, client: svcCert, headers: { authorization: `Bearer ${tokens.body.access_token}` } });
      assert.equal(info.status, 200, info.text);
    });
  });

  describe(`Client-Cert from a proxy (RFC 9440) (${backend.name})`, { skip: backend.skip }, () => {
    let db: TestDatabase;
    let pki: TestPki;
    let cert: CertifiedKey;

    before(async () => {
      pki = testPki();
      db = await backend.create();
      cert = pki.client({ subject: '/CN=proxied-svc' });
    });
    after(async () => {
      await db?.drop();
      pki?.remove();
    });

    const header = (c: CertifiedKey) => `:${c.der.toString('base64')}:`;

    async function withServer(trustedProxies: string | undefined, run: (s: RunningServer, clientId: string) => Promise<void>) {
      const s = await startServer(db, { mtlsUrl: 'https://mtls.example.com', mtlsClientCaFile: pki.caFile, ...(trustedProxies ? { trustedProxies } : {}) });
      try {
        await s.registry.createResource({ identifier: 'https://api.example.com', scopes: ['orders:read'] }).catch(() => undefined);
        const created = await s.registry.createClient({
          name: `proxied-${Math.random()}`,
          type: 'confidential',
          grantTypes: ['client_credentials'],
          scopes: ['orders:read'],
          tokenEndpointAuthMethod: 'tls_client_auth',
          tlsClientAuth: { subjectDn: 'CN=proxied-svc' },
          tlsClientCertificateBoundAccessTokens: true,
        });
        await run(s, created.client.clientId);
      } finally {
        await s.close();
      }
    }

    test('from a trusted proxy the header is the client certificate', async () => {
      await withServer('loopback', async (s, clientId) => {
        const body = (await (await fetch(`${s.url}/.well-known/oauth-authorization-server`)).json()) as Record<string, any>;
        assert.equal(body.mtls_endpoint_aliases.token_endpoint, 'https://mtls.example.com/token');
        const res = await postForm(`${s.url}/token`, { grant_type: 'client_credentials', client_id: clientId }, { headers: { 'client-cert': header(cert) } });
        assert.equal(res.status, 200, res.text);
        const expected = Buffer.from(new X509Certificate(cert.cert).fingerprint256.replaceAll(':', ''), 'hex').toString('base64url');
        assert.deepEqual(decodeJwt(res.body.access_token).cnf, { 'x5t#S256': expected });
      });
    });

    test('from any other peer the header is ignored: no certificate, invalid_client', async () => {
      await withServer(undefined, async (s, clientId) => {
        const res = await postForm(`${s.url}/token`, { grant_type: 'client_credentials', client_id: clientId }, { headers: { 'client-cert': header(cert) } });
        assert.equal(res.status, 401, res.text);
        assert.equal(res.body.error, 'invalid_client');
      });
      await withServer('10.0.0.0/8', async (s, clientId) => {
        const res = await postForm(`${s.url}/token`, { grant_type: 'client_credentials', client_id: clientId }, { headers: { 'client-cert': header(cert) } });
        assert.equal(res.body.error, 'invalid_client', 'a proxy list that does not name this peer');
      });
    });
  });
}
