import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { RegistryError } from '../src/errors.ts';
import { backends, dbEnv, killLatchkeyProcesses, runLatchkey, type RunningServer, startServer, type TestDatabase } from '@latchkey/testing';

/**
 * `latchkey resources update URI --default-scopes a,b --open-scopes a,b` and Registry.updateResourceScopes:
 * a list given replaces that flag on all the resource's scopes (empty clears it), a list left out keeps it.
 */

const API = 'https://api.example.com';

for (const backend of await backends()) {
  describe(`resources update: default and open scopes (${backend.name})`, { skip: backend.skip }, () => {
    let db: TestDatabase;
    let s: RunningServer;
    let env: Record<string, string | undefined>;

    before(async () => {
      db = await backend.create();
      s = await startServer(db);
      env = dbEnv(db);
      await s.registry.createResource({ identifier: API, name: 'Orders API', scopes: ['orders:read', 'orders:write'], defaultScopes: ['orders:read'] });
    });
    after(async () => {
      killLatchkeyProcesses();
      await s?.close();
      await db?.drop();
    });

    const flags = async () => {
      const resource = await s.registry.getResource(API);
      return {
        defaults: resource.scopes.filter((sc) => sc.isDefault).map((sc) => sc.scope),
        open: resource.scopes.filter((sc) => sc.openToRegisteredClients).map((sc) => sc.scope),
      };
    };

    test('a list given replaces that flag; one left out keeps it; an empty one clears it', async () => {
      await s.registry.updateResourceScopes(API, { openScopes: ['orders:read'] });
      assert.deepEqual(await flags(), { defaults: ['orders:read'], open: ['orders:read'] });
      await s.registry.updateResourceScopes(API, { defaultScopes: ['orders:read', 'orders:write'] });
      assert.deepEqual(await flags(), { defaults: ['orders:read', 'orders:write'], open: ['orders:read'] });
      await s.registry.updateResourceScopes(API, { defaultScopes: ['orders:write'], openScopes: [] });
      assert.deepEqual(await flags(), { defaults: ['orders:write'], open: [] });
    });

    test('a scope that is not the resource\'s, or an unknown resource, is refused and changes nothing', async () => {
      const before = await flags();
      await assert.rejects(s.registry.updateResourceScopes(API, { defaultScopes: ['orders:read', 'other:read'] }), (err: unknown) => {
        assert.ok(err instanceof RegistryError);
        assert.equal(err.code, 'invalid');
        assert.match(err.message, /default scope not among the resource's scopes: other:read/);
        return true;
      });
      await assert.rejects(s.registry.updateResourceScopes('https://nowhere.example', { openScopes: [] }), (err: unknown) => err instanceof RegistryError && err.code === 'not_found');
      assert.deepEqual(await flags(), before);
    });

    test('CLI: resources update prints the resource; --json shows both lists; without a flag it is a usage error', async () => {
      const text = await runLatchkey(['resources', 'update', API, '--default-scopes', 'orders:read', '--open-scopes', 'orders:read,orders:write'], env);
      assert.equal(text.code, 0, text.stderr);
      assert.match(text.stdout, /^updated resource https:\/\/api\.example\.com\n/);
      assert.match(text.stdout, /\ndefault: {4}orders:read\n/);
      assert.match(text.stdout, /\nopen to registered clients: orders:read orders:write\n/);

      const cleared = await runLatchkey(['resources', 'update', API, '--open-scopes', '', '--json'], env);
      assert.equal(cleared.code, 0, cleared.stderr);
      const json = JSON.parse(cleared.stdout);
      assert.deepEqual(json.default_scopes, ['orders:read']);
      assert.deepEqual(json.open_scopes, []);
      assert.deepEqual(await flags(), { defaults: ['orders:read'], open: [] });

      const [usage, unknown] = await Promise.all([
        runLatchkey(['resources', 'update', API], env),
        runLatchkey(['resources', 'update', API, '--default-scopes', 'nope'], env),
      ]);
      assert.notEqual(usage.code, 0);
      assert.match(usage.stderr, /resources update needs --default-scopes or --open-scopes/);
      assert.equal(unknown.code, 1, unknown.stderr);
      assert.match(unknown.stderr, /default scope not among the resource's scopes: nope/);
    });
  });
}
