import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { createLocalJWKSet, decodeProtectedHeader, jwtVerify } from 'jose';
import { ConfigError } from '../src/errors.ts';
import { KeyEncryption } from '../src/keys/key-encryption.ts';
import { KeyRing } from '../src/keys/key-ring.ts';
import { keyRetentionSeconds } from '../src/server.ts';
import { Janitor } from '../src/janitor.ts';
import { backends, postForm, type RunningServer, seedOrdersApi, startServer, TEST_SECRET, type TestDatabase } from '@latchkey/testing';
import { Storage } from '../src/storage/storage.ts';

for (const backend of await backends()) {
  describe(`signing keys (${backend.name})`, { skip: backend.skip }, () => {
    let db: TestDatabase;
    let s: RunningServer;
    let creds: [string, string];

    before(async () => {
      db = await backend.create();
      s = await startServer(db);
      const c = await seedOrdersApi(s);
      creds = [c.clientId, c.clientSecret];
    });
    after(async () => {
      await s?.close();
      await db?.drop();
    });

    const issue = async () => {
      const res = await postForm(`${s.url}/token`, { grant_type: 'client_credentials' }, { basic: creds });
      assert.equal(res.status, 200, res.text);
      return res.body.access_token as string;
    };
    const jwks = async () => (await (await fetch(`${s.url}/jwks`)).json()) as { keys: { kid: string; alg: string }[] };

    test('private keys are encrypted at rest: no PEM, no private JWK member in the database', async () => {
      const rows = await s.server.context.storage.db.kysely.selectFrom('signing_keys').selectAll().execute();
      assert.ok(rows.length >= 2);
      for (const row of rows) {
        assert.match(row.private_key_enc, /^v1\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/);
        assert.doesNotMatch(row.private_key_enc, /PRIVATE KEY/);
        const publicJwk = JSON.parse(row.public_jwk);
        assert.equal(publicJwk.d, undefined);
        assert.equal(publicJwk.p, undefined);
        // The ciphertext opens with the secret, and only with it.
        const pem = new KeyEncryption(TEST_SECRET).decrypt(row.private_key_enc, row.kid);
        assert.match(pem, /BEGIN PRIVATE KEY/);
        assert.throws(() => new KeyEncryption('another-secret-entirely-123').decrypt(row.private_key_enc, row.kid), ConfigError);
        assert.throws(() => new KeyEncryption(TEST_SECRET).decrypt(row.private_key_enc, 'another-kid'), ConfigError, 'kid is bound');
      }
    });

    test('a server started with the wrong LATCHKEY_SECRET refuses to start, with a clear message', async () => {
      await assert.rejects(startServer(db, { secret: 'not-the-secret-the-keys-use' }), /LATCHKEY_SECRET is not the secret/);
    });

    test('rotation: the new key signs, old tokens still verify, and the old key stays published', async () => {
      const before = await issue();
      const oldKid = decodeProtectedHeader(before).kid!;
      const rotated = await s.server.context.keys.rotate('ES256', { retainSeconds: await keyRetentionSeconds(s.server.context), prepublishSeconds: 0 });
      assert.deepEqual(rotated.retired, [oldKid]);
      const after = await issue();
      assert.equal(decodeProtectedHeader(after).kid, rotated.kid, 'the new key is the signer');
      const set = await jwks();
      assert.ok(set.keys.some((k) => k.kid === oldKid), 'old key still published');
      assert.ok(set.keys.some((k) => k.kid === rotated.kid), 'new key published');
      assert.equal(set.keys.filter((k) => k.alg === 'ES256').length, 2);
      const local = createLocalJWKSet(set as any);
      await jwtVerify(before, local, { issuer: s.issuer, typ: 'at+jwt' });
      await jwtVerify(after, local, { issuer: s.issuer, typ: 'at+jwt' });
      const introspected = await postForm(`${s.url}/introspect`, { token: before }, { basic: creds });
      assert.equal(introspected.body.active, true, 'a token signed by the retired key is still active');
    });

    test('the old key stays published for the longest token lifetime, then leaves the JWKS and is purged', async () => {
      const ctx = s.server.context;
      const retain = await keyRetentionSeconds(ctx);
      assert.ok(retain >= ctx.settings.accessTokenTtlSeconds, 'at least as long as any token lives');
      const beforeRotation = await jwks();
      const t0 = Math.floor(Date.now() / 1000);
      const { kid, retired } = await ctx.keys.rotate('RS256', { retainSeconds: retain, prepublishSeconds: 0 });
      const now = Math.floor(Date.now() / 1000);
      const retiredKid = retired[0]!;
      assert.ok(beforeRotation.keys.some((k) => k.kid === retiredKid));
      const stillThere = await ctx.storage.signingKeys.listPublished(t0 + retain - 1);
      assert.ok(stillThere.some((k) => k.kid === retiredKid), 'published until the retention has passed');
      const later = await ctx.storage.signingKeys.listPublished(now + retain + 1);
      assert.ok(!later.some((k) => k.kid === retiredKid), 'gone from the JWKS after');
      assert.ok(later.some((k) => k.kid === kid), 'the signer stays');
      await new Janitor(ctx).runOnce(now + retain + 1);
      const all = await ctx.storage.signingKeys.listAll();
      assert.ok(!all.some((k) => k.kid === retiredKid), 'purged by the janitor');
      assert.ok(all.some((k) => k.kid === kid));
    });

    test('a resource with a longer token lifetime lengthens the retention', async () => {
      const base = await keyRetentionSeconds(s.server.context);
      await s.registry.createResource({ identifier: 'https://long.example.com', scopes: ['long:read'], accessTokenTtlSeconds: 7200 });
      const longer = await keyRetentionSeconds(s.server.context);
      assert.ok(longer >= 7200 && longer > base);
    });

    test('a rotation publishes the next key first; it signs only from its activation time, on every node', async (t) => {
      const ctx = s.server.context;
      const before = decodeProtectedHeader(await issue()).kid!;
      const { kid: next, activatesAt } = await ctx.keys.rotate('ES256', { retainSeconds: 3600, prepublishSeconds: 600 });
      assert.ok((await jwks()).keys.some((k) => k.kid === next), 'published at once');
      assert.equal(decodeProtectedHeader(await issue()).kid, before, 'the current key still signs');
      // A second node on the same database, reading the keys for the first time.
      const other = await Storage.open(db);
      try {
        const ring = new KeyRing(other.signingKeys, new KeyEncryption(TEST_SECRET), 5);
        await ring.initialize();
        assert.equal((await ring.signer('ES256')).kid, before);
        t.mock.timers.enable({ apis: ['Date'], now: activatesAt * 1000 + 1 });
        assert.equal(decodeProtectedHeader(await issue()).kid, next, 'this node switched at the activation time');
        assert.equal((await ring.signer('ES256')).kid, next, 'so did the other, without any new read');
        const previous = (await jwks()).keys.find((k) => k.kid === before);
        assert.ok(previous, 'the old key stays published after the switch');
      } finally {
        t.mock.timers.reset();
        await other.close();
      }
    });

    test('a node never answers from keys older than its cache interval, however long it was idle', async (t) => {
      const ctx = s.server.context;
      const other = await Storage.open(db);
      try {
        const idle = new KeyRing(other.signingKeys, new KeyEncryption(TEST_SECRET), 5);
        await idle.initialize();
        const stale = (await idle.signer('RS256')).kid;
        const rotated = await ctx.keys.rotate('RS256', { retainSeconds: 60, prepublishSeconds: 0 });
        assert.equal((await idle.signer('RS256')).kid, stale, 'within the interval the copy is used');
        // Hours later: the old key has left the JWKS (and been purged) meanwhile.
        t.mock.timers.enable({ apis: ['Date'], now: Date.now() + 3 * 3600_000 });
        await new Janitor(ctx).runOnce(Math.floor(Date.now() / 1000));
        assert.equal((await idle.signer('RS256')).kid, rotated.kid, 'the first answer after idling is current');
        const kids = (await idle.jwks()).keys.map((k) => k.kid);
        assert.ok(kids.includes(rotated.kid));
        assert.ok(!kids.includes(stale), 'and the JWKS no longer holds the purged key');
      } finally {
        t.mock.timers.reset();
        await other.close();
      }
    });

    test('retention honours the longest token lifetime any node published, whatever the caller was configured with', async () => {
      const ctx = s.server.context;
      // A node configured for one-hour tokens started on this database at some point.
      await ctx.storage.facts.raiseTo('max_access_token_ttl_seconds', 3600, 1);
      await ctx.storage.facts.raiseTo('max_access_token_ttl_seconds', 60, 2);
      assert.equal(await ctx.storage.facts.get('max_access_token_ttl_seconds'), 3600, 'never lowered');
      const cliLike = { ...ctx, settings: { ...ctx.settings, accessTokenTtlSeconds: 60 } };
      assert.ok((await keyRetentionSeconds(cliLike)) >= 3600);
    });

    test('a server publishes its own token lifetime at startup', async () => {
      assert.ok(((await s.server.context.storage.facts.get('max_access_token_ttl_seconds')) ?? 0) >= s.settings.accessTokenTtlSeconds);
    });

    test('two nodes initialising at once end with exactly one signer per algorithm', async () => {
      const fresh = await backend.create();
      try {
        const storages = await Promise.all([Storage.open(fresh), Storage.open(fresh), Storage.open(fresh)]);
        try {
          const rings = storages.map((st) => new KeyRing(st.signingKeys, new KeyEncryption(TEST_SECRET), 0));
          await Promise.all(rings.map((r) => r.initialize()));
          const keys = await storages[0]!.signingKeys.listAll();
          const signers = keys.filter((k) => k.retiredAt === null);
          assert.deepEqual(signers.map((k) => k.alg).sort(), ['ES256', 'RS256']);
          const kids = await Promise.all(rings.map(async (r) => (await r.signer('ES256')).kid));
          assert.equal(new Set(kids).size, 1, 'every node signs with the same key');
        } finally {
          await Promise.all(storages.map((st) => st.close()));
        }
      } finally {
        await fresh.drop();
      }
    });

    describe('keys revoke: a compromised key', () => {
      let db: TestDatabase;
      let s: RunningServer;
      let creds: [string, string];
      /** A second node on the same database, caching keys for a minute: revocation must not wait for it. */
      let other: RunningServer;
      before(async () => {
        db = await backend.create();
        s = await startServer(db);
        const c = await seedOrdersApi(s);
        creds = [c.clientId, c.clientSecret];
        other = await startServer(db, { keyCacheSeconds: 60, issuer: s.issuer });
      });
      after(async () => {
        await other?.close();
        await s?.close();
        await db?.drop();
      });
      const issue = async () => {
        const res = await postForm(`${s.url}/token`, { grant_type: 'client_credentials' }, { basic: creds });
        assert.equal(res.status, 200, res.text);
        return res.body.access_token as string;
      };
      const jwks = async () => (await (await fetch(`${s.url}/jwks`)).json()) as { keys: { kid: string; alg: string }[] };
      const introspectAt = async (node: RunningServer, token: string) =>
        (await postForm(`${node.url}/introspect`, { token }, { basic: creds })).body;
      const jwksAt = async (node: RunningServer) => ((await (await fetch(`${node.url}/jwks`)).json()) as { keys: { kid: string }[] }).keys.map((k) => k.kid);

      test('the signing key: gone from every node\'s JWKS at once, its tokens inactive everywhere, a new key signs', async () => {
        const token = await issue();
        const kid = decodeProtectedHeader(token).kid!;
        assert.equal((await introspectAt(other, token)).active, true, 'the other node knows the key (and caches it)');
        assert.ok((await jwksAt(other)).includes(kid));

        const { alg, successor } = await s.server.context.keys.revoke(kid);
        assert.equal(alg, 'ES256');
        assert.ok(successor && successor !== kid);
        for (const node of [s, other]) {
          assert.ok(!(await jwksAt(node)).includes(kid), `${node.url}: the revoked key left the JWKS`);
          assert.ok((await jwksAt(node)).includes(successor), `${node.url}: its successor is published`);
          assert.deepEqual(await introspectAt(node, token), { active: false }, `${node.url}: its token is inactive`);
        }
        const fresh = await issue();
        assert.equal(decodeProtectedHeader(fresh).kid, successor, 'the successor signs');
        assert.equal((await introspectAt(other, fresh)).active, true);
        // Resource servers refetching the JWKS refuse the old token and accept the new one.
        const keySet = createLocalJWKSet(await jwks());
        await assert.rejects(jwtVerify(token, keySet));
        await jwtVerify(fresh, keySet, { issuer: s.issuer, typ: 'at+jwt' });
      });

      test('a key that is only published (next, or retired) leaves the JWKS; the schedule keeps one signer', async () => {
        const rotation = await s.server.context.keys.rotate('ES256', { retainSeconds: 3600, prepublishSeconds: 600 });
        const signing = decodeProtectedHeader(await issue()).kid!;
        const { successor } = await s.server.context.keys.revoke(rotation.kid);
        assert.ok(successor, 'a new next key takes its place');
        const kids = await jwksAt(other);
        assert.ok(!kids.includes(rotation.kid));
        assert.ok(kids.includes(successor!));
        assert.equal(decodeProtectedHeader(await issue()).kid, signing, 'the signer is unchanged');
        const keys = await s.server.context.storage.signingKeys.listAll();
        assert.equal(keys.find((k) => k.kid === successor)!.activatesAt, rotation.activatesAt, 'at the revoked key\'s activation time');
        // The retired key a --now rotation leaves published: revoked, it just leaves the JWKS.
        const now = await s.server.context.keys.rotate('ES256', { retainSeconds: 3600, prepublishSeconds: 0 });
        // Activated in the same second as the key before it: the newer one signs.
        assert.equal(decodeProtectedHeader(await issue()).kid, now.kid);
        const { successor: none } = await s.server.context.keys.revoke(signing);
        assert.equal(none, undefined);
        assert.ok(!(await jwksAt(other)).includes(signing));
      });

      test('an unknown or already unpublished key is refused', async () => {
        await assert.rejects(s.server.context.keys.revoke('no-such-kid'), /no key no-such-kid/);
        const token = await issue();
        const kid = decodeProtectedHeader(token).kid!;
        await s.server.context.keys.revoke(kid);
        await assert.rejects(s.server.context.keys.revoke(kid), /no longer published/);
      });
    });

    test('the schema allows one signer per algorithm', async () => {
      const store = s.server.context.storage.signingKeys;
      const current = (await store.listAll()).find((k) => k.alg === 'ES256' && k.retiredAt === null)!;
      await assert.rejects(store.insertSigner({ ...current, kid: 'duplicate-signer' }));
    });
  });
}
