import type { Kysely } from 'kysely';
import type { Database } from './schema.ts';
import { toInt, toIntOrNull } from './values.ts';

export interface TotpFactor {
  userId: string;
  /** Encrypted (keys/key-encryption.ts); never in clear in the database. */
  secretEnc: string;
  createdAt: number;
  confirmedAt: number | null;
  lastUsedStep: number | null;
}

/** Users' RFC 6238 authenticators, at most one per user. */
export class TotpStore {
  private readonly db: Kysely<Database>;

  constructor(db: Kysely<Database>) {
    this.db = db;
  }

  async find(userId: string): Promise<TotpFactor | undefined> {
    const row = await this.db.selectFrom('totp_factors').selectAll().where('user_id', '=', userId).executeTakeFirst();
    if (!row) return undefined;
    return {
      userId: row.user_id,
      secretEnc: row.secret_enc,
      createdAt: toInt(row.created_at),
      confirmedAt: toIntOrNull(row.confirmed_at),
      lastUsedStep: toIntOrNull(row.last_used_step),
    };
  }

  /** Whether the user signs in with a one-time code: a confirmed authenticator. */
  async isEnabled(userId: string): Promise<boolean> {
    const row = await this.db.selectFrom('totp_factors').select('user_id').where('user_id', '=', userId).where('confirmed_at', 'is not', null).executeTakeFirst();
    return row !== undefined;
  }

  /** A new, unconfirmed secret, replacing an unconfirmed one; false when a confirmed one exists (remove it first). */
  async begin(userId: string, secretEnc: string, now: number): Promise<boolean> {
    return this.db.transaction().execute(async (trx) => {
      await trx.deleteFrom('totp_factors').where('user_id', '=', userId).where('confirmed_at', 'is', null).execute();
      const result = await trx
        .insertInto('totp_factors')
        .values({ user_id: userId, secret_enc: secretEnc, created_at: now, confirmed_at: null, last_used_step: null })
        .onConflict((oc) => oc.column('user_id').doNothing())
        .executeTakeFirst();
      return Number(result.numInsertedOrUpdatedRows ?? 0n) > 0;
    });
  }

  /**
   * Spends the code of time step `step`: one atomic statement, true only when no code of this step or
   * a later one was accepted before (RFC 6238 §5.2: a second use of the same code is refused, on any
   * node). `confirm` also confirms an authenticator being set up; otherwise it must be confirmed.
   */
  async useStep(userId: string, step: number, now: number, confirm: boolean): Promise<boolean> {
    let query = this.db
      .updateTable('totp_factors')
      .set(confirm ? { last_used_step: step, confirmed_at: now } : { last_used_step: step })
      .where('user_id', '=', userId)
      .where((eb) => eb.or([eb('last_used_step', 'is', null), eb('last_used_step', '<', step)]));
    query = confirm ? query.where('confirmed_at', 'is', null) : query.where('confirmed_at', 'is not', null);
    const result = await query.executeTakeFirst();
    return Number(result.numUpdatedRows) > 0;
  }

  /** Removes the user's authenticator (removal from the account page, or a reset by the operator). */
  async delete(userId: string): Promise<boolean> {
    const result = await this.db.deleteFrom('totp_factors').where('user_id', '=', userId).executeTakeFirst();
    return Number(result.numDeletedRows) > 0;
  }
}
