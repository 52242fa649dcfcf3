import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { backends, postForm, type RunningServer, startServer, type TestDatabase } from '@latchkey/testing';

for (const backend of await backends()) {
  describe(`opaque access tokens (${backend.name})`, { skip: backend.skip }, () => {
    let db: TestDatabase;
    let s: RunningServer;
    let a: [string, string];
    let b: [string, string];

    before(async () => {
      db = await backend.create();
      s = await startServer(db);
      await s.registry.createResource({ identifier: 'https://ledger.example.com', scopes: ['ledger:read'], accessTokenFormat: 'opaque' });
      await s.registry.createResource({ identifier: 'https://api.example.com', scopes: ['orders:read'] });
      const ca = await s.registry.createClient({ name: 'a', type: 'confidential', grantTypes: ['client_credentials'], scopes: ['ledger:read'] });
      const cb = await s.registry.createClient({ name: 'b', type: 'confidential', grantTypes: ['client_credentials'], scopes: ['ledger:read'] });
      a = [ca.client.clientId, ca.clientSecret!];
      b = [cb.client.clientId, cb.clientSecret!];
    });
    after(async () => {
      await s?.close();
      await db?.drop();
    });

    const issue = async (creds: [string, string], form: Record<string, string> = {}) =>
      postForm(`${s.url}/token`, { grant_type: 'client_credentials', ...form }, { basic: creds });
    const introspect = (token: string, creds: [string, string]) => postForm(`${s.url}/introspect`, { token }, { basic: creds });

    test('a resource registered for opaque tokens gets a 256-bit reference, not a JWT', async () => {
      const res = await issue(a);
      assert.equal(res.status, 200, res.text);
      const token = res.body.access_token as string;
      assert.match(token, /^lko_[A-Za-z0-9_-]{43}$/);
      assert.equal(res.body.token_type, 'Bearer');
      assert.equal(res.body.scope, 'ledger:read');
      assert.equal(res.body.expires_in, 600);
    });

    test('it introspects as active with its claims, for its own client only', async () => {
      const token = (await issue(a)).body.access_token as string;
      const res = await introspect(token, a);
      assert.equal(res.body.active, true);
      assert.equal(res.body.client_id, a[0]);
      assert.equal(res.body.sub, a[0]);
      assert.equal(res.body.aud, 'https://ledger.example.com');
      assert.equal(res.body.scope, 'ledger:read');
      assert.equal(res.body.iss, s.issuer);
      assert.equal(res.body.exp - res.body.iat, 600);
      assert.ok(res.body.jti);
      assert.equal((await introspect(token, b)).text, '{"active":false}');
      assert.equal((await introspect(`${token}x`, a)).text, '{"active":false}', 'unknown');
    });

    test('stored only as its SHA-256', async () => {
      const token = (await issue(a)).body.access_token as string;
      const rows = await s.server.context.storage.db.kysely.selectFrom('opaque_access_tokens').selectAll().execute();
      assert.ok(!JSON.stringify(rows).includes(token.slice(4)), 'the token is not in the database');
      const hash = createHash('sha256').update(token).digest('base64url');
      assert.ok(rows.some((r) => r.token_hash === hash));
    });

    test('revocation: 200, then inactive; another client cannot revoke it', async () => {
      const token = (await issue(a)).body.access_token as string;
      const refused = await postForm(`${s.url}/revoke`, { token }, { basic: b });
      assert.equal(refused.body.error, 'unauthorized_client');
      assert.equal((await introspect(token, a)).body.active, true);
      assert.equal((await postForm(`${s.url}/revoke`, { token }, { basic: a })).status, 200);
      assert.equal((await introspect(token, a)).text, '{"active":false}');
    });

    test('expired: inactive from exp on, and purged by the janitor', async (t) => {
      const token = (await issue(a)).body.access_token as string;
      const hash = createHash('sha256').update(token).digest('base64url');
      const record = (await s.server.context.storage.opaqueTokens.find(hash))!;
      t.mock.timers.enable({ apis: ['Date'], now: record.expiresAt * 1000 });
      assert.equal((await introspect(token, a)).text, '{"active":false}');
      t.mock.timers.reset();
      const { Janitor } = await import('../src/janitor.ts');
      await new Janitor(s.server.context).runOnce(record.expiresAt + 1);
      assert.equal(await s.server.context.storage.opaqueTokens.find(hash), undefined);
    });

    test('one token cannot span a JWT audience and an opaque one: invalid_target', async () => {
      const both = await s.registry.createClient({ name: 'both', type: 'confidential', grantTypes: ['client_credentials'], scopes: ['ledger:read', 'orders:read'] });
      const creds: [string, string] = [both.client.clientId, both.clientSecret!];
      const res = await issue(creds, { scope: 'ledger:read orders:read' });
      assert.equal(res.status, 400);
      assert.equal(res.body.error, 'invalid_target');
      assert.match((await issue(creds, { scope: 'orders:read' })).body.access_token, /^ey/, 'JWT for the JWT resource');
      assert.match((await issue(creds, { scope: 'ledger:read' })).body.access_token, /^lko_/, 'opaque for the other');
    });
  });
}
