import type { Kysely } from 'kysely';
import type { Database } from './schema.ts';
import { toIntOrNull } from './values.ts';

/** What the account page shows of a user's recovery codes: never a code. */
export interface RecoveryCodeStatus {
  /** Codes issued and not used yet. */
  remaining: number;
  /** Codes issued in all (0: none). */
  total: number;
  /** When one was last used to sign in; null: never. */
  lastUsedAt: number | null;
}

/** Users' recovery codes, by their SHA-256. */
export class RecoveryCodeStore {
  private readonly db: Kysely<Database>;

  constructor(db: Kysely<Database>) {
    this.db = db;
  }

  /** Replaces every code of the user with these (hashes), in one transaction. */
  async replace(userId: string, hashes: readonly string[], now: number): Promise<void> {
    await this.db.transaction().execute(async (trx) => {
      await trx.deleteFrom('recovery_codes').where('user_id', '=', userId).execute();
      await trx
        .insertInto('recovery_codes')
        .values(hashes.map((hash) => ({ code_hash: hash, user_id: userId, created_at: now, used_at: null })))
        .execute();
    });
  }

  /** Spends the code of this hash if it is the user's and unused: one atomic statement, so it works once on any node. */
  async use(userId: string, hash: string, now: number): Promise<boolean> {
    const result = await this.db
      .updateTable('recovery_codes')
      .set({ used_at: now })
      .where('code_hash', '=', hash)
      .where('user_id', '=', userId)
      .where('used_at', 'is', null)
      .executeTakeFirst();
    return Number(result.numUpdatedRows) > 0;
  }

  async status(userId: string): Promise<RecoveryCodeStatus> {
    const rows = await this.db.selectFrom('recovery_codes').select(['used_at']).where('user_id', '=', userId).execute();
    const used = rows.map((r) => toIntOrNull(r.used_at)).filter((t): t is number => t !== null);
    return { remaining: rows.length - used.length, total: rows.length, lastUsedAt: used.length === 0 ? null : Math.max(...used) };
  }

  async deleteForUser(userId: string): Promise<number> {
    const result = await this.db.deleteFrom('recovery_codes').where('user_id', '=', userId).executeTakeFirst();
    return Number(result.numDeletedRows);
  }
}
