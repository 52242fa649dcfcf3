import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { before, describe, test } from 'node:test';
import { exportJWK, generateKeyPair, SignJWT, UnsecuredJWT, type CryptoKey, type JWK, type JWTPayload } from 'jose';
import { IdTokenValidationError, LatchkeyClient, type FetchLike, type IdTokenAlgorithm, type IdTokenCheck, type IdTokenClaims } from '../src/index.ts';

/**
 * ID token validation (OpenID Connect Core §3.1.3.7, §3.1.3.8, §12.2), check by check, through the SDK's
 * code exchange and refresh: a scripted server (discovery, JWKS, token endpoint) answers with ID tokens
 * signed here by jose; each test breaks one thing and expects the error to name that check. Part of the
 * checks are oauth4webapi's, part the SDK's; the error is the same IdTokenValidationError either way.
 */

const ISSUER = 'https://login.example.com';
const CLIENT = 'demo-shop';
const NONCE = 'n-0S6_WzA2Mj';
const STATE = 's-QmVhcnM';
const REDIRECT_URI = 'https://shop.example/callback';
const ACCESS_TOKEN = 'eyJhbGciOiJFUzI1NiJ9.access.token';

function atHash(token: string): string {
  return createHash('sha256').update(token, 'ascii').digest().subarray(0, 16).toString('base64url');
}

describe('ID token validation', () => {
  let rsa: CryptoKey;
  let ec: CryptoKey;
  let stranger: CryptoKey;
  let jwks: { keys: JWK[] };

  before(async () => {
    const r = await generateKeyPair('RS256');
    const e = await generateKeyPair('ES256');
    stranger = (await generateKeyPair('RS256')).privateKey;
    rsa = r.privateKey;
    ec = e.privateKey;
    jwks = {
      keys: [
        { ...(await exportJWK(r.publicKey)), kid: 'rsa-1', alg: 'RS256', use: 'sig' },
        { ...(await exportJWK(e.publicKey)), kid: 'ec-1', alg: 'ES256', use: 'sig' },
      ],
    };
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

  /** The server: its metadata, its keys, and a token endpoint answering `idToken` with `accessToken`. */
  const server = (idToken: string, accessToken: string): FetchLike => async (input) => {
    const url = new URL(input instanceof Request ? input.url : input.toString());
    if (url.pathname === '/.well-known/openid-configuration') {
      return Response.json({
        issuer: ISSUER,
        authorization_endpoint: `${ISSUER}/authorize`,
        token_endpoint: `${ISSUER}/token`,
        jwks_uri: `${ISSUER}/jwks`,
        id_token_signing_alg_values_supported: ['RS256', 'ES256'],
        authorization_response_iss_parameter_supported: true,
      });
    }
    if (url.pathname === '/jwks') return Response.json(jwks);
    if (url.pathname === '/token') return Response.json({ access_token: accessToken, token_type: 'Bearer', expires_in: 600, id_token: idToken, refresh_token: 'rt-2' });
    return new Response('not found', { status: 404 });
  };

  interface Flow {
    /** The access token the server issues with the ID token. */
    accessToken?: string;
    algorithms?: IdTokenAlgorithm[];
    maxAge?: number;
    /** Refresh instead of the code flow, with this original ID token. */
    previous?: IdTokenClaims;
  }

  /** The ID token through a code exchange (or a refresh), as the SDK validates it. */
  const validate = async (token: string | Promise<string>, flow: Flow = {}): Promise<IdTokenClaims> => {
    const client = new LatchkeyClient({
      issuer: ISSUER,
      clientId: CLIENT,
      fetch: server(await token, flow.accessToken ?? ACCESS_TOKEN),
      ...(flow.algorithms ? { idTokenSigningAlgorithms: flow.algorithms } : {}),
    });
    if (flow.previous) {
      const previous = { accessToken: 'old', tokenType: 'Bearer', idToken: 'old.id.token', idTokenClaims: flow.previous };
      return (await client.refresh('rt-1', { previous })).idTokenClaims!;
    }
    const callback = `${REDIRECT_URI}?code=c0de&state=${STATE}&iss=${encodeURIComponent(ISSUER)}`;
    const expected = { state: STATE, nonce: NONCE, codeVerifier: 'v'.repeat(43), redirectUri: REDIRECT_URI, scope: 'openid', maxAge: flow.maxAge };
    return (await client.handleCallback(callback, expected)).idTokenClaims!;
  };
  const rejects = async (token: string | Promise<string>, check: IdTokenCheck, flow: Flow = {}) => {
    await assert.rejects(validate(token, flow), (err: unknown) => {
      assert.ok(err instanceof IdTokenValidationError, String(err));
      assert.equal(err.check, check, err.message);
      assert.equal(err.code, 'ERR_ID_TOKEN');
      return true;
    });
  };

  test('a valid RS256 or ES256 token (with or without typ) gives its claims', async () => {
    const got = await validate(sign(claims()));
    assert.equal(got.sub, 'user-1');
    assert.equal(got.nonce, NONCE);
    await validate(sign(claims(), { alg: 'ES256', kid: 'ec-1', key: ec }));
    await validate(sign(claims(), { typ: '' }));
  });

  test('iss must be exactly the issuer', async () => {
    await rejects(sign(claims({ iss: `${ISSUER}/` })), 'iss');
    await rejects(sign(claims({ iss: 'https://evil.example.com' })), 'iss');
  });

  test('aud must be this client and nothing else; azp, when present, this client', async () => {
    await rejects(sign(claims({ aud: 'other-client' })), 'aud');
    await rejects(sign(claims({ aud: [CLIENT, 'other-client'] })), 'aud');
    await rejects(sign(claims({ azp: 'other-client' })), 'azp');
    await validate(sign(claims({ aud: [CLIENT], azp: undefined })));
  });

  test('exp in the past (beyond the tolerance) and iat in the future are refused', async () => {
    await rejects(sign(claims({ exp: now() - 31 })), 'exp');
    await validate(sign(claims({ exp: now() - 5 })));
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
    await validate(sign(claims()), { maxAge: 60 });
    await rejects(sign(claims({ auth_time: now() - 600 })), 'auth_time', { maxAge: 60 });
    await rejects(sign(claims({ auth_time: undefined })), 'auth_time', { maxAge: 60 });
  });

  test('after a refresh: no nonce needed, but the same sub and auth_time as the original', async () => {
    const original = await validate(sign(claims()));
    const refreshed = claims({ nonce: undefined, iat: now() + 1 });
    const got = await validate(sign(refreshed), { previous: original });
    assert.equal(got.sub, original.sub);
    await rejects(sign({ ...refreshed, sub: 'user-2' }), 'sub', { previous: original });
    await rejects(sign({ ...refreshed, auth_time: now() }), 'auth_time', { previous: original });
    await rejects(sign({ ...refreshed, nonce: 'changed' }), 'nonce', { previous: original });
  });
});
