import assert from 'node:assert/strict';
import { statSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import SQLite from 'better-sqlite3';
import { createLocalJWKSet, decodeProtectedHeader, jwtVerify, type JSONWebKeySet } from 'jose';
import { Registry } from '../src/registry/registry.ts';
import { sqliteFile } from '../src/storage/database.ts';
import { Storage } from '../src/storage/storage.ts';
import { backends, freePort, killLatchkeyProcesses, postForm, type RunningServer, seedOrdersApi, type ServeProcess, startServeProcess, startServer, TEST_SECRET, type TestDatabase } from '@latchkey/testing';

const API = 'https://api.example.com';

type Creds = { clientId: string; clientSecret: string };

async function getToken(baseUrl: string, c: Creds): Promise<string> {
  const res = await postForm(`${baseUrl}/token`, { grant_type: 'client_credentials' }, { basic: [c.clientId, c.clientSecret] });
  assert.equal(res.status, 200, `${baseUrl}/token: ${res.text}`);
  return res.body.access_token as string;
}

function introspect(baseUrl: string, c: Creds, token: string) {
  return postForm(`${baseUrl}/introspect`, { token }, { basic: [c.clientId, c.clientSecret] });
}

function revoke(baseUrl: string, c: Creds, token: string) {
  return postForm(`${baseUrl}/revoke`, { token }, { basic: [c.clientId, c.clientSecret] });
}

async function jwks(baseUrl: string): Promise<JSONWebKeySet> {
  const res = await fetch(`${baseUrl}/jwks`);
  assert.equal(res.status, 200);
  return (await res.json()) as JSONWebKeySet;
}

const kidsOf = (set: JSONWebKeySet) => set.keys.map((k) => k.kid!).sort();

for (const backend of await backends()) {
  describe(`persistence (${backend.name})`, { skip: backend.skip }, () => {
    const servers: RunningServer[] = [];
    const processes: ServeProcess[] = [];
    const dbs: TestDatabase[] = [];

    after(async () => {
      killLatchkeyProcesses();
      for (const p of processes) await p.stop(1000).catch(() => {});
      for (const s of servers) await s.close().catch(() => {});
      for (const db of dbs) await db.drop();
    });

    test('a restart keeps clients, keys and revocations', async () => {
      const db = await backend.create();
      dbs.push(db);
      const first = await startServer(db);
      servers.push(first);
      const client = await seedOrdersApi(first);
      const kept = await getToken(first.url, client);
      const revoked = await getToken(first.url, client);
      const revocation = await revoke(first.url, client, revoked);
      assert.equal(revocation.status, 200, revocation.text);
      assert.deepEqual((await introspect(first.url, client, revoked)).body, { active: false });
      const kidsBefore = kidsOf(await jwks(first.url));
      assert.equal(kidsBefore.length, 2);
      await first.close();
      // Let this process's HTTP client see the old server's keep-alive sockets close: the restart below can
      // complete without the event loop polling sockets, and a stale socket would then be reused.
      await new Promise((r) => setTimeout(r, 100));

      // Same database, same port (so the same issuer), same secret: a plain restart.
      const second = await startServer(db, { port: first.settings.port });
      servers.push(second);
      assert.equal(second.issuer, first.issuer);

      const set = await jwks(second.url);
      assert.deepEqual(kidsOf(set), kidsBefore, 'the signing keys survived, none was created');

      const fresh = await getToken(second.url, client);
      assert.equal(decodeProtectedHeader(fresh).kid, decodeProtectedHeader(kept).kid, 'the same key still signs');
      const { payload } = await jwtVerify(kept, createLocalJWKSet(set), { issuer: second.issuer, audience: API, typ: 'at+jwt' });

      const active = await introspect(second.url, client, kept);
      assert.equal(active.status, 200, active.text);
      assert.equal(active.body.active, true);
      assert.equal(active.body.jti, payload.jti);
      const inactive = await introspect(second.url, client, revoked);
      assert.equal(inactive.status, 200);
      assert.equal(inactive.text, '{"active":false}', 'the revocation survived the restart');

      assert.deepEqual((await second.registry.getResource(API)).scopes.map((s) => s.scope), ['orders:read', 'orders:write']);
      assert.equal((await second.registry.getClient(client.clientId)).name, 'svc-a');
    });

    test('two server processes started at once on a fresh data directory agree on the secret and the keys', async () => {
      const db = await backend.create();
      dbs.push(db);
      const [portA, portB] = [await freePort(), await freePort()];
      const issuer = `http://127.0.0.1:${portA}`;
      // No LATCHKEY_SECRET: both race to generate it into the shared data directory, and to migrate and
      // create the first signing keys.
      const env = { LATCHKEY_ISSUER: issuer, LATCHKEY_DATA_DIR: db.dataDir, DATABASE_URL: db.databaseUrl, LOG_LEVEL: 'warn' };
      if (db.databaseUrl) {
        // With PostgreSQL a secret generated into one node's directory would lock the other nodes out
        // of the shared keys: the server refuses to start without LATCHKEY_SECRET.
        await assert.rejects(startServeProcess({ ...env, PORT: String(portA) }), /LATCHKEY_SECRET is required with DATABASE_URL/);
        return;
      }
      const started = await Promise.allSettled([
        startServeProcess({ ...env, PORT: String(portA) }),
        startServeProcess({ ...env, PORT: String(portB) }),
      ]);
      for (const s of started) if (s.status === 'fulfilled') processes.push(s.value);
      for (const s of started) if (s.status === 'rejected') throw s.reason;
      const [a, b] = processes.slice(-2) as [ServeProcess, ServeProcess];

      const kids = kidsOf(await jwks(a.url));
      assert.equal(kids.length, 2, 'one ES256 and one RS256 key, not one per process');
      assert.deepEqual(kidsOf(await jwks(b.url)), kids);
      const secretFile = join(db.dataDir, 'secret');
      assert.equal(statSync(secretFile).mode & 0o777, 0o600);
      for (const p of [a, b]) assert.match(p.output(), /LATCHKEY_SECRET is not set/, 'each process warns about the generated secret');

      // Both decrypt the same keys: a token from one verifies on the other.
      const storage = await Storage.open({ dataDir: db.dataDir, databaseUrl: db.databaseUrl });
      let client: Creds;
      try {
        await new Registry(storage).createResource({ identifier: API, scopes: ['orders:read'] });
        const created = await new Registry(storage).createClient({
          name: 'svc-a',
          type: 'confidential',
          grantTypes: ['client_credentials'],
          scopes: ['orders:read'],
        });
        client = { clientId: created.client.clientId, clientSecret: created.clientSecret! };
      } finally {
        await storage.close();
      }
      for (const [from, to] of [[a, b], [b, a]] as const) {
        const t = await getToken(from.url, client);
        assert.equal((await introspect(to.url, client, t)).body.active, true);
      }
      for (const p of [a, b]) assert.deepEqual(await p.stop(), { code: 0, signal: null }, p.output());
    });

    test('two server processes share the database at the same time', async () => {
      const db = await backend.create();
      dbs.push(db);
      const one = await startServer(db, { logLevel: 'warn' });
      servers.push(one);
      const port = await freePort();
      // A second node in its own process, with the same issuer and secret, so tokens are interchangeable.
      const two = await startServeProcess({
        PORT: String(port),
        LATCHKEY_ISSUER: one.issuer,
        LATCHKEY_DATA_DIR: db.dataDir,
        DATABASE_URL: db.databaseUrl,
        LATCHKEY_SECRET: TEST_SECRET,
        LATCHKEY_KEY_CACHE_SECONDS: '0',
        LATCHKEY_JANITOR_INTERVAL_SECONDS: '0',
        LOG_LEVEL: 'warn',
      });
      processes.push(two);
      const nodes = [one.url, two.url];
      assert.deepEqual(kidsOf(await jwks(two.url)), kidsOf(await jwks(one.url)), 'both nodes publish the same keys');

      // A client registered through node one is usable on node two at once.
      const client = await seedOrdersApi(one);
      const viaTwo = await getToken(two.url, client);
      const onOne = await introspect(one.url, client, viaTwo);
      assert.equal(onOne.body.active, true, `a token from node two is accepted by node one: ${onOne.text}`);
      await jwtVerify(viaTwo, createLocalJWKSet(await jwks(one.url)), { issuer: one.issuer, audience: API, typ: 'at+jwt' });

      // Tokens to revoke during the load, each on the node that did not issue it.
      const toRevoke: { token: string; issuer: number }[] = [];
      for (let i = 0; i < 20; i++) toRevoke.push({ token: await getToken(nodes[i % 2]!, client), issuer: i % 2 });
      const untouched = [await getToken(one.url, client), await getToken(two.url, client)];

      // 200 token requests interleaved across the two nodes, concurrent with 20 revocations (writes).
      const load = await Promise.all([
        ...Array.from({ length: 200 }, (_, i) =>
          postForm(`${nodes[i % 2]}/token`, { grant_type: 'client_credentials' }, { basic: [client.clientId, client.clientSecret] }),
        ),
        ...toRevoke.map((t) => revoke(nodes[1 - t.issuer]!, client, t.token)),
      ]);
      const failures = load.filter((r) => r.status !== 200);
      assert.equal(failures.length, 0, `failed: ${failures.slice(0, 3).map((f) => `${f.status} ${f.text}`).join('; ')}`);

      for (const t of toRevoke) {
        const res = await introspect(nodes[t.issuer]!, client, t.token);
        assert.equal(res.text, '{"active":false}', 'revoked on one node, inactive on the other');
      }
      for (const t of untouched) {
        for (const node of nodes) assert.equal((await introspect(node, client, t)).body.active, true);
      }
      const revokedRows = await one.server.context.storage.db.kysely
        .selectFrom('revoked_access_tokens')
        .select((eb) => eb.fn.countAll<string | number>().as('n'))
        .executeTakeFirstOrThrow();
      assert.equal(Number(revokedRows.n), 20);

      // Both stop cleanly; the SQLite file is intact.
      const exit = await two.stop();
      assert.deepEqual(exit, { code: 0, signal: null }, two.output());
      await one.close();
      if (backend.name === 'sqlite') {
        const sqlite = new SQLite(sqliteFile(db.dataDir), { readonly: true, fileMustExist: true });
        try {
          assert.deepEqual(sqlite.pragma('integrity_check'), [{ integrity_check: 'ok' }]);
          assert.deepEqual(sqlite.pragma('foreign_key_check'), []);
          assert.equal(sqlite.pragma('journal_mode', { simple: true }), 'wal');
          assert.deepEqual(sqlite.prepare('select count(*) as n from revoked_access_tokens').get(), { n: 20 });
          assert.deepEqual(sqlite.prepare('select count(*) as n from signing_keys').get(), { n: 2 }, 'no node created keys of its own');
        } finally {
          sqlite.close();
        }
      }
    });
  });
}
