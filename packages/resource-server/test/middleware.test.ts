import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { API, type Latchkey, startLatchkey } from '@latchkey/testing';
import { ConfigurationError, createValidator } from '../src/index.ts';
import * as fastifyAuth from '../src/fastify.ts';
import * as expressAuth from '../src/express.ts';
import * as fetchAuth from '../src/fetch.ts';
import { FRAMEWORKS, type RunningApp } from './helpers/apps.ts';
import { accessClaims, signWithServerKey } from './helpers/tokens.ts';

/** docs/security.md K70, K71 (RFC 6750 §2, §3) through real HTTP, for each framework. */
describe('middleware', () => {
  let l: Latchkey;
  let token: string;

  before(async () => {
    l = await startLatchkey();
    token = await l.token();
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

      const get = (path: string, headers: Record<string, string> = {}) => fetch(`${app.url}${path}`, { headers });
      const postForm = (path: string, form: string, headers: Record<string, string> = {}) =>
        fetch(`${app.url}${path}`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers }, body: form });

      test('a valid token reaches the handler with its claims', async () => {
        const res = await get('/orders', { authorization: `Bearer ${token}` });
        assert.equal(res.status, 200);
        const body = (await res.json()) as Record<string, unknown>;
        assert.equal(body.via, name);
        assert.equal(body.sub, l.reader[0]);
        assert.equal(body.client_id, l.reader[0]);
        assert.deepEqual(body.scope, ['orders:read']);
        assert.deepEqual(body.aud, [API]);
        if (name === 'express') assert.equal(body.locals, l.reader[0], 'res.locals.auth');
      });

      test('no token: 401 with a challenge without error code (RFC 6750 §3.1)', async () => {
        const res = await get('/orders');
        assert.equal(res.status, 401);
        assert.equal(res.headers.get('www-authenticate'), 'Bearer realm="orders", DPoP realm="orders", algs="ES256 ES384 PS256 RS256 EdDSA"');
        assert.equal(await res.text(), '');
      });

      test('another scheme counts as no token', async () => {
        const res = await get('/orders', { authorization: 'Basic dXNlcjpwYXNz' });
        assert.equal(res.status, 401);
        assert.equal(res.headers.get('www-authenticate'), 'Bearer realm="orders", DPoP realm="orders", algs="ES256 ES384 PS256 RS256 EdDSA"');
      });

      test('a bad token: 401 invalid_token, and the description does not echo it', async () => {
        const bad = `${token.slice(0, -4)}AAAA`;
        const res = await get('/orders', { authorization: `Bearer ${bad}` });
        assert.equal(res.status, 401);
        const challenge = res.headers.get('www-authenticate')!;
        assert.equal(challenge, 'Bearer realm="orders", error="invalid_token", error_description="the access token signature is invalid", DPoP realm="orders", algs="ES256 ES384 PS256 RS256 EdDSA"');
        const body = await res.text();
        assert.deepEqual(JSON.parse(body), { error: 'invalid_token', error_description: 'the access token signature is invalid' });
        assert.match(res.headers.get('content-type')!, /^application\/json/);
        for (const part of bad.split('.')) {
          assert.ok(!challenge.includes(part) && !body.includes(part), 'no part of the token is echoed');
        }
      });

      test('an expired token and a token for another API: 401 invalid_token', async () => {
        const expired = await signWithServerKey(l, accessClaims(l.issuer, { exp: Math.floor(Date.now() / 1000) - 60 }));
        let res = await get('/orders', { authorization: `Bearer ${expired}` });
        assert.equal(res.status, 401);
        assert.match(res.headers.get('www-authenticate')!, /error="invalid_token", error_description="the access token has expired"/);
        const elsewhere = await signWithServerKey(l, accessClaims(l.issuer, { aud: 'https://billing.example.com' }));
        res = await get('/orders', { authorization: `Bearer ${elsewhere}` });
        assert.equal(res.status, 401);
        assert.equal(((await res.json()) as { error: string }).error, 'invalid_token');
      });

      test('a missing scope: 403 insufficient_scope with scope= (RFC 6750 §3.1)', async () => {
        const res = await get('/admin', { authorization: `Bearer ${token}` });
        assert.equal(res.status, 403);
        assert.equal(
          res.headers.get('www-authenticate'),
          'Bearer realm="orders", error="insufficient_scope", error_description="the access token lacks a scope this resource requires", scope="orders:write", DPoP realm="orders", scope="orders:write", algs="ES256 ES384 PS256 RS256 EdDSA"',
        );
        assert.deepEqual(await res.json(), { error: 'insufficient_scope', error_description: 'the access token lacks a scope this resource requires' });
      });

      test('a token in the query string is ignored, never read (RFC 6750 §2.3, RFC 9700 §2.5)', async () => {
        let res = await get(`/orders?access_token=${token}`);
        assert.equal(res.status, 401);
        assert.equal(res.headers.get('www-authenticate'), 'Bearer realm="orders", DPoP realm="orders", algs="ES256 ES384 PS256 RS256 EdDSA"');
        // Not "more than one method" either: the query is not looked at.
        res = await get(`/orders?access_token=${token}`, { authorization: `Bearer ${token}` });
        assert.equal(res.status, 200);
      });

      test('the scheme is matched without regard to case', async () => {
        for (const scheme of ['bearer', 'BEARER', 'BeArEr']) {
          assert.equal((await get('/orders', { authorization: `${scheme} ${token}` })).status, 200, scheme);
        }
      });

      test('a form body token is accepted (RFC 6750 §2.2); header and body together: 400 invalid_request', async () => {
        let res = await postForm('/orders', `access_token=${token}`);
        assert.equal(res.status, 200);
        res = await postForm('/orders', `access_token=${token}`, { authorization: `Bearer ${token}` });
        assert.equal(res.status, 400);
        assert.equal(
          res.headers.get('www-authenticate'),
          'Bearer realm="orders", error="invalid_request", error_description="the access token was sent in more than one way", DPoP realm="orders", algs="ES256 ES384 PS256 RS256 EdDSA"',
        );
        assert.deepEqual(await res.json(), { error: 'invalid_request', error_description: 'the access token was sent in more than one way' });
        res = await postForm('/orders', `access_token=${token}&access_token=${token}`);
        assert.equal(res.status, 400);
      });

      test('empty Bearer credentials: 400 invalid_request', async () => {
        const res = await get('/orders', { authorization: 'Bearer ' });
        assert.equal(res.status, 400);
        assert.equal(((await res.json()) as { error: string }).error, 'invalid_request');
      });
    });
  }

  test('middleware options are checked at creation', () => {
    const v = createValidator({ issuer: 'https://auth.example.com', audience: API });
    assert.throws(() => fastifyAuth.bearerAuth(v, { realm: 'a"b' }), ConfigurationError);
    assert.throws(() => expressAuth.bearerAuth({} as never), ConfigurationError);
    assert.throws(() => fetchAuth.requireScopes(), ConfigurationError);
    assert.throws(() => fastifyAuth.requireScopes('orders read'), ConfigurationError);
    assert.throws(() => expressAuth.requireScopes('orders:"read'), ConfigurationError);
  });
});
