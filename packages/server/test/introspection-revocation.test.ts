import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { SignJWT, generateKeyPair } from 'jose';
import { backends, postForm, type RunningServer, seedOrdersApi, startServer, type TestDatabase } from '@latchkey/testing';

for (const backend of await backends()) {
  describe(`introspection (RFC 7662) and revocation (RFC 7009) (${backend.name})`, { skip: backend.skip }, () => {
    let db: TestDatabase;
    let s: RunningServer;
    let a: [string, string];
    let b: [string, string];

    before(async () => {
      db = await backend.create();
      s = await startServer(db);
      const seeded = await seedOrdersApi(s);
      a = [seeded.clientId, seeded.clientSecret];
      const other = await s.registry.createClient({ name: 'svc-b', type: 'confidential', grantTypes: ['client_credentials'], scopes: ['orders:read'] });
      b = [other.client.clientId, other.clientSecret!];
    });
    after(async () => {
      await s?.close();
      await db?.drop();
    });

    const issue = async (creds: [string, string]) => {
      const res = await postForm(`${s.url}/token`, { grant_type: 'client_credentials' }, { basic: creds });
      assert.equal(res.status, 200, res.text);
      return res.body.access_token as string;
    };
    const introspect = (token: string, creds: [string, string], extra: Record<string, string> = {}) =>
      postForm(`${s.url}/introspect`, { token, ...extra }, { basic: creds });
    const revoke = (token: string, creds: [string, string], extra: Record<string, string> = {}) =>
      postForm(`${s.url}/revoke`, { token, ...extra }, { basic: creds });

    test('an active token introspects with its claims', async () => {
      const token = await issue(a);
      const res = await introspect(token, a);
      assert.equal(res.status, 200);
      assert.equal(res.headers.get('cache-control'), 'no-store');
      assert.equal(res.body.active, true);
      assert.equal(res.body.client_id, a[0]);
      assert.equal(res.body.sub, a[0]);
      assert.equal(res.body.scope, 'orders:read');
      assert.equal(res.body.aud, 'https://api.example.com');
      assert.equal(res.body.iss, s.issuer);
      assert.equal(res.body.token_type, 'Bearer');
      assert.ok(res.body.exp > res.body.iat);
      assert.ok(res.body.jti);
    });

    test('introspection requires client authentication (RFC 7662 §2.1)', async () => {
      const token = await issue(a);
      const res = await postForm(`${s.url}/introspect`, { token });
      assert.equal(res.status, 401);
      assert.equal(res.body.error, 'invalid_client');
      const wrong = await introspect(token, [a[0], 'not-the-secret']);
      assert.equal(wrong.status, 401);
      assert.equal(wrong.body.error, 'invalid_client');
    });

    test('a missing token parameter is invalid_request', async () => {
      const res = await postForm(`${s.url}/introspect`, {}, { basic: a });
      assert.equal(res.status, 400);
      assert.equal(res.body.error, 'invalid_request');
    });

    test("another client's token introspects as exactly {\"active\":false}", async () => {
      const token = await issue(a);
      const res = await introspect(token, b);
      assert.equal(res.status, 200);
      assert.equal(res.text, '{"active":false}');
    });

    test('unknown, malformed, foreign-signed, oversized and expired tokens are exactly {"active":false}', async () => {
      const { privateKey } = await generateKeyPair('ES256');
      const now = Math.floor(Date.now() / 1000);
      const forged = await new SignJWT({ client_id: a[0], scope: 'orders:read' })
        .setProtectedHeader({ alg: 'ES256', typ: 'at+jwt', kid: 'attacker' })
        .setIssuer(s.issuer)
        .setSubject(a[0])
        .setAudience('https://api.example.com')
        .setIssuedAt()
        .setExpirationTime('5m')
        .setJti('forged')
        .sign(privateKey);
      const unsigned = `${Buffer.from(JSON.stringify({ alg: 'none', typ: 'at+jwt' })).toString('base64url')}.${Buffer.from(
        JSON.stringify({ iss: s.issuer, sub: a[0], client_id: a[0], aud: 'x', exp: now + 300, iat: now, jti: 'n' }),
      ).toString('base64url')}.`;
      const genuine = await issue(a);
      const [h, p] = genuine.split('.');
      const tampered = `${h}.${Buffer.from(JSON.stringify({ ...JSON.parse(Buffer.from(p!, 'base64url').toString()), scope: 'orders:write' })).toString('base64url')}.${genuine.split('.')[2]}`;
      for (const token of ['nope', 'a.b.c', forged, unsigned, tampered, 'x'.repeat(20_000)]) {
        const res = await introspect(token, a);
        assert.equal(res.status, 200);
        assert.equal(res.text, '{"active":false}', token.slice(0, 40));
      }
    });

    test('an expired token is inactive', async (t) => {
      await s.registry.createResource({ identifier: 'https://brief.example.com', scopes: ['brief:read'], accessTokenTtlSeconds: 1 });
      const c = await s.registry.createClient({ name: 'brief', type: 'confidential', grantTypes: ['client_credentials'], scopes: ['brief:read'] });
      const creds: [string, string] = [c.client.clientId, c.clientSecret!];
      const token = await issue(creds);
      assert.equal((await introspect(token, creds)).body.active, true);
      // RFC 7662 §2.2: active only before exp; the issuer grants itself no tolerance.
      const { exp } = JSON.parse(Buffer.from(token.split('.')[1]!, 'base64url').toString());
      t.mock.timers.enable({ apis: ['Date'], now: exp * 1000 - 1 });
      assert.equal((await introspect(token, creds)).body.active, true, 'the last moment before exp');
      t.mock.timers.setTime(exp * 1000);
      assert.equal((await introspect(token, creds)).text, '{"active":false}', 'inactive from exp on');
    });

    test('revocation: 200, then the token introspects as inactive; the revoked jti is stored until exp', async () => {
      const token = await issue(a);
      const res = await revoke(token, a, { token_type_hint: 'access_token' });
      assert.equal(res.status, 200);
      assert.equal((await introspect(token, a)).text, '{"active":false}');
      const jti = JSON.parse(Buffer.from(token.split('.')[1]!, 'base64url').toString()).jti;
      const row = await s.server.context.storage.db.kysely
        .selectFrom('revoked_access_tokens')
        .selectAll()
        .where('jti', '=', jti)
        .executeTakeFirstOrThrow();
      const exp = JSON.parse(Buffer.from(token.split('.')[1]!, 'base64url').toString()).exp;
      assert.equal(Number(row.expires_at), exp);
      assert.equal(row.client_id, a[0]);
      // Revoking again is fine (idempotent).
      assert.equal((await revoke(token, a)).status, 200);
    });

    test('revocation of an unknown or invalid token is 200; an unknown type hint is only a hint (RFC 7009 §2.2)', async () => {
      assert.equal((await revoke('garbage', a)).status, 200);
      assert.equal((await revoke('garbage', a, { token_type_hint: 'refresh_token' })).status, 200);
      const token = await issue(a);
      assert.equal((await revoke(token, a, { token_type_hint: 'something_else' })).status, 200);
      assert.equal((await introspect(token, a)).text, '{"active":false}');
    });

    test("a client cannot revoke another client's token", async () => {
      const token = await issue(a);
      const res = await revoke(token, b);
      assert.equal(res.status, 400);
      assert.equal(res.body.error, 'unauthorized_client');
      assert.equal((await introspect(token, a)).body.active, true, 'still active for its owner');
    });

    test('revocation requires client authentication', async () => {
      const token = await issue(a);
      const res = await postForm(`${s.url}/revoke`, { token });
      assert.equal(res.status, 401);
      assert.equal(res.body.error, 'invalid_client');
      assert.equal((await introspect(token, a)).body.active, true);
    });

    test('a missing token at /revoke is invalid_request', async () => {
      const res = await postForm(`${s.url}/revoke`, {}, { basic: a });
      assert.equal(res.status, 400);
      assert.equal(res.body.error, 'invalid_request');
    });

    test('the id of a deleted client is never reused, so its tokens cannot come back', async () => {
      const first = await s.registry.createClient({ name: 'reused', clientId: 'svc-reused', type: 'confidential', grantTypes: ['client_credentials'], scopes: ['orders:read'] });
      const token = await issue([first.client.clientId, first.clientSecret!]);
      await s.registry.deleteClient('svc-reused');
      await assert.rejects(
        s.registry.createClient({ name: 'again', clientId: 'svc-reused', type: 'confidential', grantTypes: ['client_credentials'], scopes: ['orders:read'] }),
        /deleted client and cannot be reused/,
      );
      assert.equal((await introspect(token, a)).text, '{"active":false}');
    });

    test('a deleted client: its tokens introspect as inactive for everyone', async () => {
      const c = await s.registry.createClient({ name: 'temp', type: 'confidential', grantTypes: ['client_credentials'], scopes: ['orders:read'] });
      const creds: [string, string] = [c.client.clientId, c.clientSecret!];
      const token = await issue(creds);
      await s.registry.deleteClient(c.client.clientId);
      assert.equal((await introspect(token, creds)).status, 401);
      assert.equal((await introspect(token, a)).text, '{"active":false}');
    });

    test('the janitor keeps up: one run purges every expired row, however many', async () => {
      const kysely = s.server.context.storage.db.kysely;
      for (let chunk = 0; chunk < 24; chunk++) {
        await kysely
          .insertInto('revoked_access_tokens')
          .values(Array.from({ length: 500 }, (_, i) => ({ jti: `bulk-${chunk}-${i}`, client_id: a[0], expires_at: 1000, revoked_at: 900 })))
          .execute();
      }
      const { Janitor } = await import('../src/janitor.ts');
      const result = await new Janitor(s.server.context).runOnce(100_000);
      assert.ok(result.revocations >= 12_000, `purged ${result.revocations}`);
      const left = await kysely.selectFrom('revoked_access_tokens').select('jti').where('jti', 'like', 'bulk-%').execute();
      assert.equal(left.length, 0);
    });

    test('the janitor forgets revocations only well after the token expired, and a revoked token never comes back', async (t) => {
      const token = await issue(a);
      await revoke(token, a);
      const { exp, jti } = JSON.parse(Buffer.from(token.split('.')[1]!, 'base64url').toString());
      const store = s.server.context.storage.revocations;
      const { Janitor } = await import('../src/janitor.ts');
      const janitor = new Janitor(s.server.context);
      await janitor.runOnce(exp - 1);
      assert.equal(await store.isAccessTokenRevoked(jti), true, 'kept while the token could be used');
      await janitor.runOnce(exp + 1);
      assert.equal(await store.isAccessTokenRevoked(jti), true, 'kept a while after exp, for leeway');
      t.mock.timers.enable({ apis: ['Date'], now: (exp + 1) * 1000 });
      assert.equal((await introspect(token, a)).text, '{"active":false}');
      t.mock.timers.reset();
      await janitor.runOnce(exp + 301);
      assert.equal(await store.isAccessTokenRevoked(jti), false, 'purged long after it expired');
    });
  });
}
