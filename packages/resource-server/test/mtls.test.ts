import assert from 'node:assert/strict';
import { createServer as createHttpServer, type IncomingMessage, type Server } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import express from 'express';
import Fastify, { type FastifyInstance } from 'fastify';
import {
  API,
  type CertifiedKey,
  dpopProver,
  type Latchkey,
  selfSignedCertificate,
  startLatchkey,
  type TestCertificate,
  testPki,
  type TestPki,
  tlsRequest,
} from '@latchkey/testing';
import { certificateThumbprint, createValidator, parseClientCertHeader, type BearerAuthOptions, type Validator } from '../src/index.ts';
import * as expressAuth from '../src/express.ts';
import * as fastifyAuth from '../src/fastify.ts';
import * as fetchAuth from '../src/fetch.ts';
import { accessClaims, signWithServerKey } from './helpers/tokens.ts';

/**
 * Certificate-bound access tokens (RFC 8705 §3) over real TLS: the API terminates TLS itself and asks
 * for client certificates (node:https, requestCert), or a trusted proxy forwards the certificate in
 * the RFC 9440 `Client-Cert` header, which is ignored from anyone else.
 */
describe('certificate-bound tokens (RFC 8705 §3)', () => {
  let l: Latchkey;
  let server: TestCertificate;
  let pki: TestPki;
  let alice: CertifiedKey;
  let mallory: CertifiedKey;
  /** A token bound to alice's certificate, and a plain one. */
  let bound: string;
  let plain: string;
  let validator: Validator;

  before(async () => {
    l = await startLatchkey();
    server = selfSignedCertificate();
    pki = testPki();
    alice = pki.client({ subject: '/CN=alice' });
    mallory = pki.client({ subject: '/CN=mallory' });
    bound = await signWithServerKey(l, accessClaims(l.issuer, { cnf: { 'x5t#S256': certificateThumbprint(alice.der) } }));
    plain = await signWithServerKey(l, accessClaims(l.issuer));
    validator = createValidator({ issuer: l.issuer, audience: API });
  });
  after(async () => {
    await l?.close();
    server?.remove();
    pki?.remove();
  });

  const tls = () => ({ key: server.key, cert: server.cert, ca: pki.ca, requestCert: true, rejectUnauthorized: false });

  /** The orders API over https (TLS terminated by the API), in Fastify and Express. */
  const tlsApps: [string, (options: BearerAuthOptions) => Promise<{ url: string; close(): Promise<void> }>][] = [
    ['fastify', async (options) => {
      const app: FastifyInstance = Fastify({ https: tls() });
      app.get('/orders', { preHandler: fastifyAuth.bearerAuth(validator, options) }, async (request) => ({ sub: request.auth.sub }));
      await app.listen({ port: 0, host: '127.0.0.1' });
      return { url: `https://127.0.0.1:${(app.server.address() as AddressInfo).port}`, close: () => app.close() };
    }],
    ['express', async (options) => {
      const app = express();
      app.get('/orders', expressAuth.bearerAuth(validator, options), (req, res) => void res.json({ sub: req.auth.sub }));
      return listen(createHttpsServer(tls(), app), 'https');
    }],
  ];

  for (const [name, start] of tlsApps) {
    describe(`${name}, terminating TLS itself`, () => {
      let app: { url: string; close(): Promise<void> };
      before(async () => {
        app = await start({});
      });
      after(async () => {
        await app?.close();
      });

      test('the token with the certificate it is bound to: 200', async () => {
        const res = await tlsRequest(`${app.url}/orders`, { ca: server.cert, client: alice, headers: { authorization: `Bearer ${bound}` } });
        assert.equal(res.status, 200, res.text);
      });

      test('with another certificate (of the same CA), or none: 401 invalid_token', async () => {
        for (const client of [mallory, undefined]) {
          const res = await tlsRequest(`${app.url}/orders`, { ca: server.cert, client, headers: { authorization: `Bearer ${bound}` } });
          assert.equal(res.status, 401);
          assert.match(
            String(res.headers['www-authenticate']),
            /^Bearer realm="api", error="invalid_token", error_description="the access token is bound to a client certificate this request does not present"/,
          );
        }
      });

      test('a Client-Cert header from a peer that is not a trusted proxy is ignored', async () => {
        const res = await tlsRequest(`${app.url}/orders`, {
          ca: server.cert,
          client: mallory,
          headers: { authorization: `Bearer ${bound}`, 'client-cert': clientCertHeader(alice.der) },
        });
        assert.equal(res.status, 401);
      });

      test('a token that is not bound passes with or without a certificate', async () => {
        for (const client of [mallory, undefined]) {
          assert.equal((await tlsRequest(`${app.url}/orders`, { ca: server.cert, client, headers: { authorization: `Bearer ${plain}` } })).status, 200);
        }
      });
    });
  }

  /** The orders API on plain HTTP behind a TLS-terminating proxy, in each framework. */
  const proxiedApps: [string, (options: BearerAuthOptions) => Promise<{ url: string; close(): Promise<void> }>][] = [
    ['fastify', async (options) => {
      const app = Fastify();
      app.get('/orders', { preHandler: fastifyAuth.bearerAuth(validator, options) }, async (request) => ({ sub: request.auth.sub }));
      await app.listen({ port: 0, host: '127.0.0.1' });
      return { url: `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`, close: () => app.close() };
    }],
    ['express', async (options) => {
      const app = express();
      app.get('/orders', expressAuth.bearerAuth(validator, options), (req, res) => void res.json({ sub: req.auth.sub }));
      return listen(createHttpServer(app), 'http');
    }],
    ['fetch', async (options) => {
      const handler = fetchAuth.withBearerAuth(validator, async (_request, auth) => Response.json({ sub: auth.sub }), options);
      return listen(createHttpServer((req, res) => {
        void handler(toRequest(req)).then(async (response) => {
          res.writeHead(response.status, Object.fromEntries(response.headers)).end(Buffer.from(await response.arrayBuffer()));
        });
      }), 'http');
    }],
  ];

  for (const [name, start] of proxiedApps) {
    describe(`${name}, behind a proxy that sends Client-Cert (RFC 9440)`, () => {
      const trustedOptions: BearerAuthOptions = name === 'fetch' ? { trustClientCertHeader: true } : { trustedProxies: ['127.0.0.0/8'] };
      let trusting: { url: string; close(): Promise<void> };
      let untrusting: { url: string; close(): Promise<void> };
      before(async () => {
        trusting = await start(trustedOptions);
        untrusting = await start(name === 'fetch' ? {} : { trustedProxies: ['10.0.0.1'] });
      });
      after(async () => {
        await trusting?.close();
        await untrusting?.close();
      });

      const get = (url: string, headers: Record<string, string>) => fetch(`${url}/orders`, { headers });

      test('from a trusted proxy: the header\'s certificate is the client\'s', async () => {
        assert.equal((await get(trusting.url, { authorization: `Bearer ${bound}`, 'client-cert': clientCertHeader(alice.der) })).status, 200);
        for (const header of [clientCertHeader(mallory.der), undefined, 'not a byte sequence', `${clientCertHeader(alice.der)}, ${clientCertHeader(alice.der)}`]) {
          const res = await get(trusting.url, { authorization: `Bearer ${bound}`, ...(header === undefined ? {} : { 'client-cert': header }) });
          assert.equal(res.status, 401, String(header));
          assert.match(res.headers.get('www-authenticate')!, /error="invalid_token", error_description="the access token is bound to a client certificate/);
        }
      });

      test('from any other peer, the header is ignored', async () => {
        const res = await get(untrusting.url, { authorization: `Bearer ${bound}`, 'client-cert': clientCertHeader(alice.der) });
        assert.equal(res.status, 401);
      });
    });
  }

  test('parseClientCertHeader reads RFC 9440 byte sequences only', () => {
    assert.deepEqual(parseClientCertHeader(` ${clientCertHeader(alice.der)} `), new Uint8Array(alice.der));
    for (const value of [undefined, '', '::', alice.der.toString('base64'), `:${alice.der.toString('base64url')}:`, ':abc:', [clientCertHeader(alice.der), clientCertHeader(alice.der)]]) {
      assert.equal(parseClientCertHeader(value), undefined, String(value));
    }
  });

  test('certificate binding and DPoP together: a token bound to both needs both', async () => {
    const key = await dpopProver();
    const both = await signWithServerKey(l, accessClaims(l.issuer, { cnf: { jkt: key.jkt, 'x5t#S256': certificateThumbprint(alice.der) } }));
    const app = await tlsApps[0]![1]({});
    try {
      const proof = () => key.proof({ htm: 'GET', htu: `${app.url}/orders`, accessToken: both });
      assert.equal((await tlsRequest(`${app.url}/orders`, { ca: server.cert, client: alice, headers: { authorization: `DPoP ${both}`, dpop: await proof() } })).status, 200);
      assert.equal((await tlsRequest(`${app.url}/orders`, { ca: server.cert, client: mallory, headers: { authorization: `DPoP ${both}`, dpop: await proof() } })).status, 401);
      assert.equal((await tlsRequest(`${app.url}/orders`, { ca: server.cert, client: alice, headers: { authorization: `Bearer ${both}` } })).status, 401);
    } finally {
      await app.close();
    }
  });
});

async function listen(server: Server, scheme: 'http' | 'https'): Promise<{ url: string; close(): Promise<void> }> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `${scheme}://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () => new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    }),
  };
}

/** RFC 9440 §2: the `Client-Cert` header value of a certificate, a Structured Field Byte Sequence. */
function clientCertHeader(der: Buffer): string {
  return `:${der.toString('base64')}:`;
}

function toRequest(req: IncomingMessage): Request {
  const headers = new Headers();
  for (const [name, value] of Object.entries(req.headers)) if (value !== undefined) headers.set(name, Array.isArray(value) ? value.join(', ') : value);
  return new Request(`http://${req.headers.host}${req.url}`, { method: req.method, headers });
}
