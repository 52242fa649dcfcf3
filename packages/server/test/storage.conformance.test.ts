import assert from 'node:assert/strict';
import { statSync } from 'node:fs';
import { after, before, describe, test } from 'node:test';
import { isForeignKeyViolation, isUniqueViolation, migrate, openDatabase } from '../src/storage/database.ts';
import { MIGRATION_NAMES } from '../src/storage/migrations/index.ts';
import { sql } from 'kysely';
import { Storage } from '../src/storage/storage.ts';
import type { Resource } from '../src/registry/types.ts';
import { backends, sqlite, type TestDatabase } from '@latchkey/testing';

/** One storage suite, run against every database (fosite/Hydra's habit): same behaviour on both. */
for (const backend of await backends()) {
  describe(`storage conformance (${backend.name})`, { skip: backend.skip }, () => {
    let db: TestDatabase;
    let storage: Storage;

    before(async () => {
      db = await backend.create();
      storage = await Storage.open(db);
    });
    after(async () => {
      await storage?.close();
      await db?.drop();
    });

    const resource = (identifier: string, scopes: string[], ttl: number | null = null): Resource => ({
      id: `id-${identifier.replace(/\W/g, '')}`,
      identifier,
      name: identifier,
      accessTokenTtlSeconds: ttl,
      accessTokenFormat: 'jwt',
      scopes: scopes.map((scope) => ({ scope, description: `${scope} description`, isDefault: false, openToRegisteredClients: false })),
      createdAt: 1_800_000_000,
    });

    test('migrations are idempotent and safe to run from several connections at once', async () => {
      const conns = await Promise.all([openDatabase(db), openDatabase(db), openDatabase(db)]);
      try {
        const results = await Promise.all(conns.map((c) => migrate(c)));
        assert.deepEqual(results.flat(), [], 'everything was applied already');
      } finally {
        await Promise.all(conns.map((c) => c.close()));
      }
    });

    test('resources round-trip with their scopes, numbers as numbers', async () => {
      await storage.resources.create(resource('https://r1.example.com', ['r1:read', 'r1:write'], 300));
      const found = await storage.resources.findByIdentifier('https://r1.example.com');
      assert.ok(found);
      assert.equal(found.accessTokenTtlSeconds, 300);
      assert.equal(typeof found.createdAt, 'number');
      assert.equal(found.createdAt, 1_800_000_000);
      assert.deepEqual(
        found.scopes.map((s) => s.scope),
        ['r1:read', 'r1:write'],
      );
      assert.equal(found.scopes[0]!.description, 'r1:read description');
      assert.deepEqual(await storage.resources.existingScopes(['r1:read', 'nope']), ['r1:read']);
    });

    test('a duplicate identifier or scope is a unique violation, and nothing half-written remains', async () => {
      await assert.rejects(storage.resources.create(resource('https://r1.example.com', ['other:x'])), isUniqueViolation);
      const dupScope = { ...resource('https://r2.example.com', ['r2:read', 'r1:read']), id: 'id-r2' };
      await assert.rejects(storage.resources.create(dupScope), isUniqueViolation);
      assert.equal(await storage.resources.findByIdentifier('https://r2.example.com'), undefined, 'the resource row was rolled back');
      assert.deepEqual(await storage.resources.existingScopes(['r2:read']), []);
    });

    test('clients round-trip with scopes (and their resource) and audiences', async () => {
      await storage.clients.create({
        clientId: 'client-one',
        name: 'Client One',
        type: 'confidential',
        tokenEndpointAuthMethod: 'client_secret_basic',
        secretHash: 'hash',
        grantTypes: ['client_credentials'],
        scopes: ['r1:read'],
        audienceResourceIds: ['id-httpsr1examplecom'],
        createdAt: 1_800_000_001,
      });
      const c = await storage.clients.find('client-one');
      assert.ok(c);
      assert.deepEqual(c.scopes, [{ scope: 'r1:read', resource: 'https://r1.example.com' }]);
      assert.deepEqual(c.audiences, [{ identifier: 'https://r1.example.com', accessTokenTtlSeconds: 300, accessTokenFormat: 'jwt' }]);
      assert.deepEqual(c.grantTypes, ['client_credentials']);
      assert.equal(c.createdAt, 1_800_000_001);
      assert.equal(c.secretRotatedAt, null);
      assert.equal(await storage.clients.find('nobody'), undefined);
      assert.ok((await storage.clients.list()).some((x) => x.clientId === 'client-one'));
    });

    test('a client with an unregistered scope is a foreign-key violation and leaves no client row', async () => {
      await assert.rejects(
        storage.clients.create({
          clientId: 'client-bad',
          name: 'Bad',
          type: 'confidential',
          tokenEndpointAuthMethod: 'client_secret_basic',
          secretHash: 'hash',
          grantTypes: ['client_credentials'],
          scopes: ['not:registered'],
          audienceResourceIds: [],
          createdAt: 1,
        }),
        isForeignKeyViolation,
      );
      assert.equal(await storage.clients.find('client-bad'), undefined);
    });

    test('secret rotation updates the hash and records when', async () => {
      assert.equal(await storage.clients.updateSecretHash('client-one', 'hash-2', 1_800_000_100), true);
      const c = await storage.clients.find('client-one');
      assert.equal(c?.secretHash, 'hash-2');
      assert.equal(c?.secretRotatedAt, 1_800_000_100);
      assert.equal(await storage.clients.updateSecretHash('nobody', 'x', 1), false);
    });

    test("deleting a resource removes its scopes and every client's grant of them (foreign keys)", async () => {
      await storage.resources.create(resource('https://gone.example.com', ['gone:read']));
      await storage.clients.create({
        clientId: 'client-two',
        name: 'Two',
        type: 'confidential',
        tokenEndpointAuthMethod: 'client_secret_basic',
        secretHash: 'h',
        grantTypes: ['client_credentials'],
        scopes: ['gone:read', 'r1:read'],
        audienceResourceIds: ['id-httpsgoneexamplecom', 'id-httpsr1examplecom'],
        createdAt: 2,
      });
      assert.equal(await storage.resources.delete('https://gone.example.com'), true);
      const c = await storage.clients.find('client-two');
      assert.deepEqual(c?.scopes.map((s) => s.scope), ['r1:read']);
      assert.deepEqual(c?.audiences.map((a) => a.identifier), ['https://r1.example.com']);
      assert.equal(await storage.resources.delete('https://gone.example.com'), false);
    });

    test('deleting a client removes its scope and audience rows', async () => {
      assert.equal(await storage.clients.delete('client-two'), true);
      const rows = await storage.db.kysely.selectFrom('client_scopes').selectAll().where('client_id', '=', 'client-two').execute();
      assert.equal(rows.length, 0);
      const aud = await storage.db.kysely.selectFrom('client_audiences').selectAll().where('client_id', '=', 'client-two').execute();
      assert.equal(aud.length, 0);
      assert.equal(await storage.clients.delete('client-two'), false);
    });

    test('a cached client reflects changes made through another connection at once', async () => {
      const other = await Storage.open(db);
      try {
        await storage.resources.create(resource('https://cache.example.com', ['cache:read', 'cache:write']));
        await other.clients.create({
          clientId: 'client-cached',
          name: 'Cached',
          type: 'confidential',
          tokenEndpointAuthMethod: 'client_secret_basic',
          secretHash: 'h1',
          grantTypes: ['client_credentials'],
          scopes: ['cache:read'],
          audienceResourceIds: ['id-httpscacheexamplecom'],
          createdAt: 3,
        });
        assert.equal((await storage.clients.find('client-cached'))?.secretHash, 'h1');
        assert.equal((await storage.clients.find('client-cached'))?.secretHash, 'h1', 'served from the cache');
        await other.clients.updateSecretHash('client-cached', 'h2', 4);
        assert.equal((await storage.clients.find('client-cached'))?.secretHash, 'h2', 'rotation seen');
        await other.resources.delete('https://cache.example.com');
        assert.deepEqual((await storage.clients.find('client-cached'))?.scopes, [], 'cascade seen');
        await other.clients.delete('client-cached');
        assert.equal(await storage.clients.find('client-cached'), undefined, 'deletion seen');
        // A client unknown when first asked is found once another connection creates it.
        assert.equal(await storage.clients.find('client-later'), undefined);
        await other.clients.create({
          clientId: 'client-later',
          name: 'Later',
          type: 'confidential',
          tokenEndpointAuthMethod: 'client_secret_basic',
          secretHash: 'h',
          grantTypes: ['client_credentials'],
          scopes: [],
          audienceResourceIds: [],
          createdAt: 5,
        });
        assert.equal((await storage.clients.find('client-later'))?.clientId, 'client-later');
      } finally {
        await other.close();
      }
    });

    test('unknown or over-long client ids are never cached', async () => {
      const cache = (storage.clients as unknown as { cache: Map<string, unknown> }).cache;
      const before = cache.size;
      for (let i = 0; i < 50; i++) assert.equal(await storage.clients.find(`unknown-${i}-${'x'.repeat(100)}`), undefined);
      assert.equal(await storage.clients.find('y'.repeat(60_000)), undefined);
      assert.equal(cache.size, before);
    });

    test('revocations: idempotent, looked up by jti, purged in bounded batches after expiry', async () => {
      await storage.revocations.revokeAccessToken('jti-1', 'client-one', 100, 50);
      await storage.revocations.revokeAccessToken('jti-1', 'client-one', 100, 51);
      for (let i = 0; i < 5; i++) await storage.revocations.revokeAccessToken(`jti-batch-${i}`, 'client-one', 100, 50);
      await storage.revocations.revokeAccessToken('jti-live', 'client-one', 10_000, 50);
      assert.equal(await storage.revocations.isAccessTokenRevoked('jti-1'), true);
      assert.equal(await storage.revocations.isAccessTokenRevoked('jti-unknown'), false);
      assert.equal(await storage.revocations.purgeExpired(100, 10), 0, 'expires_at = now is not yet expired');
      assert.equal(await storage.revocations.purgeExpired(101, 4), 4, 'bounded by the batch size');
      assert.equal(await storage.revocations.purgeExpired(101, 10), 2);
      assert.equal(await storage.revocations.isAccessTokenRevoked('jti-1'), false);
      assert.equal(await storage.revocations.isAccessTokenRevoked('jti-live'), true);
    });

    test('key rotation schedules the successor and retires the newest key atomically', async () => {
      const key = (kid: string, activatesAt: number) => ({
        kid,
        alg: 'TEST',
        publicJwk: { kty: 'EC', kid },
        privateKeyEnc: 'v1.x.y',
        createdAt: 10,
        activatesAt,
        retiredAt: null,
        expiresAt: null,
      });
      await storage.signingKeys.insertSigner(key('k1', 10));
      await assert.rejects(storage.signingKeys.insertSigner(key('k2', 10)), isUniqueViolation, 'one newest key per alg');
      assert.deepEqual(await storage.signingKeys.rotate(key('k2', 20), 500), ['k1']);
      // A rotation whose insert fails (duplicate kid) must not leave the alg without a successor.
      await assert.rejects(storage.signingKeys.rotate(key('k1', 30), 600));
      const all = (await storage.signingKeys.listAll()).filter((k) => k.alg === 'TEST');
      const signers = all.filter((k) => k.retiredAt === null);
      assert.deepEqual(signers.map((k) => k.kid), ['k2'], 'the failed rotation rolled back');
      const k1 = all.find((k) => k.kid === 'k1')!;
      assert.equal(k1.retiredAt, 20, 'retired when its successor activates');
      assert.equal(all.find((k) => k.kid === 'k2')!.activatesAt, 20);
      assert.equal(k1.expiresAt, 500);
      const published = (await storage.signingKeys.listPublished(499)).filter((k) => k.alg === 'TEST');
      assert.deepEqual(published.map((k) => k.kid).sort(), ['k1', 'k2']);
      const later = (await storage.signingKeys.listPublished(500)).filter((k) => k.alg === 'TEST');
      assert.deepEqual(later.map((k) => k.kid), ['k2']);
      assert.equal(await storage.signingKeys.purgeExpired(500, 10), 1);
    });

    test('ping answers while the database is up', async () => {
      assert.equal(await storage.ping(), true);
    });
  });
}

