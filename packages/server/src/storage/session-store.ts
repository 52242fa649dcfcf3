import type { Kysely } from 'kysely';
import type { Database, SessionRow } from './schema.ts';
import { toInt } from './values.ts';
import { formatMethods, parseMethods, type AuthenticationMethod } from '../users/authentication-context.ts';
import { deleteBatch } from './purge.ts';

export interface Session {
  /** SHA-256 of the session cookie's value; the value itself is never stored. */
  idHash: string;
  userId: string;
  authTime: number;
  /** RFC 8176 methods the user signed in with (users/authentication-context.ts). */
  amr: AuthenticationMethod[];
  createdAt: number;
  lastSeenAt: number;
  expiresAt: number;
  /** Where the session was started (the account page lists them); null: not recorded. */
  userAgent?: string | null;
  address?: string | null;
  /**
   * Back-Channel Logout §2.1 `sid`: the session's identifier in ID and logout tokens. Random, so it
   * tells nothing about the cookie; kept when the session's cookie is renewed (users/sessions.ts).
   */
  sid: string;
}

/** Server-side rows of the SSO sessions. */
export class SessionStore {
  private readonly db: Kysely<Database>;

  constructor(db: Kysely<Database>) {
    this.db = db;
  }

  async create(session: Session): Promise<void> {
    await this.db
      .insertInto('sessions')
      .values({
        id_hash: session.idHash,
        user_id: session.userId,
        auth_time: session.authTime,
        amr: formatMethods(session.amr),
        user_agent: session.userAgent ?? null,
        address: session.address ?? null,
        created_at: session.createdAt,
        last_seen_at: session.lastSeenAt,
        expires_at: session.expiresAt,
        sid: session.sid,
      })
      .execute();
  }

  async find(idHash: string): Promise<Session | undefined> {
    const row = await this.db.selectFrom('sessions').selectAll().where('id_hash', '=', idHash).executeTakeFirst();
    return row && toSession(row);
  }

  /** The user's sessions, most recently used first (expired ones included until the janitor purges them). */
  async listForUser(userId: string): Promise<Session[]> {
    const rows = await this.db.selectFrom('sessions').selectAll().where('user_id', '=', userId).orderBy('last_seen_at', 'desc').execute();
    return rows.map(toSession);
  }

  async touch(idHash: string, now: number): Promise<void> {
    await this.db.updateTable('sessions').set({ last_seen_at: now }).where('id_hash', '=', idHash).execute();
  }

  async delete(idHash: string): Promise<void> {
    await this.db.deleteFrom('sessions').where('id_hash', '=', idHash).execute();
  }

  /** Ends every session of a user (password change, disable). */
  async deleteForUser(userId: string): Promise<number> {
    const result = await this.db.deleteFrom('sessions').where('user_id', '=', userId).executeTakeFirst();
    return Number(result.numDeletedRows);
  }

  /** Deletes sessions past their absolute end or idle since before `idleBefore`, at most `limit`. */
  async purge(now: number, idleBefore: number, limit: number): Promise<number> {
    return deleteBatch(this.db, 'sessions', 'id_hash', (eb) => eb.or([eb('expires_at', '<=', now), eb('last_seen_at', '<', idleBefore)]), limit);
  }
}

function toSession(row: SessionRow): Session {
  return {
    idHash: row.id_hash,
    userId: row.user_id,
    authTime: toInt(row.auth_time),
    amr: parseMethods(row.amr),
    createdAt: toInt(row.created_at),
    lastSeenAt: toInt(row.last_seen_at),
    expiresAt: toInt(row.expires_at),
    userAgent: row.user_agent,
    address: row.address,
    sid: row.sid ?? '',
  };
}
