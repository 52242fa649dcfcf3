import type SQLite from 'better-sqlite3';
import type { Kysely } from 'kysely';
import { RegistryError } from '../errors.ts';
import { bumpVersion, FactVersion } from './fact-version.ts';
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
  /** Raised by every change of the keys: a node reading the same version has every key as it is. */
  readonly version: FactVersion;

  private readonly db: Kysely<Database>;

  constructor(
    db: Kysely<Database>,
    sqlite?: SQLite.Database,
  ) {
    this.db = db;
    this.version = new FactVersion(db, sqlite, 'keys_version');
  }

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
    await this.db.transaction().execute(async (trx) => {
      await bumpVersion(trx, 'keys_version');
      await trx.insertInto('signing_keys').values(toRow(key)).execute();
    });
  }

  /**
   * Schedules `key` to take over its algorithm at `key.activatesAt`: in one transaction the newest key
   * is given that retirement time (and stays in the JWKS until `oldExpiresAt`) and the new key inserted.
   */
  async rotate(key: StoredSigningKey, oldExpiresAt: number): Promise<string[]> {
    return (await this.rotateIf(key, oldExpiresAt, undefined))!;
  }

  /**
   * Like `rotate`, for the rotation schedule (keys/rotation-schedule.ts): only if the newest key of the
   * algorithm was created at or before `newestCreatedBy`, decided inside the transaction that rotates,
   * so two nodes deciding at the same moment cannot both rotate. Undefined when it was not due.
   */
  async rotateIfDue(key: StoredSigningKey, oldExpiresAt: number, newestCreatedBy: number): Promise<string[] | undefined> {
    return this.rotateIf(key, oldExpiresAt, newestCreatedBy);
  }

  private async rotateIf(key: StoredSigningKey, oldExpiresAt: number, newestCreatedBy: number | undefined): Promise<string[] | undefined> {
    return this.db.transaction().execute(async (trx) => {
      // First, so that key changes on any node take turns (the version row's lock, on PostgreSQL).
      await bumpVersion(trx, 'keys_version');
      if (newestCreatedBy !== undefined) {
        const newest = await trx
          .selectFrom('signing_keys')
          .select('created_at')
          .where('alg', '=', key.alg)
          .where('retired_at', 'is', null)
          .executeTakeFirst();
        if (newest && toInt(newest.created_at) > newestCreatedBy) return undefined;
      }
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

  /**
   * Takes a key out of the JWKS at `now` and out of signing (a compromised key). Whatever it was, its
   * algorithm keeps exactly one signer: revoking the signer activates the next key at once, or
   * `replacement` (activated now) when there is none; revoking the next key puts `replacement` in its
   * place at the same activation time. `replacement` is used only then; the kid of the key that took
   * over is returned.
   */
  async revoke(kid: string, now: number, replacement: StoredSigningKey): Promise<{ alg: string; successor: string | undefined }> {
    return this.db.transaction().execute(async (trx) => {
      // First: a rotation or revocation running at the same time waits for this one to commit.
      await bumpVersion(trx, 'keys_version');
      const row = await trx.selectFrom('signing_keys').selectAll().where('kid', '=', kid).executeTakeFirst();
      if (!row) throw new RegistryError(`no key ${kid}`, 'not_found');
      const key = toStored(row);
      const sameAlg = (await trx.selectFrom('signing_keys').selectAll().where('alg', '=', key.alg).execute()).map(toStored);
      if (key.expiresAt !== null && key.expiresAt <= now) throw new RegistryError(`key ${kid} is no longer published`, 'conflict');
      if (replacement.alg !== key.alg) throw new Error('the replacement must have the algorithm of the revoked key');
      // The newest key, not signing yet; or the one signing now. Any other is only published.
      const isNext = key.retiredAt === null && key.activatesAt > now;
      const isSigner = pickSigner(sameAlg, key.alg, now)?.kid === kid;
      // Out of the JWKS (listPublished: expires_at > now) and out of signing (pickSigner: retired_at > now).
      await trx.updateTable('signing_keys').set({ retired_at: now, expires_at: now }).where('kid', '=', kid).execute();
      let successor: string | undefined;
      if (isNext) {
        await trx.insertInto('signing_keys').values(toRow({ ...replacement, activatesAt: key.activatesAt, retiredAt: null, expiresAt: null })).execute();
        successor = replacement.kid;
      } else if (isSigner) {
        const next = await trx
          .selectFrom('signing_keys')
          .select('kid')
          .where('alg', '=', key.alg)
          .where('retired_at', 'is', null)
          .where('activates_at', '>', now)
          .executeTakeFirst();
        if (next) {
          await trx.updateTable('signing_keys').set({ activates_at: now }).where('kid', '=', next.kid).execute();
          successor = next.kid;
        } else {
          await trx.insertInto('signing_keys').values(toRow({ ...replacement, activatesAt: now, retiredAt: null, expiresAt: null })).execute();
          successor = replacement.kid;
        }
      }
      return { alg: key.alg, successor };
    });
  }

  /** Deletes keys that left the JWKS before `now`, at most `limit` of them. */
  async purgeExpired(now: number, limit: number): Promise<number> {
    return deleteBatch(this.db, 'signing_keys', 'kid', (eb) => eb('expires_at', '<=', now), limit);
  }
}

/**
 * Among the keys of `alg`, the one activated last, as long as it has not been retired by `now`. Of two
 * activated in the same second (a `--now` rotation right after another, or after a revocation), the
 * one retired later wins, the newest (never retired) above all: the key a rotation replaced keeps a
 * retirement time in the future until the prepublication it scheduled has passed.
 */
export function pickSigner(keys: readonly StoredSigningKey[], alg: string, now: number): StoredSigningKey | undefined {
  let best: StoredSigningKey | undefined;
  const retired = (key: StoredSigningKey) => key.retiredAt ?? Number.POSITIVE_INFINITY;
  for (const key of keys) {
    if (key.alg !== alg || key.activatesAt > now) continue;
    if (key.retiredAt !== null && key.retiredAt <= now) continue;
    if (!best || key.activatesAt > best.activatesAt || (key.activatesAt === best.activatesAt && retired(key) > retired(best))) best = key;
  }
  return best;
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
