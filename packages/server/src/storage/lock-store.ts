import type { Kysely } from 'kysely';
import type { Database } from './schema.ts';

/**
 * Named leases shared by every node (table `locks`, migration 0028): whoever holds one performs the
 * task it names, and nobody else until it is released or has expired (a node that died holding it
 * blocks the task for `ttlSeconds` at most). Taking one is a single statement, an insert or a
 * conditional update of the existing row, which both SQLite (its write lock, across processes on one
 * file) and PostgreSQL (the row's lock, across nodes) apply one at a time: of two nodes trying at the
 * same moment, exactly one gets the row back.
 */
export class LockStore {
  private readonly db: Kysely<Database>;

  constructor(db: Kysely<Database>) {
    this.db = db;
  }

  /** Takes `name` for `holder` until `now + ttlSeconds` if it is free, expired, or already theirs. */
  async tryAcquire(name: string, holder: string, now: number, ttlSeconds: number): Promise<boolean> {
    const taken = await this.db
      .insertInto('locks')
      .values({ name, holder, acquired_at: now, expires_at: now + ttlSeconds })
      .onConflict((oc) =>
        oc
          .column('name')
          .doUpdateSet({ holder, acquired_at: now, expires_at: now + ttlSeconds })
          .where((eb) => eb.or([eb('locks.expires_at', '<=', now), eb('locks.holder', '=', holder)])),
      )
      .returning('holder')
      .executeTakeFirst();
    return taken?.holder === holder;
  }

  /** Gives `name` back, if `holder` still holds it (it may have expired and been taken over). */
  async release(name: string, holder: string): Promise<void> {
    await this.db.deleteFrom('locks').where('name', '=', name).where('holder', '=', holder).execute();
  }
}
