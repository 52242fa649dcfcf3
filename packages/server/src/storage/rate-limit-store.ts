import { sql, type Kysely } from 'kysely';
import type { Database } from './schema.ts';
import { deleteBatch } from './purge.ts';

/** Fixed-window counters in the database, so every node counts the same attempts. */
export class RateLimitStore {
  private readonly db: Kysely<Database>;

  constructor(db: Kysely<Database>) {
    this.db = db;
  }

  /**
   * Adds one to the counter of `key` in the window that started at `windowStart` and returns the new
   * count: one atomic upsert, so simultaneous attempts on several nodes are all counted.
   */
  async hit(key: string, windowStart: number): Promise<number> {
    const row = await this.db
      .insertInto('rate_limits')
      .values({ key, window_start: windowStart, count: 1 })
      .onConflict((oc) =>
        oc.column('key').doUpdateSet({
          count: sql<number>`case when rate_limits.window_start < ${windowStart} then 1 else rate_limits.count + 1 end`,
          window_start: sql<number>`case when rate_limits.window_start < ${windowStart} then ${windowStart} else rate_limits.window_start end`,
        }),
      )
      .returning('count')
      .executeTakeFirstOrThrow();
    return Number(row.count);
  }

  /** The count of `key` in the window that started at `windowStart` (0 when older or absent). */
  async count(key: string, windowStart: number): Promise<number> {
    const row = await this.db
      .selectFrom('rate_limits')
      .select('count')
      .where('key', '=', key)
      .where('window_start', '>=', windowStart)
      .executeTakeFirst();
    return row ? Number(row.count) : 0;
  }

  /** Takes back one count of `key` in the window that started at `windowStart` (an attempt that succeeded). */
  async refund(key: string, windowStart: number): Promise<void> {
    await this.db
      .updateTable('rate_limits')
      .set((eb) => ({ count: eb('count', '-', 1) }))
      .where('key', '=', key)
      .where('window_start', '=', windowStart)
      .where('count', '>', 0)
      .execute();
  }

  async reset(key: string): Promise<void> {
    await this.db.deleteFrom('rate_limits').where('key', '=', key).execute();
  }

  /** Deletes counters of windows that started before `before`, at most `limit` of them. */
  async purgeBefore(before: number, limit: number): Promise<number> {
    return deleteBatch(this.db, 'rate_limits', 'key', (eb) => eb('window_start', '<', before), limit);
  }
}
