import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { createLocalJWKSet, decodeProtectedHeader, jwtVerify } from 'jose';
import type { ServerContext } from '../src/context.ts';
import { loadSettings } from '../src/config/load.ts';
import { KeyEncryption } from '../src/keys/key-encryption.ts';
import { KeyRing } from '../src/keys/key-ring.ts';
import { KeyRotationSchedule, ROTATION_LOCK } from '../src/keys/rotation-schedule.ts';
import { keyRetentionSeconds } from '../src/server.ts';
import { Storage } from '../src/storage/storage.ts';
import {
  backends,
  dbEnv,
  postForm,
  runLatchkey,
  type RunningServer,
  seedOrdersApi,
  startServer,
  TEST_SECRET,
  type TestDatabase,
} from '@latchkey/testing';

const DAY = 86400;

/** The schedule of a context, as the server builds it (server.ts). */
const scheduleOf = (ctx: ServerContext) => new KeyRotationSchedule(ctx, () => keyRetentionSeconds(ctx));

for (const backend of await backends()) {
  describe(`keys that rotate by themselves (${backend.name})`, { skip: backend.skip }, () => {
    let db: TestDatabase;
    let s: RunningServer;
    let creds: [string, string];
    const extraDbs: TestDatabase[] = [];

    before(async () => {
      db = await backend.create();
      // Tokens outlive the pre-publication here, so one signed before the switch is still live after it.
      s = await startServer(db, { accessTokenTtlSeconds: 3600 });
      const c = await seedOrdersApi(s);
      creds = [c.clientId, c.clientSecret];
    });
    after(async () => {
      await s?.close();
      await db?.drop();
      for (const extra of extraDbs) await extra.drop();
    });

    const issue = async () => {
      const res = await postForm(`${s.url}/token`, { grant_type: 'client_credentials' }, { basic: creds });
      assert.equal(res.status, 200, res.text);
      return res.body.access_token as string;
    };
    const jwks = async () => (await (await fetch(`${s.url}/jwks`)).json()) as { keys: { kid: string; alg: string }[] };
    const kids = async () => (await jwks()).keys.map((k) => k.kid);
    const introspect = async (token: string) => (await postForm(`${s.url}/introspect`, { token }, { basic: creds })).body;

    test('a key older than LATCHKEY_KEY_ROTATION_DAYS is rotated by the scheduled check, published before it signs', async (t) => {
      const ctx = s.server.context;
      assert.equal(ctx.settings.keyRotationDays, 90, 'the default');
      const schedule = scheduleOf(ctx);
      assert.deepEqual(await schedule.runOnce(), [], 'a fresh key is not due');
      const oldKid = decodeProtectedHeader(await issue()).kid!;

      t.mock.timers.enable({ apis: ['Date'], now: Date.now() + 91 * DAY * 1000 });
      const oldToken = await issue();
      assert.equal(decodeProtectedHeader(oldToken).kid, oldKid, 'nobody rotated yet');
      const rotated = await schedule.runOnce();
      assert.deepEqual(rotated.map((r) => r.alg).sort(), ['ES256', 'RS256'], 'both algorithms were due');
      const es256 = rotated.find((r) => r.alg === 'ES256')!;
      assert.deepEqual(es256.retired, [oldKid]);
      assert.equal(es256.activatesAt, ctx.now() + ctx.settings.keyPrepublishSeconds, 'with the pre-publication');

      // Pre-publication: the new key is in the JWKS, the old one still signs.
      assert.ok((await kids()).includes(es256.kid), 'the new key is published at once');
      assert.equal(decodeProtectedHeader(await issue()).kid, oldKid, 'the old key signs until the activation time');
      assert.deepEqual(await schedule.runOnce(), [], 'a pending successor is not rotated again');

      // Switch: the new key signs; tokens of the old one keep validating.
      t.mock.timers.setTime((es256.activatesAt + 1) * 1000);
      const newToken = await issue();
      assert.equal(decodeProtectedHeader(newToken).kid, es256.kid, 'the new key signs from its activation time');
      const set = await jwks();
      assert.ok(set.keys.some((k) => k.kid === oldKid), 'the old key stays published');
      assert.equal((await introspect(oldToken)).active, true, "the old key's token is still active");
      const local = createLocalJWKSet(set as never);
      await jwtVerify(oldToken, local, { issuer: s.issuer, typ: 'at+jwt', currentDate: new Date() });
      await jwtVerify(newToken, local, { issuer: s.issuer, typ: 'at+jwt', currentDate: new Date() });

      // Retirement: once its tokens have expired the old key leaves the JWKS, as after `keys rotate`.
      const old = (await ctx.storage.signingKeys.listAll()).find((k) => k.kid === oldKid)!;
      assert.ok(old.expiresAt! > JSON.parse(Buffer.from(oldToken.split('.')[1]!, 'base64url').toString()).exp, 'published past its last token');
      t.mock.timers.setTime((old.expiresAt! + 1) * 1000);
      assert.ok(!(await kids()).includes(oldKid), 'unpublished after the retention');
      assert.ok((await kids()).includes(es256.kid));
      assert.deepEqual(await schedule.runOnce(), [], 'the new key is not due before its own 90 days');
    });

    test('several nodes checking at the same moment rotate exactly once', async (t) => {
      const fresh = await backend.create();
      extraDbs.push(fresh);
      const storages = await Promise.all([Storage.open(fresh), Storage.open(fresh), Storage.open(fresh), Storage.open(fresh)]);
      try {
        const nodes = await Promise.all(
          storages.map(async (storage) => {
            const keys = new KeyRing(storage.signingKeys, new KeyEncryption(TEST_SECRET), 0);
            await keys.initialize();
            return scheduleOf({ ...s.server.context, storage, keys });
          }),
        );
        const before = await storages[0]!.signingKeys.listAll();
        assert.equal(before.length, 2);
        t.mock.timers.enable({ apis: ['Date'], now: Date.now() + 100 * DAY * 1000 });
        const runs = await Promise.all(nodes.map((node) => node.runOnce()));
        assert.deepEqual(runs.flat().map((r) => r.alg).sort(), ['ES256', 'RS256'], `one rotation per algorithm in all: ${JSON.stringify(runs)}`);
        const after = await storages[0]!.signingKeys.listAll();
        assert.equal(after.length, 4, 'one new key per algorithm, not one per node');
        for (const alg of ['ES256', 'RS256']) {
          assert.equal(after.filter((k) => k.alg === alg && k.retiredAt === null).length, 1, `${alg}: one newest key`);
        }
        assert.equal(await (storages[0]!.db.kysely.selectFrom('locks').select('name').where('name', '=', ROTATION_LOCK).executeTakeFirst()), undefined, 'the lease is given back');
      } finally {
        await Promise.all(storages.map((st) => st.close()));
      }
    });

    test('a node holding the lease keeps the others out until it gives it back or it expires', async (t) => {
      const fresh = await backend.create();
      extraDbs.push(fresh);
      const storage = await Storage.open(fresh);
      try {
        const keys = new KeyRing(storage.signingKeys, new KeyEncryption(TEST_SECRET), 0);
        await keys.initialize();
        const schedule = scheduleOf({ ...s.server.context, storage, keys });
        t.mock.timers.enable({ apis: ['Date'], now: Date.now() + 100 * DAY * 1000 });
        const now = Math.floor(Date.now() / 1000);
        // Another node took the lease a moment ago (and is, say, still generating its keys).
        assert.equal(await storage.locks.tryAcquire(ROTATION_LOCK, 'other-node', now, 300), true);
        assert.equal(await storage.locks.tryAcquire(ROTATION_LOCK, 'third-node', now, 300), false, 'held: nobody else gets it');
        assert.deepEqual(await schedule.runOnce(), [], 'due, but another node holds the lease');
        assert.equal((await storage.signingKeys.listAll()).length, 2);
        // That node died: after the lease's time anyone may take over.
        t.mock.timers.setTime((now + 301) * 1000);
        assert.equal((await schedule.runOnce()).length, 2, 'taken over after the lease expired');
        // And the decision is made again in the transaction that rotates: not due any more, no rotation.
        const newest = (await storage.signingKeys.listAll()).find((k) => k.alg === 'ES256' && k.retiredAt === null)!;
        const late = await keys.rotateIfDue('ES256', { retainSeconds: 60, prepublishSeconds: 0 }, newest.createdAt - 1);
        assert.equal(late, undefined, 'a node whose lease ran out mid-way cannot rotate twice');
        assert.equal((await storage.signingKeys.listAll()).length, 4);
      } finally {
        await storage.close();
      }
    });

    test('LATCHKEY_KEY_ROTATION_DAYS=0 never rotates on a schedule', async (t) => {
      const ctx = s.server.context;
      const off = scheduleOf({ ...ctx, settings: { ...ctx.settings, keyRotationDays: 0 } });
      const before = (await ctx.storage.signingKeys.listAll()).map((k) => k.kid).sort();
      t.mock.timers.enable({ apis: ['Date'], now: Date.now() + 1000 * DAY * 1000 });
      assert.deepEqual(await off.runOnce(), []);
      assert.deepEqual((await ctx.storage.signingKeys.listAll()).map((k) => k.kid).sort(), before);
    });

    test('the setting is validated', () => {
      const load = (env: Record<string, string>) => loadSettings({ env: { LATCHKEY_SECRET: TEST_SECRET, ...env } });
      assert.equal(load({}).keyRotationDays, 90);
      assert.equal(load({ LATCHKEY_KEY_ROTATION_DAYS: '0' }).keyRotationDays, 0);
      assert.equal(load({ LATCHKEY_KEY_ROTATION_DAYS: '30' }).keyRotationDays, 30);
      assert.throws(() => load({ LATCHKEY_KEY_ROTATION_DAYS: '-1' }), /LATCHKEY_KEY_ROTATION_DAYS/);
      assert.throws(() => load({ LATCHKEY_KEY_ROTATION_DAYS: 'monthly' }), /LATCHKEY_KEY_ROTATION_DAYS/);
      assert.throws(() => load({ LATCHKEY_KEY_ROTATION_DAYS: '4000' }), /at most 3650/);
      assert.throws(
        () => load({ LATCHKEY_KEY_ROTATION_DAYS: '1', LATCHKEY_KEY_PREPUBLISH_SECONDS: '86400' }),
        /LATCHKEY_KEY_ROTATION_DAYS must be longer than LATCHKEY_KEY_PREPUBLISH_SECONDS/,
      );
    });

    test('a revoked key is gone at once and stays gone: the schedule never publishes it again', async (t) => {
      const ctx = s.server.context;
      const token = await issue();
      const kid = decodeProtectedHeader(token).kid!;
      const { successor } = await ctx.keys.revoke(kid);
      assert.ok(successor);
      assert.ok(!(await kids()).includes(kid), 'out of the JWKS at once');
      assert.deepEqual(await introspect(token), { active: false }, 'its token is inactive at once');
      const revoked = (await ctx.storage.signingKeys.listAll()).find((k) => k.kid === kid)!;

      const schedule = scheduleOf(ctx);
      t.mock.timers.enable({ apis: ['Date'], now: Date.now() + 200 * DAY * 1000 });
      const rotated = await schedule.runOnce();
      assert.ok(rotated.some((r) => r.alg === 'ES256'), 'the successor is rotated in its turn');
      assert.ok(!rotated.some((r) => r.retired.includes(kid)), 'the revoked key is not the one replaced');
      assert.ok(!(await kids()).includes(kid), 'still not published');
      const after = (await ctx.storage.signingKeys.listAll()).find((k) => k.kid === kid);
      // Still there (until the janitor purges it) with the same times, or purged: never published again.
      if (after) assert.deepEqual(after, revoked);
      t.mock.timers.setTime((rotated[0]!.activatesAt + 1) * 1000);
      assert.ok(!(await kids()).includes(kid));
      assert.notEqual(decodeProtectedHeader(await issue()).kid, kid);
    });

    test('a server checks when it starts: one started after the keys are due rotates them', async (t) => {
      const fresh = await backend.create();
      extraDbs.push(fresh);
      const first = await startServer(fresh);
      await first.close();
      const before = await listKids(fresh);
      t.mock.timers.enable({ apis: ['Date'], now: Date.now() + 91 * DAY * 1000 });
      const later = await startServer(fresh);
      // close() waits for the check under way.
      await later.close();
      t.mock.timers.reset();
      const after = await listKids(fresh);
      assert.equal(after.length, before.length + 2, 'a new key per algorithm');
      assert.match(later.logs(), /signing key rotated on schedule/);
    });

    test('keys list shows each key\'s age and when the next rotation is due', async () => {
      const fresh = await backend.create();
      extraDbs.push(fresh);
      const storage = await Storage.open(fresh);
      try {
        await new KeyRing(storage.signingKeys, new KeyEncryption(TEST_SECRET), 0).initialize();
      } finally {
        await storage.close();
      }
      const env = { ...dbEnv(fresh), LATCHKEY_KEY_ROTATION_DAYS: '30' };
      const json = await runLatchkey(['keys', 'list', '--json'], env);
      assert.equal(json.code, 0, json.stderr);
      const out = JSON.parse(json.stdout) as { rotation_days: number; keys: { kid: string; created_at: string; age_seconds: number; next_rotation_at: string | null }[] };
      assert.equal(out.rotation_days, 30);
      assert.equal(out.keys.length, 2);
      for (const key of out.keys) {
        assert.ok(key.age_seconds >= 0 && key.age_seconds < 3600);
        assert.equal(Date.parse(key.next_rotation_at!), Date.parse(key.created_at) + 30 * DAY * 1000);
      }
      const text = await runLatchkey(['keys', 'list'], env);
      assert.equal(text.code, 0, text.stderr);
      assert.match(text.stdout, /signing {2}\(age \d+ (s|min), next rotation \d{4}-\d\d-\d\dT/);
      assert.match(text.stdout, /Keys rotate every 30 days \(LATCHKEY_KEY_ROTATION_DAYS\)/);
      const off = await runLatchkey(['keys', 'list', '--json'], { ...env, LATCHKEY_KEY_ROTATION_DAYS: '0' });
      assert.ok((JSON.parse(off.stdout) as typeof out).keys.every((k) => k.next_rotation_at === null));
    });
  });
}

async function listKids(db: TestDatabase): Promise<string[]> {
  const storage = await Storage.open(db);
  try {
    return (await storage.signingKeys.listAll()).map((k) => k.kid);
  } finally {
    await storage.close();
  }
}
