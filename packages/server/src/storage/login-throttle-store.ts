import { sql, type Kysely } from 'kysely';
import type { Database } from './schema.ts';
import { deleteBatch } from './purge.ts';
import { toInt } from './values.ts';

export interface LoginThrottle {
  failures: number;
  lastFailureAt: number;
}

/**
 * Failed sign-ins per account, from every address together, in the database so that every node
 * counts the same attempts (users/authenticate-user.ts turns them into a growing delay).
 */
export class LoginThrottleStore {
  constructor(private readonly db: Kysely<Database>) {}

  /** The failures of `key`, unless the last one is older than `forgetBefore` (then none). */
  async get(key: string, forgetBefore: number): Promise<LoginThrottle | undefined> {
    const row = await this.db
      .selectFrom('login_throttles')
      .select(['failures', 'last_failure_at'])
      .where('key', '=', key)
      .where('last_failure_at', '>=', forgetBefore)
      .executeTakeFirst();
    return row ? { failures: toInt(row.failures), lastFailureAt: toInt(row.last_failure_at) } : undefined;
  }

  /**
   * Counts one more failure at `now` and returns the new count: one atomic upsert, so simultaneous
   * failures on several nodes are all counted. A count whose last failure is older than
   * `forgetBefore` starts again at one.
   */
  async hit(key: string, now: number, forgetBefore: number): Promise<number> {
    const row = await this.db
      .insertInto('login_throttles')
      .values({ key, failures: 1, last_failure_at: now })
      .onConflict((oc) =>
        oc.column('key').doUpdateSet({
          failures: sql<number>`case when login_throttles.last_failure_at < ${forgetBefore} then 1 else login_throttles.failures + 1 end`,
          last_failure_at: sql<number>`case when login_throttles.last_failure_at > ${now} then login_throttles.last_failure_at else ${now} end`,
        }),
      )
      .returning('failures')
      .executeTakeFirstOrThrow();
    return toInt(row.failures);
  }

  async reset(key: string): Promise<void> {
    await this.db.deleteFrom('login_throttles').where('key', '=', key).execute();
  }

  /** Deletes counts whose last failure was before `before`, at most `limit` of them. */
  async purgeBefore(before: number, limit: number): Promise<number> {
    return deleteBatch(this.db, 'login_throttles', 'key', (eb) => eb('last_failure_at', '<', before), limit);
  }
}
