import type { Kysely, Transaction } from 'kysely';
import { bumpVersion } from './fact-version.ts';
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

  /**
   * Deletes at most `limit` metadata-document clients that nobody uses: created before
   * `createdBefore`, their document purged, no grant. Anyone can make such a row by sending a new
   * client_id URL to /authorize, so they must not pile up. No token of theirs can be alive (tokens
   * live under grants), so their ids are not retired: the same URL used again is fetched again and
   * becomes the same client.
   */
  async purgeUnusedClients(createdBefore: number, limit: number): Promise<number> {
    return this.db.transaction().execute(async (trx) => {
      const unused = trx
        .selectFrom('clients as c')
        .select('c.client_id')
        .where('c.source', '=', 'metadata-document')
        .where('c.created_at', '<', createdBefore)
        .where(({ not, exists, selectFrom }) =>
          not(exists(selectFrom('client_metadata_documents as d').select('d.client_id').whereRef('d.client_id', '=', 'c.client_id'))),
        )
        .where(({ not, exists, selectFrom }) => not(exists(selectFrom('grants as g').select('g.id').whereRef('g.client_id', '=', 'c.client_id'))))
        .limit(limit);
      const deleted = await trx.deleteFrom('clients').where('client_id', 'in', unused).returning('client_id').execute();
      if (deleted.length > 0) await bumpVersion(trx, 'registry_version');
      return deleted.length;
    });
  }
}
