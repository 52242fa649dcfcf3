import assert from 'node:assert/strict';
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer as createHttpServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { exportJWK, generateKeyPair, SignJWT, type CryptoKey, type JWK, type KeyObject } from 'jose';
import * as openidClient from 'openid-client';
import { JwksUriCache } from '../src/client-auth/jwks-cache.ts';
import { fetchJwksDocument } from '../src/client-auth/jwks-fetch.ts';
import { checkAddress, OutboundFetchError, resolveAllowed } from '../src/lib/outbound-fetch.ts';
import { Janitor } from '../src/janitor.ts';
import { backends, dbEnv, postForm, runLatchkey, type RunningServer, seedOrdersApi, startServer, type TestDatabase } from '@latchkey/testing';

/**
 * private_key_jwt client authentication (RFC 7523 §2.2 and §3, RFC 7521 §4.2, OIDC Core §9): checklist
 * D36-D38, the fosite CVE-2020-15222 replay regression, the alg none / HMAC regressions
 * (CVE-2022-23540, CVE-2022-23541), and the jwks_uri SSRF guard (Keycloak CVE-2026-9086, Spring AS
 * CVE-2026-22752).
 */

type Reply = Awaited<ReturnType<typeof postForm>>;

const ASSERTION_TYPE = 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer';
const now = () => Math.floor(Date.now() / 1000);

/** 401 invalid_client with a Basic challenge, as for every other method (RFC 6749 §5.2). */
function assertInvalidClient(res: Reply, label: string): void {
  assert.equal(res.status, 401, `${label}: ${res.status} ${res.text}`);
  assert.equal(res.body?.error, 'invalid_client', `${label}: ${res.text}`);
  assert.equal(res.headers.get('cache-control'), 'no-store', label);
  assert.match(res.headers.get('www-authenticate') ?? '', /^Basic realm="[^"]+"/, `${label}: WWW-Authenticate`);
  assert.equal(res.body.access_token, undefined, label);
}

function assertInvalidRequest(res: Reply, label: string): void {
  assert.equal(res.status, 400, `${label}: ${res.status} ${res.text}`);
  assert.equal(res.body?.error, 'invalid_request', `${label}: ${res.text}`);
}

interface KeyPair {
  privateKey: CryptoKey | KeyObject;
  publicJwk: JWK;
}

async function keyPair(alg: string, kid: string): Promise<KeyPair> {
  const { privateKey, publicKey } = await generateKeyPair(alg, { extractable: true });
  return { privateKey, publicJwk: { ...(await exportJWK(publicKey)), kid, alg, use: 'sig' } };
}

interface AssertionOptions {
  alg?: string;
  key?: CryptoKey | KeyObject | Uint8Array;
  kid?: string | undefined;
  /** Claims to set or replace; `undefined` removes a claim. */
  claims?: Record<string, unknown>;
}

/** Signs a client assertion for `clientId` with the usual claims (RFC 7523 §3), changed by `options`. */
async function makeAssertion(clientId: string, audience: string, signer: KeyPair & { alg: string }, options: AssertionOptions = {}) {
  const claims: Record<string, unknown> = {
    iss: clientId,
    sub: clientId,
    aud: audience,
    iat: now(),
    exp: now() + 60,
    jti: randomBytes(16).toString('base64url'),
    ...options.claims,
  };
  for (const [k, v] of Object.entries(claims)) if (v === undefined) delete claims[k];
  const kid = 'kid' in options ? options.kid : signer.publicJwk.kid;
  return new SignJWT(claims)
    .setProtectedHeader({ alg: options.alg ?? signer.alg, ...(kid === undefined ? {} : { kid }) })
    .sign(options.key ?? signer.privateKey);
}

/** An unsigned JWT (`alg: none`), which jose will not make. */
function unsignedJwt(claims: Record<string, unknown>): string {
  const part = (o: unknown) => Buffer.from(JSON.stringify(o)).toString('base64url');
  return `${part({ alg: 'none', typ: 'JWT' })}.${part(claims)}.`;
}

