import type { Kysely } from 'kysely';
import type { Database, PasskeyRow } from './schema.ts';
import { toInt, toIntOrNull } from './values.ts';

/** A user's passkey: a WebAuthn credential (W3C WebAuthn Level 3 §4 "public key credential"). */
export interface Passkey {
  /** The credential id, base64url. */
  credentialId: string;
  userId: string;
  /** The user's name for it ("Work laptop"). */
  name: string;
  /** The COSE_Key public key, base64url (public: stored as it is). */
  publicKey: string;
  /** The signature counter last seen (§6.1.1); 0 for authenticators that keep none. */
  counter: number;
  transports: string[];
  /** singleDevice (a key in hardware) or multiDevice (synced between devices, §6.1.3). */
  deviceType: 'singleDevice' | 'multiDevice';
  backedUp: boolean;
  createdAt: number;
  lastUsedAt: number | null;
  /** When a signature counter last went backwards (a cloned authenticator, §6.1.1); null: never. */
  counterRegressedAt: number | null;
}

/** Users' passkeys by credential id. */
export class PasskeyStore {
  private readonly db: Kysely<Database>;

  constructor(db: Kysely<Database>) {
    this.db = db;
  }

  /** Adds a passkey; false when the credential id is registered already (to anyone: §7.1 step 25). */
  async create(passkey: Passkey): Promise<boolean> {
    const result = await this.db
      .insertInto('passkeys')
      .values({
        credential_id: passkey.credentialId,
        user_id: passkey.userId,
        name: passkey.name,
        public_key: passkey.publicKey,
        counter: passkey.counter,
        transports: JSON.stringify(passkey.transports),
        device_type: passkey.deviceType,
        backed_up: passkey.backedUp ? 1 : 0,
        created_at: passkey.createdAt,
        last_used_at: passkey.lastUsedAt,
        counter_regressed_at: null,
      })
      .onConflict((oc) => oc.column('credential_id').doNothing())
      .executeTakeFirst();
    return Number(result.numInsertedOrUpdatedRows ?? 0n) > 0;
  }

  async find(credentialId: string): Promise<Passkey | undefined> {
    const row = await this.db.selectFrom('passkeys').selectAll().where('credential_id', '=', credentialId).executeTakeFirst();
    return row && toPasskey(row);
  }

  /** The user's passkeys, oldest first. */
  async listForUser(userId: string): Promise<Passkey[]> {
    const rows = await this.db.selectFrom('passkeys').selectAll().where('user_id', '=', userId).orderBy('created_at').orderBy('credential_id').execute();
    return rows.map(toPasskey);
  }

  async hasAny(userId: string): Promise<boolean> {
    const row = await this.db.selectFrom('passkeys').select('credential_id').where('user_id', '=', userId).limit(1).executeTakeFirst();
    return row !== undefined;
  }

  /**
   * Records a sign-in: the new counter and backup state. Conditional on the counter read before the
   * check, so of two assertions racing with the same counter only one is recorded (the challenge is
   * single use too: users/passkeys.ts).
   */
  async recordUse(credentialId: string, previousCounter: number, counter: number, backedUp: boolean, now: number): Promise<boolean> {
    const result = await this.db
      .updateTable('passkeys')
      .set({ counter, backed_up: backedUp ? 1 : 0, last_used_at: now })
      .where('credential_id', '=', credentialId)
      .where('counter', '=', previousCounter)
      .executeTakeFirst();
    return Number(result.numUpdatedRows) > 0;
  }

  /** Records that the credential's counter went backwards (§6.1.1: the authenticator may be cloned). */
  async recordCounterRegression(credentialId: string, now: number): Promise<void> {
    await this.db.updateTable('passkeys').set({ counter_regressed_at: now }).where('credential_id', '=', credentialId).execute();
  }

  /** Removes one of the user's passkeys; false when the user has no such passkey. */
  async delete(userId: string, credentialId: string): Promise<boolean> {
    const result = await this.db.deleteFrom('passkeys').where('user_id', '=', userId).where('credential_id', '=', credentialId).executeTakeFirst();
    return Number(result.numDeletedRows) > 0;
  }

  /** Removes every passkey of the user (an operator's factor reset); returns how many. */
  async deleteForUser(userId: string): Promise<number> {
    const result = await this.db.deleteFrom('passkeys').where('user_id', '=', userId).executeTakeFirst();
    return Number(result.numDeletedRows);
  }
}

function toPasskey(row: PasskeyRow): Passkey {
  return {
    credentialId: row.credential_id,
    userId: row.user_id,
    name: row.name,
    publicKey: row.public_key,
    counter: toInt(row.counter),
    transports: JSON.parse(row.transports) as string[],
    deviceType: row.device_type === 'multiDevice' ? 'multiDevice' : 'singleDevice',
    backedUp: toInt(row.backed_up) === 1,
    createdAt: toInt(row.created_at),
    lastUsedAt: toIntOrNull(row.last_used_at),
    counterRegressedAt: toIntOrNull(row.counter_regressed_at),
  };
}
