import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { Storage } from '../src/storage/storage.ts';
import { UserRegistry } from '../src/users/user-registry.ts';
import {
  resumeSession,
  SESSION_ABSOLUTE_SECONDS,
  SESSION_IDLE_SECONDS,
  sessionCookieHeader,
  sessionCookieName,
  startSession,
} from '../src/users/sessions.ts';
import { backends, type TestDatabase } from '@latchkey/testing';

/** SSO sessions: server-side rows, idle and absolute lifetimes, ended by disable and password change. */
for (const backend of await backends()) {
  describe(`SSO sessions (${backend.name})`, { skip: backend.skip }, () => {
    let db: TestDatabase;
    let storage: Storage;
    let users: UserRegistry;
    let aliceId: string;
    const t0 = 1_900_000_000;

    before(async () => {
      db = await backend.create();
      storage = await Storage.open(db);
      users = new UserRegistry(storage);
      aliceId = (await users.create({ username: 'alice', password: 'alice password 123' })).id;
    });
    after(async () => {
      await storage?.close();
      await db?.drop();
    });

    test('a session is stored by the hash of its cookie, never the cookie itself', async () => {
      const { value, session } = await startSession(storage, aliceId, ['pwd'], t0);
      assert.ok(value.length >= 43, '256 bits');
      assert.equal(session.idHash, createHash('sha256').update(value).digest('base64url'));
      const rows = await storage.db.kysely.selectFrom('sessions').selectAll().execute();
      assert.ok(!JSON.stringify(rows).includes(value));
      assert.equal((await resumeSession(storage, value, t0 + 1))?.userId, aliceId);
      assert.equal(await resumeSession(storage, `${value}x`, t0 + 1), undefined);
      assert.equal(await resumeSession(storage, undefined, t0 + 1), undefined);
    });

    test('idle too long: the session ends; activity keeps it alive up to the absolute end', async () => {
      const idle = await startSession(storage, aliceId, ['pwd'], t0);
      assert.equal(await resumeSession(storage, idle.value, t0 + SESSION_IDLE_SECONDS), undefined, 'idle end');
      const busy = await startSession(storage, aliceId, ['pwd'], t0);
      for (let t = t0 + 600; t < t0 + SESSION_ABSOLUTE_SECONDS; t += 600) {
        assert.ok(await resumeSession(storage, busy.value, t), `alive at +${t - t0} s`);
      }
      assert.equal(await resumeSession(storage, busy.value, t0 + SESSION_ABSOLUTE_SECONDS), undefined, 'absolute end');
    });

    test('disabling the user or changing the password ends the sessions', async () => {
      const first = await startSession(storage, aliceId, ['pwd'], t0);
      await users.setPassword('alice', 'a whole new password');
      assert.equal(await resumeSession(storage, first.value, t0 + 1), undefined, 'password change');
      const second = await startSession(storage, aliceId, ['pwd'], t0);
      await users.disable('alice');
      assert.equal(await resumeSession(storage, second.value, t0 + 1), undefined, 'disabled');
      await users.enable('alice');
      // A row left behind for a disabled user is refused too.
      const third = await startSession(storage, aliceId, ['pwd'], t0);
      await storage.users.setDisabledAt('alice', t0);
      assert.equal(await resumeSession(storage, third.value, t0 + 1), undefined);
      await storage.users.setDisabledAt('alice', null);
    });

    test('the janitor purges ended sessions', async () => {
      const { session } = await startSession(storage, aliceId, ['pwd'], t0);
      const { Janitor } = await import('../src/janitor.ts');
      const { loadSettings } = await import('../src/config/load.ts');
      const ctx = { storage, settings: loadSettings({ env: {} }), logger: { info() {} } } as unknown as ConstructorParameters<typeof Janitor>[0];
      await new Janitor(ctx).runOnce(t0 + SESSION_ABSOLUTE_SECONDS + 1);
      assert.equal(await storage.sessions.find(session.idHash), undefined);
    });
  });
}

describe('session cookie', () => {
  test('https: __Host- prefix, Secure, HttpOnly, SameSite=Lax, Path=/, no Domain', () => {
    const header = sessionCookieHeader('v', true, 3600);
    assert.equal(sessionCookieName(true), '__Host-latchkey_session');
    assert.match(header, /^__Host-latchkey_session=v; /);
    for (const attribute of ['Path=/', 'HttpOnly', 'SameSite=Lax', 'Secure', 'Max-Age=3600']) assert.ok(header.split('; ').includes(attribute), attribute);
    assert.ok(!/Domain=/i.test(header));
  });

  test('plain http on localhost: no Secure flag (the browser would drop the cookie), no prefix', () => {
    const header = sessionCookieHeader('v', false, 60);
    assert.match(header, /^latchkey_session=v; /);
    assert.ok(!header.includes('Secure'));
    assert.ok(header.includes('HttpOnly') && header.includes('SameSite=Lax'));
  });
});
