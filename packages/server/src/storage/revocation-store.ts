import type SQLite from 'better-sqlite3';
import type { Kysely } from 'kysely';
import { FastRead } from './fast-read.ts';
import type { Database } from './schema.ts';
import { deleteBatch } from './purge.ts';

/** Revoked JWT access tokens, remembered by `jti` until the token would have expired anyway. */
export class RevocationStore {
  private readonly revoked: FastRead<{ jti: string }>;

  private readonly db: Kysely<Database>;

  constructor(
    db: Kysely<Database>,
    sqlite?: SQLite.Database,
  ) {
    this.db = db;
    const query = db.selectFrom('revoked_access_tokens').select('jti').where('jti', '=', '').compile();
    this.revoked = new FastRead(db, sqlite, query.sql);
  }

  /** Records the revocation; revoking twice is not an error (RFC 7009 §2.2). */
  async revokeAccessToken(jti: string, clientId: string, expiresAt: number, now: number): Promise<void> {
    await this.db
      .insertInto('revoked_access_tokens')
      .values({ jti, client_id: clientId, expires_at: expiresAt, revoked_at: now })
      .onConflict((oc) => oc.column('jti').doNothing())
      .execute();
  }

  /** On every introspection: a prepared read on SQLite. */
  async isAccessTokenRevoked(jti: string): Promise<boolean> {
    return (await this.revoked.first([jti])) !== undefined;
  }

  /** Forgets revocations of tokens that expired before `now`, at most `limit` of them. */
  async purgeExpired(now: number, limit: number): Promise<number> {
    return deleteBatch(this.db, 'revoked_access_tokens', 'jti', (eb) => eb('expires_at', '<', now), limit);
  }
}
