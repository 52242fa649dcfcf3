import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { main } from '../src/cli/main.ts';
import { backends, dbEnv, type RunningServer, startServer, type TestDatabase } from '@latchkey/testing';

/**
 * `latchkey apply` and `latchkey export` (config-as-code/): apply, export, apply the export again with
 * no change; a changed field is an update in the dry run and applied without it; secrets never shown.
 */

const SECRET = 'svc-secret-0123456789abcdefghijklmnopqrstuvwxyz';
const PROVIDER_SECRET = 'provider-secret-value-42';
const PASSWORD = 'correct horse battery staple';

const FILE = `
resources:
  - identifier: https://orders.example
    name: Orders API
    scopes:
      - name: orders:read
        description: Read your orders
        default: true
      - orders:write
  - identifier: https://notify.example
    scopes: [notify:send]
clients:
  - client_id: orders-service
    name: Orders service
    type: confidential
    grant_types: [client_credentials, urn:ietf:params:oauth:grant-type:token-exchange]
    scopes: [orders:read]
    secret_from_env: ORDERS_SERVICE_SECRET
    exchange:
      - audience: https://notify.example
        scopes: [notify:send]
  - client_id: demo-shop
    name: Demo Shop
    type: public
    grant_types: [authorization_code, refresh_token]
    scopes: [openid, profile, orders:read]
    redirect_uris: [https://shop.example/callback]
providers:
  - id: corp
    issuer: https://sso.example.com
    client_id: latchkey
    name: Corp SSO
    secret_from_env: CORP_SECRET
users:
  - username: admin
    email: admin@example.com
    name: The Admin
    password_from_env: ADMIN_PASSWORD
`;

