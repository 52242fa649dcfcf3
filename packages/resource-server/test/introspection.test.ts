import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { API, backends, countingFetch, type Latchkey, postForm, startLatchkey } from '@latchkey/testing';
import {
  ConfigurationError,
  createIntrospector,
  IntrospectionUnavailableError,
  TokenValidationError,
  type IntrospectorOptions,
} from '../src/index.ts';
import { withBearerAuth } from '../src/fetch.ts';
import { basicAuthorization } from '../src/introspector.ts';
import { IntrospectionCache } from '../src/lib/introspection-cache.ts';

/** RFC 7662 introspection mode, against a real server, on every storage backend. */
for (const backend of await backends()) {
  describe(`createIntrospector (${backend.name})`, { skip: backend.skip }, () => {
    let l: Latchkey;
    let counter: ReturnType<typeof countingFetch>;

    const introspector = (options: Partial<IntrospectorOptions> = {}) =>
      createIntrospector({ issuer: l.issuer, clientId: l.apiClient[0], clientSecret: l.apiClient[1], fetch: counter.fetch, ...options });
    const introspections = () => counter.count('/introspect');
    const revoke = (token: string) => postForm(`${l.issuer}/revoke`, { token }, { basic: l.reader });

    before(async () => {
      l = await startLatchkey({ backend, accessTokenFormat: 'opaque' });
    });
    after(async () => {
      await l?.close();
    });

    test('an active opaque token resolves to its claims', async () => {
      counter = countingFetch();
      const token = await l.token();
      assert.ok(token.startsWith('lko_'));
      const claims = await introspector({ audience: API }).introspect(token);
      assert.equal(claims.iss, l.issuer);
      assert.equal(claims.sub, l.reader[0]);
      assert.equal(claims.client_id, l.reader[0]);
      assert.deepEqual(claims.aud, [API]);
      assert.deepEqual(claims.scope, ['orders:read']);
      assert.equal(claims.payload.active, true);
      assert.equal(typeof claims.exp, 'number');
    });

    test('an issuer that sends nbf or exp is held to them (RFC 7662 §2.2, RFC 7519 §4.1.4-5)', async () => {
      const token = await l.token();
      // Latchkey sends no nbf: the response of another issuer that does, made from Latchkey's own.
      const amending = (extra: (now: number) => Record<string, unknown>): typeof fetch => async (input, init) => {
        const res = await fetch(input, init);
        if (!String(input).endsWith('/introspect')) return res;
        const body = { ...((await res.json()) as Record<string, unknown>), ...extra(Math.floor(Date.now() / 1000)) };
        return new Response(JSON.stringify(body), { status: res.status, headers: { 'content-type': 'application/json' } });
      };
      const check = (extra: (now: number) => Record<string, unknown>) => introspector({ cacheSeconds: 0, fetch: amending(extra) }).introspect(token);
      assert.equal((await check((now) => ({ nbf: now - 60 }))).sub, l.reader[0], 'control: nbf in the past');
      await assert.rejects(check((now) => ({ nbf: now + 120 })), (err: unknown) => err instanceof TokenValidationError && err.check === 'not_yet_valid');
      await assert.rejects(check((now) => ({ exp: now - 60 })), (err: unknown) => err instanceof TokenValidationError && err.check === 'expired');
    });

    test('{"active": false} is an invalid token; so is an unknown one', async () => {
      counter = countingFetch();
      const i = introspector();
      const token = await l.token();
      await revoke(token);
      await assert.rejects(i.introspect(token), (err: unknown) => err instanceof TokenValidationError && err.check === 'inactive');
      await assert.rejects(i.introspect('lko_not-a-token'), (err: unknown) => err instanceof TokenValidationError && err.check === 'inactive');
    });

    test('a revoked token is inactive once the cache entry expires, not before', async (t) => {
      counter = countingFetch();
      const i = introspector({ cacheSeconds: 10 });
      const token = await l.token();
      await i.introspect(token);
      await i.introspect(token);
      assert.equal(introspections(), 1, 'the second answer came from the cache');
      await revoke(token);
      await i.introspect(token);
      assert.equal(introspections(), 1, 'still cached');
      t.mock.timers.enable({ apis: ['Date'], now: Date.now() });
      t.mock.timers.setTime(Date.now() + 10_001);
      await assert.rejects(i.introspect(token), (err: unknown) => err instanceof TokenValidationError && err.check === 'inactive');
      assert.equal(introspections(), 2);
    });

    test('a cached result never outlives the token\'s exp', async (t) => {
      counter = countingFetch();
      const i = introspector({ cacheSeconds: 3600 });
      const token = await l.token();
      const { exp } = await i.introspect(token);
      t.mock.timers.enable({ apis: ['Date'], now: Date.now() });
      t.mock.timers.setTime(exp * 1000 - 1000);
      await i.introspect(token);
      assert.equal(introspections(), 1, 'cached until exp');
      t.mock.timers.setTime(exp * 1000);
      await i.introspect(token).catch(() => {});
      assert.equal(introspections(), 2, 'asked again at exp');
    });

    test('inactive results are not cached', async () => {
      counter = countingFetch();
      const i = introspector();
      await assert.rejects(i.introspect('lko_unknown'), TokenValidationError);
      await assert.rejects(i.introspect('lko_unknown'), TokenValidationError);
      assert.equal(introspections(), 2);
    });

    test('audience: a token for this API passes, a client acting for several APIs can pin one', async () => {
      counter = countingFetch();
      await assert.rejects(
        introspector({ audience: 'https://billing.example.com' }).introspect(await l.token()),
        (err: unknown) => err instanceof TokenValidationError && err.check === 'audience',
      );
    });

    test('wrong client credentials: IntrospectionUnavailableError (503), not an invalid token', async () => {
      counter = countingFetch();
      const i = introspector({ clientSecret: 'wrong' });
      await assert.rejects(i.introspect(await l.token()), (err: unknown) => err instanceof IntrospectionUnavailableError && err.status === 503);
    });

    test('an oversized token is refused without being sent', async () => {
      counter = countingFetch();
      await assert.rejects(introspector().introspect(`lko_${'a'.repeat(9000)}`), (err: unknown) => err instanceof TokenValidationError && err.check === 'size');
      assert.equal(counter.calls.length, 0);
    });

    test('the middleware takes an introspector: opaque tokens pass, revoked ones get 401 once uncached', async () => {
      counter = countingFetch();
      const handler = withBearerAuth(introspector({ cacheSeconds: 0 }), (_request, auth) => Response.json({ sub: auth.sub }), { realm: 'orders' });
      const token = await l.token();
      const call = () => handler(new Request('http://api.test/orders', { headers: { authorization: `Bearer ${token}` } }));
      assert.equal((await call()).status, 200);
      await revoke(token);
      const res = await call();
      assert.equal(res.status, 401);
      assert.equal(res.headers.get('www-authenticate'), 'Bearer realm="orders", error="invalid_token", error_description="the access token is not active", DPoP realm="orders", algs="ES256 ES384 PS256 RS256 EdDSA"');
    });
  });
}

