import type { Kysely } from 'kysely';

// Frozen in time: never imports application code.

/**
 * Client ID metadata documents (draft-ietf-oauth-client-id-metadata-document; issue 13): the last
 * good document fetched from each client_id URL, parsed, with when it was fetched and until when it is
 * used without being fetched again. The client itself is a row in `clients` (source
 * `metadata-document`, client_id the URL), which grants and consents reference; deleting the client
 * deletes its document.
 */
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable('client_metadata_documents')
    .addColumn('client_id', 'varchar(128)', (c) => c.primaryKey().references('clients.client_id').onDelete('cascade'))
    .addColumn('document', 'text', (c) => c.notNull())
    .addColumn('fetched_at', 'bigint', (c) => c.notNull())
    .addColumn('expires_at', 'bigint', (c) => c.notNull())
    .execute();
  await db.schema.createIndex('client_metadata_documents_expires_idx').on('client_metadata_documents').column('expires_at').execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable('client_metadata_documents').execute();
}
