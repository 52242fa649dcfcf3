import type { Kysely } from 'kysely';
import type { Database } from './schema.ts';
import { deleteBatch } from './purge.ts';
import { toInt } from './values.ts';

/** A message in the outbox: its body still encrypted. */
export interface OutboxMessage {
  id: string;
  recipient: string;
  kind: string;
  bodyEnc: string;
  attempts: number;
}

/** Messages to send (mail/outbox.ts), shared by every node: each is claimed by one sender at a time. */
export class MailOutboxStore {
  private readonly db: Kysely<Database>;

  constructor(db: Kysely<Database>) {
    this.db = db;
  }

  async enqueue(message: { id: string; recipient: string; kind: string; bodyEnc: string }, now: number): Promise<void> {
    await this.db
      .insertInto('mail_outbox')
      .values({ id: message.id, recipient: message.recipient, kind: message.kind, body_enc: message.bodyEnc, attempts: 0, next_attempt_at: now, locked_until: 0, created_at: now, sent_at: null, failed_at: null, last_error: null })
      .execute();
  }

  /**
   * Claims up to `limit` messages that are due: each with one conditional UPDATE (`locked_until` in the
   * past), so two nodes never send the same message at once; a sender that dies releases its claim when
   * `lockSeconds` pass.
   */
  async claimDue(now: number, limit: number, lockSeconds: number): Promise<OutboxMessage[]> {
    const due = await this.db
      .selectFrom('mail_outbox')
      .select(['id'])
      .where('sent_at', 'is', null)
      .where('failed_at', 'is', null)
      .where('next_attempt_at', '<=', now)
      .where('locked_until', '<=', now)
      .orderBy('next_attempt_at')
      .limit(limit)
      .execute();
    const claimed: OutboxMessage[] = [];
    for (const { id } of due) {
      const result = await this.db
        .updateTable('mail_outbox')
        .set({ locked_until: now + lockSeconds })
        .where('id', '=', id)
        .where('sent_at', 'is', null)
        .where('locked_until', '<=', now)
        .executeTakeFirst();
      if (Number(result.numUpdatedRows) === 0) continue;
      const row = await this.db.selectFrom('mail_outbox').select(['id', 'recipient', 'kind', 'body_enc', 'attempts']).where('id', '=', id).executeTakeFirst();
      if (row) claimed.push({ id: row.id, recipient: row.recipient, kind: row.kind, bodyEnc: row.body_enc, attempts: toInt(row.attempts) });
    }
    return claimed;
  }

  /** Sent: the body (and the link in it) is forgotten at once. */
  async markSent(id: string, now: number): Promise<void> {
    await this.db.updateTable('mail_outbox').set({ sent_at: now, body_enc: '', locked_until: 0, attempts: (eb) => eb('attempts', '+', 1) }).where('id', '=', id).execute();
  }

  /** A failed attempt: tried again at `nextAttemptAt`, or given up (`failed`), its body then forgotten. */
  async markFailed(id: string, error: string, now: number, nextAttemptAt: number | null): Promise<void> {
    await this.db
      .updateTable('mail_outbox')
      .set({
        attempts: (eb) => eb('attempts', '+', 1),
        last_error: error.slice(0, 300),
        locked_until: 0,
        ...(nextAttemptAt === null ? { failed_at: now, body_enc: '' } : { next_attempt_at: nextAttemptAt }),
      })
      .where('id', '=', id)
      .execute();
  }

  /** What the outbox holds, for operators and tests: never a body. */
  async list(limit = 100): Promise<{ id: string; recipient: string; kind: string; attempts: number; sentAt: number | null; failedAt: number | null; lastError: string | null }[]> {
    const rows = await this.db.selectFrom('mail_outbox').select(['id', 'recipient', 'kind', 'attempts', 'sent_at', 'failed_at', 'last_error']).orderBy('created_at', 'desc').limit(limit).execute();
    return rows.map((r) => ({
      id: r.id,
      recipient: r.recipient,
      kind: r.kind,
      attempts: toInt(r.attempts),
      sentAt: r.sent_at === null ? null : toInt(r.sent_at),
      failedAt: r.failed_at === null ? null : toInt(r.failed_at),
      lastError: r.last_error,
    }));
  }

  /** Forgets sent and given-up messages older than `before`, at most `limit`. */
  async purgeDone(before: number, limit: number): Promise<number> {
    return deleteBatch(this.db, 'mail_outbox', 'id', (eb) => eb.or([eb('sent_at', '<', before), eb('failed_at', '<', before)]), limit);
  }
}
