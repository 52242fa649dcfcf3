import type { Logger } from 'pino';
import { randomId128 } from '../lib/random.ts';
import type { Session } from '../storage/session-store.ts';
import type { Storage } from '../storage/storage.ts';

/** Logouts waiting for delivery at most; past that, new ones are dropped and logged (a client that never answers cannot fill the database). */
export const MAX_PENDING_LOGOUTS = 10_000;

/**
 * Ends SSO sessions and queues their back-channel logouts (OpenID Connect Back-Channel Logout 1.0
 * §2.3: the OP "needs to keep track of the set of logged-in RPs"; here, the clients whose grants were
 * made in the session, that registered a `backchannel_logout_uri`). One logout token per client and
 * session, naming the user (`sub`) and the session (`sid`); delivered by logout/backchannel-outbox.ts,
 * outside the request. Returns how many sessions ended.
 */
export async function endSessions(storage: Storage, sessions: readonly Session[], now: number, logger?: Logger): Promise<number> {
  if (sessions.length === 0) return 0;
  for (const session of sessions) await storage.sessions.delete(session.idHash);
  await queueLogouts(storage, sessions, now, logger);
  return sessions.length;
}

/** Ends every session of the user (users revoke, disable, a new password), with their back-channel logouts. */
export async function endSessionsOfUser(storage: Storage, userId: string, now: number, logger?: Logger): Promise<number> {
  return endSessions(storage, await storage.sessions.listForUser(userId), now, logger);
}

async function queueLogouts(storage: Storage, sessions: readonly Session[], now: number, logger?: Logger): Promise<void> {
  const owner = new Map(sessions.map((s) => [s.sid, s.userId]));
  const targets = await storage.backchannelLogouts.clientsOfSessions([...owner.keys()]);
  if (targets.length === 0) return;
  const room = MAX_PENDING_LOGOUTS - (await storage.backchannelLogouts.pending());
  if (targets.length > room) logger?.warn({ dropped: targets.length - Math.max(room, 0) }, 'back-channel logout queue is full: logouts dropped');
  await storage.backchannelLogouts.enqueue(
    targets.slice(0, Math.max(room, 0)).map((t) => ({ id: randomId128(), clientId: t.clientId, subject: owner.get(t.sid)!, sid: t.sid })),
    now,
  );
}
