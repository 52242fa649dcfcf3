import { mac, macMatches } from '../lib/mac.ts';
import { randomToken } from '../lib/random.ts';

/** How long a browser stays known after a successful sign-in. */
export const DEVICE_COOKIE_SECONDS = 180 * 24 * 3600;
const LABEL = 'login-device';
const SHAPE = /^([0-9a-f-]{36})\.([A-Za-z0-9_-]{22})\.([A-Za-z0-9_-]{43})$/;

/**
 * OWASP's device cookie ("Slow Down Online Guessing Attacks with Device Cookies"): a browser in which
 * a user signed in successfully carries a cookie naming that user and a random device id, signed with
 * the server's MAC key. With it, the browser is exempt from the account-wide delay an attack on the
 * account causes, though it has a failure count of its own (users/authenticate-user.ts).
 */
export function deviceCookieValue(macKey: Buffer, userId: string): string {
  const device = randomToken(16);
  return `${userId}.${device}.${mac(macKey, LABEL, `${userId}.${device}`)}`;
}

/** The device id, when `value` is a device cookie this server issued for `userId`; else undefined. */
export function trustedDevice(macKey: Buffer, value: string | undefined, userId: string): string | undefined {
  const match = value === undefined ? null : SHAPE.exec(value);
  if (!match || match[1] !== userId) return undefined;
  return macMatches(macKey, LABEL, `${userId}.${match[2]}`, match[3]!) ? match[2] : undefined;
}
