import { sql, type Kysely, type RawBuilder } from 'kysely';
import type { Database } from './schema.ts';
import { deleteBatch } from './purge.ts';
import { toInt } from './values.ts';

export type Reservation = { ok: true; failures: number } | { ok: false; retryAfterSeconds: number };

/**
 * Failed sign-ins per account, from every address together, in the database so that every node
 * counts the same attempts (users/authenticate-user.ts turns them into a growing delay).
 */
export class LoginThrottleStore {
  private readonly db: Kysely<Database>;

  constructor(db: Kysely<Database>) {
    this.db = db;
  }

  /**
   * Reserves an attempt at `now`: counts it as a failure in advance and pushes `blocked_until` to
   * `now + delay(failures)`, in one statement that succeeds only if the account is not blocked at
   * `now`; so of parallel attempts on any number of nodes, one passes each time the delay allows.
   * A success is then cleared with `reset`. Failures whose last one is older than `forgetBefore` count
   * as none. `delaySeconds(n)` is the delay after n failures, listed for every n up to `maxFailures`
   * (and the last value beyond).
   */
  async reserve(key: string, now: number, forgetBefore: number, delaySeconds: (failures: number) => number, maxFailures: number): Promise<Reservation> {
    const failures = sql<number>`case when login_throttles.last_failure_at < ${forgetBefore} then 1 else login_throttles.failures + 1 end`;
    const row = await this.db
      .insertInto('login_throttles')
      .values({ key, failures: 1, last_failure_at: now, blocked_until: now + delaySeconds(1) })
      .onConflict((oc) =>
        oc
          .column('key')
          // Our own integers, written as literals: PostgreSQL cannot type `$1 + case ... end`.
          .doUpdateSet({ failures, last_failure_at: now, blocked_until: sql<number>`${sql.lit(now)} + ${delayCase(failures, delaySeconds, maxFailures)}` })
          .where(sql<boolean>`login_throttles.blocked_until <= ${now} or login_throttles.last_failure_at < ${forgetBefore}`),
      )
      .returning('failures')
      .executeTakeFirst();
    if (row) return { ok: true, failures: toInt(row.failures) };
    const blocked = await this.db.selectFrom('login_throttles').select('blocked_until').where('key', '=', key).executeTakeFirst();
    return { ok: false, retryAfterSeconds: Math.max(1, (blocked ? toInt(blocked.blocked_until) : now + 1) - now) };
  }

  /** The failures of `key`, unless the last one is older than `forgetBefore` (then undefined). */
  async get(key: string, forgetBefore: number): Promise<{ failures: number; lastFailureAt: number; blockedUntil: number } | undefined> {
    const row = await this.db
      .selectFrom('login_throttles')
      .select(['failures', 'last_failure_at', 'blocked_until'])
      .where('key', '=', key)
      .where('last_failure_at', '>=', forgetBefore)
      .executeTakeFirst();
    return row ? { failures: toInt(row.failures), lastFailureAt: toInt(row.last_failure_at), blockedUntil: toInt(row.blocked_until) } : undefined;
  }

  async reset(key: string): Promise<void> {
    await this.db.deleteFrom('login_throttles').where('key', '=', key).execute();
  }

  /** Deletes counts whose last failure was before `before`, at most `limit` of them. */
  async purgeBefore(before: number, limit: number): Promise<number> {
    return deleteBatch(this.db, 'login_throttles', 'key', (eb) => eb('last_failure_at', '<', before), limit);
  }
}

/** `delaySeconds(failures)` as SQL: a CASE over the counts 1..maxFailures, the last delay beyond. */
function delayCase(failures: RawBuilder<number>, delaySeconds: (failures: number) => number, maxFailures: number): RawBuilder<number> {
  const branches = Array.from({ length: maxFailures }, (_, i) => sql`when ${failures} = ${sql.lit(i + 1)} then ${sql.lit(delaySeconds(i + 1))}`);
  return sql<number>`case ${sql.join(branches, sql` `)} else ${sql.lit(delaySeconds(maxFailures + 1))} end`;
}
