import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { backends, dbEnv, postForm, runLatchkey, type RunningServer, startServer, type TestDatabase } from '@latchkey/testing';

/**
 * RFC 7662 §2.1: an API introspects the tokens issued for it with its own credentials. A client
 * registered with `introspectFor` (CLI `--introspect-for`) acts for those APIs: it sees every token
 * whose `aud` names one of them, whoever the token was issued to, and nothing else.
 */
for (const backend of await backends()) {
  describe(`introspection by the resource server (${backend.name})`, { skip: backend.skip }, () => {
    let db: TestDatabase;
    let s: RunningServer;
    let caller: [string, string];
    let ordersApi: [string, string];
    let opaqueApi: [string, string];

    before(async () => {
      db = await backend.create();
      s = await startServer(db);
      await s.registry.createResource({ identifier: 'https://orders.example.com', scopes: ['orders:read'] });
      await s.registry.createResource({ identifier: 'https://billing.example.com', scopes: ['billing:read'] });
      await s.registry.createResource({ identifier: 'https://vault.example.com', scopes: ['vault:read'], accessTokenFormat: 'opaque' });
      const c = await s.registry.createClient({
        name: 'caller',
        type: 'confidential',
        grantTypes: ['client_credentials'],
        scopes: ['orders:read', 'billing:read', 'vault:read'],
      });
      caller = [c.client.clientId, c.clientSecret!];
      const o = await s.registry.createClient({ name: 'orders-api', type: 'confidential', grantTypes: [], scopes: [], introspectFor: ['https://orders.example.com'] });
      ordersApi = [o.client.clientId, o.clientSecret!];
      const v = await s.registry.createClient({ name: 'vault-api', type: 'confidential', grantTypes: [], scopes: [], introspectFor: ['https://vault.example.com'] });
      opaqueApi = [v.client.clientId, v.clientSecret!];
    });
    after(async () => {
      await s?.close();
      await db?.drop();
    });

    const token = async (scope: string) => {
      const res = await postForm(`${s.issuer}/token`, { grant_type: 'client_credentials', scope }, { basic: caller });
      assert.equal(res.status, 200, res.text);
      return res.body.access_token as string;
    };
    const introspect = (t: string, as: [string, string]) => postForm(`${s.issuer}/introspect`, { token: t }, { basic: as });

    test('the API sees the tokens issued for it, JWT and opaque, whoever they were issued to', async () => {
      const forOrders = await token('orders:read');
      const seen = await introspect(forOrders, ordersApi);
      assert.equal(seen.body.active, true, seen.text);
      assert.equal(seen.body.client_id, caller[0]);
      assert.equal(seen.body.aud, 'https://orders.example.com');
      const opaque = await token('vault:read');
      assert.ok(opaque.startsWith('lko_'));
      assert.equal((await introspect(opaque, opaqueApi)).body.active, true);
    });

    test('a token for another API is inactive to it, exactly {"active":false}', async () => {
      const forBilling = await token('billing:read');
      assert.deepEqual((await introspect(forBilling, ordersApi)).body, { active: false });
      assert.deepEqual((await introspect(await token('vault:read'), ordersApi)).body, { active: false });
    });

    test('revocation is seen by the API at once', async () => {
      const t = await token('orders:read');
      await postForm(`${s.issuer}/revoke`, { token: t }, { basic: caller });
      assert.deepEqual((await introspect(t, ordersApi)).body, { active: false });
    });

    test('an API-only client has no grant: it cannot get tokens', async () => {
      const res = await postForm(`${s.issuer}/token`, { grant_type: 'client_credentials' }, { basic: ordersApi });
      assert.equal(res.body.error, 'unauthorized_client');
    });

    test('registration: confidential only, existing resources only; the CLI takes --introspect-for without grant types', async () => {
      await assert.rejects(
        s.registry.createClient({ name: 'x', type: 'public', grantTypes: [], scopes: [], introspectFor: ['https://orders.example.com'] }),
        /only confidential clients may introspect/,
      );
      await assert.rejects(
        s.registry.createClient({ name: 'x', type: 'confidential', grantTypes: [], scopes: [], introspectFor: ['https://nope.example.com'] }),
        /no resource/,
      );
      await assert.rejects(s.registry.createClient({ name: 'x', type: 'confidential', grantTypes: [], scopes: [] }), /at least one grant type/);
      const run = await runLatchkey(
        ['clients', 'create', '--name', 'billing-api', '--type', 'confidential', '--introspect-for', 'https://billing.example.com', '--json'],
        dbEnv(db),
      );
      assert.equal(run.code, 0, run.stderr);
      const created = JSON.parse(run.stdout);
      assert.deepEqual(created.client.introspect_for, ['https://billing.example.com']);
      assert.deepEqual(created.client.grant_types, []);
      const forBilling = await token('billing:read');
      assert.equal((await introspect(forBilling, [created.client_id, created.client_secret])).body.active, true);
    });
  });
}
