import assert from 'node:assert/strict';
import { createHmac, generateKeyPairSync, sign, type KeyObject } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { postForm, type RunningServer, seedOrdersApi, sqlite, startServer, type TestDatabase } from '@latchkey/testing';

/**
 * Introspection verifies our own tokens with node:crypto (tokens/own-token-verify.ts), not jose, so
 * every hostile token here must introspect as exactly {"active":false}. Each attack is built next to a
 * control built the same way with honest values, which must be active: the harness can produce
 * tokens the server accepts, so a refusal is the check working.
 */
describe('hostile tokens at the introspection endpoint', () => {
  let db: TestDatabase;
  let s: RunningServer;
  let creds: [string, string];
  let es: { kid: string; key: KeyObject };
  let rs: { kid: string; key: KeyObject };
  let jwks: { keys: Record<string, string>[] };

  const b64 = (value: unknown) => Buffer.from(typeof value === 'string' ? value : JSON.stringify(value)).toString('base64url');

  const claims = (overrides: Record<string, unknown> = {}) => {
    const now = Math.floor(Date.now() / 1000);
    const base: Record<string, unknown> = {
      iss: s.issuer,
      sub: creds[0],
      aud: 'https://api.example.com',
      exp: now + 300,
      iat: now,
      jti: `jti-${Math.random()}`,
      client_id: creds[0],
      scope: 'orders:read',
    };
    for (const [k, v] of Object.entries(overrides)) {
      if (v === undefined) delete base[k];
      else base[k] = v;
    }
    return base;
  };

  /** A compact JWS over `header` and `payload`, ES256 or RS256 with node:crypto, or anything raw. */
  const jws = (header: Record<string, unknown>, payload: unknown, key: KeyObject, alg = header.alg) => {
    const input = `${b64(header)}.${b64(payload)}`;
    const sig =
      alg === 'ES256'
        ? sign('sha256', Buffer.from(input), { key, dsaEncoding: 'ieee-p1363' })
        : sign('sha256', Buffer.from(input), key);
    return `${input}.${sig.toString('base64url')}`;
  };
  const ours = (payload: unknown, headerExtra: Record<string, unknown> = {}) =>
    jws({ alg: 'ES256', kid: es.kid, typ: 'at+jwt', ...headerExtra }, payload, es.key);

  const introspect = async (token: string) => (await postForm(`${s.url}/introspect`, { token }, { basic: creds })).text;
  const assertInactive = async (token: string, what: string) => assert.equal(await introspect(token), '{"active":false}', what);
  const assertActive = async (token: string, what: string) => assert.match(await introspect(token), /^\{"active":true/, what);

  before(async () => {
    db = await sqlite.create();
    s = await startServer(db);
    const seeded = await seedOrdersApi(s);
    creds = [seeded.clientId, seeded.clientSecret];
    const ring = s.server.context.keys;
    es = await ring.signer('ES256');
    rs = await ring.signer('RS256');
    jwks = (await (await fetch(`${s.url}/jwks`)).json()) as typeof jwks;
  });
  after(async () => {
    await s?.close();
    await db?.drop();
  });

  test('control: a token built by this harness with honest values is active', async () => {
    await assertActive(ours(claims()), 'ES256');
  });

  test('our exact header over an attacker\'s signature is refused', async () => {
    const attacker = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    await assertInactive(jws({ alg: 'ES256', kid: es.kid, typ: 'at+jwt' }, claims(), attacker.privateKey), 'ES256 header, other key');
    const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 });
    await assertInactive(jws({ alg: 'RS256', kid: rs.kid, typ: 'at+jwt' }, claims(), rsa.privateKey), 'RS256 header, other key');
  });

  test('access tokens are ES256 only: even our own RS256 key cannot make one', async () => {
    await assertInactive(jws({ alg: 'RS256', kid: rs.kid, typ: 'at+jwt' }, claims(), rs.key), 'RS256 with our key');
  });

  test('alg none, with or without a signature (CVE-2022-23540)', async () => {
    const input = `${b64({ alg: 'none', typ: 'at+jwt', kid: es.kid })}.${b64(claims())}`;
    await assertInactive(`${input}.`, 'empty signature');
    await assertInactive(`${input}.${b64('x')}`, 'junk signature');
  });

  test('HS256 signed with the public key as the secret (CVE-2022-23541)', async () => {
    const publicJwk = jwks.keys.find((k) => k.kid === es.kid)!;
    for (const secret of [JSON.stringify(publicJwk), es.key.export({ format: 'pem', type: 'pkcs8' }).toString()]) {
      const input = `${b64({ alg: 'HS256', kid: es.kid, typ: 'at+jwt' })}.${b64(claims())}`;
      await assertInactive(`${input}.${createHmac('sha256', secret).update(input).digest('base64url')}`, 'HS256');
    }
  });

  test('a key carried in the token: jwk, jku, x5u, x5c (CVE-2026-27962)', async () => {
    const attacker = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const jwk = attacker.publicKey.export({ format: 'jwk' });
    await assertInactive(jws({ alg: 'ES256', typ: 'at+jwt', jwk }, claims(), attacker.privateKey), 'jwk header');
    await assertInactive(jws({ alg: 'ES256', typ: 'at+jwt', kid: es.kid, jwk }, claims(), attacker.privateKey), 'our kid, their jwk');
    await assertInactive(jws({ alg: 'ES256', typ: 'at+jwt', jku: 'https://evil.example/jwks' }, claims(), attacker.privateKey), 'jku');
    await assertInactive(jws({ alg: 'ES256', typ: 'at+jwt', kid: 'attacker' }, claims(), attacker.privateKey), 'unknown kid');
    // Even signed by our own key, a header with extra members is not one we produce.
    await assertInactive(ours(claims(), { jwk }), 'our key, extra jwk member');
    await assertInactive(ours(claims(), { x5u: 'https://evil.example/cert' }), 'our key, x5u');
  });

  test('unknown crit is refused (CVE-2025-59420)', async () => {
    await assertInactive(ours(claims(), { crit: ['exp'] }), 'crit');
    await assertInactive(ours(claims(), { crit: ['urn:unknown'], 'urn:unknown': true }), 'crit with its member');
  });

  test('wrong typ: an ID token or a plain JWT is not an access token', async () => {
    await assertInactive(jws({ alg: 'ES256', kid: es.kid, typ: 'JWT' }, claims(), es.key), 'typ JWT');
    await assertInactive(jws({ alg: 'ES256', kid: es.kid }, claims(), es.key), 'no typ');
    await assertInactive(jws({ alg: 'RS256', kid: rs.kid, typ: 'JWT' }, claims({ nonce: 'n' }), rs.key), 'ID-token-like');
    await assertInactive(jws({ alg: 'ES256', kid: es.kid, typ: 'application/at+jwt' }, claims(), es.key), 'media type form');
    await assertInactive(jws({ typ: 'at+jwt', alg: 'ES256', kid: es.kid }, claims(), es.key), 'same members, other order');
  });

  test('iss as a prefix, suffix or variant of ours (CVE-2024-53861)', async () => {
    for (const iss of [`${s.issuer}.evil.example`, s.issuer.slice(0, -1), `${s.issuer}/`, `${s.issuer}/x`, s.issuer.toUpperCase(), [s.issuer]]) {
      await assertInactive(ours(claims({ iss })), JSON.stringify(iss));
    }
  });

  test('missing or mistyped claims', async () => {
    for (const name of ['iss', 'sub', 'aud', 'exp', 'iat', 'jti', 'client_id']) {
      await assertInactive(ours(claims({ [name]: undefined })), `no ${name}`);
    }
    const now = Math.floor(Date.now() / 1000);
    await assertInactive(ours(claims({ exp: String(now + 300) })), 'exp as a string');
    await assertInactive(ours(claims({ exp: null })), 'exp null');
    await assertInactive(ours(claims({ iat: 'yesterday' })), 'iat as a string');
    await assertInactive(ours(claims({ aud: 42 })), 'aud a number');
    await assertInactive(ours(claims({ aud: [] })), 'aud empty');
    await assertInactive(ours(claims({ aud: ['https://api.example.com', 7] })), 'aud with a number');
    await assertInactive(ours(claims({ client_id: 1 })), 'client_id a number');
    await assertInactive(ours(claims({ scope: ['orders:read'] })), 'scope an array');
  });

  test('expired at exp, not a second later', async () => {
    const now = Math.floor(Date.now() / 1000);
    await assertInactive(ours(claims({ exp: now })), 'exp = now');
    await assertInactive(ours(claims({ exp: now - 1 })), 'exp in the past');
  });

  test('a payload that is not a JSON object', async () => {
    for (const payload of ['[1,2]', '"text"', '42', 'null', '{not json']) {
      const input = `${b64({ alg: 'ES256', kid: es.kid, typ: 'at+jwt' })}.${Buffer.from(payload).toString('base64url')}`;
      await assertInactive(`${input}.${sign('sha256', Buffer.from(input), { key: es.key, dsaEncoding: 'ieee-p1363' }).toString('base64url')}`, payload);
    }
  });

  test('malformed signatures and shapes', async () => {
    const good = ours(claims());
    await assertActive(good, 'control');
    const [h, p, sig] = good.split('.') as [string, string, string];
    const input = `${h}.${p}`;
    const der = sign('sha256', Buffer.from(input), es.key).toString('base64url');
    await assertInactive(`${input}.${der}`, 'DER signature instead of R||S');
    await assertInactive(`${input}.${Buffer.alloc(64).toString('base64url')}`, 'zero signature');
    await assertInactive(`${input}.${sig.slice(0, -4)}`, 'truncated');
    await assertInactive(`${input}.${sig}=`, 'padding');
    await assertInactive(`${input}.${sig}.`, 'four segments');
    await assertInactive(`${input}.${sig}.x.y`, 'five segments (JWE shape)');
    await assertInactive(` ${good}`, 'leading space');
    await assertInactive(`${h}.${p}!.${sig}`, 'character outside base64url');
    await assertInactive(`${h}.${p.slice(0, -2)}.${sig}`, 'payload changed');
    await assertInactive(`${h}..${sig}`, 'empty payload');
  });

  test('a token over 8 KiB is not even parsed', async () => {
    const big = ours(claims({ padding: 'x'.repeat(9000) }));
    await assertInactive(big, 'oversized');
  });

  test('a token signed by a key that is no longer published is refused', async () => {
    const retiredSoon = ours(claims());
    await assertActive(retiredSoon, 'before');
    // Remove every key from the database: a node reading them again no longer accepts the token.
    await s.server.context.storage.db.kysely.updateTable('signing_keys').set({ expires_at: 1 }).execute();
    await assertInactive(retiredSoon, 'after its key left the JWKS');
  });
});
