import type { Kysely, Transaction } from 'kysely';
import { deleteBatch } from './purge.ts';
import type { Database } from './schema.ts';
import { toInt } from './values.ts';

/** A client ID metadata document as kept between fetches. */
export interface StoredMetadataDocument {
  /** The document as fetched and parsed (a JSON object). */
  document: Record<string, unknown>;
  fetchedAt: number;
  /** Until when it is used without being fetched again. */
  expiresAt: number;
}

/**
 * The last good document fetched from each client_id URL (draft-ietf-oauth-client-id-metadata-document
 * §5.2: errors and invalid documents are never kept). The client it describes is a `clients` row of
 * its own, written in the same transaction (client-metadata/find-client.ts).
 */
export class ClientMetadataStore {
  private readonly db: Kysely<Database>;

  constructor(db: Kysely<Database>) {
    this.db = db;
  }

  async find(clientId: string): Promise<StoredMetadataDocument | undefined> {
    const row = await this.db.selectFrom('client_metadata_documents').selectAll().where('client_id', '=', clientId).executeTakeFirst();
    if (!row) return undefined;
    return { document: JSON.parse(row.document) as Record<string, unknown>, fetchedAt: toInt(row.fetched_at), expiresAt: toInt(row.expires_at) };
  }

  /** Keeps `stored` as the client's document, replacing the one before; in `trx` when given. */
  async save(clientId: string, stored: StoredMetadataDocument, trx?: Transaction<Database>): Promise<void> {
    const values = { document: JSON.stringify(stored.document), fetched_at: stored.fetchedAt, expires_at: stored.expiresAt };
    await (trx ?? this.db)
      .insertInto('client_metadata_documents')
      .values({ client_id: clientId, ...values })
      .onConflict((oc) => oc.column('client_id').doUpdateSet(values))
      .execute();
  }

  /** Deletes at most `limit` documents that expired before `now` (the janitor); their clients stay. */
  purgeExpired(now: number, limit: number): Promise<number> {
    return deleteBatch(this.db, 'client_metadata_documents', 'client_id', (eb) => eb('expires_at', '<', now), limit);
  }
}