describe('the introspection cache', () => {
  test('is keyed by the SHA-256 of the token, never the token itself', () => {
    const cache = new IntrospectionCache(60);
    const token = 'lko_secret-token-value';
    const claims = { iss: 'i', sub: 's', client_id: 'c', aud: ['a'], scope: [], exp: Math.floor(Date.now() / 1000) + 600, iat: 0, jti: 'j', payload: {} };
    cache.set(token, claims);
    assert.deepEqual(cache.keys(), [createHash('sha256').update(token).digest('base64url')]);
    assert.ok(cache.keys().every((k) => !k.includes('secret-token-value')));
    assert.equal(cache.get(token), claims);
    assert.equal(cache.get('lko_other'), undefined);
  });

  test('keeps nothing already expired, and nothing at all with cacheSeconds 0', () => {
    const claims = { iss: 'i', sub: 's', client_id: 'c', aud: ['a'], scope: [], exp: Math.floor(Date.now() / 1000) - 1, iat: 0, jti: 'j', payload: {} };
    const cache = new IntrospectionCache(60);
    cache.set('t', claims);
    assert.deepEqual(cache.keys(), []);
    const off = new IntrospectionCache(0);
    off.set('t', { ...claims, exp: claims.exp + 600 });
    assert.deepEqual(off.keys(), []);
  });
});

test('HTTP Basic form-encodes the client id and secret (RFC 6749 §2.3.1)', () => {
  const header = basicAuthorization('api client:1', 'p@ss+w/rd é');
  const decoded = Buffer.from(header.slice('Basic '.length), 'base64').toString();
  assert.equal(decoded, 'api+client%3A1:p%40ss%2Bw%2Frd+%C3%A9');
});

test('introspector options are checked at creation', () => {
  assert.throws(() => createIntrospector({ issuer: 'https://auth.example.com', clientId: '', clientSecret: 's' }), ConfigurationError);
  assert.throws(() => createIntrospector({ issuer: 'https://auth.example.com', clientId: 'c', clientSecret: '' }), ConfigurationError);
  assert.throws(() => createIntrospector({ issuer: 'http://auth.example.com', clientId: 'c', clientSecret: 's' }), /https/);
  assert.throws(() => createIntrospector({ issuer: 'https://auth.example.com', clientId: 'c', clientSecret: 's', cacheSeconds: -1 }), /cacheSeconds/);
});
