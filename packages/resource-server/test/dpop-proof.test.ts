import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { before, describe, test } from 'node:test';
import { exportJWK, generateSecret, SignJWT } from 'jose';
import { dpopProver, signProof, unsignedProof, type DpopProver, type ProofOptions } from '@latchkey/testing';
import {
  accessTokenHash,
  checkDpopProof,
  createDpopNonces,
  createMemoryReplayCache,
  DPOP_MAX_PROOF_LENGTH,
  DpopProofError,
  type DpopProofCheckOptions,
} from '../src/dpop.ts';

/**
 * RFC 9449 §4.3 "Checking DPoP Proofs", one check at a time, each with a hostile proof, on a frozen
 * clock: what `checkDpopProof` (the library's, the gateway's and the server's one implementation)
 * accepts and what it refuses, and with which error code.
 */
const NOW = 1_800_000_000;
const URL_ = 'https://api.example.com/orders';
const TOKEN = 'eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJhIn0.c2ln';

describe('checkDpopProof (RFC 9449 §4.3)', () => {
  let key: DpopProver;
  before(async () => {
    key = await dpopProver();
  });

  const proof = (options: Partial<ProofOptions> = {}) => key.proof({ htm: 'GET', htu: URL_, iat: NOW, ...options });
  const check = (p: string | readonly string[] | undefined, options: Partial<DpopProofCheckOptions> = {}) =>
    checkDpopProof({ proof: p, method: 'GET', url: URL_, replay: createMemoryReplayCache(), now: NOW, ...options });
  /** Asserts the check refuses with `error` and a description matching `description`. */
  const refused = async (promise: Promise<unknown>, description: RegExp, error = 'invalid_dpop_proof') => {
    await assert.rejects(promise, (err: unknown) => {
      assert.ok(err instanceof DpopProofError, `a DpopProofError, not ${String(err)}`);
      assert.equal(err.error, error);
      assert.match(err.description, description);
      return true;
    });
  };

  test('an honest proof passes and gives the thumbprint of its key, its jti and iat', async () => {
    const result = await check(await proof({ jti: 'one' }));
    assert.equal(result.jkt, key.jkt);
    assert.equal(result.jti, 'one');
    assert.equal(result.iat, NOW);
    assert.deepEqual(result.jwk, key.jwk);
  });

  test('other asymmetric algorithms of the default list pass (PS256, EdDSA, ES384)', async () => {
    for (const alg of ['PS256', 'EdDSA', 'ES384'] as const) {
      const other = await dpopProver(alg);
      assert.equal((await check(await other.proof({ htm: 'GET', htu: URL_, iat: NOW }))).jkt, other.jkt, alg);
    }
  });

  describe('items 1-2: one DPoP header, a well-formed JWT', () => {
    test('no proof at all', async () => {
      await refused(check(undefined), /missing/);
      await refused(check([]), /missing/);
    });
    test('two DPoP header fields', async () => {
      await refused(check([await proof(), await proof()]), /more than one DPoP header/);
    });
    test('two proofs joined with a comma (how Node and fetch merge repeated fields)', async () => {
      await refused(check(`${await proof()}, ${await proof()}`), /more than one DPoP header/);
    });
    test('not a JWT: two parts, junk, empty', async () => {
      const p = await proof();
      await refused(check(p.split('.').slice(0, 2).join('.')), /not a well-formed JWT/);
      await refused(check('not a jwt'), /not a well-formed JWT/);
      await refused(check(''), /not a well-formed JWT/);
    });
    test('an oversized proof is refused before it is parsed', async () => {
      const huge = await proof({ claims: { pad: 'x'.repeat(DPOP_MAX_PROOF_LENGTH) } });
      assert.ok(huge.length > DPOP_MAX_PROOF_LENGTH);
      await refused(check(huge), /not a well-formed JWT/);
    });
  });

  describe('items 3-7: typ, alg, jwk, signature', () => {
    test('typ other than dpop+jwt (a JWT, an access token)', async () => {
      await refused(check(await proof({ typ: 'JWT' })), /typ dpop\+jwt/);
      await refused(check(await proof({ typ: 'at+jwt' })), /typ dpop\+jwt/);
      await refused(check(await proof({ header: { typ: undefined } })), /typ dpop\+jwt/);
    });
    test('alg none', async () => {
      await refused(check(unsignedProof(key.jwk, { htm: 'GET', htu: URL_, iat: NOW })), /algorithm that is not accepted/);
    });
    test('HS256 with a symmetric jwk: refused by the algorithm list, and refused even if a caller lists HS256', async () => {
      const secret = await generateSecret('HS256', { extractable: true });
      const jwk = await exportJWK(secret);
      assert.equal(jwk.kty, 'oct');
      const mac = await signProof(secret, 'HS256', jwk, { htm: 'GET', htu: URL_, iat: NOW });
      await refused(check(mac), /algorithm that is not accepted/);
      await refused(check(mac, { algorithms: ['HS256'] }), /not an acceptable public key/);
    });
    test('an algorithm outside the configured list', async () => {
      await refused(check(await proof(), { algorithms: ['EdDSA'] }), /algorithm that is not accepted/);
    });
    test('a private key in the jwk header', async () => {
      const p = await proof({ header: { jwk: key.privateJwk } });
      await refused(check(p), /not an acceptable public key/);
    });
    test('no jwk header', async () => {
      await refused(check(await proof({ header: { jwk: undefined } })), /not an acceptable public key/);
    });
    test('a jwk that is not the signing key: the signature does not verify', async () => {
      const other = await dpopProver();
      await refused(check(await proof({ header: { jwk: other.jwk } })), /signature is invalid/);
    });
    test('a tampered payload: the signature does not verify', async () => {
      const [h, , s] = (await proof()).split('.');
      const forged = Buffer.from(JSON.stringify({ htm: 'GET', htu: URL_, iat: NOW, jti: 'forged' })).toString('base64url');
      await refused(check(`${h}.${forged}.${s}`), /signature is invalid/);
    });
  });

  describe('claims: jti, htm, htu, iat', () => {
    test('each required claim missing', async () => {
      for (const claim of ['jti', 'htm', 'htu', 'iat']) {
        await refused(check(await proof({ claims: { [claim]: undefined } })), /lacks a required claim|time window/, 'invalid_dpop_proof');
      }
    });
    test('a jti that is empty, not a string, or too long', async () => {
      await refused(check(await proof({ jti: '' })), /no usable jti/);
      await refused(check(await proof({ claims: { jti: 42 } })), /no usable jti/);
      await refused(check(await proof({ jti: 'j'.repeat(257) })), /no usable jti/);
    });
    test('item 8: htm of another method, or another case of it', async () => {
      await refused(check(await proof({ htm: 'POST' })), /another HTTP method/);
      await refused(check(await proof({ htm: 'get' })), /another HTTP method/);
      assert.ok(await check(await proof({ htm: 'DELETE' }), { method: 'DELETE' }));
    });
    test('item 9: htu of another host, path, scheme or port', async () => {
      for (const htu of [
        'https://evil.example.com/orders',
        'https://api.example.com/orders/1',
        'https://api.example.com/order',
        'http://api.example.com/orders',
        'https://api.example.com:8443/orders',
        'not a url',
        'ftp://api.example.com/orders',
      ]) {
        await refused(check(await proof({ htu })), /another URL/);
      }
      await refused(check(await proof({ claims: { htu: 42 } })), /another URL/);
    });
    test('item 9: the query and fragment are ignored, on either side', async () => {
      assert.ok(await check(await proof({ htu: `${URL_}?page=2#top` })));
      assert.ok(await check(await proof(), { url: `${URL_}?page=3` }));
    });
    test('item 9: htu compared after RFC 3986 normalisation: default port, case of scheme and host, %7E and ~, dot segments', async () => {
      assert.ok(await check(await proof({ htu: 'https://api.example.com:443/orders' })));
      assert.ok(await check(await proof({ htu: 'HTTPS://API.Example.COM/orders' })));
      assert.ok(await check(await proof({ htu: 'http://api.example.com:80/x' }), { url: 'http://api.example.com/x' }));
      assert.ok(await check(await proof({ htu: 'https://api.example.com/%7Ealice/orders' }), { url: 'https://api.example.com/~alice/orders' }));
      assert.ok(await check(await proof({ htu: 'https://api.example.com/~alice' }), { url: 'https://api.example.com/%7ealice' }));
      assert.ok(await check(await proof({ htu: 'https://api.example.com/a/../orders' })));
      assert.ok(await check(await proof({ htu: 'https://api.example.com/a%2fb' }), { url: 'https://api.example.com/a%2Fb' }));
      // The path's case matters, and an encoded slash is not a slash.
      await refused(check(await proof({ htu: 'https://api.example.com/Orders' })), /another URL/);
      await refused(check(await proof({ htu: 'https://api.example.com/a%2Fb' }), { url: 'https://api.example.com/a/b' }), /another URL/);
    });
    test('item 11: iat too old, and in the future, beyond the tolerance', async () => {
      await refused(check(await proof({ iat: NOW - 301 - 5 })), /expired|time window/);
      await refused(check(await proof({ iat: NOW + 60 })), /time window/);
      // Within the window and the tolerance: accepted.
      assert.ok(await check(await proof({ iat: NOW - 300 })));
      assert.ok(await check(await proof({ iat: NOW + 5 })));
      await refused(check(await proof({ iat: NOW - 61 }), { maxAgeSeconds: 60, clockToleranceSeconds: 0 }), /expired|time window/);
    });
    test('an exp in the past', async () => {
      await refused(check(await proof({ claims: { exp: NOW - 60 } })), /expired/);
    });
  });

  describe('item 12: ath and the key the token is bound to', () => {
    test('ath missing, or the hash of another token', async () => {
      await refused(check(await proof(), { accessToken: TOKEN }), /not for the access token/);
      await refused(check(await proof({ accessToken: `${TOKEN}x` }), { accessToken: TOKEN }), /not for the access token/);
      await refused(check(await proof({ claims: { ath: TOKEN } }), { accessToken: TOKEN }), /not for the access token/);
      assert.ok(await check(await proof({ accessToken: TOKEN }), { accessToken: TOKEN }));
      assert.equal(accessTokenHash('abc'), 'ungWv48Bz-pBQUDeXa4iI7ADYaOWF3qctBD_YfIAFa0');
    });
    test('a proof signed with another key than the token\'s cnf.jkt, refused before its jti is recorded', async () => {
      const thief = await dpopProver();
      const recorded: string[] = [];
      const replay = (k: string) => (recorded.push(k), true);
      const stolen = await thief.proof({ htm: 'GET', htu: URL_, iat: NOW, accessToken: TOKEN });
      await refused(check(stolen, { accessToken: TOKEN, jkt: key.jkt, replay }), /not signed with the key the access token is bound to/);
      assert.deepEqual(recorded, [], 'a refused key fills no replay store');
      assert.ok(await check(await proof({ accessToken: TOKEN }), { accessToken: TOKEN, jkt: key.jkt, replay }));
      assert.equal(recorded.length, 1);
    });
  });

  describe('§11.1: single use', () => {
    test('a replayed proof is refused, in the same store; another store does not know it', async () => {
      const replay = createMemoryReplayCache(1000, () => NOW);
      const p = await proof();
      assert.ok(await check(p, { replay }));
      await refused(check(p, { replay }), /used before/);
      assert.ok(await check(p), 'a fresh store accepts it');
    });
    test('the same jti under another key is another proof', async () => {
      const replay = createMemoryReplayCache(1000, () => NOW);
      const other = await dpopProver();
      assert.ok(await check(await proof({ jti: 'same' }), { replay }));
      assert.ok(await check(await other.proof({ htm: 'GET', htu: URL_, iat: NOW, jti: 'same' }), { replay }));
    });
    test('the replay store is kept until the proof could no longer be accepted', async () => {
      let seen: number | undefined;
      await check(await proof(), { replay: (_k, expiresAt) => ((seen = expiresAt), true) });
      assert.equal(seen, NOW + 300 + 5);
    });
    test('the memory cache forgets expired entries and stays bounded', () => {
      let clock = NOW;
      const cache = createMemoryReplayCache(3, () => clock);
      assert.equal(cache('a', NOW + 10), true);
      assert.equal(cache('a', NOW + 10), false);
      clock = NOW + 11;
      assert.equal(cache('a', NOW + 30), true, 'expired: accepted again');
      for (const k of ['b', 'c', 'd', 'e']) assert.equal(cache(k, NOW + 30), true);
      assert.equal(cache('e', NOW + 30), false);
    });
  });

  describe('item 10 and §8, §9: nonces', () => {
    const secret = randomBytes(32);
    test('nonce missing, wrong or stale: use_dpop_nonce', async () => {
      let clock = NOW;
      const nonces = createDpopNonces(secret, 60, () => clock);
      await refused(check(await proof(), { nonce: nonces }), /nonce/, 'use_dpop_nonce');
      await refused(check(await proof({ nonce: 'made-up' }), { nonce: nonces }), /nonce/, 'use_dpop_nonce');
      const other = createDpopNonces(randomBytes(32), 60, () => clock);
      await refused(check(await proof({ nonce: other.current() }), { nonce: nonces }), /nonce/, 'use_dpop_nonce');
      const old = nonces.current();
      clock = NOW + 120;
      await refused(check(await proof({ nonce: old, iat: clock }), { nonce: nonces, now: clock }), /nonce/, 'use_dpop_nonce');
    });
    test('the current nonce, and the previous period\'s, are accepted', async () => {
      let clock = NOW;
      const nonces = createDpopNonces(secret, 60, () => clock);
      const first = nonces.current();
      assert.ok(await check(await proof({ nonce: first }), { nonce: nonces }));
      clock = NOW + 60;
      const second = nonces.current();
      assert.notEqual(second, first);
      assert.ok(await check(await proof({ nonce: first, iat: clock }), { nonce: nonces, now: clock }), 'previous period');
      assert.ok(await check(await proof({ nonce: second, iat: clock }), { nonce: nonces, now: clock }));
    });
    test('a nonce of a future period is refused, and nodes sharing the secret accept each other\'s', () => {
      let clock = NOW;
      const a = createDpopNonces(secret, 60, () => clock);
      const b = createDpopNonces(Buffer.from(secret), 60, () => clock);
      assert.ok(b.isValid(a.current()));
      clock = NOW + 600;
      const future = a.current();
      clock = NOW;
      assert.equal(a.isValid(future), false);
      assert.throws(() => createDpopNonces('short'), /at least 16 bytes/);
    });
    test('a nonce is checked before the jti is recorded: the retry with a nonce is not a replay', async () => {
      const nonces = createDpopNonces(secret, 60, () => NOW);
      const replay = createMemoryReplayCache(10, () => NOW);
      await refused(check(await proof({ jti: 'retry' }), { nonce: nonces, replay }), /nonce/, 'use_dpop_nonce');
      assert.ok(await check(await proof({ jti: 'retry', nonce: nonces.current() }), { nonce: nonces, replay }));
    });
  });

  test('descriptions never echo the proof', async () => {
    const p = await proof({ htm: 'POST' });
    await assert.rejects(check(p), (err: DpopProofError) => {
      for (const part of p.split('.')) assert.ok(!err.description.includes(part) && !err.message.includes(part));
      return true;
    });
  });

  test('a proof signed by a JWT library as a client would (jose SignJWT): the round trip', async () => {
    const signed = await new SignJWT({ htm: 'GET', htu: URL_, iat: NOW, jti: 'x1', ath: accessTokenHash(TOKEN) })
      .setProtectedHeader({ alg: 'ES256', typ: 'dpop+jwt', jwk: key.jwk })
      .sign(key.privateKey);
    assert.equal((await check(signed, { accessToken: TOKEN, jkt: key.jkt })).jkt, key.jkt);
  });
});