describe('SQLite file', () => {
  test('the database file is readable by its owner only', async () => {
    const db = await sqlite.create();
    const storage = await Storage.open(db);
    try {
      assert.equal(storage.db.dialect, 'sqlite');
      assert.equal(statSync(storage.db.location).mode & 0o777, 0o600);
    } finally {
      await storage.close();
      await db.drop();
    }
  });
});

describe('SQLite migrations', () => {
  test('a migration that fails half-way leaves no half-built schema, and the next start succeeds', async () => {
    const db = await sqlite.create();
    const conn = await openDatabase(db);
    try {
      const failing = conn.kysely.withPlugin({
        transformQuery(args) {
          const node = args.node as { kind: string; table?: { table?: { identifier?: { name?: string } } } };
          if (node.kind === 'CreateTableNode' && node.table?.table?.identifier?.name === 'client_audiences') {
            throw new Error('simulated crash');
          }
          return args.node;
        },
        async transformResult(args) {
          return args.result;
        },
      });
      await assert.rejects(migrate({ ...conn, kysely: failing }), /simulated crash/);
      const tables = await sql<{ name: string }>`select name from sqlite_master where type = 'table' and name not like 'sqlite_%'`.execute(conn.kysely);
      assert.deepEqual(tables.rows.filter((t) => !t.name.startsWith('kysely_')), [], 'rolled back whole');
      assert.deepEqual(await migrate(conn), [...MIGRATION_NAMES]);
    } finally {
      await conn.close();
      await db.drop();
    }
  });
});
