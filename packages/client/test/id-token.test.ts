import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { before, describe, test } from 'node:test';
import { createLocalJWKSet, exportJWK, generateKeyPair, SignJWT, UnsecuredJWT, type CryptoKey, type JWTPayload } from 'jose';
import { IdTokenValidationError, type IdTokenCheck } from '../src/errors.ts';
import { validateIdToken, type IdTokenClaims, type IdTokenExpectations } from '../src/id-token.ts';

/**
 * ID token validation (OpenID Connect Core §3.1.3.7, §3.1.3.8, §12.2), check by check, with tokens
 * signed here by jose: each test breaks one thing and expects the error to name that check.
 */

const ISSUER = 'https://login.example.com';
const CLIENT = 'demo-shop';
const NONCE = 'n-0S6_WzA2Mj';
const ACCESS_TOKEN = 'eyJhbGciOiJFUzI1NiJ9.access.token';

function atHash(token: string): string {
  return createHash('sha256').update(token, 'ascii').digest().subarray(0, 16).toString('base64url');
}

describe('ID token validation', () => {
  let rsa: CryptoKey;
  let ec: CryptoKey;
  let stranger: CryptoKey;
  let keys: ReturnType<typeof createLocalJWKSet>;

  before(async () => {
    const r = await generateKeyPair('RS256');
    const e = await generateKeyPair('ES256');
    stranger = (await generateKeyPair('RS256')).privateKey;
    rsa = r.privateKey;
    ec = e.privateKey;
    keys = createLocalJWKSet({
      keys: [
        { ...(await exportJWK(r.publicKey)), kid: 'rsa-1', alg: 'RS256', use: 'sig' },
        { ...(await exportJWK(e.publicKey)), kid: 'ec-1', alg: 'ES256', use: 'sig' },
      ],
    });
  });

  const now = () => Math.floor(Date.now() / 1000);
  const claims = (overrides: JWTPayload = {}): JWTPayload => ({
    iss: ISSUER,
    sub: 'user-1',
    aud: CLIENT,
    exp: now() + 3600,
    iat: now(),
    auth_time: now() - 10,
    nonce: NONCE,
    azp: CLIENT,
    at_hash: atHash(ACCESS_TOKEN),
    ...overrides,
  });
  const sign = (payload: JWTPayload, options: { key?: CryptoKey; alg?: string; kid?: string; typ?: string } = {}) =>
    new SignJWT(payload)
      .setProtectedHeader({ alg: options.alg ?? 'RS256', kid: options.kid ?? 'rsa-1', ...(options.typ === undefined ? { typ: 'JWT' } : options.typ === '' ? {} : { typ: options.typ }) })
      .sign(options.key ?? rsa);
  const expected = (overrides: Partial<IdTokenExpectations> = {}): IdTokenExpectations => ({
    issuer: ISSUER,
    clientId: CLIENT,
    algorithms: ['RS256', 'ES256'],
    clockToleranceSeconds: 30,
    nonce: NONCE,
    accessToken: ACCESS_TOKEN,
    ...overrides,
  });
  const rejects = async (token: string | Promise<string>, check: IdTokenCheck, overrides: Partial<IdTokenExpectations> = {}) => {
    await assert.rejects(validateIdToken(await token, keys, expected(overrides)), (err: unknown) => {
      assert.ok(err instanceof IdTokenValidationError, String(err));
      assert.equal(err.check, check, err.message);
      assert.equal(err.code, 'ERR_ID_TOKEN');
      return true;
    });
  };

  test('a valid RS256 or ES256 token (with or without typ) gives its claims', async () => {
    const got = await validateIdToken(await sign(claims()), keys, expected());
    assert.equal(got.sub, 'user-1');
    assert.equal(got.nonce, NONCE);
    await validateIdToken(await sign(claims(), { alg: 'ES256', kid: 'ec-1', key: ec }), keys, expected());
    await validateIdToken(await sign(claims(), { typ: '' }), keys, expected());
  });

  test('iss must be exactly the issuer', async () => {
    await rejects(sign(claims({ iss: `${ISSUER}/` })), 'iss');
    await rejects(sign(claims({ iss: 'https://evil.example.com' })), 'iss');
  });

  test('aud must be this client and nothing else; azp, when present, this client', async () => {
    await rejects(sign(claims({ aud: 'other-client' })), 'aud');
    await rejects(sign(claims({ aud: [CLIENT, 'other-client'] })), 'aud');
    await rejects(sign(claims({ azp: 'other-client' })), 'azp');
    await validateIdToken(await sign(claims({ aud: [CLIENT], azp: undefined })), keys, expected());
  });

  test('exp in the past (beyond the tolerance) and iat in the future are refused', async () => {
    await rejects(sign(claims({ exp: now() - 31 })), 'exp');
    await validateIdToken(await sign(claims({ exp: now() - 5 })), keys, expected());
    await rejects(sign(claims({ iat: now() + 120 })), 'iat');
    await rejects(sign(claims({ iat: undefined })), 'iat');
  });

  test('the nonce must be the one sent, and present when one was sent', async () => {
    await rejects(sign(claims({ nonce: 'another' })), 'nonce');
    await rejects(sign(claims({ nonce: undefined })), 'nonce');
  });

  test('at_hash must match the access token issued with it', async () => {
    await rejects(sign(claims()), 'at_hash', { accessToken: `${ACCESS_TOKEN}x` });
    await rejects(sign(claims({ at_hash: atHash('another token') })), 'at_hash');
  });

  test('the algorithm comes from the configuration, never from the token: alg none, HS256 and unlisted algorithms fail', async () => {
    await rejects(sign(claims(), { alg: 'ES256', kid: 'ec-1', key: ec }), 'alg', { algorithms: ['RS256'] });
    await rejects(new UnsecuredJWT(claims()).encode(), 'alg');
    const hs = await new SignJWT(claims()).setProtectedHeader({ alg: 'HS256', kid: 'rsa-1' }).sign(new TextEncoder().encode('x'.repeat(32)));
    await rejects(hs, 'alg');
  });

  test('a signature by another key, or over a changed payload, fails', async () => {
    await rejects(sign(claims(), { key: stranger }), 'signature');
    await rejects(sign(claims(), { key: stranger, kid: 'unknown-kid' }), 'signature');
    const [h, , s] = (await sign(claims())).split('.');
    const forged = Buffer.from(JSON.stringify(claims({ sub: 'admin' }))).toString('base64url');
    await rejects(`${h}.${forged}.${s}`, 'signature');
  });

  test('an access token (typ at+jwt) never passes as an ID token; garbage is a format error', async () => {
    await rejects(sign(claims(), { typ: 'at+jwt' }), 'typ');
    await rejects('not.a.jwt.at.all', 'format');
    await rejects('garbage', 'format');
  });

  test('with max_age, auth_time is required and must be recent enough', async () => {
    await validateIdToken(await sign(claims()), keys, expected({ maxAgeSeconds: 60 }));
    await rejects(sign(claims({ auth_time: now() - 600 })), 'auth_time', { maxAgeSeconds: 60 });
    await rejects(sign(claims({ auth_time: undefined })), 'auth_time', { maxAgeSeconds: 60 });
  });

  test('after a refresh: no nonce needed, but the same sub and auth_time as the original', async () => {
    const original = (await validateIdToken(await sign(claims()), keys, expected())) as IdTokenClaims;
    const refreshed = claims({ nonce: undefined, iat: now() + 1 });
    await validateIdToken(await sign(refreshed), keys, expected({ nonce: undefined, previous: original }));
    await rejects(sign({ ...refreshed, sub: 'user-2' }), 'sub', { nonce: undefined, previous: original });
    await rejects(sign({ ...refreshed, auth_time: now() }), 'auth_time', { nonce: undefined, previous: original });
    await rejects(sign({ ...refreshed, nonce: 'changed' }), 'nonce', { nonce: undefined, previous: original });
  });
});
