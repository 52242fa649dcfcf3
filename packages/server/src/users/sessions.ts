import { cookieHeader } from '../lib/cookies.ts';
import { randomToken, sha256 } from '../lib/random.ts';
import type { Session } from '../storage/session-store.ts';
import type { Storage } from '../storage/storage.ts';

/** Session lifetimes: ended after this long without activity, and after this long in any case. */
export const SESSION_IDLE_SECONDS = 30 * 60;
export const SESSION_ABSOLUTE_SECONDS = 12 * 3600;
/** Activity is written back at most this often, not on every request. */
const TOUCH_INTERVAL_SECONDS = 60;

/**
 * The SSO session cookie: `__Host-` prefixed when the issuer is https (RFC 6265bis: Secure, Path=/,
 * no Domain, so no sibling host can set or read it), HttpOnly, SameSite=Lax so the redirect back from
 * another site still carries it.
 */
export function sessionCookieName(secure: boolean): string {
  return secure ? '__Host-latchkey_session' : 'latchkey_session';
}

export function sessionCookieHeader(value: string, secure: boolean, maxAgeSeconds: number): string {
  return cookieHeader(sessionCookieName(secure), value, secure, maxAgeSeconds);
}

/** Starts a session after a successful login; returns the cookie value (256 random bits). */
export async function startSession(storage: Storage, userId: string, now: number): Promise<{ value: string; session: Session }> {
  const value = randomToken(32);
  const session: Session = {
    idHash: sha256(value),
    userId,
    authTime: now,
    createdAt: now,
    lastSeenAt: now,
    expiresAt: now + SESSION_ABSOLUTE_SECONDS,
  };
  await storage.sessions.create(session);
  return { value, session };
}

/**
 * The live session a cookie value names, or undefined: unknown, idle too long, past its absolute end,
 * or its user disabled or deleted. A live session's activity time moves forward.
 */
export async function resumeSession(storage: Storage, value: string | undefined, now: number): Promise<Session | undefined> {
  if (!value || value.length > 100) return undefined;
  const idHash = sha256(value);
  const session = await storage.sessions.find(idHash);
  if (!session) return undefined;
  if (session.expiresAt <= now || session.lastSeenAt + SESSION_IDLE_SECONDS <= now) {
    await storage.sessions.delete(idHash);
    return undefined;
  }
  const user = await storage.users.findById(session.userId);
  if (!user || user.disabledAt !== null) {
    await storage.sessions.delete(idHash);
    return undefined;
  }
  if (now - session.lastSeenAt >= TOUCH_INTERVAL_SECONDS) {
    await storage.sessions.touch(idHash, now);
    session.lastSeenAt = now;
  }
  return session;
}
