import type { Kysely } from 'kysely';
import type { Database, SigningKeyRow } from './schema.ts';
import { toInt, toIntOrNull } from './values.ts';
import { deleteBatch } from './purge.ts';

export interface StoredSigningKey {
  kid: string;
  alg: string;
  publicJwk: Record<string, unknown>;
  /** Encrypted PKCS#8 (keys/key-encryption.ts). */
  privateKeyEnc: string;
  createdAt: number;
  /** When it starts signing. */
  activatesAt: number;
  /** When it stops signing (the next key's activation); null for the newest key of its algorithm. */
  retiredAt: number | null;
  expiresAt: number | null;
}

/**
 * Signing keys. Per algorithm, at most one key has no retirement time (the newest), enforced by a
 * unique index, so concurrent rotations cannot leave two successors.
 */
export class SigningKeyStore {
  constructor(private readonly db: Kysely<Database>) {}

  /** Keys still published at `now`: the signers and retired keys whose tokens may still be live. */
  async listPublished(now: number): Promise<StoredSigningKey[]> {
    const rows = await this.db
      .selectFrom('signing_keys')
      .selectAll()
      .where((eb) => eb.or([eb('expires_at', 'is', null), eb('expires_at', '>', now)]))
      .orderBy('created_at', 'desc')
      .orderBy('kid')
      .execute();
    return rows.map(toStored);
  }

  async listAll(): Promise<StoredSigningKey[]> {
    const rows = await this.db.selectFrom('signing_keys').selectAll().orderBy('created_at', 'desc').execute();
    return rows.map(toStored);
  }

  /** Adds the first signer of an algorithm. Throws a unique violation when another node got there first. */
  async insertSigner(key: StoredSigningKey): Promise<void> {
    await this.db.insertInto('signing_keys').values(toRow(key)).execute();
  }

  /**
   * Schedules `key` to take over its algorithm at `key.activatesAt`: in one transaction the newest key
   * is given that retirement time (and stays in the JWKS until `oldExpiresAt`) and the new key inserted.
   */
  async rotate(key: StoredSigningKey, oldExpiresAt: number): Promise<string[]> {
    return this.db.transaction().execute(async (trx) => {
      const retired = await trx
        .updateTable('signing_keys')
        .set({ retired_at: key.activatesAt, expires_at: oldExpiresAt })
        .where('alg', '=', key.alg)
        .where('retired_at', 'is', null)
        .returning('kid')
        .execute();
      await trx.insertInto('signing_keys').values(toRow(key)).execute();
      return retired.map((r) => r.kid);
    });
  }

  /** Deletes keys that left the JWKS before `now`, at most `limit` of them. */
  async purgeExpired(now: number, limit: number): Promise<number> {
    return deleteBatch(this.db, 'signing_keys', 'kid', (eb) => eb('expires_at', '<=', now), limit);
  }
}

function toStored(row: SigningKeyRow): StoredSigningKey {
  return {
    kid: row.kid,
    alg: row.alg,
    publicJwk: JSON.parse(row.public_jwk) as Record<string, unknown>,
    privateKeyEnc: row.private_key_enc,
    createdAt: toInt(row.created_at),
    activatesAt: toInt(row.activates_at),
    retiredAt: toIntOrNull(row.retired_at),
    expiresAt: toIntOrNull(row.expires_at),
  };
}

function toRow(key: StoredSigningKey): SigningKeyRow {
  return {
    kid: key.kid,
    alg: key.alg,
    public_jwk: JSON.stringify(key.publicJwk),
    private_key_enc: key.privateKeyEnc,
    created_at: key.createdAt,
    activates_at: key.activatesAt,
    retired_at: key.retiredAt,
    expires_at: key.expiresAt,
  };
}
