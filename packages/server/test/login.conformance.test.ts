import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { Storage } from '../src/storage/storage.ts';
import {
  accountDelaySeconds,
  authenticateUser,
  FIRST_DELAY_SECONDS,
  FREE_FAILURES_PER_ACCOUNT,
  LOGIN_WINDOW_SECONDS,
  MAX_DELAY_SECONDS,
  MAX_FAILURES_PER_ADDRESS,
  MAX_FAILURES_PER_DEVICE,
  type LoginResult,
} from '../src/users/authenticate-user.ts';
import { deviceCookieValue } from '../src/users/device-cookie.ts';
import { UserRegistry } from '../src/users/user-registry.ts';
import type { User } from '../src/storage/user-store.ts';
import { backends, type TestDatabase } from '@latchkey/testing';

/**
 * Password checks and the limits on guessing, shared by every node: a budget per address, a growing
 * delay per account for unknown browsers, and device cookies that keep the owner's browser out of an
 * attacker's reach (OWASP's device-cookie defence).
 */
for (const backend of await backends()) {
  describe(`login checks (${backend.name})`, { skip: backend.skip }, () => {
    let db: TestDatabase;
    let storage: Storage;
    let other: Storage;
    const macKey = randomBytes(32);
    const t0 = 1_900_000_000 - (1_900_000_000 % LOGIN_WINDOW_SECONDS);
    const users: Record<string, User> = {};

    before(async () => {
      db = await backend.create();
      storage = await Storage.open(db);
      other = await Storage.open(db);
      const registry = new UserRegistry(storage);
      for (const username of ['alice', 'bob', 'carol', 'dave', 'erin', 'frank', 'grace', 'henry', 'ivan']) {
        await registry.create({ username, password: `${username} password 123` });
        users[username] = (await storage.users.findByUsername(username))!;
      }
      await registry.disable('dave');
    });
    after(async () => {
      await other?.close();
      await storage?.close();
      await db?.drop();
    });

    const login = (username: string, password: string, address = '192.0.2.1', now = t0 + 10, options: { via?: Storage; device?: string } = {}) =>
      authenticateUser(options.via ?? storage, macKey, { username, password, address, deviceCookie: options.device }, now);
    const waits = (result: LoginResult): number => {
      assert.equal(result.ok, false, 'refused');
      assert.equal(!result.ok && result.reason, 'rate_limited');
      return !result.ok && result.reason === 'rate_limited' ? result.retryAfterSeconds : NaN;
    };

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

    test('the delay doubles with each failure from the fifth on, up to 15 minutes', () => {
      assert.deepEqual(
        [0, 4, 5, 6, 7, 8, 9, 10, 30].map(accountDelaySeconds),
        [0, 0, 30, 60, 120, 240, 480, 900, 900],
      );
      assert.equal(accountDelaySeconds(FREE_FAILURES_PER_ACCOUNT), FIRST_DELAY_SECONDS);
      assert.equal(accountDelaySeconds(1000), MAX_DELAY_SECONDS);
    });

    test('after 5 failures from anywhere, a new browser waits, the right password too, on every node; then it gets in', async () => {
      for (let i = 0; i < FREE_FAILURES_PER_ACCOUNT; i++) {
        // Alternate nodes and addresses: the count is the account's, in the shared database.
        assert.equal((await login('bob', `wrong ${i}`, `198.51.100.${i}`, t0 + 20, { via: i % 2 ? other : storage })).ok, false);
      }
      assert.equal(waits(await login('bob', 'bob password 123', '198.51.100.99', t0 + 25)), FIRST_DELAY_SECONDS - 5);
      assert.equal(waits(await login('bob', 'bob password 123', '198.51.100.99', t0 + 49, { via: other })), 1);
      // Waited: a guess is allowed again, and a wrong one doubles the delay.
      assert.deepEqual(await login('bob', 'wrong again', '198.51.100.98', t0 + 50), { ok: false, reason: 'invalid_credentials' });
      assert.equal(waits(await login('bob', 'bob password 123', '198.51.100.99', t0 + 51)), 2 * FIRST_DELAY_SECONDS - 1);
      assert.equal((await login('bob', 'bob password 123', '198.51.100.99', t0 + 50 + 2 * FIRST_DELAY_SECONDS)).ok, true);
      // The right password cleared the account's failures.
      assert.equal((await login('bob', 'wrong', '198.51.100.97', t0 + 200)).ok, false);
      assert.equal((await login('bob', 'bob password 123', '198.51.100.97', t0 + 201)).ok, true, 'one failure, no delay');
    });

    test('a distributed attack from a new address for every guess stays bounded: about 100 guesses a day', async () => {
      let now = t0 + 3600;
      const end = now + 24 * 3600;
      let guesses = 0;
      let refusals = 0;
      // The attacker's best strategy: guess the moment the delay allows, from a fresh address each time.
      while (now < end) {
        const result = await login('carol', `guess ${guesses}`, `10.${guesses >> 8}.${guesses & 255}.1`, now);
        if (!result.ok && result.reason === 'rate_limited') {
          refusals++;
          now += result.retryAfterSeconds;
        } else {
          assert.deepEqual(result, { ok: false, reason: 'invalid_credentials' });
          guesses++;
        }
      }
      // 5 free guesses, 5 during the doubling (30 s to 8 min), then one per 15 minutes.
      assert.ok(guesses <= 5 + 5 + Math.ceil((24 * 3600) / MAX_DELAY_SECONDS), `${guesses} guesses in a day`);
      assert.ok(guesses >= 100, `the bound is as documented (${guesses})`);
      assert.ok(refusals > 0);
    });

    test('the owner\'s known browser gets in during an attack; a new browser with the right password waits', async () => {
      const ownerDevice = deviceCookieValue(macKey, users.erin!);
      const now = t0 + 7200;
      for (let i = 0; i < 12; i++) await login('erin', `attack ${i}`, `203.0.113.${i}`, now + i * 1000);
      const during = now + 11 * 1000 + 5;
      assert.ok(waits(await login('erin', 'erin password 123', '192.0.2.77', during)) > 0, 'a new browser waits, password right or not');
      const owner = await login('erin', 'erin password 123', '192.0.2.77', during, { device: ownerDevice });
      assert.equal(owner.ok, true, 'the owner\'s browser is exempt from the account-wide delay');
      // Getting in from the known browser does not lift the delay for everyone else.
      assert.ok(waits(await login('erin', 'erin password 123', '192.0.2.78', during + 1)) > 0);
    });

    test('a known browser has its own failure budget: past it, it waits like any other', async () => {
      const device = deviceCookieValue(macKey, users.frank!);
      const now = t0 + 4 * LOGIN_WINDOW_SECONDS + 10;
      for (let i = 0; i < MAX_FAILURES_PER_DEVICE; i++) {
        assert.deepEqual(await login('frank', `typo ${i}`, '192.0.2.90', now, { device }), { ok: false, reason: 'invalid_credentials' });
      }
      // Its failures were its own, not the account's: a new browser is not delayed by them.
      assert.equal((await login('frank', 'frank password 123', '192.0.2.91', now + 1)).ok, true);
      // The known browser is over its budget: it counts as unknown, so its failures now count against the account.
      for (let i = 0; i < FREE_FAILURES_PER_ACCOUNT; i++) await login('frank', `typo again ${i}`, '192.0.2.90', now + 2, { device });
      assert.ok(waits(await login('frank', 'frank password 123', '192.0.2.90', now + 3, { device })) > 0);
    });

    test('a device cookie of another user, or with a wrong MAC, exempts nothing', async () => {
      const now = t0 + 8 * LOGIN_WINDOW_SECONDS;
      for (let i = 0; i < FREE_FAILURES_PER_ACCOUNT; i++) await login('grace', `attack ${i}`, `203.0.113.${100 + i}`, now);
      const aliceDevice = deviceCookieValue(macKey, users.alice!);
      const forged = `${deviceCookieValue(macKey, users.grace!).slice(0, -4)}AAAA`;
      const otherKey = deviceCookieValue(randomBytes(32), users.grace!);
      for (const device of [aliceDevice, forged, otherKey, 'garbage']) {
        assert.ok(waits(await login('grace', 'grace password 123', '192.0.2.5', now + 1, { device })) > 0, device);
      }
      assert.equal((await login('grace', 'grace password 123', '192.0.2.5', now + 1, { device: deviceCookieValue(macKey, users.grace!) })).ok, true);
    });

    test('too many failures from one address lock it for every account', async () => {
      const address = '203.0.113.7';
      const now = t0 + 12 * LOGIN_WINDOW_SECONDS + 40;
      for (let i = 0; i < MAX_FAILURES_PER_ADDRESS; i++) await login(`user${i}`, 'wrong', address, now);
      waits(await login('alice', 'alice password 123', address, now + 1));
      assert.equal((await login('alice', 'alice password 123', '203.0.113.8', now + 1)).ok, true, 'another address is not affected');
    });

    test('simultaneous failures are all counted', async () => {
      await Promise.all(
        Array.from({ length: 8 }, () => storage.rateLimits.hit('test:concurrent', t0)).concat(
          Array.from({ length: 8 }, () => other.rateLimits.hit('test:concurrent', t0)),
        ),
      );
      assert.equal(await storage.rateLimits.count('test:concurrent', t0), 16);
      assert.equal(await storage.rateLimits.hit('test:concurrent', t0 + LOGIN_WINDOW_SECONDS), 1, 'a new window starts at one');
    });

    test('an account reservation is atomic: of simultaneous attempts on two nodes, only as many pass as the delay allows', async () => {
      const reserve = (via: Storage, now: number) => via.loginThrottles.reserve('test:account', now, now - 3600, accountDelaySeconds, 10);
      // Five free attempts at once: all pass; the sixth and the rest wait.
      const first = await Promise.all(Array.from({ length: 12 }, (_, i) => reserve(i % 2 ? other : storage, t0)));
      assert.equal(first.filter((r) => r.ok).length, FREE_FAILURES_PER_ACCOUNT);
      // The moment the delay ends, 12 parallel attempts: exactly one passes.
      const later = await Promise.all(Array.from({ length: 12 }, (_, i) => reserve(i % 2 ? other : storage, t0 + FIRST_DELAY_SECONDS)));
      assert.equal(later.filter((r) => r.ok).length, 1, JSON.stringify(later));
      assert.deepEqual(await storage.loginThrottles.get('test:account', 0), {
        failures: FREE_FAILURES_PER_ACCOUNT + 1,
        lastFailureAt: t0 + FIRST_DELAY_SECONDS,
        blockedUntil: t0 + 3 * FIRST_DELAY_SECONDS,
      });
      const forgotten = await storage.loginThrottles.reserve('test:account', t0 + 10_000, t0 + 10_000 - 60, accountDelaySeconds, 10);
      assert.deepEqual(forgotten, { ok: true, failures: 1 }, 'failures older than the bound are forgotten');
    });

    test('parallel guesses from many addresses at the moment the delay ends: one password is checked', async () => {
      const now = t0 + 20 * LOGIN_WINDOW_SECONDS;
      for (let i = 0; i < FREE_FAILURES_PER_ACCOUNT; i++) await login('henry', `guess ${i}`, `198.18.0.${i}`, now);
      const results = await Promise.all(
        Array.from({ length: 30 }, (_, i) => login('henry', `parallel ${i}`, `198.18.1.${i}`, now + FIRST_DELAY_SECONDS, { via: i % 2 ? other : storage })),
      );
      assert.equal(results.filter((r) => !r.ok && r.reason === 'invalid_credentials').length, 1, 'exactly one guess was checked');
      assert.equal(results.filter((r) => !r.ok && r.reason === 'rate_limited').length, 29);
    });

    test('parallel failures from one address stop at its budget', async () => {
      const now = t0 + 24 * LOGIN_WINDOW_SECONDS + 5;
      const results = await Promise.all(
        Array.from({ length: 40 }, (_, i) => login(`nobody${i}`, 'wrong', '198.18.9.9', now, { via: i % 2 ? other : storage })),
      );
      assert.equal(results.filter((r) => !r.ok && r.reason === 'invalid_credentials').length, MAX_FAILURES_PER_ADDRESS);
    });

    test('the owner\'s known browser gets in from an address whose budget others spent (a shared network)', async () => {
      const now = t0 + 28 * LOGIN_WINDOW_SECONDS + 5;
      const address = '198.18.7.7';
      for (let i = 0; i < MAX_FAILURES_PER_ADDRESS; i++) await login(`stranger${i}`, 'wrong', address, now);
      waits(await login('alice', 'alice password 123', address, now + 1));
      assert.equal((await login('alice', 'alice password 123', address, now + 1, { device: deviceCookieValue(macKey, users.alice!) })).ok, true);
    });

    test('a password change makes every browser unknown again', async () => {
      const device = deviceCookieValue(macKey, users.ivan!);
      const changed = { ...users.ivan!, passwordChangedAt: users.ivan!.passwordChangedAt + 1 };
      const now = t0 + 32 * LOGIN_WINDOW_SECONDS;
      for (let i = 0; i < FREE_FAILURES_PER_ACCOUNT; i++) await login('ivan', `attack ${i}`, `198.18.3.${i}`, now);
      assert.equal((await login('ivan', 'ivan password 123', '192.0.2.9', now + 1, { device })).ok, true, 'before: known');
      await storage.users.setPasswordHash('ivan', users.ivan!.passwordHash, changed.passwordChangedAt);
      waits(await login('ivan', 'ivan password 123', '192.0.2.9', now + 2, { device }));
    });

    test('old counters are purged in bounded batches', async () => {
      for (let i = 0; i < 5; i++) await storage.rateLimits.hit(`test:old:${i}`, 1000);
      await storage.rateLimits.hit('test:recent', t0);
      assert.equal(await storage.rateLimits.purgeBefore(2000, 3), 3);
      assert.equal(await storage.rateLimits.purgeBefore(2000, 10), 2);
      assert.equal(await storage.rateLimits.count('test:recent', t0), 1, 'recent windows stay');
      for (let i = 0; i < 4; i++) await storage.loginThrottles.reserve(`test:old-account:${i}`, 1000, 0, accountDelaySeconds, 10);
      assert.equal(await storage.loginThrottles.purgeBefore(2000, 3), 3);
      assert.equal(await storage.loginThrottles.purgeBefore(2000, 10), 1);
    });
  });
}
