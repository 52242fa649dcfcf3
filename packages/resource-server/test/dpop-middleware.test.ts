import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { request as httpRequest } from 'node:http';
import { after, before, describe, test } from 'node:test';
import { API, dpopProver, type DpopProver, type Latchkey, startLatchkey } from '@latchkey/testing';
import { ConfigurationError, createDpopNonces, createValidator, type BearerAuthOptions } from '../src/index.ts';
import * as expressAuth from '../src/express.ts';
import * as fastifyAuth from '../src/fastify.ts';
import * as fetchAuth from '../src/fetch.ts';
import { FRAMEWORKS, type AppFactory, type RunningApp } from './helpers/apps.ts';
import { accessClaims, signWithServerKey } from './helpers/tokens.ts';

/**
 * RFC 9449 §7 at a protected resource, over real HTTP, in each framework: DPoP-bound tokens (cnf.jkt)
 * with their proofs, the downgrade to Bearer refused (§7.2), the challenges (§7.1), resource-server
 * nonces (§9), and the dpop modes.
 */
const ALGS = 'algs="ES256 ES384 PS256 RS256 EdDSA"';

describe('DPoP at the resource server', () => {
  let l: Latchkey;
  let key: DpopProver;
  /** A token bound to `key`, and a plain bearer token, both for orders:read. */
  let bound: string;
  let bearer: string;

  before(async () => {
    l = await startLatchkey();
    key = await dpopProver();
    bound = await signWithServerKey(l, accessClaims(l.issuer, { cnf: { jkt: key.jkt } }));
    bearer = await signWithServerKey(l, accessClaims(l.issuer));
  });
  after(async () => {
    await l?.close();
  });

  for (const [name, start] of FRAMEWORKS) {
    describe(name, () => {
      let app: RunningApp;
      before(async () => {
        app = await start(createValidator({ issuer: l.issuer, audience: API }));
      });
      after(async () => {
        await app?.close();
      });

      const call = (path: string, headers: Record<string, string>, method = 'GET') => fetch(`${app.url}${path}`, { method, headers });
      const proofFor = (token: string, options: { htm?: string; path?: string; signer?: DpopProver } = {}) =>
        (options.signer ?? key).proof({ htm: options.htm ?? 'GET', htu: `${app.url}${options.path ?? '/orders'}`, accessToken: token });

      test('a DPoP-bound token with its proof reaches the handler; the scheme is case-insensitive', async () => {
        for (const scheme of ['DPoP', 'dpop', 'DPOP']) {
          const res = await call('/orders', { authorization: `${scheme} ${bound}`, dpop: await proofFor(bound) });
          assert.equal(res.status, 200, scheme);
          assert.equal(((await res.json()) as { via: string }).via, name);
        }
        // POST: the proof's htm is POST; the query is not part of htu.
        const res = await call('/orders?page=2', { authorization: `DPoP ${bound}`, dpop: await proofFor(bound, { htm: 'POST' }) }, 'POST');
        assert.equal(res.status, 200);
      });

      test('no token: 401 with both challenges, Bearer and DPoP with algs (RFC 9449 §7.1, §7.2)', async () => {
        const res = await call('/orders', {});
        assert.equal(res.status, 401);
        assert.equal(res.headers.get('www-authenticate'), `Bearer realm="orders", DPoP realm="orders", ${ALGS}`);
      });

      test('a DPoP-bound token sent as Bearer is refused (RFC 9449 §7.2), even with a good proof beside it', async () => {
        for (const headers of [{ authorization: `Bearer ${bound}` }, { authorization: `Bearer ${bound}`, dpop: await proofFor(bound) }] as Record<string, string>[]) {
          const res = await call('/orders', headers);
          assert.equal(res.status, 401);
          assert.equal(
            res.headers.get('www-authenticate'),
            `Bearer realm="orders", error="invalid_token", error_description="the access token is bound to a DPoP key: present it with the DPoP scheme and a proof", DPoP realm="orders", ${ALGS}`,
          );
        }
      });

      test('a DPoP-bound token in a form body (a bearer method) is refused', async () => {
        const res = await fetch(`${app.url}/orders`, {
          method: 'POST',
          headers: { 'content-type': 'application/x-www-form-urlencoded' },
          body: `access_token=${bound}`,
        });
        assert.equal(res.status, 401);
        assert.match(res.headers.get('www-authenticate')!, /^Bearer realm="orders", error="invalid_token"/);
      });

      test('the DPoP scheme without a proof: 401 invalid_dpop_proof in the DPoP challenge', async () => {
        const res = await call('/orders', { authorization: `DPoP ${bound}` });
        assert.equal(res.status, 401);
        assert.equal(
          res.headers.get('www-authenticate'),
          `Bearer realm="orders", DPoP realm="orders", error="invalid_dpop_proof", error_description="the DPoP proof is missing", ${ALGS}`,
        );
        assert.deepEqual(await res.json(), { error: 'invalid_dpop_proof', error_description: 'the DPoP proof is missing' });
      });

      test('a token without cnf.jkt under the DPoP scheme: 401 invalid_token', async () => {
        const res = await call('/orders', { authorization: `DPoP ${bearer}`, dpop: await proofFor(bearer) });
        assert.equal(res.status, 401);
        assert.match(res.headers.get('www-authenticate')!, /DPoP realm="orders", error="invalid_token", error_description="the access token is not bound to a DPoP key/);
        // The same token as Bearer is fine.
        assert.equal((await call('/orders', { authorization: `Bearer ${bearer}` })).status, 200);
      });

      test('a stolen bound token with the thief\'s own proof: 401 invalid_dpop_proof', async () => {
        const thief = await dpopProver();
        const res = await call('/orders', { authorization: `DPoP ${bound}`, dpop: await proofFor(bound, { signer: thief }) });
        assert.equal(res.status, 401);
        assert.match(res.headers.get('www-authenticate')!, /error="invalid_dpop_proof", error_description="the DPoP proof is not signed with the key the access token is bound to"/);
      });

      test('a replayed proof, a proof for another method, URL or token: 401 invalid_dpop_proof', async () => {
        const proof = await proofFor(bound);
        assert.equal((await call('/orders', { authorization: `DPoP ${bound}`, dpop: proof })).status, 200);
        const cases: [Record<string, string>, string, RegExp][] = [
          [{ authorization: `DPoP ${bound}`, dpop: proof }, 'GET', /used before/],
          [{ authorization: `DPoP ${bound}`, dpop: await proofFor(bound, { htm: 'POST' }) }, 'GET', /another HTTP method/],
          [{ authorization: `DPoP ${bound}`, dpop: await proofFor(bound, { path: '/admin' }) }, 'GET', /another URL/],
          [{ authorization: `DPoP ${bound}`, dpop: await proofFor(bearer) }, 'GET', /not for the access token presented/],
        ];
        for (const [headers, method, description] of cases) {
          const res = await call('/orders', headers, method);
          assert.equal(res.status, 401);
          const { error, error_description: text } = (await res.json()) as { error: string; error_description: string };
          assert.equal(error, 'invalid_dpop_proof');
          assert.match(text, description);
        }
      });

      test('empty or malformed DPoP credentials: the error is in the DPoP challenge', async () => {
        let res = await call('/orders', { authorization: 'DPoP ' });
        assert.equal(res.status, 400);
        assert.equal(
          res.headers.get('www-authenticate'),
          `Bearer realm="orders", DPoP realm="orders", error="invalid_request", error_description="the DPoP credentials are empty", ${ALGS}`,
        );
        res = await call('/orders', { authorization: 'DPoP a"b', dpop: await proofFor(bound) });
        assert.equal(res.status, 401);
        assert.match(res.headers.get('www-authenticate')!, /^Bearer realm="orders", DPoP realm="orders", error="invalid_token", error_description="the access token is malformed"/);
      });

      test('two DPoP headers: 401 invalid_dpop_proof', async () => {
        const [a, b] = [await proofFor(bound), await proofFor(bound)];
        const res = await rawGet(`${app.url}/orders`, { authorization: `DPoP ${bound}`, dpop: [a, b] });
        assert.equal(res.status, 401);
        assert.match(res.body, /more than one DPoP header/);
      });

      test('a missing scope with a DPoP token: 403 insufficient_scope in the DPoP challenge', async () => {
        const res = await call('/admin', { authorization: `DPoP ${bound}`, dpop: await proofFor(bound, { path: '/admin' }) });
        assert.equal(res.status, 403);
        assert.equal(
          res.headers.get('www-authenticate'),
          `Bearer realm="orders", scope="orders:write", DPoP realm="orders", error="insufficient_scope", error_description="the access token lacks a scope this resource requires", scope="orders:write", ${ALGS}`,
        );
      });

      test('the proof is never echoed', async () => {
        const proof = await proofFor(bound, { htm: 'PUT' });
        const res = await call('/orders', { authorization: `DPoP ${bound}`, dpop: proof });
        const text = `${res.headers.get('www-authenticate')} ${await res.text()}`;
        for (const part of [...proof.split('.'), ...bound.split('.')]) assert.ok(!text.includes(part));
      });
    });
  }

  describe('modes and options', () => {
    const started: RunningApp[] = [];
    const startWith = async (factory: AppFactory, options: BearerAuthOptions) => {
      const app = await factory(createValidator({ issuer: l.issuer, audience: API }), options);
      started.push(app);
      return app;
    };
    after(async () => {
      for (const app of started) await app.close();
    });

    for (const [name, factory] of FRAMEWORKS) {
      test(`${name}: dpop 'required' takes DPoP only: a Bearer token counts as none, and the challenge is DPoP alone`, async () => {
        const app = await startWith(factory, { dpop: 'required' });
        let res = await fetch(`${app.url}/orders`, { headers: { authorization: `Bearer ${bearer}` } });
        assert.equal(res.status, 401);
        assert.equal(res.headers.get('www-authenticate'), `DPoP realm="orders", ${ALGS}`);
        const proof = await key.proof({ htm: 'GET', htu: `${app.url}/orders`, accessToken: bound });
        res = await fetch(`${app.url}/orders`, { headers: { authorization: `DPoP ${bound}`, dpop: proof } });
        assert.equal(res.status, 200);
      });

      test(`${name}: dpop 'disabled' takes Bearer only, and refuses DPoP-bound tokens either way`, async () => {
        const app = await startWith(factory, { dpop: 'disabled' });
        const proof = await key.proof({ htm: 'GET', htu: `${app.url}/orders`, accessToken: bound });
        let res = await fetch(`${app.url}/orders`, { headers: { authorization: `DPoP ${bound}`, dpop: proof } });
        assert.equal(res.status, 401);
        assert.equal(res.headers.get('www-authenticate'), 'Bearer realm="orders"');
        res = await fetch(`${app.url}/orders`, { headers: { authorization: `Bearer ${bound}` } });
        assert.equal(res.status, 401);
        assert.match(res.headers.get('www-authenticate')!, /^Bearer realm="orders", error="invalid_token", error_description="the access token is bound to a DPoP key/);
        assert.equal((await fetch(`${app.url}/orders`, { headers: { authorization: `Bearer ${bearer}` } })).status, 200);
      });

      test(`${name}: resource-server nonces (RFC 9449 §9): use_dpop_nonce with a DPoP-Nonce header, then the retry passes`, async () => {
        const nonces = createDpopNonces(randomBytes(32), 60);
        const app = await startWith(factory, { dpop: { nonce: nonces } });
        const htu = `${app.url}/orders`;
        let res = await fetch(htu, { headers: { authorization: `DPoP ${bound}`, dpop: await key.proof({ htm: 'GET', htu, accessToken: bound }) } });
        assert.equal(res.status, 401);
        const nonce = res.headers.get('dpop-nonce');
        assert.ok(nonce && nonces.isValid(nonce));
        assert.equal(
          res.headers.get('www-authenticate'),
          `Bearer realm="orders", DPoP realm="orders", error="use_dpop_nonce", error_description="the resource server requires a DPoP nonce in the proof", ${ALGS}`,
        );
        assert.equal(res.headers.get('access-control-expose-headers'), 'WWW-Authenticate, DPoP-Nonce');
        res = await fetch(htu, { headers: { authorization: `DPoP ${bound}`, dpop: await key.proof({ htm: 'GET', htu, accessToken: bound, nonce }) } });
        assert.equal(res.status, 200);
        res = await fetch(htu, { headers: { authorization: `DPoP ${bound}`, dpop: await key.proof({ htm: 'GET', htu, accessToken: bound, nonce: 'stale' }) } });
        assert.equal(((await res.json()) as { error: string }).error, 'use_dpop_nonce');
      });

      test(`${name}: dpop.publicUrl is the htu base; the local address is then refused`, async () => {
        const app = await startWith(factory, { dpop: { publicUrl: 'https://api.example.com/v1/' } });
        const good = await key.proof({ htm: 'GET', htu: 'https://api.example.com/v1/orders', accessToken: bound });
        assert.equal((await fetch(`${app.url}/orders`, { headers: { authorization: `DPoP ${bound}`, dpop: good } })).status, 200);
        const local = await key.proof({ htm: 'GET', htu: `${app.url}/orders`, accessToken: bound });
        assert.equal((await fetch(`${app.url}/orders`, { headers: { authorization: `DPoP ${bound}`, dpop: local } })).status, 401);
      });

      test(`${name}: dpop.algorithms is what proofs may use and what the challenge's algs names`, async () => {
        const app = await startWith(factory, { dpop: { algorithms: ['EdDSA'] } });
        const res = await fetch(`${app.url}/orders`, { headers: { authorization: `DPoP ${bound}`, dpop: await key.proof({ htm: 'GET', htu: `${app.url}/orders`, accessToken: bound }) } });
        assert.equal(res.status, 401);
        assert.match(res.headers.get('www-authenticate')!, /error_description="the DPoP proof uses an algorithm that is not accepted", algs="EdDSA"$/);
      });
    }

    test('a shared replay store: a proof used at one middleware is refused at another', async () => {
      const seen = new Set<string>();
      const replay = (k: string) => (seen.has(k) ? false : (seen.add(k), true));
      const a = await startWith(FRAMEWORKS[0]![1], { dpop: { replay, publicUrl: 'https://api.example.com' } });
      const b = await startWith(FRAMEWORKS[1]![1], { dpop: { replay, publicUrl: 'https://api.example.com' } });
      const proof = await key.proof({ htm: 'GET', htu: 'https://api.example.com/orders', accessToken: bound });
      assert.equal((await fetch(`${a.url}/orders`, { headers: { authorization: `DPoP ${bound}`, dpop: proof } })).status, 200);
      assert.equal((await fetch(`${b.url}/orders`, { headers: { authorization: `DPoP ${bound}`, dpop: proof } })).status, 401);
    });

    test('the default replay store is one per process: a proof used at one middleware is refused at another', async () => {
      const a = await startWith(FRAMEWORKS[0]![1], { dpop: { publicUrl: 'https://api.example.com' } });
      const b = await startWith(FRAMEWORKS[2]![1], { dpop: { publicUrl: 'https://api.example.com' } });
      const proof = await key.proof({ htm: 'GET', htu: 'https://api.example.com/orders', accessToken: bound });
      assert.equal((await fetch(`${a.url}/orders`, { headers: { authorization: `DPoP ${bound}`, dpop: proof } })).status, 200);
      assert.equal((await fetch(`${b.url}/orders`, { headers: { authorization: `DPoP ${bound}`, dpop: proof } })).status, 401);
    });

    test('a cnf this library cannot check, or a malformed one, fails closed', async () => {
      const app = await startWith(FRAMEWORKS[0]![1], {});
      for (const cnf of [{ jwk: key.jwk }, { jkt: 42 }, 'x', { jkt: key.jkt, kid: 'a' }]) {
        const token = await signWithServerKey(l, accessClaims(l.issuer, { cnf }));
        for (const scheme of ['Bearer', 'DPoP']) {
          const proof = await key.proof({ htm: 'GET', htu: `${app.url}/orders`, accessToken: token });
          const res = await fetch(`${app.url}/orders`, { headers: { authorization: `${scheme} ${token}`, dpop: proof } });
          assert.equal(res.status, 401, `${JSON.stringify(cnf)} ${scheme}`);
          assert.match(res.headers.get('www-authenticate')!, /error_description="the access token is bound to a key in a way this resource cannot check"/);
        }
      }
    });

    test('Express and Fastify honour their trust-proxy settings for htu; without them X-Forwarded-* are not believed', async () => {
      const express = (await import('express')).default;
      const { default: Fastify } = await import('fastify');
      const validator = createValidator({ issuer: l.issuer, audience: API });
      const trusting = express();
      trusting.set('trust proxy', 'loopback');
      trusting.get('/orders', expressAuth.bearerAuth(validator), (_req, res) => void res.json({ ok: true }));
      const naive = express();
      naive.get('/orders', expressAuth.bearerAuth(validator), (_req, res) => void res.json({ ok: true }));
      const fastify = Fastify({ trustProxy: '127.0.0.1' });
      fastify.get('/orders', { preHandler: fastifyAuth.bearerAuth(validator) }, async () => ({ ok: true }));
      await fastify.listen({ port: 0, host: '127.0.0.1' });
      const servers = [trusting.listen(0, '127.0.0.1'), naive.listen(0, '127.0.0.1')];
      await Promise.all(servers.map((s) => new Promise((resolve) => s.once('listening', resolve))));
      try {
        const port = (s: { address(): unknown }) => (s.address() as { port: number }).port;
        const forwarded = { 'x-forwarded-proto': 'https', 'x-forwarded-host': 'api.example.com' };
        const proof = () => key.proof({ htm: 'GET', htu: 'https://api.example.com/orders', accessToken: bound });
        const at = (p: number) => `http://127.0.0.1:${p}/orders`;
        assert.equal((await fetch(at(port(servers[0]!)), { headers: { authorization: `DPoP ${bound}`, dpop: await proof(), ...forwarded } })).status, 200);
        assert.equal((await fetch(at(port(fastify.server)), { headers: { authorization: `DPoP ${bound}`, dpop: await proof(), ...forwarded } })).status, 200);
        const res = await fetch(at(port(servers[1]!)), { headers: { authorization: `DPoP ${bound}`, dpop: await proof(), ...forwarded } });
        assert.equal(res.status, 401);
        assert.match(await res.text(), /another URL/);
      } finally {
        await fastify.close();
        for (const s of servers) {
          s.closeAllConnections();
          await new Promise((resolve) => s.close(resolve));
        }
      }
    });

    test('options are checked at creation', () => {
      const v = createValidator({ issuer: 'https://auth.example.com', audience: API });
      for (const options of [
        { dpop: 'sometimes' },
        { dpop: { mode: 'on' } },
        { dpop: { algorithms: ['HS256'] } },
        { dpop: { algorithms: ['none'] } },
        { dpop: { algorithms: [] } },
        { dpop: { publicUrl: 'api.example.com' } },
        { dpop: { publicUrl: 'https://api.example.com/?x=1' } },
        { dpop: { maxAgeSeconds: 0 } },
        { dpop: { replay: 'memory' } },
        { dpop: { nonce: 'abc' } },
        { trustedProxies: ['10.0.0.0/33'] },
        { trustedProxies: 'all' },
        { trustClientCertHeader: 'yes' },
      ] as unknown as BearerAuthOptions[]) {
        assert.throws(() => fastifyAuth.bearerAuth(v, options), ConfigurationError, JSON.stringify(options));
      }
      // Each adapter takes the certificate its own way.
      assert.throws(() => fetchAuth.withBearerAuth(v, async () => new Response(), { trustedProxies: ['127.0.0.1'] }), ConfigurationError);
      assert.throws(() => expressAuth.bearerAuth(v, { trustClientCertHeader: true }), ConfigurationError);
      assert.throws(() => fastifyAuth.bearerAuth(v, { trustClientCertHeader: true }), ConfigurationError);
    });
  });
});

/** A GET with repeated header fields (an array value is sent as several fields), which fetch would merge. */
function rawGet(url: string, headers: Record<string, string | string[]>): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(url, { method: 'GET', headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode!, body: Buffer.concat(chunks).toString() }));
    });
    req.on('error', reject);
    req.end();
  });
}
