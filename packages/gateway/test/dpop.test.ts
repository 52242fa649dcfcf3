import assert from 'node:assert/strict';
import { createHash, randomUUID, X509Certificate } from 'node:crypto';
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import Fastify, { type FastifyInstance } from 'fastify';
import { calculateJwkThumbprint, exportJWK, generateKeyPair, SignJWT, type CryptoKey, type JWK } from 'jose';
import { createMemoryReplayCache, createValidator } from '@latchkey/resource-server';
import { bearerAuth } from '@latchkey/resource-server/fastify';
import { API, selfSignedCertificate, type Latchkey, type TestCertificate, startLatchkey } from '@latchkey/testing';
import { parseConfig } from '../src/config/parse.ts';
import { baseConfig, metricValue, startGateway, startUpstream, type RunningGateway, type Upstream } from './helpers.ts';

/**
 * Sender-constrained tokens at the edge, against a real Latchkey server and real upstreams: DPoP-bound
 * tokens (RFC 9449) with proofs whose `htu` is the gateway's public URL of the route, the route's
 * `dpop` mode, what reaches the upstream (never the proof, unless a passthrough route forwards it),
 * and certificate-bound tokens (RFC 8705) checked against a trusted proxy's `Client-Cert` (RFC 9440).
 */
const PUBLIC = 'https://gateway.example.com';
const ALGS = 'algs="ES256 ES384 PS256 RS256 EdDSA"';

interface Key {
  jkt: string;
  jwk: JWK;
  privateKey: CryptoKey;
  proof(htm: string, htu: string, token: string, jti?: string): Promise<string>;
}

async function dpopKey(): Promise<Key> {
  const { privateKey, publicKey } = await generateKeyPair('ES256');
  const jwk: JWK = await exportJWK(publicKey);
  const sign = (key: CryptoKey, claims: Record<string, unknown>) =>
    new SignJWT(claims).setProtectedHeader({ alg: 'ES256', typ: 'dpop+jwt', jwk }).sign(key);
  return {
    jkt: await calculateJwkThumbprint(jwk, 'sha256'),
    jwk,
    privateKey,
    proof: (htm, htu, token, jti = randomUUID()) =>
      sign(privateKey, { htm, htu, iat: Math.floor(Date.now() / 1000), jti, ath: createHash('sha256').update(token).digest('base64url') }),
  };
}

