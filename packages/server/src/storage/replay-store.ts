import type { Kysely } from 'kysely';
import type { Database } from './schema.ts';

/** Kinds of single-use values; each its own key space (docs/security.md C31). */
export type ReplayType = 'client_assertion' | 'dpop_proof' | 'webauthn_challenge' | 'upstream_state';

/**
 * Values that may be used once, such as the `jti` of a client assertion (RFC 7523 §3 item 7), each
 * remembered until the credential carrying it has expired. Shared by every node through the database.
 */
export class ReplayStore {
  private readonly db: Kysely<Database>;

  constructor(db: Kysely<Database>) {
    this.db = db;
  }

  /**
   * Records the first use of `value`. Returns false when it was used before: one atomic insert, so
   * of two concurrent uses on any nodes exactly one succeeds.
   */
  async use(type: ReplayType, value: string, expiresAt: number): Promise<boolean> {
    const result = await this.db
      .insertInto('replay_cache')
      .values({ type, value, expires_at: expiresAt })
      .onConflict((oc) => oc.columns(['type', 'value']).doNothing())
      .executeTakeFirst();
    return Number(result.numInsertedOrUpdatedRows ?? 0n) > 0;
  }

  /** Forgets values whose credentials expired before `now`, at most `limit` of them. */
  async purgeExpired(now: number, limit: number): Promise<number> {
    const result = await this.db
      .deleteFrom('replay_cache')
      .where(({ eb, refTuple, selectFrom }) =>
        eb(
          refTuple('type', 'value'),
          'in',
          selectFrom('replay_cache').select(['type', 'value']).where('expires_at', '<', now).limit(limit).$asTuple('type', 'value'),
        ),
      )
      .executeTakeFirst();
    return Number(result.numDeletedRows);
  }
}
