import { cookieHeader } from '../lib/cookies.ts';
import { randomIdentifier, randomToken, sha256 } from '../lib/random.ts';
import type { Session } from '../storage/session-store.ts';
import type { Storage } from '../storage/storage.ts';
import type { AuthenticationMethod } from './authentication-context.ts';

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

/** Where a session is started from, for the user's list of signed-in browsers (account page). */
export interface SessionOrigin {
  userAgent?: string | null;
  address?: string | null;
}

/** The origin of a request that starts a session: its User-Agent (at most 300 characters) and address. */
export function sessionOrigin(request: { headers: Record<string, string | string[] | undefined>; ip: string }): SessionOrigin {
  const agent = request.headers['user-agent'];
  return { userAgent: typeof agent === 'string' && agent !== '' ? agent.slice(0, 300) : null, address: request.ip.slice(0, 64) };
}

/**
 * Starts a session after a successful login by `amr` (RFC 8176); returns the cookie value (256 random
 * bits). `sid`: the identifier of the session this one continues (a renewed cookie after a step-up), so
 * the ID tokens issued before still name it (Back-Channel Logout §2.1); omitted: a new random one.
 */
export async function startSession(
  storage: Storage,
  userId: string,
  amr: readonly AuthenticationMethod[],
  now: number,
  origin: SessionOrigin = {},
  authTime = now,
  sid?: string,
): Promise<{ value: string; session: Session }> {
  const value = randomToken(32);
  const session: Session = {
    sid: sid || randomIdentifier(16),
    idHash: sha256(value),
    userId,
    authTime,
    amr: [...amr],
    createdAt: now,
    lastSeenAt: now,
    expiresAt: now + SESSION_ABSOLUTE_SECONDS,
    userAgent: origin.userAgent ?? null,
    address: origin.address ?? null,
  };
  await storage.sessions.create(session);
  return { value, session };
}

/**
 * The live session a cookie value names, or undefined: unknown, idle too long, past its absolute end,
 * its user disabled or deleted, or still owing its second factor (a password sign-in of a user with a
 * one-time-code authenticator: it is good for nothing but the code page, `resumePartialSession`). A
 * live session's activity time moves forward.
 */
export async function resumeSession(storage: Storage, value: string | undefined, now: number): Promise<Session | undefined> {
  const session = await liveSession(storage, value, now);
  if (!session || (await secondFactorDue(storage, session))) return undefined;
  return session;
}

/** The session of a user who gave the password and still owes the one-time code, or undefined. */
export async function resumePartialSession(storage: Storage, value: string | undefined, now: number): Promise<Session | undefined> {
  const session = await liveSession(storage, value, now);
  if (!session || !(await secondFactorDue(storage, session))) return undefined;
  return session;
}

/**
 * Ends the user's sessions whose sign-in has no second factor (a factor was removed or became
 * required: half sign-ins must not turn into whole ones). Returns how many ended.
 */
export async function endPasswordOnlySessions(storage: Storage, userId: string): Promise<number> {
  let ended = 0;
  for (const session of await storage.sessions.listForUser(userId)) {
    if (!session.amr.includes('mfa')) {
      await storage.sessions.delete(session.idHash);
      ended++;
    }
  }
  return ended;
}

/**
 * Whether the session's sign-in lacks the second factor its user has set up (RFC 8176 `mfa` absent):
 * an authenticator app or a passkey.
 */
export async function secondFactorDue(storage: Storage, session: Session): Promise<boolean> {
  if (session.amr.includes('mfa')) return false;
  return (await storage.totp.isEnabled(session.userId)) || (await storage.passkeys.hasAny(session.userId));
}

async function liveSession(storage: Storage, value: string | undefined, now: number): Promise<Session | undefined> {
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
