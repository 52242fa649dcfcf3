import { mac, macMatches } from '../lib/mac.ts';
import { randomToken } from '../lib/random.ts';
import type { User } from '../storage/user-store.ts';

/** How long a browser stays known after a successful sign-in. */
export const DEVICE_COOKIE_SECONDS = 180 * 24 * 3600;
const LABEL = 'login-device';
const SHAPE = /^([0-9a-f-]{36})\.([A-Za-z0-9_-]{22})\.([A-Za-z0-9_-]{43})$/;

/**
 * OWASP's device cookie ("Slow Down Online Guessing Attacks with Device Cookies"): a browser in which
 * a user signed in successfully carries a cookie naming that user and a random device id, signed with
 * the server's MAC key. With it, the browser is exempt from the account-wide delay an attack on the
 * account causes, though it has a failure count of its own (users/authenticate-user.ts). The MAC
 * covers the time the password was last set: a password change makes every browser unknown again.
 */
export function deviceCookieValue(macKey: Buffer, user: Pick<User, 'id' | 'passwordChangedAt'>): string {
  const device = randomToken(16);
  return `${user.id}.${device}.${mac(macKey, LABEL, `${user.id}.${user.passwordChangedAt}.${device}`)}`;
}

/** The device id, when `value` is a device cookie this server issued for `user` (and its password); else undefined. */
export function trustedDevice(macKey: Buffer, value: string | undefined, user: Pick<User, 'id' | 'passwordChangedAt'>): string | undefined {
  const match = value === undefined ? null : SHAPE.exec(value);
  if (!match || match[1] !== user.id) return undefined;
  return macMatches(macKey, LABEL, `${user.id}.${user.passwordChangedAt}.${match[2]}`, match[3]!) ? match[2] : undefined;
}
