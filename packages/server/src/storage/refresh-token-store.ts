import type { Kysely } from 'kysely';
import type { Database, RefreshTokenRow } from './schema.ts';
import { toInt, toIntOrNull } from './values.ts';
import { deleteBatch } from './purge.ts';
import { parseConfirmation, type Confirmation } from '../tokens/confirmation.ts';
import { formatMethods, parseMethods, type AuthenticationMethod } from '../users/authentication-context.ts';

export interface RefreshToken {
  /** SHA-256 of the token (base64url); the token itself is never stored. */
  tokenHash: string;
  /** The grant is the family. */
  grantId: string;
  scope: string;
  authTime: number;
  /** RFC 8176 methods of the sign-in behind the family; kept on refresh, like auth_time (OIDC Core §12.2). */
  amr: AuthenticationMethod[];
  createdAt: number;
  /** The family's absolute end. */
  expiresAt: number;
  /** RFC 9449 §5 / RFC 8705 §4: the key or certificate a public client's family is bound to; none: unbound. */
  cnf?: Confirmation;
}

/** A stored refresh token with its grant, as the refresh grant sees it. */
export interface FoundRefreshToken extends RefreshToken {
  consumedAt: number | null;
  successorEnc: string | null;
  successorHash: string | null;
  clientId: string;
  userId: string;
  grantRevokedAt: number | null;
}

/** Refresh tokens in families (one family per grant), rotated by one atomic statement. */
export class RefreshTokenStore {
  private readonly db: Kysely<Database>;

  constructor(db: Kysely<Database>) {
    this.db = db;
  }

  async insert(token: RefreshToken): Promise<void> {
    await this.db.insertInto('refresh_tokens').values(toRow(token)).execute();
  }

  async find(tokenHash: string): Promise<FoundRefreshToken | undefined> {
    const row = await this.db
      .selectFrom('refresh_tokens as t')
      .innerJoin('grants as g', 'g.id', 't.grant_id')
      .selectAll('t')
      .select(['g.client_id as client_id', 'g.user_id as user_id', 'g.revoked_at as grant_revoked_at'])
      .where('t.token_hash', '=', tokenHash)
      .executeTakeFirst();
    if (!row) return undefined;
    return {
      tokenHash: row.token_hash,
      grantId: row.grant_id,
      scope: row.scope,
      authTime: toInt(row.auth_time),
      amr: parseMethods(row.amr),
      createdAt: toInt(row.created_at),
      expiresAt: toInt(row.expires_at),
      ...(row.cnf !== null ? { cnf: parseConfirmation(row.cnf) } : {}),
      consumedAt: toIntOrNull(row.consumed_at),
      successorEnc: row.successor_enc,
      successorHash: row.successor_hash,
      clientId: row.client_id,
      userId: row.user_id,
      grantRevokedAt: toIntOrNull(row.grant_revoked_at),
    };
  }

  /**
   * Rotates: marks `oldHash` consumed only if nobody consumed it before (one atomic UPDATE, so of
   * simultaneous refreshes on any number of nodes exactly one wins), and stores its successor in the
   * same transaction, so a loser that reads the row afterwards always finds the successor. False when
   * the old token had been consumed already.
   *
   * `successorEnc` is the sealed response for a retry within the grace window (null: no window).
   * `forgetAt`, for a token that names its family (grants/refresh-family.ts), is when its row may go;
   * and since its successor is now spent, the rows of the family's earlier rotated tokens of that kind
   * go at once: a retry of one of those is reuse, recognised without its row. A family thus keeps at
   * most two rows, however often it rotates.
   */
  async rotate(oldHash: string, successor: RefreshToken, rotation: { successorEnc: string | null; forgetAt: number | null; now: number }): Promise<boolean> {
    return this.db.transaction().execute(async (trx) => {
      const consumed = await trx
        .updateTable('refresh_tokens')
        .set({ consumed_at: rotation.now, successor_enc: rotation.successorEnc, successor_hash: successor.tokenHash, forget_at: rotation.forgetAt })
        .where('token_hash', '=', oldHash)
        .where('consumed_at', 'is', null)
        .returning('token_hash')
        .executeTakeFirst();
      if (!consumed) return false;
      await trx.insertInto('refresh_tokens').values(toRow(successor)).execute();
      await trx
        .deleteFrom('refresh_tokens')
        .where('grant_id', '=', successor.grantId)
        .where('forget_at', 'is not', null)
        .where('token_hash', '!=', oldHash)
        .execute();
      return true;
    });
  }

  /**
   * Deletes rotated tokens whose grace window ended before `now` and whose reuse is recognised without
   * a row (with them, the sealed responses they carried), at most `limit` of them.
   */
  async purgeForgotten(now: number, limit: number): Promise<number> {
    return deleteBatch(this.db, 'refresh_tokens', 'token_hash', (eb) => eb('forget_at', '<', now), limit);
  }

  /** Deletes refresh tokens whose family ended before `now`, at most `limit` of them. */
  async purgeExpired(now: number, limit: number): Promise<number> {
    return deleteBatch(this.db, 'refresh_tokens', 'token_hash', (eb) => eb('expires_at', '<', now), limit);
  }
}

function toRow(token: RefreshToken): RefreshTokenRow {
  return {
    token_hash: token.tokenHash,
    grant_id: token.grantId,
    scope: token.scope,
    auth_time: token.authTime,
    amr: formatMethods(token.amr),
    created_at: token.createdAt,
    expires_at: token.expiresAt,
    consumed_at: null,
    successor_enc: null,
    successor_hash: null,
    forget_at: null,
    cnf: token.cnf ? JSON.stringify(token.cnf) : null,
  };
}
