import type { Kysely } from 'kysely';
import type { Database } from './schema.ts';
import { toInt } from './values.ts';

/** A logout token to deliver (logout/backchannel-outbox.ts): whom it is for and what it names. */
export interface PendingLogout {
  id: string;
  clientId: string;
  subject: string;
  /** The ended session's `sid`; null: every session of the user. */
  sid: string | null;
  attempts: number;
}

/**
 * The queue of back-channel logouts (OpenID Connect Back-Channel Logout 1.0 §2.5), shared by every
 * node: each row is claimed by one sender at a time with a conditional UPDATE, and deleted once
 * delivered or given up.
 */
export class BackchannelLogoutStore {
  private readonly db: Kysely<Database>;

  constructor(db: Kysely<Database>) {
    this.db = db;
  }

  /**
   * Back-Channel Logout §2.3: the clients that were issued tokens in these sessions (their grants carry
   * the session's `sid`) and registered a `backchannel_logout_uri`.
   */
  async clientsOfSessions(sids: readonly string[]): Promise<{ clientId: string; sid: string }[]> {
    const known = sids.filter((s) => s !== '');
    if (known.length === 0) return [];
    const rows = await this.db
      .selectFrom('grants as g')
      .innerJoin('clients as c', 'c.client_id', 'g.client_id')
      .select(['g.client_id as client_id', 'g.sid as sid'])
      .distinct()
      .where('g.sid', 'in', known)
      .where('c.backchannel_logout_uri', 'is not', null)
      .execute();
    return rows.map((r) => ({ clientId: r.client_id, sid: r.sid! }));
  }

  /** How many logouts wait to be delivered. */
  async pending(): Promise<number> {
    const row = await this.db.selectFrom('backchannel_logouts').select((eb) => eb.fn.countAll().as('n')).executeTakeFirst();
    return toInt(row?.n ?? 0);
  }

  async enqueue(logouts: { id: string; clientId: string; subject: string; sid: string | null }[], now: number): Promise<void> {
    if (logouts.length === 0) return;
    await this.db
      .insertInto('backchannel_logouts')
      .values(logouts.map((l) => ({ id: l.id, client_id: l.clientId, subject: l.subject, sid: l.sid, attempts: 0, next_attempt_at: now, locked_until: 0, created_at: now, last_error: null })))
      .execute();
  }

  /**
   * Claims up to `limit` due logouts, each with one conditional UPDATE (`locked_until` in the past), so
   * two nodes never deliver the same one at once; a sender that dies releases its claim after
   * `lockSeconds`.
   */
  async claimDue(now: number, limit: number, lockSeconds: number): Promise<PendingLogout[]> {
    const due = await this.db
      .selectFrom('backchannel_logouts')
      .select(['id'])
      .where('next_attempt_at', '<=', now)
      .where('locked_until', '<=', now)
      .orderBy('next_attempt_at')
      .limit(limit)
      .execute();
    const claimed: PendingLogout[] = [];
    for (const { id } of due) {
      const result = await this.db
        .updateTable('backchannel_logouts')
        .set({ locked_until: now + lockSeconds })
        .where('id', '=', id)
        .where('locked_until', '<=', now)
        .executeTakeFirst();
      if (Number(result.numUpdatedRows) === 0) continue;
      const row = await this.db.selectFrom('backchannel_logouts').selectAll().where('id', '=', id).executeTakeFirst();
      if (row) claimed.push({ id: row.id, clientId: row.client_id, subject: row.subject, sid: row.sid, attempts: toInt(row.attempts) });
    }
    return claimed;
  }

  /** Delivered, or given up: forgotten. */
  async remove(id: string): Promise<void> {
    await this.db.deleteFrom('backchannel_logouts').where('id', '=', id).execute();
  }

  /** A failed attempt: tried again at `nextAttemptAt`. */
  async retryAt(id: string, error: string, nextAttemptAt: number): Promise<void> {
    await this.db
      .updateTable('backchannel_logouts')
      .set({ attempts: (eb) => eb('attempts', '+', 1), last_error: error.slice(0, 300), locked_until: 0, next_attempt_at: nextAttemptAt })
      .where('id', '=', id)
      .execute();
  }

  /** What waits, for operators and tests. */
  async list(limit = 100): Promise<{ id: string; clientId: string; sid: string | null; attempts: number; lastError: string | null }[]> {
    const rows = await this.db.selectFrom('backchannel_logouts').selectAll().orderBy('created_at').limit(limit).execute();
    return rows.map((r) => ({ id: r.id, clientId: r.client_id, sid: r.sid, attempts: toInt(r.attempts), lastError: r.last_error }));
  }
}