/** A small JWKS server on 127.0.0.1 whose routes the tests set, counting requests per path. */
async function startJwksServer(routes: Record<string, (res: import('node:http').ServerResponse) => void>) {
  const hits = new Map<string, number>();
  const server: Server = createHttpServer((req, res) => {
    const path = new URL(req.url ?? '/', 'http://x').pathname;
    hits.set(path, (hits.get(path) ?? 0) + 1);
    const route = routes[path];
    if (route) route(res);
    else res.writeHead(404).end();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  return {
    url: (path: string) => `http://127.0.0.1:${port}${path}`,
    hits: (path: string) => hits.get(path) ?? 0,
    routes,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

const json = (body: unknown) => (res: import('node:http').ServerResponse) =>
  res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(body));

describe('jwks_uri SSRF guard: the addresses it refuses (unit)', () => {
  test('loopback, link-local (cloud metadata), private, unique-local, multicast and unspecified addresses are refused', () => {
    for (const address of [
      '127.0.0.1',
      '127.1.2.3',
      '::1',
      '169.254.169.254',
      '169.254.0.1',
      '10.0.0.1',
      '10.255.255.255',
      '172.16.0.1',
      '172.31.255.254',
      '192.168.1.1',
      '100.64.0.1',
      '0.0.0.0',
      '::',
      '224.0.0.1',
      '255.255.255.255',
      'fc00::1',
      'fd12:3456::1',
      'fe80::1',
      'ff02::1',
      '::ffff:127.0.0.1',
      '::ffff:169.254.169.254',
      '::a9fe:a9fe', // IPv4-compatible 169.254.169.254
      '::ffff:0:a9fe:a9fe', // IPv4-translated
      '2001:0:4136:e378:8000:63bf:3fff:fdd2', // Teredo
      '::ffff:10.0.0.1',
      '64:ff9b::a9fe:a9fe',
    ]) {
      assert.ok(checkAddress(address, false), `${address} must be refused`);
    }
  });

  test('public addresses are allowed', () => {
    for (const address of ['8.8.8.8', '1.1.1.1', '93.184.216.34', '2606:4700:4700::1111', '2a00:1450:4001::1']) {
      assert.equal(checkAddress(address, false), undefined, address);
    }
  });

  test('LATCHKEY_ALLOW_LOOPBACK_JWKS_URI allows loopback only, never the metadata service or private ranges', () => {
    for (const address of ['127.0.0.1', '::1', '::ffff:127.0.0.1']) assert.equal(checkAddress(address, true), undefined, address);
    for (const address of ['169.254.169.254', '10.0.0.1', '192.168.0.1', 'fc00::1', '0.0.0.0']) {
      assert.ok(checkAddress(address, true), `${address} must stay refused`);
    }
  });

  test('a host name is checked by what it resolves to: localhost is refused in production mode', async () => {
    await assert.rejects(resolveAllowed('localhost', false), OutboundFetchError);
    await assert.rejects(resolveAllowed('127.0.0.1', false), OutboundFetchError);
    await assert.rejects(resolveAllowed('[::1]', false), OutboundFetchError);
    await assert.rejects(resolveAllowed('169.254.169.254', true), OutboundFetchError);
    const local = await resolveAllowed('localhost', true);
    assert.ok(local.length > 0);
  });

  test('production mode: an http jwks_uri is refused before any connection is made', async () => {
    const jwks = await startJwksServer({ '/jwks': json({ keys: [] }) });
    try {
      await assert.rejects(fetchJwksDocument(jwks.url('/jwks'), { allowLoopback: false }), OutboundFetchError);
      const https = jwks.url('/jwks').replace('http:', 'https:');
      await assert.rejects(fetchJwksDocument(https, { allowLoopback: false }), /loopback/);
      assert.equal(jwks.hits('/jwks'), 0);
    } finally {
      await jwks.close();
    }
  });

  test('development mode fetches from loopback, within the size and time limits, without following redirects', async () => {
    const jwks = await startJwksServer({
      '/jwks': json({ keys: [] }),
      '/big': json({ keys: [], padding: 'x'.repeat(70 * 1024) }),
      '/big-chunked': (res) => {
        res.writeHead(200, { 'content-type': 'application/json' });
        for (let i = 0; i < 80; i++) res.write(' '.repeat(1024));
        res.end('{"keys":[]}');
      },
      '/slow': () => {}, // never answers
      '/redirect': (res) => res.writeHead(302, { location: '/jwks' }).end(),
      '/not-json': (res) => res.writeHead(200).end('<html>'),
    });
    const dev = { allowLoopback: true };
    try {
      assert.deepEqual(await fetchJwksDocument(jwks.url('/jwks'), dev), { keys: [] });
      await assert.rejects(fetchJwksDocument(jwks.url('/big'), dev), /larger than 65536 bytes/);
      await assert.rejects(fetchJwksDocument(jwks.url('/big-chunked'), dev), /larger than 65536 bytes/);
      await assert.rejects(fetchJwksDocument(jwks.url('/jwks'), { ...dev, maxBytes: 5 }), /larger than 5 bytes/);
      const started = Date.now();
      await assert.rejects(fetchJwksDocument(jwks.url('/slow'), { ...dev, timeoutMs: 300 }), /within 300 ms/);
      assert.ok(Date.now() - started < 2000, 'the time limit holds');
      const before = jwks.hits('/jwks');
      await assert.rejects(fetchJwksDocument(jwks.url('/redirect'), dev), /302.*no redirects/);
      assert.equal(jwks.hits('/jwks'), before, 'the redirect was not followed');
      await assert.rejects(fetchJwksDocument(jwks.url('/not-json'), dev), /not JSON/);
    } finally {
      await jwks.close();
    }
  });

  test('the cache fetches once, refetches on an unknown kid at most once per cooldown, and again after 5 minutes', async () => {
    const key = await keyPair('ES256', 'k1');
    const jwks = await startJwksServer({ '/jwks': json({ keys: [key.publicJwk] }) });
    let clock = 1_000_000;
    const cache = new JwksUriCache({ allowLoopback: true }, () => clock);
    try {
      const uri = jwks.url('/jwks');
      assert.equal((await cache.keys('c', uri)).keys.length, 1);
      await cache.keys('c', uri);
      assert.equal(jwks.hits('/jwks'), 1, 'cached');
      assert.equal(await cache.refresh('c', uri), undefined, 'no refetch right after a fetch');
      assert.equal(jwks.hits('/jwks'), 1);
      clock += 31_000;
      assert.ok(await cache.refresh('c', uri));
      assert.equal(jwks.hits('/jwks'), 2, 'one refetch after the cooldown');
      assert.equal(await cache.refresh('c', uri), undefined);
      clock += 301_000;
      await cache.keys('c', uri);
      assert.equal(jwks.hits('/jwks'), 3, 'expired after 5 minutes');
      await Promise.all([1, 2, 3].map(() => cache.keys('other', uri)));
      assert.equal(jwks.hits('/jwks'), 4, 'concurrent first uses share one fetch');
    } finally {
      await jwks.close();
    }
  });
});

for (const backend of await backends()) {
  describe(`private_key_jwt client authentication (${backend.name})`, { skip: backend.skip }, () => {
    let db: TestDatabase;
    let s: RunningServer;
    let secretClient: { clientId: string; clientSecret: string };
    let clientId: string;
    let es256: KeyPair & { alg: string };
    let ps256: KeyPair & { alg: string };
    let rs256: KeyPair & { alg: string };
    let eddsa: KeyPair & { alg: string };
    /** A key pair the client never registered. */
    let stranger: KeyPair & { alg: string };
    let tokenUrl: string;

    before(async () => {
      db = await backend.create();
      s = await startServer(db);
      secretClient = await seedOrdersApi(s);
      tokenUrl = `${s.issuer}/token`;
      es256 = { ...(await keyPair('ES256', 'ec-1')), alg: 'ES256' };
      // One RSA key without alg signs both RS256 and PS256 (a KeyObject: a WebCrypto key is bound to one).
      const rsaKeys = generateKeyPairSync('rsa', { modulusLength: 2048 });
      const rsa: KeyPair = { privateKey: rsaKeys.privateKey, publicJwk: { ...(rsaKeys.publicKey.export({ format: 'jwk' }) as JWK), kid: 'rsa-1', use: 'sig' } };
      rs256 = { ...rsa, alg: 'RS256' };
      ps256 = { ...rsa, alg: 'PS256' };
      eddsa = { ...(await keyPair('EdDSA', 'ed-1')), alg: 'EdDSA' };
      stranger = { ...(await keyPair('ES256', 'ec-1')), alg: 'ES256' };
      const created = await s.registry.createClient({
        name: 'signer',
        type: 'confidential',
        grantTypes: ['client_credentials'],
        scopes: ['orders:read'],
        tokenEndpointAuthMethod: 'private_key_jwt',
        jwks: { keys: [es256.publicJwk, rsa.publicJwk, eddsa.publicJwk] },
      });
      clientId = created.client.clientId;
      assert.equal(created.clientSecret, undefined, 'a private_key_jwt client gets no secret');
    });
    after(async () => {
      await s?.close();
      await db?.drop();
    });

    const GRANT = { grant_type: 'client_credentials', scope: 'orders:read' };
    const withAssertion = (assertion: string, form: Record<string, string> = {}, path = '/token') =>
      postForm(`${s.issuer}${path}`, { ...GRANT, client_assertion_type: ASSERTION_TYPE, client_assertion: assertion, ...form });
    const sign = (signer = es256, options: AssertionOptions = {}, audience = tokenUrl) => makeAssertion(clientId, audience, signer, options);

    test('ES256, PS256, RS256 and EdDSA (also named Ed25519, RFC 9864) assertions authenticate the client: a client_credentials token', async () => {
      for (const signer of [es256, ps256, rs256, eddsa, { ...eddsa, alg: 'Ed25519' }]) {
        const res = await withAssertion(await sign(signer));
        assert.equal(res.status, 200, `${signer.alg}: ${res.text}`);
        assert.equal(res.body.token_type, 'Bearer');
        assert.equal(res.body.scope, 'orders:read');
        const claims = JSON.parse(Buffer.from(res.body.access_token.split('.')[1], 'base64url').toString());
        assert.equal(claims.client_id, clientId, signer.alg);
      }
    });

    test('aud may be the issuer or the token endpoint URL, and client_id may accompany the assertion', async () => {
      assert.equal((await withAssertion(await sign(es256, {}, s.issuer))).status, 200, 'aud = issuer');
      assert.equal((await withAssertion(await sign(es256, {}, tokenUrl))).status, 200, 'aud = token endpoint');
      assert.equal((await withAssertion(await sign(es256, { claims: { aud: [s.issuer] } }))).status, 200, 'aud = [issuer]');
      assert.equal((await withAssertion(await sign(es256), { client_id: clientId })).status, 200, 'with client_id');
      assert.equal((await withAssertion(await sign(es256, { kid: undefined }))).status, 200, 'no kid: the key is found by type');
    });

    test('alg none is refused (CVE-2022-23540)', async () => {
      const claims = { iss: clientId, sub: clientId, aud: tokenUrl, exp: now() + 60, jti: 'none-1' };
      assertInvalidClient(await withAssertion(unsignedJwt(claims)), 'alg none');
    });

    test('HS256 is refused with any secret, including the public key itself (CVE-2022-23541)', async () => {
      for (const [label, secret] of [
        ['random secret', randomBytes(32)],
        ['the public JWK as HMAC key', Buffer.from(JSON.stringify(es256.publicJwk))],
        ['the x coordinate', Buffer.from(es256.publicJwk.x!, 'base64url')],
      ] as const) {
        assertInvalidClient(await withAssertion(await sign(es256, { alg: 'HS256', key: new Uint8Array(secret) })), `HS256 ${label}`);
      }
    });

    test('iss and sub must both be the client_id (RFC 7523 §3)', async () => {
      assertInvalidClient(await withAssertion(await sign(es256, { claims: { iss: 'someone-else' } })), 'wrong iss');
      assertInvalidClient(await withAssertion(await sign(es256, { claims: { iss: undefined } })), 'no iss');
      assertInvalidClient(await withAssertion(await sign(es256, { claims: { sub: secretClient.clientId } })), 'sub of another client');
      assertInvalidClient(await withAssertion(await sign(es256, { claims: { sub: 'no-such-client' } })), 'unknown sub');
      assertInvalidClient(await withAssertion(await sign(es256, { claims: { sub: undefined } })), 'no sub');
      assertInvalidClient(await withAssertion(await sign(es256), { client_id: secretClient.clientId }), 'client_id differs from sub');
    });

    test('aud must name this server: the issuer or the token endpoint, and nobody else', async () => {
      assertInvalidClient(await withAssertion(await sign(es256, {}, 'https://other.example.com')), 'other audience');
      assertInvalidClient(await withAssertion(await sign(es256, {}, `${s.issuer}/introspect`)), 'the introspection URL');
      assertInvalidClient(await withAssertion(await sign(es256, {}, `${s.issuer}/`)), 'issuer with a slash');
      assertInvalidClient(await withAssertion(await sign(es256, { claims: { aud: undefined } })), 'no aud');
      assertInvalidClient(await withAssertion(await sign(es256, { claims: { aud: [s.issuer, 'https://evil.example'] } })), 'aud list with another server');
    });

    test('exp is required, short and not past; iat not in the future', async () => {
      assertInvalidClient(await withAssertion(await sign(es256, { claims: { exp: undefined } })), 'no exp');
      assertInvalidClient(await withAssertion(await sign(es256, { claims: { exp: now() + 3600 } })), 'exp an hour ahead');
      assertInvalidClient(await withAssertion(await sign(es256, { claims: { exp: now() + 400 } })), 'exp 400 s ahead');
      assertInvalidClient(await withAssertion(await sign(es256, { claims: { exp: now() - 60 } })), 'expired');
      assertInvalidClient(await withAssertion(await sign(es256, { claims: { iat: now() + 120 } })), 'iat in the future');
      assertInvalidClient(await withAssertion(await sign(es256, { claims: { nbf: now() + 120 } })), 'nbf in the future');
      assert.equal((await withAssertion(await sign(es256, { claims: { exp: now() + 290 } }))).status, 200, 'exp within 5 minutes');
      assert.equal((await withAssertion(await sign(es256, { claims: { iat: undefined } }))).status, 200, 'iat is optional');
      // RFC 7519 §2: NumericDate values may have a fraction (PostgreSQL once answered 500 to this).
      const fractional = await sign(es256, { claims: { exp: now() + 60.5 } });
      assert.equal((await withAssertion(fractional)).status, 200, 'exp with a fraction');
      assertInvalidClient(await withAssertion(fractional), 'and it is single use too');
    });

    test('jti is required and single use: a replay is invalid_client (fosite CVE-2020-15222)', async () => {
      assertInvalidClient(await withAssertion(await sign(es256, { claims: { jti: undefined } })), 'no jti');
      assertInvalidClient(await withAssertion(await sign(es256, { claims: { jti: 42 } })), 'numeric jti');
      const assertion = await sign(es256);
      assert.equal((await withAssertion(assertion)).status, 200, 'first use');
      assertInvalidClient(await withAssertion(assertion), 'replayed');
      // The same jti in a new assertion is a replay too.
      const jti = randomBytes(8).toString('hex');
      assert.equal((await withAssertion(await sign(es256, { claims: { jti } }))).status, 200);
      assertInvalidClient(await withAssertion(await sign(rs256, { claims: { jti } })), 'same jti, another signature');
      // ...and at another endpoint.
      const other = await sign(es256);
      assert.equal((await withAssertion(other)).status, 200);
      assertInvalidClient(await withAssertion(other, { token: 'x' }, '/introspect'), 'replayed at /introspect');
    });

    test('simultaneous uses of one assertion: exactly one succeeds', async () => {
      const assertion = await sign(es256);
      const results = await Promise.all(Array.from({ length: 12 }, () => withAssertion(assertion)));
      assert.equal(results.filter((r) => r.status === 200).length, 1, results.map((r) => r.status).join(','));
      for (const r of results.filter((r) => r.status !== 200)) assertInvalidClient(r, 'concurrent replay');
    });

    test('an assertion signed by a key not in the client JWKS is refused, whatever its kid', async () => {
      assertInvalidClient(await withAssertion(await sign(stranger)), 'same kid, other key');
      assertInvalidClient(await withAssertion(await sign(stranger, { kid: 'unknown-kid' })), 'unknown kid');
      assertInvalidClient(await withAssertion(await sign(stranger, { kid: undefined })), 'no kid');
      assertInvalidClient(await withAssertion(await sign(es256, { kid: 'rsa-1' })), 'kid of a key of another type');
      // The client's own key used with an algorithm its JWK does not allow.
      const edAsEs = await sign(eddsa, { alg: 'ES256', key: es256.privateKey, kid: 'ed-1' });
      assertInvalidClient(await withAssertion(edAsEs), 'kid of an EdDSA key, ES256 signature');
    });

    test('a key in the assertion header (jwk, jku, x5u) is never used (Authlib CVE-2026-27962)', async () => {
      const claims = { iss: clientId, sub: clientId, aud: tokenUrl, exp: now() + 60, jti: randomBytes(8).toString('hex') };
      const assertion = await new SignJWT(claims)
        .setProtectedHeader({ alg: 'ES256', jwk: stranger.publicJwk, jku: 'https://evil.example/jwks' })
        .sign(stranger.privateKey);
      assertInvalidClient(await withAssertion(assertion), 'embedded jwk');
    });

    test('malformed assertions are invalid_client; a missing half or two methods at once are invalid_request', async () => {
      const assertion = await sign(es256);
      assertInvalidClient(await withAssertion('not-a-jwt'), 'garbage');
      assertInvalidClient(await withAssertion('a.b.c'), 'three garbage parts');
      assertInvalidClient(await withAssertion(`${'a'.repeat(9000)}.b.c`), 'too long');
      const wrongType = await postForm(tokenUrl, { ...GRANT, client_assertion_type: 'urn:example:other', client_assertion: assertion });
      assertInvalidClient(wrongType, 'unsupported client_assertion_type');
      assertInvalidRequest(await postForm(tokenUrl, { ...GRANT, client_assertion: await sign(es256) }), 'assertion without type');
      assertInvalidRequest(await postForm(tokenUrl, { ...GRANT, client_assertion_type: ASSERTION_TYPE }), 'type without assertion');
      // OAuth 2.1 §2.4: one method per request.
      const basicToo = await postForm(
        tokenUrl,
        { ...GRANT, client_assertion_type: ASSERTION_TYPE, client_assertion: await sign(es256) },
        { basic: [secretClient.clientId, secretClient.clientSecret] },
      );
      assertInvalidRequest(basicToo, 'Basic and an assertion');
      const postToo = await withAssertion(await sign(es256), { client_id: clientId, client_secret: 'whatever' });
      assertInvalidRequest(postToo, 'client_secret and an assertion');
      const repeated = await postForm(tokenUrl, {
        ...GRANT,
        client_assertion_type: ASSERTION_TYPE,
        client_assertion: [await sign(es256), await sign(es256)],
      });
      assertInvalidRequest(repeated, 'client_assertion repeated');
    });

    test('the registered method is enforced: no secret method for a private_key_jwt client, no assertion for a secret client', async () => {
      assertInvalidClient(await postForm(tokenUrl, GRANT, { basic: [clientId, 'anything'] }), 'Basic');
      assertInvalidClient(await postForm(tokenUrl, { ...GRANT, client_id: clientId, client_secret: 'anything' }), 'client_secret_post');
      assertInvalidClient(await postForm(tokenUrl, { ...GRANT, client_id: clientId }), 'client_id alone (none)');
      // A secret client presenting an assertion (signed with a key it never registered, since it has none).
      const forSecretClient = await makeAssertion(secretClient.clientId, tokenUrl, es256);
      assertInvalidClient(await withAssertion(forSecretClient), 'assertion from a client_secret_basic client');
    });

    test('works at /introspect and /revoke too', async () => {
      const issued = await withAssertion(await sign(es256));
      assert.equal(issued.status, 200, issued.text);
      const token = issued.body.access_token as string;
      const introspected = await withAssertion(await sign(eddsa, {}, s.issuer), { token }, '/introspect');
      assert.equal(introspected.status, 200, introspected.text);
      assert.equal(introspected.body.active, true);
      assert.equal(introspected.body.client_id, clientId);
      assertInvalidClient(await withAssertion(await sign(stranger), { token }, '/introspect'), '/introspect, foreign key');
      assertInvalidClient(await withAssertion(await sign(es256, {}, `${s.issuer}/introspect`), { token }, '/introspect'), '/introspect, aud = introspection URL');
      assertInvalidClient(await withAssertion(await sign(stranger), { token }, '/revoke'), '/revoke, foreign key');
      const revoked = await withAssertion(await sign(rs256), { token }, '/revoke');
      assert.equal(revoked.status, 200, revoked.text);
      const after = await withAssertion(await sign(ps256), { token }, '/introspect');
      assert.deepEqual(after.body, { active: false });
    });

    test('works at /device_authorization (RFC 8628 §3.1: the client authenticates as at the token endpoint)', async () => {
      const device = await s.registry.createClient({
        name: 'tv',
        type: 'confidential',
        grantTypes: ['urn:ietf:params:oauth:grant-type:device_code'],
        scopes: ['orders:read'],
        tokenEndpointAuthMethod: 'private_key_jwt',
        jwks: { keys: [es256.publicJwk] },
      });
      const id = device.client.clientId;
      const assertion = await makeAssertion(id, s.issuer, es256);
      const form = { scope: 'orders:read', client_assertion_type: ASSERTION_TYPE, client_assertion: assertion };
      const res = await postForm(`${s.issuer}/device_authorization`, form);
      assert.equal(res.status, 200, res.text);
      assert.equal(typeof res.body.device_code, 'string');
      assertInvalidClient(await postForm(`${s.issuer}/device_authorization`, form), 'replayed at /device_authorization');
      const foreign = await makeAssertion(id, s.issuer, stranger);
      assertInvalidClient(await postForm(`${s.issuer}/device_authorization`, { ...form, client_assertion: foreign }), 'foreign key');
    });

    test('interop: openid-client PrivateKeyJwt gets, introspects and revokes a token (ES256 and EdDSA)', async () => {
      for (const signer of [es256, eddsa]) {
        const auth = openidClient.PrivateKeyJwt({ key: signer.privateKey as CryptoKey, kid: signer.publicJwk.kid });
        const config = await openidClient.discovery(new URL(s.issuer), clientId, undefined, auth, {
          execute: [openidClient.allowInsecureRequests],
        });
        const tokens = await openidClient.clientCredentialsGrant(config, { scope: 'orders:read' });
        assert.equal(tokens.scope, 'orders:read', signer.alg);
        assert.equal((await openidClient.tokenIntrospection(config, tokens.access_token)).active, true, signer.alg);
        await openidClient.tokenRevocation(config, tokens.access_token);
        assert.equal((await openidClient.tokenIntrospection(config, tokens.access_token)).active, false, signer.alg);
      }
    });

    test('used jti values are kept until the assertion expires, then purged by the janitor', async () => {
      const exp = now() + 60;
      const assertion = await sign(es256, { claims: { exp } });
      assert.equal((await withAssertion(assertion)).status, 200);
      const kysely = s.server.context.storage.db.kysely;
      const count = async () => Number((await kysely.selectFrom('replay_cache').select((eb) => eb.fn.countAll().as('n')).executeTakeFirstOrThrow()).n);
      const rows = await kysely.selectFrom('replay_cache').selectAll().execute();
      assert.ok(rows.every((r) => r.type === 'client_assertion'), 'jti values live under their own type (docs/security.md C31)');
      assert.ok(rows.every((r) => !r.value.includes(clientId)), 'stored hashed');
      const before = await count();
      assert.ok(before > 0);
      await new Janitor(s.server.context).runOnce(now());
      assert.equal(await count(), before, 'nothing purged before expiry');
      await new Janitor(s.server.context).runOnce(exp + 3600);
      assert.equal(await count(), 0);
    });

    test('discovery lists private_key_jwt and its signing algorithms at every endpoint that authenticates clients', async () => {
      for (const path of ['/.well-known/oauth-authorization-server', '/.well-known/openid-configuration']) {
        const body = (await (await fetch(`${s.issuer}${path}`)).json()) as Record<string, string[]>;
        for (const endpoint of ['token', 'introspection', 'revocation']) {
          assert.ok(body[`${endpoint}_endpoint_auth_methods_supported`]?.includes('private_key_jwt'), `${path} ${endpoint}`);
          assert.deepEqual(body[`${endpoint}_endpoint_auth_signing_alg_values_supported`], ['ES256', 'PS256', 'RS256', 'EdDSA', 'Ed25519']);
        }
      }
    });

    describe('registration', () => {
      const base = { name: 'k', type: 'confidential' as const, grantTypes: ['client_credentials'], scopes: ['orders:read'] };
      const pkj = { ...base, tokenEndpointAuthMethod: 'private_key_jwt' as const };
      const refused = async (input: Parameters<RunningServer['registry']['createClient']>[0], pattern: RegExp, label: string) => {
        await assert.rejects(s.registry.createClient(input), (err: Error & { code?: string }) => {
          assert.equal(err.code, 'invalid', label);
          assert.match(err.message, pattern, label);
          return true;
        });
      };

      test('a private_key_jwt client registers exactly one of a JWKS or a jwks_uri, and only it has keys', async () => {
        await refused(pkj, /exactly one/, 'neither');
        await refused({ ...pkj, jwks: { keys: [es256.publicJwk] }, jwksUri: 'https://keys.example.com/jwks' }, /exactly one/, 'both');
        await refused({ ...base, jwks: { keys: [es256.publicJwk] } }, /only for the private_key_jwt/, 'jwks on a secret client');
        await refused({ ...base, jwksUri: 'https://keys.example.com/jwks' }, /only for the private_key_jwt/, 'jwks_uri on a secret client');
        await refused({ ...pkj, type: 'public', grantTypes: ['authorization_code'], redirectUris: ['https://app.example/cb'], jwks: { keys: [es256.publicJwk] } }, /does not fit a public client/, 'public');
        const byUri = await s.registry.createClient({ ...pkj, jwksUri: 'https://keys.example.com/jwks' });
        assert.equal(byUri.client.jwksUri, 'https://keys.example.com/jwks');
        assert.equal(byUri.client.jwks, null);
        assert.equal(byUri.client.secretHash, null);
        await assert.rejects(s.registry.rotateSecret(byUri.client.clientId), /no secret/);
      });

      test('an inline JWKS holds public signing keys of accepted kinds only', async () => {
        const { privateKey } = await generateKeyPair('ES256', { extractable: true });
        const privateJwk = await exportJWK(privateKey);
        await refused({ ...pkj, jwks: { keys: [privateJwk] } }, /private or secret key material \("d"\)/, 'private EC key');
        await refused({ ...pkj, jwks: { keys: [{ kty: 'oct', k: 'c2VjcmV0' }] } }, /"k"/, 'symmetric key');
        await refused({ ...pkj, jwks: { keys: [{ ...es256.publicJwk, alg: 'HS256' }] } }, /alg "HS256"/, 'HS256 alg');
        await refused({ ...pkj, jwks: { keys: [{ ...es256.publicJwk, alg: 'none' }] } }, /alg "none"/, 'none alg');
        await refused({ ...pkj, jwks: { keys: [{ ...es256.publicJwk, use: 'enc' }] } }, /use "enc"/, 'encryption key');
        const p384 = await exportJWK((await generateKeyPair('ES384')).publicKey);
        await refused({ ...pkj, jwks: { keys: [p384] } }, /P-256/, 'P-384');
        const rsa1024 = generateKeyPairSync('rsa', { modulusLength: 1024 }).publicKey.export({ format: 'jwk' });
        await refused({ ...pkj, jwks: { keys: [rsa1024] } }, /shorter than 2048/, 'RSA 1024');
        await refused({ ...pkj, jwks: { keys: [{ ...es256.publicJwk, x: 'AAAA' }] } }, /not a valid public key/, 'broken key');
        await refused({ ...pkj, jwks: { keys: [es256.publicJwk, { ...eddsa.publicJwk, kid: 'ec-1' }] } }, /same kid/, 'duplicate kid');
        await refused({ ...pkj, jwks: { keys: [] } }, /1-20 keys/, 'empty');
        await refused({ ...pkj, jwks: [es256.publicJwk] }, /"keys" array/, 'a bare array');
      });

      test('a jwks_uri is an https URL without userinfo or fragment (http only for a loopback literal)', async () => {
        for (const [uri, pattern] of [
          ['http://keys.example.com/jwks', /https/],
          ['http://localhost:8080/jwks', /https/],
          ['https://user:pw@keys.example.com/jwks', /userinfo/],
          ['https://user@keys.example.com/jwks', /userinfo/],
          ['https://keys.example.com/jwks#frag', /fragment/],
          ['file:///etc/passwd', /https/],
          ['javascript:alert(1)', /https/],
          ['/relative', /absolute/],
          [`https://keys.example.com/${'a'.repeat(2100)}`, /characters/],
        ] as const) {
          await refused({ ...pkj, jwksUri: uri }, pattern, uri.slice(0, 60));
        }
        const loopback = await s.registry.createClient({ ...pkj, jwksUri: 'http://127.0.0.1:9/jwks' });
        assert.equal(loopback.client.jwksUri, 'http://127.0.0.1:9/jwks');
      });
    });

    describe('jwks_uri', () => {
      let dev: RunningServer;
      let jwksServer: Awaited<ReturnType<typeof startJwksServer>>;
      let rotated: KeyPair & { alg: string };

      before(async () => {
        // A second server on the same database, with the development option on.
        dev = await startServer(db, { allowLoopbackJwksUri: true });
        rotated = { ...(await keyPair('ES256', 'ec-2')), alg: 'ES256' };
        const { privateKey } = await generateKeyPair('ES256', { extractable: true });
        jwksServer = await startJwksServer({
          '/jwks': json({ keys: [es256.publicJwk, { kty: 'RSA', use: 'enc', n: 'AQAB', e: 'AQAB' }] }),
          '/big': json({ keys: [es256.publicJwk], padding: 'x'.repeat(70 * 1024) }),
          '/redirect': (res) => res.writeHead(302, { location: '/jwks' }).end(),
          '/private': json({ keys: [{ ...(await exportJWK(privateKey)), kid: 'ec-1' }] }),
          '/rotating': json({ keys: [es256.publicJwk] }),
        });
      });
      after(async () => {
        await jwksServer?.close();
        await dev?.close();
      });

      const register = async (path: string) =>
        (
          await dev.registry.createClient({
            name: `uri${path}`,
            type: 'confidential',
            grantTypes: ['client_credentials'],
            scopes: ['orders:read'],
            tokenEndpointAuthMethod: 'private_key_jwt',
            jwksUri: jwksServer.url(path),
          })
        ).client.clientId;
      const tokenAt = async (server: RunningServer, id: string, signer = es256, options: AssertionOptions = {}) =>
        postForm(`${server.issuer}/token`, {
          ...GRANT,
          client_assertion_type: ASSERTION_TYPE,
          client_assertion: await makeAssertion(id, `${server.issuer}/token`, signer, options),
        });

      test('with LATCHKEY_ALLOW_LOOPBACK_JWKS_URI, keys are fetched from the jwks_uri once and cached', async () => {
        const id = await register('/jwks');
        const before = jwksServer.hits('/jwks');
        const first = await tokenAt(dev, id);
        assert.equal(first.status, 200, first.text);
        assert.equal((await tokenAt(dev, id)).status, 200);
        assert.equal(jwksServer.hits('/jwks') - before, 1, 'fetched once, then cached');
        assertInvalidClient(await tokenAt(dev, id, stranger), 'a key the document does not hold');
      });

      test('in production mode (the default) the loopback jwks_uri is never fetched', async () => {
        const id = await register('/jwks');
        const before = jwksServer.hits('/jwks');
        assertInvalidClient(await tokenAt(s, id), 'production server');
        assert.equal(jwksServer.hits('/jwks'), before, 'no request reached the JWKS server');
        assert.match(s.logs(), /jwks_uri uses http/);
      });

      test('a document over 64 KiB, a redirect, or private key material: invalid_client', async () => {
        assertInvalidClient(await tokenAt(dev, await register('/big')), 'too large');
        const jwksBefore = jwksServer.hits('/jwks');
        assertInvalidClient(await tokenAt(dev, await register('/redirect')), 'redirect');
        assert.equal(jwksServer.hits('/jwks'), jwksBefore, 'the redirect was not followed');
        assertInvalidClient(await tokenAt(dev, await register('/private')), 'private keys published');
        assertInvalidClient(await tokenAt(dev, await register('/missing')), '404');
      });

      test('an unknown kid refetches at most once per cooldown: a flood of unknown kids is not a flood of fetches', async () => {
        const id = await register('/rotating');
        assert.equal((await tokenAt(dev, id)).status, 200);
        assert.equal(jwksServer.hits('/rotating'), 1);
        jwksServer.routes['/rotating'] = json({ keys: [es256.publicJwk, rotated.publicJwk] });
        for (let i = 0; i < 5; i++) assertInvalidClient(await tokenAt(dev, id, rotated), `unknown kid ${i}`);
        assert.equal(jwksServer.hits('/rotating'), 1, 'within the 30 s cooldown nothing is fetched again');
        // The cache's own test shows the refetch after the cooldown; a fresh node fetches the new set.
        const other = await startServer(db, { allowLoopbackJwksUri: true });
        try {
          assert.equal((await tokenAt(other, id, rotated)).status, 200);
        } finally {
          await other.close();
        }
      });
    });

    describe('CLI', () => {
      let dir: string;
      before(() => {
        dir = mkdtempSync(join(tmpdir(), 'latchkey-jwks-'));
      });
      after(() => rmSync(dir, { recursive: true, force: true }));

      test('clients create --auth-method private_key_jwt --jwks-file FILE | --jwks-uri URI, and clients show', async () => {
        const file = join(dir, 'jwks.json');
        writeFileSync(file, JSON.stringify({ keys: [es256.publicJwk] }));
        const env = dbEnv(db);
        const common = ['clients', 'create', '--name', 'cli-signer', '--type', 'confidential', '--grant-types', 'client_credentials', '--scopes', 'orders:read', '--auth-method', 'private_key_jwt'];
        const created = await runLatchkey([...common, '--jwks-file', file, '--json'], env);
        assert.equal(created.code, 0, created.stderr);
        const out = JSON.parse(created.stdout);
        assert.equal(out.client_secret, undefined);
        assert.equal(out.client.token_endpoint_auth_method, 'private_key_jwt');
        assert.deepEqual(out.client.jwks, { keys: [es256.publicJwk] });
        // The registered client authenticates at once.
        const res = await postForm(tokenUrl, {
          ...GRANT,
          client_assertion_type: ASSERTION_TYPE,
          client_assertion: await makeAssertion(out.client_id, tokenUrl, es256),
        });
        assert.equal(res.status, 200, res.text);

        const text = await runLatchkey([...common, '--jwks-file', file], env);
        assert.equal(text.code, 0, text.stderr);
        assert.match(text.stdout, /no secret/);
        assert.doesNotMatch(text.stdout, /client_secret:/);

        const byUri = await runLatchkey([...common, '--jwks-uri', 'https://keys.example.com/jwks', '--json'], env);
        assert.equal(byUri.code, 0, byUri.stderr);
        const uriClient = JSON.parse(byUri.stdout).client_id;
        const shown = await runLatchkey(['clients', 'show', uriClient], env);
        assert.match(shown.stdout, /auth method: private_key_jwt/);
        assert.match(shown.stdout, /jwks_uri:\s+https:\/\/keys\.example\.com\/jwks/);
        const shownInline = await runLatchkey(['clients', 'show', out.client_id], env);
        assert.match(shownInline.stdout, /jwks:\s+EC ES256 kid=ec-1/);
      });

      test('bad key files and URIs are refused with exit code 1', async () => {
        const env = dbEnv(db);
        const common = ['clients', 'create', '--name', 'bad', '--type', 'confidential', '--grant-types', 'client_credentials', '--scopes', 'orders:read', '--auth-method', 'private_key_jwt'];
        const notJson = join(dir, 'not.json');
        writeFileSync(notJson, '-----BEGIN PRIVATE KEY-----');
        const privateFile = join(dir, 'private.json');
        writeFileSync(privateFile, JSON.stringify({ keys: [await exportJWK((await generateKeyPair('ES256', { extractable: true })).privateKey)] }));
        for (const [args, pattern] of [
          [['--jwks-file', join(dir, 'missing.json')], /cannot read --jwks-file/],
          [['--jwks-file', notJson], /not JSON/],
          [['--jwks-file', privateFile], /private or secret key material/],
          [['--jwks-uri', 'http://keys.example.com/jwks'], /https/],
          [[], /exactly one/],
        ] as const) {
          const res = await runLatchkey([...common, ...args], env);
          assert.equal(res.code, 1, `${args.join(' ')}: ${res.stderr}`);
          assert.match(res.stderr, pattern);
          assert.doesNotMatch(res.stderr, /BEGIN PRIVATE KEY/);
        }
      });
    });
  });
}