describe('DPoP and certificate-bound tokens at the edge', () => {
  let latchkey: Latchkey;
  let upstream: Upstream;
  /** An upstream that checks DPoP itself (the proof forwarded by a passthrough route), with its own replay store. */
  let checking: FastifyInstance;
  let gw: RunningGateway;
  let key: Key;
  let bound: string;
  let plain: string;

  /** An access token with honest claims and `extra`, signed with the issuer's key (until the issuer binds tokens itself). */
  async function issuerToken(extra: Record<string, unknown>): Promise<string> {
    const signer = await latchkey.running.server.context.keys.signer('ES256');
    const now = Math.floor(Date.now() / 1000);
    return new SignJWT({ client_id: latchkey.reader[0], scope: 'orders:read', ...extra })
      .setProtectedHeader({ alg: 'ES256', kid: signer.kid, typ: 'at+jwt' })
      .setIssuer(latchkey.issuer)
      .setSubject(latchkey.reader[0])
      .setAudience(API)
      .setIssuedAt(now)
      .setExpirationTime(now + 300)
      .setJti(randomUUID())
      .sign(signer.key);
  }

  before(async () => {
    latchkey = await startLatchkey();
    upstream = await startUpstream();
    checking = Fastify();
    checking.get('/checked', {
      preHandler: bearerAuth(createValidator({ issuer: latchkey.issuer, audience: API }), {
        dpop: { mode: 'required', publicUrl: PUBLIC, replay: createMemoryReplayCache() },
      }),
    }, async (request) => ({ sub: request.auth.sub }));
    await checking.listen({ port: 0, host: '127.0.0.1' });
    const checkingUrl = `http://127.0.0.1:${(checking.server.address() as AddressInfo).port}`;
    const route = (name: string, extra: Record<string, unknown>) => ({
      name,
      prefix: `/${name}`,
      upstream: upstream.url,
      audience: API,
      methods: { GET: ['orders:read'], POST: ['orders:read'] },
      ...extra,
    });
    gw = await startGateway(
      baseConfig(latchkey, [
        route('orders', {}),
        route('strict', { dpop: 'required', forward: { mode: 'passthrough', dpopProof: true } }),
        route('legacy', { dpop: 'disabled', forward: { mode: 'passthrough' } }),
        route('relay', { forward: { mode: 'passthrough' } }),
        route('checked', { upstream: checkingUrl, dpop: 'required', forward: { mode: 'passthrough', dpopProof: true } }),
      ], { trustedProxies: ['127.0.0.1'] }),
    );
    key = await dpopKey();
    bound = await issuerToken({ cnf: { jkt: key.jkt } });
    plain = await latchkey.token();
  });
  after(async () => {
    await gw?.close();
    await checking?.close();
    await upstream?.close();
    await latchkey?.close();
  });

  const call = (path: string, headers: Record<string, string>, method = 'GET') => fetch(`${gw.url}${path}`, { method, headers });
  const dpop = async (path: string, token = bound, method = 'GET') => ({
    authorization: `DPoP ${token}`,
    dpop: await key.proof(method, `${PUBLIC}${path}`, token),
  });

  test('a DPoP-bound token with a proof for the route\'s public URL passes; the upstream gets the claims, not the proof', async () => {
    const res = await call('/orders/1?x=2', await dpop('/orders/1'));
    assert.equal(res.status, 200);
    const received = upstream.last();
    assert.equal(received.url, '/orders/1?x=2');
    assert.equal(received.headers['x-auth-subject'], latchkey.reader[0]);
    assert.equal(received.headers.dpop, undefined, 'the proof stays at the edge');
    assert.equal(received.headers.authorization, undefined);
    // The scheme is case-insensitive; POST needs a proof for POST.
    assert.equal((await call('/orders', { ...(await dpop('/orders', bound, 'POST')), authorization: `dpop ${bound}` }, 'POST')).status, 200);
  });

  test('a DPoP-bound token as Latchkey issues it (client credentials with a proof): accepted with a proof, refused as Bearer', async () => {
    const tokenUrl = `${latchkey.issuer}/token`;
    const tokenProof = await new SignJWT({ htm: 'POST', htu: tokenUrl, iat: Math.floor(Date.now() / 1000), jti: randomUUID() })
      .setProtectedHeader({ alg: 'ES256', typ: 'dpop+jwt', jwk: key.jwk })
      .sign(key.privateKey);
    const res = await fetch(tokenUrl, {
      method: 'POST',
      headers: {
        authorization: `Basic ${Buffer.from(`${latchkey.reader[0]}:${latchkey.reader[1]}`).toString('base64')}`,
        'content-type': 'application/x-www-form-urlencoded',
        dpop: tokenProof,
      },
      body: new URLSearchParams({ grant_type: 'client_credentials', scope: 'orders:read' }),
    });
    const body = (await res.json()) as { access_token: string; token_type: string };
    assert.equal(body.token_type, 'DPoP');
    assert.equal((await call('/orders', await dpop('/orders', body.access_token))).status, 200);
    assert.equal((await call('/orders', { authorization: `Bearer ${body.access_token}` })).status, 401);
  });

  test('a proof for the gateway\'s local address, another path, method or token, or a replayed one: 401 invalid_dpop_proof', async () => {
    const local = { authorization: `DPoP ${bound}`, dpop: await key.proof('GET', `${gw.url}/orders`, bound) };
    const replayed = await dpop('/orders');
    assert.equal((await call('/orders', replayed)).status, 200);
    for (const headers of [
      local,
      { authorization: `DPoP ${bound}`, dpop: await key.proof('GET', `${PUBLIC}/strict`, bound) },
      { authorization: `DPoP ${bound}`, dpop: await key.proof('POST', `${PUBLIC}/orders`, bound) },
      { authorization: `DPoP ${bound}`, dpop: await key.proof('GET', `${PUBLIC}/orders`, plain) },
      replayed,
      { authorization: `DPoP ${bound}` },
    ]) {
      const res = await call('/orders', headers);
      assert.equal(res.status, 401);
      assert.match(res.headers.get('www-authenticate')!, /^Bearer realm="gateway", DPoP realm="gateway", error="invalid_dpop_proof", error_description="[^"]+", algs=/);
      assert.equal(((await res.json()) as { error: string }).error, 'invalid_dpop_proof');
    }
    const metrics = await (await fetch(`${gw.url}/metrics`)).text();
    assert.ok(metricValue(metrics, 'latchkey_gateway_denials_total', { reason: 'invalid_dpop_proof' }) >= 6);
  });

  test('a DPoP-bound token as Bearer is refused (RFC 9449 §7.2); no token: both challenges', async () => {
    let res = await call('/orders', { authorization: `Bearer ${bound}` });
    assert.equal(res.status, 401);
    assert.equal(
      res.headers.get('www-authenticate'),
      `Bearer realm="gateway", error="invalid_token", error_description="the access token is bound to a DPoP key: present it with the DPoP scheme and a proof", DPoP realm="gateway", ${ALGS}`,
    );
    res = await call('/orders', {});
    assert.equal(res.headers.get('www-authenticate'), `Bearer realm="gateway", DPoP realm="gateway", ${ALGS}`);
    // An unbound token under the DPoP scheme.
    res = await call('/orders', await dpop('/orders', plain));
    assert.equal(res.status, 401);
    assert.match(res.headers.get('www-authenticate')!, /DPoP realm="gateway", error="invalid_token", error_description="the access token is not bound to a DPoP key/);
  });

  test('dpop: required takes DPoP only, and a passthrough route with dpopProof forwards the token under DPoP with its proof', async () => {
    let res = await call('/strict', { authorization: `Bearer ${plain}` });
    assert.equal(res.status, 401);
    assert.equal(res.headers.get('www-authenticate'), `DPoP realm="gateway", ${ALGS}`);
    const headers = await dpop('/strict');
    res = await call('/strict', headers);
    assert.equal(res.status, 200);
    assert.equal(upstream.last().headers.authorization, `DPoP ${bound}`);
    assert.equal(upstream.last().headers.dpop, headers.dpop);
  });

  test('a passthrough route without dpopProof: the token keeps its DPoP scheme, the proof does not go', async () => {
    const res = await call('/relay', await dpop('/relay'));
    assert.equal(res.status, 200);
    assert.equal(upstream.last().headers.authorization, `DPoP ${bound}`);
    assert.equal(upstream.last().headers.dpop, undefined);
    // A bearer token with a stray DPoP header: Bearer upstream, the header dropped.
    assert.equal((await call('/relay', { authorization: `Bearer ${plain}`, dpop: 'x.y.z' })).status, 200);
    assert.equal(upstream.last().headers.authorization, `Bearer ${plain}`);
    assert.equal(upstream.last().headers.dpop, undefined);
  });

  test('dpop: disabled takes Bearer only, and then refuses DPoP-bound tokens either way', async () => {
    let res = await call('/legacy', await dpop('/legacy'));
    assert.equal(res.status, 401);
    assert.equal(res.headers.get('www-authenticate'), 'Bearer realm="gateway"');
    res = await call('/legacy', { authorization: `Bearer ${bound}` });
    assert.equal(res.status, 401);
    assert.match(res.headers.get('www-authenticate')!, /^Bearer realm="gateway", error="invalid_token"/);
    assert.equal((await call('/legacy', { authorization: `Bearer ${plain}` })).status, 200);
  });

  test('an upstream that checks DPoP itself accepts the proof the gateway forwarded, once', async () => {
    const headers = await dpop('/checked');
    const res = await call('/checked', headers);
    assert.equal(res.status, 200, await res.clone().text());
    assert.deepEqual(await res.json(), { sub: latchkey.reader[0] });
    // The same proof again: the gateway's own replay store refuses it first.
    assert.equal((await call('/checked', headers)).status, 401);
  });

  describe('certificate-bound tokens (RFC 8705) behind a TLS-terminating proxy', () => {
    let alice: Buffer;
    let mallory: Buffer;
    let certBound: string;
    let untrusting: RunningGateway;
    before(async () => {
      const [a, m] = [selfSignedCertificate(), selfSignedCertificate()];
      alice = Buffer.from(new X509Certificate(a.cert).raw);
      mallory = Buffer.from(new X509Certificate(m.cert).raw);
      a.remove();
      m.remove();
      certBound = await issuerToken({ cnf: { 'x5t#S256': createHash('sha256').update(alice).digest('base64url') } });
      untrusting = await startGateway(baseConfig(latchkey, [{ name: 'orders', prefix: '/orders', upstream: upstream.url, audience: API, methods: { GET: ['orders:read'] } }]));
    });
    after(async () => {
      await untrusting?.close();
    });
    const cert = (der: Buffer) => `:${der.toString('base64')}:`;

    test('from a trusted proxy, Client-Cert with the bound certificate passes; another, or none, is 401 invalid_token', async () => {
      assert.equal((await call('/orders', { authorization: `Bearer ${certBound}`, 'client-cert': cert(alice) })).status, 200);
      assert.equal(upstream.last().headers['client-cert'], cert(alice), 'a trusted proxy\'s Client-Cert goes on');
      for (const headers of [{ 'client-cert': cert(mallory) }, {}, { 'client-cert': 'garbage' }] as Record<string, string>[]) {
        const res = await call('/orders', { authorization: `Bearer ${certBound}`, ...headers });
        assert.equal(res.status, 401);
        assert.match(res.headers.get('www-authenticate')!, /error="invalid_token", error_description="the access token is bound to a client certificate this request does not present"/);
      }
    });

    test('from any other peer, Client-Cert is ignored and never reaches the upstream', async () => {
      const res = await fetch(`${untrusting.url}/orders`, { headers: { authorization: `Bearer ${certBound}`, 'client-cert': cert(alice) } });
      assert.equal(res.status, 401);
      assert.equal((await fetch(`${untrusting.url}/orders`, { headers: { authorization: `Bearer ${plain}`, 'client-cert': cert(alice) } })).status, 200);
      assert.equal(upstream.last().headers['client-cert'], undefined);
    });
  });

  describe('certificate-bound tokens (RFC 8705) on the gateway\'s own TLS listener (listen.tls)', () => {
    let serverCert: TestCertificate;
    let alice: TestCertificate;
    let mallory: TestCertificate;
    let certBound: string;
    let tlsGateway: RunningGateway;
    before(async () => {
      [serverCert, alice, mallory] = [selfSignedCertificate(), selfSignedCertificate(), selfSignedCertificate()];
      const der = Buffer.from(new X509Certificate(alice.cert).raw);
      certBound = await issuerToken({ cnf: { 'x5t#S256': createHash('sha256').update(der).digest('base64url') } });
      tlsGateway = await startGateway({
        ...baseConfig(latchkey, [{ name: 'orders', prefix: '/orders', upstream: upstream.url, audience: API, methods: { GET: ['orders:read'] } }]),
        listen: { host: '127.0.0.1', port: 0, tls: { certFile: serverCert.certFile, keyFile: serverCert.certFile.replace(/cert\.pem$/, 'key.pem') } },
      });
    });
    after(async () => {
      await tlsGateway?.close();
      for (const c of [serverCert, alice, mallory]) c?.remove();
    });

    /** GET over TLS, presenting `client`'s certificate (or none). */
    const tlsGet = (path: string, headers: Record<string, string>, client?: TestCertificate) =>
      new Promise<{ status: number; body: string }>((resolve, reject) => {
        const req = httpsRequest(`${tlsGateway.url}${path}`, { ca: serverCert.cert, cert: client?.cert, key: client?.key, headers, agent: false }, (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => resolve({ status: res.statusCode!, body: Buffer.concat(chunks).toString() }));
        });
        req.on('error', reject);
        req.end();
      });

    test('the connection\'s certificate: the bound one passes, another or none is 401 invalid_token', async () => {
      assert.match(tlsGateway.url, /^https:/);
      assert.equal((await tlsGet('/orders', { authorization: `Bearer ${certBound}` }, alice)).status, 200);
      assert.equal(upstream.last().headers['x-forwarded-proto'], 'https');
      for (const client of [mallory, undefined]) {
        const res = await tlsGet('/orders', { authorization: `Bearer ${certBound}` }, client);
        assert.equal(res.status, 401);
        assert.match(res.body, /the access token is bound to a client certificate this request does not present/);
      }
      // A client's own Client-Cert header counts for nothing (the peer is no trusted proxy).
      const mallorysClaim = `:${Buffer.from(new X509Certificate(alice.cert).raw).toString('base64')}:`;
      assert.equal((await tlsGet('/orders', { authorization: `Bearer ${certBound}`, 'client-cert': mallorysClaim }, mallory)).status, 401);
      assert.equal((await tlsGet('/orders', { authorization: `Bearer ${plain}` })).status, 200);
    });

    test('DPoP over the TLS listener, with a certificate too: the proof names the public URL', async () => {
      const res = await tlsGet('/orders', await dpop('/orders'), alice);
      assert.equal(res.status, 200);
    });
  });

  test('two DPoP header fields: 401 invalid_dpop_proof', async () => {
    const [a, b] = [await key.proof('GET', `${PUBLIC}/orders`, bound), await key.proof('GET', `${PUBLIC}/orders`, bound)];
    const status = await new Promise<number>((resolve, reject) => {
      const req = httpRequest(`${gw.url}/orders`, { headers: { authorization: `DPoP ${bound}`, dpop: [a, b] } }, (res) => {
        res.resume();
        resolve(res.statusCode!);
      });
      req.on('error', reject);
      req.end();
    });
    assert.equal(status, 401);
  });

  test('the configuration: dpop is one of the modes; dpopProof only on passthrough routes that take DPoP; listen.tls', () => {
    const config = (route: Record<string, unknown>) => ({
      issuer: 'https://auth.example.com',
      publicUrl: PUBLIC,
      routes: [{ prefix: '/a', upstream: 'http://a.internal', audience: API, methods: { GET: [] }, ...route }],
    });
    assert.equal(parseConfig(config({})).routes[0]!.dpop, 'allowed');
    assert.equal(parseConfig(config({ dpop: 'required' })).routes[0]!.dpop, 'required');
    assert.deepEqual(parseConfig(config({ forward: { mode: 'passthrough', dpopProof: true } })).routes[0]!.forward, { mode: 'passthrough', dpopProof: true });
    for (const [route, problem] of [
      [{ dpop: 'yes' }, /routes\[0\]\.dpop: must be one of allowed, required, disabled/],
      [{ dpop: true }, /routes\[0\]\.dpop/],
      [{ forward: { mode: 'claims', dpopProof: true } }, /forward\.dpopProof: only passthrough mode/],
      [{ forward: { mode: 'passthrough', dpopProof: 'yes' } }, /forward\.dpopProof: must be true or false/],
      [{ dpop: 'disabled', forward: { mode: 'passthrough', dpopProof: true } }, /forward\.dpopProof: this route takes no DPoP/],
    ] as [Record<string, unknown>, RegExp][]) {
      assert.throws(() => parseConfig(config(route)), problem, JSON.stringify(route));
    }
    // listen.tls: both files, relative to the configuration file; nothing else.
    const tls = (value: unknown) => parseConfig({ ...config({}), listen: { port: 0, tls: value } }, { baseDir: '/etc/gw' });
    assert.deepEqual(tls({ certFile: 'c.pem', keyFile: 'k.pem' }).listen.tls, { certFile: '/etc/gw/c.pem', keyFile: '/etc/gw/k.pem', clientCaFile: undefined });
    assert.throws(() => tls({ certFile: 'c.pem' }), /listen\.tls\.keyFile: is required/);
    assert.throws(() => tls({ certFile: 'c.pem', keyFile: 'k.pem', requestCert: false }), /listen\.tls\.requestCert: unknown option/);
  });
});
