import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { Storage } from '../src/storage/storage.ts';
import { authenticateUser, LOGIN_WINDOW_SECONDS, MAX_FAILURES_PER_ACCOUNT, MAX_FAILURES_PER_ADDRESS } from '../src/users/authenticate-user.ts';
import { UserRegistry } from '../src/users/user-registry.ts';
import { backends, type TestDatabase } from './helpers/backends.ts';

/** Password checks and login rate limits, per account and per address, shared by every node. */
for (const backend of await backends()) {
  describe(`login checks (${backend.name})`, { skip: backend.skip }, () => {
    let db: TestDatabase;
    let storage: Storage;
    let other: Storage;
    const t0 = 1_900_000_000 - (1_900_000_000 % LOGIN_WINDOW_SECONDS);

    before(async () => {
      db = await backend.create();
      storage = await Storage.open(db);
      other = await Storage.open(db);
      const users = new UserRegistry(storage);
      for (const username of ['alice', 'bob', 'carol', 'dave']) await users.create({ username, password: `${username} password 123` });
      await users.disable('dave');
    });
    after(async () => {
      await other?.close();
      await storage?.close();
      await db?.drop();
    });

    const login = (username: string, password: string, address = '192.0.2.1', now = t0 + 10, via = storage) =>
      authenticateUser(via, { username, password, address }, now);

    test('the right password logs in, whatever the case of the username', async () => {
      const result = await login('Alice', 'alice password 123');
      assert.equal(result.ok, true);
      if (result.ok) assert.equal(result.user.username, 'alice');
    });

    test('a wrong password and an unknown user get the same answer', async () => {
      assert.deepEqual(await login('alice', 'wrong', '192.0.2.2'), { ok: false, reason: 'invalid_credentials' });
      assert.deepEqual(await login('nobody', 'wrong', '192.0.2.2'), { ok: false, reason: 'invalid_credentials' });
    });

    test('a disabled user cannot log in, and only the right password reveals why', async () => {
      assert.deepEqual(await login('dave', 'dave password 123', '192.0.2.3'), { ok: false, reason: 'disabled' });
      assert.deepEqual(await login('dave', 'wrong', '192.0.2.3'), { ok: false, reason: 'invalid_credentials' });
    });

    test('after too many failures the account is locked for the window, even for the right password, on every node', async () => {
      for (let i = 0; i < MAX_FAILURES_PER_ACCOUNT; i++) {
        // Alternate nodes and addresses: the count is the account's, in the shared database.
        assert.equal((await login('bob', `wrong ${i}`, `198.51.100.${i}`, t0 + 20, i % 2 ? other : storage)).ok, false);
      }
      const locked = await login('bob', 'bob password 123', '198.51.100.99', t0 + 30);
      assert.equal(locked.ok, false);
      if (!locked.ok) assert.equal(locked.reason, 'rate_limited');
      if (!locked.ok && locked.reason === 'rate_limited') assert.equal(locked.retryAfterSeconds, LOGIN_WINDOW_SECONDS - 30);
      assert.equal((await login('bob', 'bob password 123', '198.51.100.99', t0 + LOGIN_WINDOW_SECONDS)).ok, true, 'the next window opens');
    });

    test('too many failures from one address lock it for every account', async () => {
      const address = '203.0.113.7';
      for (let i = 0; i < MAX_FAILURES_PER_ADDRESS; i++) await login(`user${i}`, 'wrong', address, t0 + 40);
      const locked = await login('carol', 'carol password 123', address, t0 + 41);
      assert.equal(locked.ok, false);
      if (!locked.ok) assert.equal(locked.reason, 'rate_limited');
      assert.equal((await login('carol', 'carol password 123', '203.0.113.8', t0 + 41)).ok, true, 'another address is not affected');
    });

    test('simultaneous failures are all counted', async () => {
      await Promise.all(Array.from({ length: 8 }, () => storage.rateLimits.hit('test:concurrent', t0)).concat(
        Array.from({ length: 8 }, () => other.rateLimits.hit('test:concurrent', t0)),
      ));
      assert.equal(await storage.rateLimits.count('test:concurrent', t0), 16);
      assert.equal(await storage.rateLimits.hit('test:concurrent', t0 + LOGIN_WINDOW_SECONDS), 1, 'a new window starts at one');
    });

    test('old counters are purged in bounded batches', async () => {
      for (let i = 0; i < 5; i++) await storage.rateLimits.hit(`test:old:${i}`, 1000);
      await storage.rateLimits.hit('test:recent', t0);
      assert.equal(await storage.rateLimits.purgeBefore(2000, 3), 3);
      assert.equal(await storage.rateLimits.purgeBefore(2000, 10), 2);
      assert.equal(await storage.rateLimits.count('test:recent', t0), 1, 'recent windows stay');
    });

    test("a success clears the account's failures", async () => {
      await login('alice', 'wrong', '192.0.2.50', t0 + 60);
      await login('alice', 'wrong', '192.0.2.50', t0 + 60);
      assert.equal((await login('alice', 'alice password 123', '192.0.2.50', t0 + 61)).ok, true);
      assert.equal(await storage.rateLimits.count('login:account:alice', t0), 0);
    });
  });
}
