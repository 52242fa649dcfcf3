import type { Kysely, Transaction } from 'kysely';
import { bumpVersion } from './fact-version.ts';
import type { Database } from './schema.ts';
import { toInt, toIntOrNull } from './values.ts';

/** What the registration endpoint keeps of a client that registered itself (RFC 7591, RFC 7592). */
export interface ClientRegistration {
  clientId: string;
  /** SHA-256 of the registration access token, base64url. */
  accessTokenHash: string;
  /** The members only the registration endpoint reads back (display URLs, contacts, software id). */
  metadata: Record<string, unknown>;
  initialAccessTokenId: string | null;
  createdAt: number;
  lastUsedAt: number | null;
}

/** A registration's last use is written at most this often (one UPDATE per hour and client, not per token). */
const LAST_USE_RESOLUTION_SECONDS = 3600;

export class ClientRegistrationStore {
  private readonly db: Kysely<Database>;

  constructor(db: Kysely<Database>) {
    this.db = db;
  }

  /** Stores the registration inside the transaction that inserts its client. */
  async insert(trx: Transaction<Database>, registration: Omit<ClientRegistration, 'lastUsedAt'>): Promise<void> {
    await trx
      .insertInto('client_registrations')
      .values({
        client_id: registration.clientId,
        access_token_hash: registration.accessTokenHash,
        metadata: JSON.stringify(registration.metadata),
        initial_access_token_id: registration.initialAccessTokenId,
        created_at: registration.createdAt,
        last_used_at: null,
      })
      .execute();
  }

  /**
   * Replaces the token hash and the metadata inside the transaction that replaces the client (RFC 7592
   * §2.2), provided the registration still has the token the update was authorized with: of two
   * updates made with one token, only the first succeeds. False when it does not.
   */
  async replace(
    trx: Transaction<Database>,
    clientId: string,
    change: { previousTokenHash: string; accessTokenHash: string; metadata: Record<string, unknown> },
  ): Promise<boolean> {
    const result = await trx
      .updateTable('client_registrations')
      .set({ access_token_hash: change.accessTokenHash, metadata: JSON.stringify(change.metadata) })
      .where('client_id', '=', clientId)
      .where('access_token_hash', '=', change.previousTokenHash)
      .executeTakeFirst();
    return Number(result.numUpdatedRows) > 0;
  }

  async find(clientId: string): Promise<ClientRegistration | undefined> {
    if (clientId.length > 128 || clientId.includes('\u0000')) return undefined;
    const row = await this.db.selectFrom('client_registrations').selectAll().where('client_id', '=', clientId).executeTakeFirst();
    if (!row) return undefined;
    return {
      clientId: row.client_id,
      accessTokenHash: row.access_token_hash,
      metadata: JSON.parse(row.metadata) as Record<string, unknown>,
      initialAccessTokenId: row.initial_access_token_id,
      createdAt: toInt(row.created_at),
      lastUsedAt: toIntOrNull(row.last_used_at),
    };
  }

  /**
   * Notes that the client obtained a token: a registration that never did is purged after
   * LATCHKEY_REGISTRATION_UNUSED_TTL_SECONDS. Written at most once an hour per client.
   */
  async recordUse(clientId: string, now: number): Promise<void> {
    await this.db
      .updateTable('client_registrations')
      .set({ last_used_at: now })
      .where('client_id', '=', clientId)
      .where((eb) => eb.or([eb('last_used_at', 'is', null), eb('last_used_at', '<', now - LAST_USE_RESOLUTION_SECONDS)]))
      .execute();
  }

  /**
   * Deletes at most `limit` self-registered clients that registered before `registeredBefore` and never
   * obtained a token, and retires their ids like any deleted client's (storage/client-store.ts). Their
   * registrations go with them (foreign key). Returns how many were deleted.
   */
  async purgeUnused(registeredBefore: number, now: number, limit: number): Promise<number> {
    return this.db.transaction().execute(async (trx) => {
      const unused = trx
        .selectFrom('client_registrations')
        .select('client_id')
        .where('last_used_at', 'is', null)
        .where('created_at', '<', registeredBefore)
        .limit(limit);
      const deleted = await trx
        .deleteFrom('clients')
        .where('client_id', 'in', unused)
        .where('source', '=', 'dynamic-registration')
        .returning('client_id')
        .execute();
      if (deleted.length === 0) return 0;
      await trx
        .insertInto('deleted_client_ids')
        .values(deleted.map((d) => ({ client_id: d.client_id, deleted_at: now })))
        .execute();
      await bumpVersion(trx, 'registry_version');
      return deleted.length;
    });
  }
}
