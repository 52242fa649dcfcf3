import type { Kysely } from 'kysely';

// Frozen in time: never imports application code.

/**
 * Dynamic client registration (RFC 7591, RFC 7592; issue 13):
 * - `client_registrations`: what a client that registered itself holds besides its client row: the
 *   SHA-256 of its registration access token (RFC 7592 §3), the metadata it gave that only the
 *   registration endpoint reads back (display URLs, contacts, software id), which initial access token
 *   it registered with, and when it last obtained a token (unused registrations are purged). Deleting
 *   the client deletes the row.
 * - `initial_access_tokens`: the operator's tokens that allow a registration (RFC 7591 §3), by the
 *   SHA-256 of their value, with their expiry, their use count and limit, and their revocation.
 */
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable('client_registrations')
    .addColumn('client_id', 'varchar(128)', (c) => c.primaryKey().references('clients.client_id').onDelete('cascade'))
    .addColumn('access_token_hash', 'varchar(64)', (c) => c.notNull())
    .addColumn('metadata', 'text', (c) => c.notNull())
    .addColumn('initial_access_token_id', 'varchar(64)')
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .addColumn('last_used_at', 'bigint')
    .execute();
  await db.schema.createIndex('client_registrations_created_idx').on('client_registrations').column('created_at').execute();
  await db.schema
    .createTable('initial_access_tokens')
    .addColumn('id', 'varchar(64)', (c) => c.primaryKey())
    .addColumn('token_hash', 'varchar(64)', (c) => c.notNull().unique())
    .addColumn('description', 'varchar(200)', (c) => c.notNull())
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .addColumn('expires_at', 'bigint')
    .addColumn('max_uses', 'integer')
    .addColumn('uses', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('last_used_at', 'bigint')
    .addColumn('revoked_at', 'bigint')
    .execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable('initial_access_tokens').execute();
  await db.schema.dropTable('client_registrations').execute();
}
