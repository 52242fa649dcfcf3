import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { API, countingFetch, type Latchkey, startLatchkey } from '@latchkey/testing';
import { createValidator, JwksUnavailableError, TokenValidationError } from '../src/index.ts';
import { withBearerAuth } from '../src/fetch.ts';

const kidOf = (token: string) => (JSON.parse(Buffer.from(token.split('.')[0]!, 'base64url').toString()) as { kid: string }).kid;

describe('JWKS: key rotation at the server is picked up without a restart', () => {
  let l: Latchkey;
  before(async () => {
    l = await startLatchkey();
  });
  after(async () => {
    await l?.close();
  });

  test('a token signed by the new key validates after one refresh; tokens of the retained key still do', async () => {
    const counter = countingFetch();
    const v = createValidator({ issuer: l.issuer, audience: API, fetch: counter.fetch });
    const before = await l.token();
    await v.validate(before);
    const rotated = await l.running.server.context.keys.rotate('ES256', { retainSeconds: 3600, prepublishSeconds: 0 });
    const afterRotation = await l.token();
    assert.equal(kidOf(afterRotation), rotated.kid);
    assert.notEqual(kidOf(before), rotated.kid);
    await v.validate(afterRotation);
    await v.validate(before);
    assert.equal(counter.count('/jwks'), 2, 'the first load and one refresh for the new kid');
  });
});

describe('JWKS: the issuer is down', () => {
  let l: Latchkey;
  let counter: ReturnType<typeof countingFetch>;
  let v: ReturnType<typeof createValidator>;
  let known: string;
  let unknownKid: string;

  before(async () => {
    l = await startLatchkey();
    counter = countingFetch();
    v = createValidator({ issuer: l.issuer, audience: API, fetch: counter.fetch, jwksCacheSeconds: 60 });
    await v.validate(await l.token());
    known = await l.token();
    // A key the validator has not seen: its tokens can only be checked by asking the issuer.
    await l.running.server.context.keys.rotate('ES256', { retainSeconds: 3600, prepublishSeconds: 0 });
    unknownKid = await l.token();
    await l.close();
  });
  test('cached keys keep validating tokens of known kids', async () => {
    await v.validate(known);
  });

  test('an unknown kid is JwksUnavailableError (503), not an invalid token', async () => {
    await assert.rejects(v.validate(unknownKid), (err: unknown) => {
      assert.ok(err instanceof JwksUnavailableError, String(err));
      assert.equal(err.status, 503);
      assert.ok(err.retryAfterSeconds! >= 1);
      return true;
    });
    const res = await withBearerAuth(v, () => new Response('unreachable'))(new Request('http://api.test/orders', { headers: { authorization: `Bearer ${unknownKid}` } }));
    assert.equal(res.status, 503);
    assert.ok(Number(res.headers.get('retry-after')) >= 1);
    assert.equal(res.headers.get('www-authenticate'), null);
    assert.deepEqual(await res.json(), { error: 'temporarily_unavailable', error_description: 'the issuer keys are unavailable; try again later' });
  });

  test('past the cache interval, a failed refresh keeps the keys; retries wait for the cooldown', async (t) => {
    t.mock.timers.enable({ apis: ['Date'], now: Date.now() });
    t.mock.timers.setTime(Date.now() + 61_000);
    const fetchesBefore = counter.count('/jwks');
    await v.validate(known);
    assert.equal(counter.count('/jwks'), fetchesBefore + 1, 'one refresh was attempted');
    await v.validate(known);
    await assert.rejects(v.validate(unknownKid), JwksUnavailableError);
    assert.equal(counter.count('/jwks'), fetchesBefore + 1, 'no retry within the cooldown');
  });

  test('a validator that never reached the issuer has no keys: JwksUnavailableError, and it retries only after the cooldown', async () => {
    const attempts = countingFetch();
    const fresh = createValidator({ issuer: l.issuer, audience: API, fetch: attempts.fetch });
    await assert.rejects(fresh.validate(known), JwksUnavailableError);
    assert.equal(attempts.calls.length, 2, 'both metadata locations tried once');
    await assert.rejects(fresh.validate(known), JwksUnavailableError);
    await assert.rejects(fresh.validate(unknownKid), JwksUnavailableError);
    assert.equal(attempts.calls.length, 2, 'not again within the cooldown');
    // A token refused on its own merits is still refused as such, without asking anyone.
    await assert.rejects(fresh.validate('x'.repeat(9000)), TokenValidationError);
  });
});
