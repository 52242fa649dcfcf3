import type { Storage } from '../storage/storage.ts';
import type { User } from '../storage/user-store.ts';
import { hashPassword, MAX_PASSWORD_LENGTH, verifyPassword } from './passwords.ts';

/** Login rate limits: failed attempts allowed per window, per account and per client address. */
export const LOGIN_WINDOW_SECONDS = 15 * 60;
export const MAX_FAILURES_PER_ACCOUNT = 5;
export const MAX_FAILURES_PER_ADDRESS = 20;

export type LoginResult =
  | { ok: true; user: User }
  /** Wrong username or password, told apart in no way (no hint whether the username exists). */
  | { ok: false; reason: 'invalid_credentials' }
  /** Too many failures for this account or from this address: try again after `retryAfterSeconds`. */
  | { ok: false; reason: 'rate_limited'; retryAfterSeconds: number }
  /** The password was right but the account is disabled (only someone with the password learns it). */
  | { ok: false; reason: 'disabled' };

let dummyHash: Promise<string> | undefined;

/**
 * Checks a username and password for the login page. Every path costs one argon2 verification, an
 * unknown user included (against a hash of a random password), so timing tells nothing; failures are
 * counted per account and per address in the database, and over the limit nothing is verified.
 */
export async function authenticateUser(
  storage: Storage,
  input: { username: string; password: string; address: string },
  now = Math.floor(Date.now() / 1000),
): Promise<LoginResult> {
  // Control characters (NUL above all, which PostgreSQL text cannot hold) are in no username: such
  // input is a wrong username, counted against the address only.
  const hasControl = /[\x00-\x1f\x7f]/.test(input.username);
  const username = hasControl ? '' : input.username.trim().toLowerCase().slice(0, 64);
  const windowStart = now - (now % LOGIN_WINDOW_SECONDS);
  const accountKey = `login:account:${username}`;
  const addressKey = `login:address:${input.address}`;
  const retryAfterSeconds = windowStart + LOGIN_WINDOW_SECONDS - now;
  const [accountFailures, addressFailures] = await Promise.all([
    storage.rateLimits.count(accountKey, windowStart),
    storage.rateLimits.count(addressKey, windowStart),
  ]);
  if (accountFailures >= MAX_FAILURES_PER_ACCOUNT || addressFailures >= MAX_FAILURES_PER_ADDRESS) {
    return { ok: false, reason: 'rate_limited', retryAfterSeconds };
  }
  const user = await storage.users.findByUsername(username);
  dummyHash ??= hashPassword(`no user has this password ${Math.random()}`);
  const password = input.password.slice(0, MAX_PASSWORD_LENGTH);
  const matches = await verifyPassword(user?.passwordHash ?? (await dummyHash), password);
  if (!user || !matches) {
    await Promise.all([storage.rateLimits.hit(accountKey, windowStart), storage.rateLimits.hit(addressKey, windowStart)]);
    return { ok: false, reason: 'invalid_credentials' };
  }
  if (user.disabledAt !== null) return { ok: false, reason: 'disabled' };
  await storage.rateLimits.reset(accountKey);
  return { ok: true, user };
}
