import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { createRemoteJWKSet, decodeProtectedHeader, jwtVerify } from 'jose';
import { sql } from 'kysely';
import { backends, postForm, type RunningServer, seedOrdersApi, startServer, type TestDatabase } from '@latchkey/testing';

for (const backend of await backends()) {
  describe(`client_credentials grant (${backend.name})`, { skip: backend.skip }, () => {
    let db: TestDatabase;
    let s: RunningServer;
    let client: { clientId: string; clientSecret: string };

    before(async () => {
      db = await backend.create();
      s = await startServer(db);
      client = await seedOrdersApi(s);
    });
    after(async () => {
      await s?.close();
      await db?.drop();
    });

    const token = (form: Record<string, string | string[]> = {}, basic?: [string, string]) =>
      postForm(`${s.url}/token`, { grant_type: 'client_credentials', ...form }, { basic: basic ?? [client.clientId, client.clientSecret] });

    test('issues a JWT access token that verifies against /jwks and has every RFC 9068 claim', async () => {
      const res = await token();
      assert.equal(res.status, 200);
      assert.equal(res.body.token_type, 'Bearer');
      assert.equal(res.body.expires_in, 600);
      assert.equal(res.body.scope, 'orders:read');
      assert.equal(res.body.refresh_token, undefined, 'RFC 6749 §4.4.3: no refresh token');
      assert.equal(res.headers.get('cache-control'), 'no-store');

      const jwks = createRemoteJWKSet(new URL(`${s.url}/jwks`));
      const { payload, protectedHeader } = await jwtVerify(res.body.access_token, jwks, {
        issuer: s.issuer,
        audience: 'https://api.example.com',
        typ: 'at+jwt',
        algorithms: ['ES256'],
      });
      assert.equal(protectedHeader.typ, 'at+jwt');
      assert.equal(protectedHeader.alg, 'ES256');
      assert.ok(protectedHeader.kid);
      for (const claim of ['iss', 'sub', 'aud', 'exp', 'iat', 'jti', 'client_id', 'scope']) {
        assert.ok(payload[claim] !== undefined, `claim ${claim} present`);
      }
      assert.equal(payload.iss, s.issuer);
      assert.equal(payload.sub, client.clientId);
      assert.equal(payload.client_id, client.clientId);
      assert.equal(payload.aud, 'https://api.example.com');
      assert.equal(payload.scope, 'orders:read');
      assert.equal(payload.exp! - payload.iat!, 600);
      assert.ok((payload.jti as string).length >= 22, 'jti carries at least 128 bits');
    });

    test('each token has its own jti', async () => {
      const a = await token();
      const b = await token();
      const { payload: pa } = await jwtVerify(a.body.access_token, createRemoteJWKSet(new URL(`${s.url}/jwks`)));
      const { payload: pb } = await jwtVerify(b.body.access_token, createRemoteJWKSet(new URL(`${s.url}/jwks`)));
      assert.notEqual(pa.jti, pb.jti);
    });

    test('client_secret_post works for a client registered for it', async () => {
      const created = await s.registry.createClient({
        name: 'poster',
        type: 'confidential',
        grantTypes: ['client_credentials'],
        scopes: ['orders:read'],
        tokenEndpointAuthMethod: 'client_secret_post',
      });
      const res = await postForm(`${s.url}/token`, {
        grant_type: 'client_credentials',
        client_id: created.client.clientId,
        client_secret: created.clientSecret!,
      });
      assert.equal(res.status, 200, res.text);
      assert.equal(res.body.scope, 'orders:read');
    });

    test('issuing a client-credentials token writes nothing to the database', async () => {
      const kysely = s.server.context.storage.db.kysely;
      const tables = ['resources', 'resource_scopes', 'clients', 'client_scopes', 'client_audiences', 'signing_keys', 'revoked_access_tokens'];
      const snapshot = async () => {
        const out: Record<string, unknown> = {};
        for (const t of tables) {
          out[t] = (await sql<Record<string, unknown>>`select * from ${sql.table(t)} order by 1`.execute(kysely)).rows;
        }
        return JSON.stringify(out);
      };
      const before = await snapshot();
      for (let i = 0; i < 5; i++) assert.equal((await token()).status, 200);
      assert.equal(await snapshot(), before);
    });

    test('scope narrows the token to what was asked', async () => {
      const wide = await s.registry.createClient({
        name: 'wide',
        type: 'confidential',
        grantTypes: ['client_credentials'],
        scopes: ['orders:read', 'orders:write'],
      });
      const creds: [string, string] = [wide.client.clientId, wide.clientSecret!];
      const all = await token({}, creds);
      assert.equal(all.body.scope, 'orders:read orders:write', 'no scope: every allowed scope');
      const narrow = await token({ scope: 'orders:write' }, creds);
      assert.equal(narrow.status, 200);
      assert.equal(narrow.body.scope, 'orders:write');
    });

    test('a scope the client was not allowed is invalid_scope', async () => {
      const res = await token({ scope: 'orders:read orders:write' });
      assert.equal(res.status, 400);
      assert.equal(res.body.error, 'invalid_scope');
    });

    test('an unknown or malformed scope is invalid_scope', async () => {
      assert.equal((await token({ scope: 'nope:never' })).body.error, 'invalid_scope');
      assert.equal((await token({ scope: 'orders:read "quoted"' })).body.error, 'invalid_scope');
    });

    test('a scope of spaces alone is malformed (RFC 6749 §3.3), with or without a resource', async () => {
      assert.equal((await token({ scope: '   ' })).body.error, 'invalid_scope');
      assert.equal((await token({ scope: ' ', resource: 'https://api.example.com' })).body.error, 'invalid_scope');
    });

    test('error descriptions never reflect the requested scope', async () => {
      const probe = `probe${'x'.repeat(300)}:read`;
      const res = await token({ scope: probe });
      assert.equal(res.body.error, 'invalid_scope');
      assert.ok(!res.text.includes('probe'), res.text);
      const other = await token({ resource: 'https://api.example.com', scope: probe });
      assert.ok(!other.text.includes('probe'));
    });

    test('resource (RFC 8707) selects the audience', async () => {
      const res = await token({ resource: 'https://api.example.com' });
      assert.equal(res.status, 200, res.text);
      const { payload } = await jwtVerify(res.body.access_token, createRemoteJWKSet(new URL(`${s.url}/jwks`)));
      assert.equal(payload.aud, 'https://api.example.com');
    });

    test('a resource the client may not use, an unknown one or a malformed one is invalid_target', async () => {
      await s.registry.createResource({ identifier: 'https://billing.example.com', scopes: ['billing:read'] });
      for (const resource of ['https://billing.example.com', 'https://unknown.example.com', 'not a uri', 'https://api.example.com#frag']) {
        const res = await token({ resource });
        assert.equal(res.status, 400, resource);
        assert.equal(res.body.error, 'invalid_target', resource);
      }
    });

    test('a scope that does not belong to the named resource is invalid_scope', async () => {
      const both = await s.registry.createClient({
        name: 'both',
        type: 'confidential',
        grantTypes: ['client_credentials'],
        scopes: ['orders:read', 'billing:read'],
      });
      const creds: [string, string] = [both.client.clientId, both.clientSecret!];
      const res = await token({ resource: 'https://api.example.com', scope: 'billing:read' }, creds);
      assert.equal(res.body.error, 'invalid_scope');
      const ambiguous = await token({}, creds);
      assert.equal(ambiguous.body.error, 'invalid_target', 'several audiences and no choice');
      const twoAud = await token({ scope: 'orders:read billing:read' }, creds);
      assert.equal(twoAud.status, 200);
      const { payload } = await jwtVerify(twoAud.body.access_token, createRemoteJWKSet(new URL(`${s.url}/jwks`)));
      assert.deepEqual([...(payload.aud as string[])].sort(), ['https://api.example.com', 'https://billing.example.com']);
    });

    test('a resource with its own token lifetime shortens expires_in', async () => {
      await s.registry.createResource({ identifier: 'https://short.example.com', scopes: ['short:read'], accessTokenTtlSeconds: 120 });
      const c = await s.registry.createClient({ name: 'short', type: 'confidential', grantTypes: ['client_credentials'], scopes: ['short:read'] });
      const res = await token({}, [c.client.clientId, c.clientSecret!]);
      assert.equal(res.body.expires_in, 120);
    });

    test("a client token's sub is the client id, which can never have a user subject's UUID form (RFC 9700 §4.15)", async () => {
      const res = await token();
      const { payload } = await jwtVerify(res.body.access_token, createRemoteJWKSet(new URL(`${s.url}/jwks`)));
      assert.equal(payload.sub, client.clientId);
      await assert.rejects(
        s.registry.createClient({
          name: 'impostor',
          clientId: '6f1c1c2e-8c5e-4a55-9d1f-0b7a2f6f4c11',
          type: 'confidential',
          grantTypes: ['client_credentials'],
          scopes: ['orders:read'],
        }),
        /UUID/,
      );
    });

    test('the token header names a key published in /jwks', async () => {
      const res = await token();
      const { kid } = decodeProtectedHeader(res.body.access_token);
      const jwks = (await (await fetch(`${s.url}/jwks`)).json()) as { keys: { kid: string }[] };
      assert.ok(jwks.keys.some((k) => k.kid === kid));
    });
  });
}
