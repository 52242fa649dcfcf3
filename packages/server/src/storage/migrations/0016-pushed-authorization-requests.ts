import type { Kysely } from 'kysely';

// Frozen in time: never imports application code.

/**
 * Pushed authorization requests (RFC 9126; issue 14): the validated parameters a client pushed, kept
 * under the SHA-256 of their request_uri until that is used once at the authorization endpoint or
 * expires. Bound to the client that pushed them (RFC 9126 §2.2); deleting the client deletes them.
 * Whether a client must push its requests is `require_pushed_authorization_requests` (RFC 9126 §6).
 */
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable('pushed_authorization_requests')
    .addColumn('request_uri_hash', 'varchar(64)', (c) => c.primaryKey())
    .addColumn('client_id', 'varchar(128)', (c) => c.notNull().references('clients.client_id').onDelete('cascade'))
    .addColumn('params', 'text', (c) => c.notNull())
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .addColumn('expires_at', 'bigint', (c) => c.notNull())
    .execute();
  await db.schema.createIndex('pushed_authorization_requests_expires_idx').on('pushed_authorization_requests').column('expires_at').execute();
  await db.schema.createIndex('pushed_authorization_requests_client_idx').on('pushed_authorization_requests').column('client_id').execute();
  await db.schema
    .alterTable('clients')
    .addColumn('require_pushed_authorization_requests', 'integer', (c) => c.notNull().defaultTo(0))
    .execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable('clients').dropColumn('require_pushed_authorization_requests').execute();
  await db.schema.dropTable('pushed_authorization_requests').execute();
}
