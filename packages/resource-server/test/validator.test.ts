import assert from 'node:assert/strict';
import { createPublicKey } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { base64url, exportJWK, generateKeyPair, SignJWT, UnsecuredJWT, type JWTPayload } from 'jose';
import { API, countingFetch, type Latchkey, startLatchkey } from '@latchkey/testing';
import {
  ConfigurationError,
  createValidator,
  JwksUnavailableError,
  TokenValidationError,
  type ValidationCheck,
  type ValidatorOptions,
} from '../src/index.ts';
import { accessClaims, signWithServerKey } from './helpers/tokens.ts';

/**
 * docs/security.md K72-K74 and the regressions from real vulnerabilities: each hostile token is forged with
 * jose next to a control built the same way with honest values, which validates, so a refusal is the
 * check working and not the harness failing.
 */
describe('createValidator against a real Latchkey server', () => {
  let l: Latchkey;
  let serverKid: string;
  let publicJwk: Record<string, unknown>;

  const validator = (options: Partial<ValidatorOptions> = {}) => createValidator({ issuer: l.issuer, audience: API, ...options });
  const claims = (overrides: Record<string, unknown> = {}) => accessClaims(l.issuer, overrides);
  const ours = (payload: JWTPayload, header: Record<string, unknown> = {}) => signWithServerKey(l, payload, header);

  const refused = async (promise: Promise<unknown>, check: ValidationCheck, what: string) => {
    await assert.rejects(promise, (err: unknown) => {
      assert.ok(err instanceof TokenValidationError, `${what}: ${String(err)}`);
      assert.equal(err.check, check, `${what}: ${err.message}`);
      return true;
    });
  };

  before(async () => {
    l = await startLatchkey();
    const jwks = (await (await fetch(`${l.issuer}/jwks`)).json()) as { keys: Record<string, unknown>[] };
    serverKid = (await l.running.server.context.keys.signer('ES256')).kid;
    publicJwk = jwks.keys.find((k) => k.kid === serverKid)!;
  });
  after(async () => {
    await l?.close();
  });

  test('a client-credentials token from the server resolves to typed claims', async () => {
    const token = await l.token();
    const verified = await validator().validate(token);
    assert.equal(verified.iss, l.issuer);
    assert.equal(verified.sub, l.reader[0]);
    assert.equal(verified.client_id, l.reader[0]);
    assert.deepEqual(verified.aud, [API]);
    assert.deepEqual(verified.scope, ['orders:read']);
    assert.equal(typeof verified.exp, 'number');
    assert.equal(typeof verified.iat, 'number');
    assert.equal(typeof verified.jti, 'string');
    assert.equal(verified.payload.aud, API);
  });

  test('control: a token forged by this harness with honest values and the server key validates', async () => {
    const v = validator();
    await v.validate(await ours(claims()));
    await v.validate(await ours(claims(), { typ: 'application/at+jwt' }));
    await v.validate(await ours(claims({ aud: ['https://other.example.com', API] })));
  });

  test('alg none, with or without typ and kid, is refused (jsonwebtoken CVE-2022-23540)', async () => {
    const v = validator();
    await refused(v.validate(new UnsecuredJWT(claims()).encode()), 'algorithm', 'UnsecuredJWT');
    const header = base64url.encode(JSON.stringify({ alg: 'none', typ: 'at+jwt', kid: serverKid }));
    const payload = base64url.encode(JSON.stringify(claims()));
    await refused(v.validate(`${header}.${payload}.`), 'algorithm', 'none, empty signature');
    await refused(v.validate(`${header}.${payload}.${base64url.encode('sig')}`), 'algorithm', 'none, junk signature');
  });

  test('HS256 signed with the public key as the secret is refused (jsonwebtoken CVE-2022-23541)', async () => {
    const v = validator();
    const pem = createPublicKey({ key: publicJwk as never, format: 'jwk' }).export({ format: 'pem', type: 'spki' }).toString();
    for (const secret of [JSON.stringify(publicJwk), pem, String(publicJwk.x)]) {
      const token = await new SignJWT(claims())
        .setProtectedHeader({ alg: 'HS256', kid: serverKid, typ: 'at+jwt' })
        .sign(new TextEncoder().encode(secret));
      await refused(v.validate(token), 'algorithm', 'HS256');
    }
  });

  test('none and HMAC algorithms cannot be configured; unknown algorithms neither', () => {
    for (const algorithms of [['none'], ['HS256'], ['ES256', 'HS512'], ['ES256', 'NONE'], ['ES257'], []]) {
      assert.throws(() => validator({ algorithms }), ConfigurationError, JSON.stringify(algorithms));
    }
  });

  test('a key carried in or pointed at by the token is never used: jwk, jku, x5u, x5c (Authlib CVE-2026-27962)', async () => {
    const v = validator();
    const attacker = await generateKeyPair('ES256', { extractable: true });
    const jwk = await exportJWK(attacker.publicKey);
    const forge = (header: Record<string, unknown>) =>
      new SignJWT(claims()).setProtectedHeader({ alg: 'ES256', typ: 'at+jwt', ...header }).sign(attacker.privateKey);
    await refused(v.validate(await forge({ jwk })), 'key', 'self-signed with an embedded jwk');
    await refused(v.validate(await forge({ jwk, kid: serverKid })), 'key', 'our kid, their jwk');
    await refused(v.validate(await forge({ jku: `${l.issuer}/jwks` })), 'key', 'jku');
    await refused(v.validate(await forge({ x5u: 'https://evil.example/cert.pem' })), 'key', 'x5u');
    await refused(v.validate(await forge({ x5c: ['MIIB'] })), 'key', 'x5c');
    // Even over a good signature: a token carrying such a header is not one the issuer makes.
    await refused(v.validate(await ours(claims(), { jwk: publicJwk })), 'key', 'server key, jwk header');
  });

  test('wrong typ: a plain JWT, none, or another type is not an access token (RFC 9068 §4)', async () => {
    const v = validator();
    await refused(v.validate(await ours(claims(), { typ: 'JWT' })), 'typ', 'typ JWT');
    await refused(v.validate(await ours(claims(), { typ: undefined })), 'typ', 'no typ');
    await refused(v.validate(await ours(claims(), { typ: 'dpop+jwt' })), 'typ', 'typ dpop+jwt');
  });

  test('iss must equal the issuer exactly: prefixes, suffixes and extensions are refused (PyJWT CVE-2024-53861)', async () => {
    const v = validator();
    const issuer = l.issuer;
    for (const iss of [issuer.slice(0, -1), `${issuer}/`, `${issuer}0`, `${issuer}.evil.example`, issuer.slice('http://'.length), `https://evil.example/${issuer}`, issuer.toUpperCase()]) {
      await refused(v.validate(await ours(claims({ iss }))), 'issuer', iss);
    }
    await refused(v.validate(await ours(claims({ iss: undefined }))), 'issuer', 'no iss');
  });

  test('expired beyond the leeway is refused; within the leeway it is accepted', async () => {
    const now = Math.floor(Date.now() / 1000);
    await refused(validator().validate(await ours(claims({ exp: now - 10 }))), 'expired', '10 s ago, 5 s leeway');
    await validator().validate(await ours(claims({ exp: now - 2 })));
    await refused(validator({ clockToleranceSeconds: 0 }).validate(await ours(claims({ exp: now }))), 'expired', 'exp now, no leeway');
    await validator({ clockToleranceSeconds: 30 }).validate(await ours(claims({ exp: now - 20 })));
    assert.throws(() => validator({ clockToleranceSeconds: 3600 }), ConfigurationError);
  });

  test('nbf in the future is refused; within the leeway it is accepted', async () => {
    const now = Math.floor(Date.now() / 1000);
    await refused(validator().validate(await ours(claims({ nbf: now + 60 }))), 'not_yet_valid', 'nbf in a minute');
    await validator().validate(await ours(claims({ nbf: now + 3 })));
  });

  test('a token for another audience is refused', async () => {
    const v = validator();
    await refused(v.validate(await ours(claims({ aud: 'https://billing.example.com' }))), 'audience', 'other API');
    await refused(v.validate(await ours(claims({ aud: [`${API}/`, 'https://api.example.co'] }))), 'audience', 'near misses');
    await refused(v.validate(await ours(claims({ aud: undefined }))), 'audience', 'no aud');
    await refused(createValidator({ issuer: l.issuer, audience: 'https://billing.example.com' }).validate(await l.token()), 'audience', 'real token');
  });

  test('every RFC 9068 claim is required, with its type; requiredClaims adds more', async () => {
    const v = validator();
    for (const name of ['sub', 'exp', 'iat', 'jti', 'client_id']) {
      await refused(v.validate(await ours(claims({ [name]: undefined }))), 'claims', `no ${name}`);
    }
    await refused(v.validate(await ours(claims({ sub: 42 }))), 'claims', 'numeric sub');
    await refused(v.validate(await ours(claims({ iat: 'yesterday' }))), 'claims', 'string iat');
    await refused(v.validate(await ours(claims({ exp: String(Math.floor(Date.now() / 1000) + 60) }))), 'claims', 'string exp');
    await refused(v.validate(await ours(claims({ scope: ['orders:read'] }))), 'claims', 'scope array');
    await refused(validator({ requiredClaims: ['auth_time'] }).validate(await ours(claims())), 'claims', 'extra required claim');
    await validator({ requiredClaims: ['scope'] }).validate(await ours(claims()));
  });

  test('an unknown crit is refused, b64 included (Authlib CVE-2025-59420)', async () => {
    const v = validator();
    const signer = await l.running.server.context.keys.signer('ES256');
    const withCrit = await new SignJWT(claims())
      .setProtectedHeader({ alg: 'ES256', kid: signer.kid, typ: 'at+jwt', crit: ['urn:example:critical'], 'urn:example:critical': true })
      .sign(signer.key, { crit: { 'urn:example:critical': true } });
    await refused(v.validate(withCrit), 'crit', 'urn:example:critical');
    // jose itself understands b64; this validator understands no extension at all.
    await refused(v.validate(await ours(claims(), { crit: ['b64'], b64: true })), 'crit', 'crit b64');
  });

  test('a token signed by a key not in the JWKS is refused: signature under our kid, key under another', async () => {
    const v = validator();
    const attacker = await generateKeyPair('ES256');
    const forge = (header: Record<string, unknown>) => new SignJWT(claims()).setProtectedHeader({ alg: 'ES256', typ: 'at+jwt', ...header }).sign(attacker.privateKey);
    await refused(v.validate(await forge({ kid: serverKid })), 'signature', 'our kid');
    await refused(v.validate(await forge({ kid: 'attacker-key' })), 'key', 'unknown kid');
    // The server's RS256 key signs ID tokens, never access tokens: ES256 only by default.
    const rs = await l.running.server.context.keys.signer('RS256');
    const rsToken = await new SignJWT(claims()).setProtectedHeader({ alg: 'RS256', kid: rs.kid, typ: 'at+jwt' }).sign(rs.key);
    await refused(v.validate(rsToken), 'algorithm', 'RS256 with the server RS256 key');
    await validator({ algorithms: ['ES256', 'RS256'] }).validate(rsToken);
  });

  test('an oversized token is refused before anything is decoded or fetched (K74)', async () => {
    const counter = countingFetch();
    const v = validator({ fetch: counter.fetch });
    const honest = await ours(claims({ padding: 'x'.repeat(9000) }));
    await refused(v.validate(honest), 'size', 'oversized honest token');
    // Not even a JWT: the size check comes first, so it says size, not malformed.
    await refused(v.validate('!'.repeat(8 * 1024 + 1)), 'size', 'oversized junk');
    assert.equal(counter.calls.length, 0, 'nothing fetched');
    await v.validate(await ours(claims({ padding: 'x'.repeat(4000) })));
    await refused(validator({ maxTokenLength: 1000 }).validate(await ours(claims({ padding: 'x'.repeat(1000) }))), 'size', 'smaller cap');
  });

  test('malformed tokens are refused as malformed', async () => {
    const v = validator();
    for (const token of ['', 'abc', 'a.b.c', 'a.b.c.d.e', `${base64url.encode('[1]')}.e30.`, `${base64url.encode('{"alg":"ES256"')}.e30.sig`]) {
      await refused(v.validate(token), 'malformed', JSON.stringify(token));
    }
    const header = base64url.encode(JSON.stringify({ alg: 'ES256', kid: serverKid, typ: 'at+jwt' }));
    await refused(v.validate(`${header}.${base64url.encode('not json')}.${base64url.encode('sig')}`), 'signature', 'bad payload, bad signature');
  });

  test('an unknown kid refreshes the JWKS once, then is refused; 50 more cause at most one fetch (K73)', async () => {
    const counter = countingFetch();
    const v = validator({ fetch: counter.fetch });
    await v.validate(await l.token());
    assert.equal(counter.count('/jwks'), 1);
    const attacker = await generateKeyPair('ES256');
    const unknownKid = (i: number) =>
      new SignJWT(claims()).setProtectedHeader({ alg: 'ES256', typ: 'at+jwt', kid: `unknown-${i}` }).sign(attacker.privateKey);
    await refused(v.validate(await unknownKid(0)), 'key', 'first unknown kid');
    assert.equal(counter.count('/jwks'), 2, 'one refresh for the unknown kid');
    const tokens = await Promise.all(Array.from({ length: 50 }, (_, i) => unknownKid(i + 1)));
    const results = await Promise.allSettled(tokens.map((t) => v.validate(t)));
    assert.ok(results.every((r) => r.status === 'rejected' && (r.reason as TokenValidationError).check === 'key'));
    for (const t of tokens.slice(0, 10)) await refused(v.validate(t), 'key', 'sequential unknown kid');
    assert.equal(counter.count('/jwks'), 2, 'no fetch within the cooldown');
    // Known kids keep working, without a fetch.
    await v.validate(await l.token());
    assert.equal(counter.count('/jwks'), 2);
  });

  test('concurrent unknown kids on a fresh validator share one fetch', async () => {
    const counter = countingFetch();
    const v = validator({ fetch: counter.fetch });
    const attacker = await generateKeyPair('ES256');
    const tokens = await Promise.all(
      Array.from({ length: 50 }, (_, i) => new SignJWT(claims()).setProtectedHeader({ alg: 'ES256', typ: 'at+jwt', kid: `k${i}` }).sign(attacker.privateKey)),
    );
    await Promise.allSettled(tokens.map((t) => v.validate(t)));
    // The first load, then at most one refresh for all of them.
    assert.ok(counter.count('/jwks') <= 2, `${counter.count('/jwks')} JWKS fetches`);
    assert.equal(counter.count('/.well-known/oauth-authorization-server'), 1);
  });

  test('discovery: RFC 8414 metadata first, the OpenID Connect location when it fails', async () => {
    const counter = countingFetch();
    const no8414: typeof fetch = (input, init) => {
      const url = String(input);
      if (url.includes('/.well-known/oauth-authorization-server')) return Promise.resolve(new Response('no', { status: 404 }));
      return counter.fetch(input, init);
    };
    await createValidator({ issuer: l.issuer, audience: API, fetch: no8414 }).validate(await l.token());
    assert.equal(counter.count('/.well-known/openid-configuration'), 1);
  });

  test('discovery: metadata naming another issuer is not used (RFC 8414 §3.3)', async () => {
    // A trailing slash is another issuer: the server's metadata says it without one.
    const v = createValidator({ issuer: `${l.issuer}/`, audience: API });
    await assert.rejects(v.validate(await l.token()), JwksUnavailableError);
    const liar: typeof fetch = async (input, init) => {
      const res = await fetch(input, init);
      if (!String(input).includes('/.well-known/')) return res;
      return Response.json({ ...((await res.json()) as object), issuer: 'https://evil.example' });
    };
    await assert.rejects(createValidator({ issuer: l.issuer, audience: API, fetch: liar }).validate(await l.token()), JwksUnavailableError);
  });

  test('configuration mistakes fail at creation', () => {
    assert.throws(() => createValidator({ issuer: 'http://auth.example.com', audience: API }), /https/);
    createValidator({ issuer: 'http://auth.example.com', audience: API, allowInsecureIssuer: true });
    assert.throws(() => createValidator({ issuer: 'https://auth.example.com?x=1', audience: API }), ConfigurationError);
    assert.throws(() => createValidator({ issuer: 'https://auth.example.com', audience: '' }), /audience/);
    assert.throws(() => createValidator({ issuer: 'not a url', audience: API }), ConfigurationError);
    assert.throws(() => createValidator({ issuer: 'https://auth.example.com', audience: API, jwksCooldownSeconds: 0 }), /jwksCooldownSeconds/);
    assert.throws(() => createValidator({ issuer: 'https://auth.example.com', audience: API, maxTokenLength: 0 }), /maxTokenLength/);
  });
});
