import { addressKey } from '../lib/address-key.ts';
import { nowSeconds } from '../lib/clock.ts';
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
/** Failures past the free ones after which the delay no longer grows (30 s · 2^5 > 15 min). */
export const MAX_DOUBLINGS = Math.ceil(Math.log2(MAX_DELAY_SECONDS / FIRST_DELAY_SECONDS));
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
 * - a browser where the user signed in before (a valid device cookie, OWASP's device-cookie defence)
 *   has a failure budget of its own, and is exempt from everything below; past its budget it counts
 *   as unknown;
 * - every other attempt spends one of its address's failures per window;
 * - and, for the account, one attempt of a delay that doubles with each failure from all addresses
 *   together (so a distributed attack stays bounded too), the right password included.
 * Each budget is spent before the password is checked, by one atomic statement, so parallel attempts
 * cannot all pass one check; an attempt that succeeds gives back what it spent. Every attempt that is
 * not refused by a limit costs one argon2 verification, an unknown user included (against a hash of a
 * random password), so neither answers nor timing tell which usernames exist.
 */
export async function authenticateUser(
  storage: Storage,
  macKey: Buffer,
  input: LoginAttempt,
  now = nowSeconds(),
): Promise<LoginResult> {
  // Control characters (NUL above all, which PostgreSQL text cannot hold) are in no username: such
  // input is a wrong username.
  const hasControl = /[\x00-\x1f\x7f]/.test(input.username);
  const username = hasControl ? '' : input.username.trim().toLowerCase().slice(0, 64);
  const windowStart = now - (now % LOGIN_WINDOW_SECONDS);
  const windowLeft = windowStart + LOGIN_WINDOW_SECONDS - now;
  const addressCounter = `login:address:${addressKey(input.address)}`;
  const accountKey = `login:account:${username}`;

  const user = username === '' ? undefined : await storage.users.findByUsername(username);
  const device = user ? trustedDevice(macKey, input.deviceCookie, user) : undefined;
  const deviceKey = device === undefined ? undefined : `login:device:${device}`;
  const known = deviceKey !== undefined && (await storage.rateLimits.hit(deviceKey, windowStart)) <= MAX_FAILURES_PER_DEVICE;
  if (!known) {
    if ((await storage.rateLimits.hit(addressCounter, windowStart)) > MAX_FAILURES_PER_ADDRESS) {
      return { ok: false, reason: 'rate_limited', retryAfterSeconds: windowLeft };
    }
    const reserved = await storage.loginThrottles.reserve(
      accountKey,
      now,
      now - ACCOUNT_FAILURES_KEPT_SECONDS,
      accountDelaySeconds,
      FREE_FAILURES_PER_ACCOUNT + MAX_DOUBLINGS,
    );
    if (!reserved.ok) {
      // Refused before any check: the address's budget is not spent on it.
      await storage.rateLimits.refund(addressCounter, windowStart);
      return { ok: false, reason: 'rate_limited', retryAfterSeconds: reserved.retryAfterSeconds };
    }
  }

  dummyHash ??= hashPassword(`no user has this password ${Math.random()}`);
  const password = input.password.slice(0, MAX_PASSWORD_LENGTH);
  const matches = await verifyPassword(user?.passwordHash ?? (await dummyHash), password);
  // A failure was counted when the attempt was reserved.
  if (!user || !matches) return { ok: false, reason: 'invalid_credentials' };
  // The password is known here: what the attempt spent is given back. A known browser getting in
  // during an attack leaves the account's delay in place for everyone else.
  if (known) await storage.rateLimits.refund(deviceKey!, windowStart);
  else await Promise.all([storage.rateLimits.refund(addressCounter, windowStart), storage.loginThrottles.reset(accountKey)]);
  if (user.disabledAt !== null) return { ok: false, reason: 'disabled' };
  return { ok: true, user };
}