for (const backend of await backends()) {
  describe(`configuration as code (${backend.name})`, { skip: backend.skip }, () => {
    let db: TestDatabase;
    let s: RunningServer;
    const dir = mkdtempSync(join(tmpdir(), 'latchkey-cac-'));
    const saved: Record<string, string | undefined> = {};

    /** Runs the CLI in this process with the database's environment and these variables. */
    async function cli(args: string[], vars: Record<string, string> = {}) {
      const env = { ...dbEnv(db), ...vars };
      for (const [k, v] of Object.entries(env)) {
        if (!(k in saved)) saved[k] = process.env[k];
        if (v === undefined) delete process.env[k];
        else process.env[k] = v;
      }
      let out = '';
      let err = '';
      const code = await main(args, { out: (t) => (out += `${t}\n`), err: (t) => (err += `${t}\n`) });
      return { code, out, err };
    }
    const secrets = { ORDERS_SERVICE_SECRET: SECRET, CORP_SECRET: PROVIDER_SECRET, ADMIN_PASSWORD: PASSWORD };

    before(async () => {
      db = await backend.create();
      s = await startServer(db);
    });
    after(async () => {
      for (const [k, v] of Object.entries(saved)) {
        if (v === undefined) delete process.env[k];
        else process.env[k] = v;
      }
      await s?.close();
      await db?.drop();
    });

    test('apply, export, apply the export again: no change; the secret works and is never printed', async () => {
      const file = join(dir, 'latchkey.yaml');
      writeFileSync(file, FILE);
      const dry = await cli(['apply', '--file', file, '--dry-run'], secrets);
      assert.equal(dry.code, 0, dry.err);
      assert.match(dry.out, /\+ create client orders-service/);
      assert.ok(!(await s.registry.listResources()).some((r) => r.identifier === 'https://orders.example'), 'a dry run changes nothing');

      const applied = await cli(['apply', '--file', file], secrets);
      assert.equal(applied.code, 0, applied.err);
      assert.match(applied.out, /applied 6 change\(s\)/);
      const svc = await s.registry.getClient('orders-service');
      assert.deepEqual(svc.scopes.map((x) => x.scope), ['orders:read']);
      assert.deepEqual((await s.registry.tokenExchangePolicies('orders-service')).map((p) => p.audience), ['https://notify.example']);

      // The secret from the environment is the client's secret: client_credentials with it works.
      const token = await fetch(`${s.url}/token`, {
        method: 'POST',
        headers: { authorization: `Basic ${Buffer.from(`orders-service:${SECRET}`).toString('base64')}`, 'content-type': 'application/x-www-form-urlencoded' },
        body: 'grant_type=client_credentials&scope=orders:read',
      });
      assert.equal(token.status, 200);

      const again = await cli(['apply', '--file', file], secrets);
      assert.equal(again.code, 0, again.err);
      assert.match(again.out, /^no changes/m);

      const exported = await cli(['export']);
      assert.equal(exported.code, 0, exported.err);
      assert.match(exported.out, /secret_from_env: CLIENT_ORDERS_SERVICE_SECRET/);
      assert.match(exported.out, /secret_from_env: PROVIDER_CORP_SECRET/);
      const exportFile = join(dir, 'exported.yaml');
      writeFileSync(exportFile, exported.out);
      const round = await cli(['apply', '--file', exportFile, '--json'], { CLIENT_ORDERS_SERVICE_SECRET: SECRET, PROVIDER_CORP_SECRET: PROVIDER_SECRET });
      assert.equal(round.code, 0, round.err);
      const plan = JSON.parse(round.out) as { plan: { changes: unknown[] } };
      assert.deepEqual(plan.plan.changes, [], 'export then apply: no change');

      for (const text of [dry.out, applied.out, again.out, exported.out, round.out, dry.err, applied.err]) {
        assert.ok(!text.includes(SECRET) && !text.includes(PROVIDER_SECRET) && !text.includes(PASSWORD), 'no secret printed');
      }
    });

    test('a changed field is an update in the dry run, applied without it; a changed secret shows only as changed', async () => {
      const file = join(dir, 'changed.yaml');
      writeFileSync(file, FILE.replace('[https://shop.example/callback]', '[https://shop.example/callback, https://shop.example/cb2]'));
      const newSecret = 'another-secret-0123456789abcdefghijklmnopqrstuvw';
      const vars = { ...secrets, ORDERS_SERVICE_SECRET: newSecret };
      const dry = await cli(['apply', '--file', file, '--dry-run'], vars);
      assert.equal(dry.code, 0, dry.err);
      assert.match(dry.out, /~ update client demo-shop\n {4}redirect_uris: \["https:\/\/shop.example\/callback"\] -> \["https:\/\/shop.example\/callback","https:\/\/shop.example\/cb2"\]/);
      assert.match(dry.out, /~ update client orders-service\n {4}secret: \(changed; not shown\)/);
      assert.ok(!dry.out.includes(newSecret));
      assert.deepEqual((await s.registry.getClient('demo-shop')).redirectUris, ['https://shop.example/callback'], 'dry run: unchanged');
      const applied = await cli(['apply', '--file', file], vars);
      assert.equal(applied.code, 0, applied.err);
      assert.deepEqual((await s.registry.getClient('demo-shop')).redirectUris.sort(), ['https://shop.example/callback', 'https://shop.example/cb2']);
      assert.match((await cli(['apply', '--file', file], vars)).out, /^no changes/m);
    });

    test('--prune deletes what the file does not declare, and lists it in the plan first', async () => {
      await s.registry.createClient({ name: 'stray', type: 'public', clientId: 'stray-client', grantTypes: ['authorization_code'], scopes: ['openid'], redirectUris: ['https://stray.example/cb'] });
      const file = join(dir, 'changed.yaml');
      const vars = { ...secrets, ORDERS_SERVICE_SECRET: 'another-secret-0123456789abcdefghijklmnopqrstuvw' };
      const without = await cli(['apply', '--file', file], vars);
      assert.match(without.out, /^no changes/m, 'without --prune, nothing is deleted');
      const dry = await cli(['apply', '--file', file, '--prune', '--dry-run'], vars);
      assert.match(dry.out, /- delete client stray-client/);
      const pruned = await cli(['apply', '--file', file, '--prune'], vars);
      assert.equal(pruned.code, 0, pruned.out + pruned.err);
      await assert.rejects(s.registry.getClient('stray-client'));
    });

    test('bad files are refused with the path in the file, exit 2; nothing is applied', async () => {
      const cases: [string, RegExp][] = [
        ['clients:\n  - client_id: x1x\n    name: X\n    type: public\n    grant_types: []\n    colour: red\n', /clients\[0\]\.colour: unknown key/],
        ['clients:\n  - client_id: x1x\n    name: X\n    type: public\n    grant_types: []\n    redirect_uris: [42]\n', /clients\[0\]\.redirect_uris\[0\]: must be a string/],
        ['clients:\n  - client_id: x1x\n    name: X\n    type: confidential\n    grant_types: [client_credentials]\n    client_secret: hunter2-hunter2\n', /clients\[0\]\.client_secret: secrets are never written in the file/],
        ['users:\n  - username: bob\n    password: hunter2-hunter2\n', /users\[0\]\.password: secrets are never written in the file: use password_from_env/],
        ['resources:\n  - identifier: https://a.example\n    access_token_ttl_seconds: soon\n', /resources\[0\]\.access_token_ttl_seconds: must be a whole number/],
        ['clients:\n  - client_id: x1x\n    name: X\n    type: confidential\n    grant_types: [client_credentials]\n    secret_from_env: NOT_SET_ANYWHERE\n', /clients\[0\]\.secret_from_env: the environment variable NOT_SET_ANYWHERE is not set/],
        ['resources: [\n', /not valid YAML/],
      ];
      for (const [text, expected] of cases) {
        const file = join(dir, 'bad.yaml');
        writeFileSync(file, text);
        const r = await cli(['apply', '--file', file]);
        assert.equal(r.code, 2, text);
        assert.match(r.err, expected);
        assert.ok(!r.err.includes('hunter2'), 'an inline secret is not echoed');
      }
      assert.equal((await s.registry.listClients()).some((c) => c.clientId === 'x1x'), false);
    });

    test('a change the registry refuses exits 1 and says what was done before it', async () => {
      const file = join(dir, 'refused.yaml');
      writeFileSync(file, 'users:\n  - username: nopass\n');
      const r = await cli(['apply', '--file', file]);
      assert.equal(r.code, 1);
      assert.match(r.out, /! refused user nopass: a new user needs password_from_env/);
      writeFileSync(file, 'resources:\n  - identifier: https://ok.example\n    scopes: [ok:read]\nclients:\n  - client_id: bad-one\n    name: Bad\n    type: public\n    grant_types: [client_credentials]\n');
      const partial = await cli(['apply', '--file', file]);
      assert.equal(partial.code, 1);
      assert.match(partial.out, /applied before the error: create resource https:\/\/ok.example/);
      assert.match(partial.err, /create client bad-one: public clients cannot use client_credentials/);
      assert.ok(readFileSync(file, 'utf8').length > 0);
    });
  });
}
