import type { Storage } from '../storage/storage.ts';
import type { User } from '../storage/user-store.ts';
import { trustedDevice } from './device-cookie.ts';
import { hashPassword, MAX_PASSWORD_LENGTH, verifyPassword } from './passwords.ts';

/** Fixed counting windows for the failures of one address and of one known browser. */
export const LOGIN_WINDOW_SECONDS = 15 * 60;
/** Failures per window from one address, whatever the accounts. */
export const MAX_FAILURES_PER_ADDRESS = 20;
/** Failures per window in one browser with a device cookie, before it counts as unknown again. */
export const MAX_FAILURES_PER_DEVICE = 5;
/** Failures of one account (from every address together) before each attempt has to wait. */
export const FREE_FAILURES_PER_ACCOUNT = 5;
/** The first wait, doubled with every further failure... */
export const FIRST_DELAY_SECONDS = 30;
/** ...up to this: about 100 guesses a day on an account, from any number of addresses. */
export const MAX_DELAY_SECONDS = 15 * 60;
/** An account's failures are forgotten this long after the last one. */
export const ACCOUNT_FAILURES_KEPT_SECONDS = 24 * 3600;

export type LoginResult =
  | { ok: true; user: User }
  /** Wrong username or password, told apart in no way (no hint whether the username exists). */
  | { ok: false; reason: 'invalid_credentials' }
  /** Too many failures for this account or from this address: try again after `retryAfterSeconds`. */
  | { ok: false; reason: 'rate_limited'; retryAfterSeconds: number }
  /** The password was right but the account is disabled (only someone with the password learns it). */
  | { ok: false; reason: 'disabled' };

export interface LoginAttempt {
  username: string;
  password: string;
  address: string;
  /** The browser's device cookie (users/device-cookie.ts), if it sent one. */
  deviceCookie?: string | undefined;
}

/** How long after the last of `failures` an attempt from an unknown browser must wait. */
export function accountDelaySeconds(failures: number): number {
  if (failures < FREE_FAILURES_PER_ACCOUNT) return 0;
  return Math.min(FIRST_DELAY_SECONDS * 2 ** (failures - FREE_FAILURES_PER_ACCOUNT), MAX_DELAY_SECONDS);
}

let dummyHash: Promise<string> | undefined;

/**
 * Checks a username and password for the login page. Guessing is bounded without handing anyone a
 * switch that locks the owner out:
 * - every address has a fixed budget of failures per window;
 * - an account's failures from all addresses together make attempts from unknown browsers wait, a
 *   delay that doubles with each failure (so a distributed attack stays bounded too), the right
 *   password included;
 * - a browser where the user signed in before (a valid device cookie) is exempt from that delay, with
 *   a failure budget of its own; past it, it counts as unknown again (OWASP device cookies).
 * Every path that checks a password costs one argon2 verification, an unknown user included (against
 * a hash of a random password), so timing tells nothing; over a limit nothing is verified.
 */
export async function authenticateUser(
  storage: Storage,
  macKey: Buffer,
  input: LoginAttempt,
  now = Math.floor(Date.now() / 1000),
): Promise<LoginResult> {
  // Control characters (NUL above all, which PostgreSQL text cannot hold) are in no username: such
  // input is a wrong username, counted against the address only.
  const hasControl = /[\x00-\x1f\x7f]/.test(input.username);
  const username = hasControl ? '' : input.username.trim().toLowerCase().slice(0, 64);
  const windowStart = now - (now % LOGIN_WINDOW_SECONDS);
  const windowLeft = windowStart + LOGIN_WINDOW_SECONDS - now;
  const addressKey = `login:address:${input.address}`;
  const accountKey = `login:account:${username}`;

  if ((await storage.rateLimits.count(addressKey, windowStart)) >= MAX_FAILURES_PER_ADDRESS) {
    return { ok: false, reason: 'rate_limited', retryAfterSeconds: windowLeft };
  }
  const user = username === '' ? undefined : await storage.users.findByUsername(username);
  const device = user ? trustedDevice(macKey, input.deviceCookie, user.id) : undefined;
  const deviceKey = device === undefined ? undefined : `login:device:${device}`;
  const known = deviceKey !== undefined && (await storage.rateLimits.count(deviceKey, windowStart)) < MAX_FAILURES_PER_DEVICE;
  if (!known) {
    const throttle = await storage.loginThrottles.get(accountKey, now - ACCOUNT_FAILURES_KEPT_SECONDS);
    const waitUntil = throttle ? throttle.lastFailureAt + accountDelaySeconds(throttle.failures) : 0;
    if (waitUntil > now) return { ok: false, reason: 'rate_limited', retryAfterSeconds: waitUntil - now };
  }

  dummyHash ??= hashPassword(`no user has this password ${Math.random()}`);
  const password = input.password.slice(0, MAX_PASSWORD_LENGTH);
  const matches = await verifyPassword(user?.passwordHash ?? (await dummyHash), password);
  if (!user || !matches) {
    await Promise.all([
      storage.rateLimits.hit(addressKey, windowStart),
      // A known browser's failures are its own; anyone else's count against the account (unknown
      // usernames too, so that the answer tells nothing about which exist).
      known ? storage.rateLimits.hit(deviceKey!, windowStart) : storage.loginThrottles.hit(accountKey, now, now - ACCOUNT_FAILURES_KEPT_SECONDS),
    ]);
    return { ok: false, reason: 'invalid_credentials' };
  }
  if (user.disabledAt !== null) return { ok: false, reason: 'disabled' };
  // The password is known here: the account's delay goes, unless this was a known browser getting in
  // during an attack that goes on.
  if (known) await storage.rateLimits.reset(deviceKey!);
  else await storage.loginThrottles.reset(accountKey);
  return { ok: true, user };
}
