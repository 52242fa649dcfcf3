import type { Kysely, Transaction } from 'kysely';
import type { Database, InitialAccessTokenRow } from './schema.ts';
import { toInt, toIntOrNull } from './values.ts';

/** An operator's token that allows registrations (RFC 7591 §3), without its value (only its hash is kept). */
export interface InitialAccessToken {
  id: string;
  description: string;
  createdAt: number;
  /** Null: it does not expire. */
  expiresAt: number | null;
  /** Null: any number of registrations. */
  maxUses: number | null;
  uses: number;
  lastUsedAt: number | null;
  revokedAt: number | null;
}

/** Initial access tokens, by the SHA-256 of their value. */
export class InitialAccessTokenStore {
  private readonly db: Kysely<Database>;

  constructor(db: Kysely<Database>) {
    this.db = db;
  }

  async create(token: Pick<InitialAccessToken, 'id' | 'description' | 'createdAt' | 'expiresAt' | 'maxUses'>, tokenHash: string): Promise<void> {
    await this.db
      .insertInto('initial_access_tokens')
      .values({
        id: token.id,
        token_hash: tokenHash,
        description: token.description,
        created_at: token.createdAt,
        expires_at: token.expiresAt,
        max_uses: token.maxUses,
        uses: 0,
        last_used_at: null,
        revoked_at: null,
      })
      .execute();
  }

  async list(): Promise<InitialAccessToken[]> {
    const rows = await this.db.selectFrom('initial_access_tokens').selectAll().orderBy('created_at').orderBy('id').execute();
    return rows.map(toToken);
  }

  /** The token whose value hashes to `tokenHash`, whatever its state, or undefined. */
  async findByHash(tokenHash: string): Promise<InitialAccessToken | undefined> {
    const row = await this.db.selectFrom('initial_access_tokens').selectAll().where('token_hash', '=', tokenHash).executeTakeFirst();
    return row ? toToken(row) : undefined;
  }

  /**
   * Counts one registration against the token, inside the registration's own transaction: one
   * conditional UPDATE, so two registrations racing for the last use cannot both have it. The id of the
   * token, or undefined when it is unknown, revoked, expired or used up.
   */
  async consume(trx: Transaction<Database>, tokenHash: string, now: number): Promise<string | undefined> {
    const row = await trx
      .updateTable('initial_access_tokens')
      .set((eb) => ({ uses: eb('uses', '+', 1), last_used_at: now }))
      .where('token_hash', '=', tokenHash)
      .where('revoked_at', 'is', null)
      .where((eb) => eb.or([eb('expires_at', 'is', null), eb('expires_at', '>', now)]))
      .where((eb) => eb.or([eb('max_uses', 'is', null), eb('uses', '<', eb.ref('max_uses'))]))
      .returning('id')
      .executeTakeFirst();
    return row?.id;
  }

  /** Revokes the token; false when there is no such token or it was revoked already. */
  async revoke(id: string, now: number): Promise<boolean> {
    const result = await this.db
      .updateTable('initial_access_tokens')
      .set({ revoked_at: now })
      .where('id', '=', id)
      .where('revoked_at', 'is', null)
      .executeTakeFirst();
    return Number(result.numUpdatedRows) > 0;
  }
}

function toToken(row: InitialAccessTokenRow): InitialAccessToken {
  return {
    id: row.id,
    description: row.description,
    createdAt: toInt(row.created_at),
    expiresAt: toIntOrNull(row.expires_at),
    maxUses: toIntOrNull(row.max_uses),
    uses: toInt(row.uses),
    lastUsedAt: toIntOrNull(row.last_used_at),
    revokedAt: toIntOrNull(row.revoked_at),
  };
}
