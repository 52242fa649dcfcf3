import type { Kysely } from 'kysely';

// Frozen in time: never imports application code.

/**
 * Token exchange (RFC 8693): which client may exchange tokens for which API, with which scopes. One
 * row per allowed scope; a client with no row may not exchange at all (docs/security.md H57). Deleting the
 * client, the API or the scope deletes the permission with it.
 *
 * Opaque access tokens keep the `act` claim (RFC 8693 §4.1) of an exchanged token, as JSON.
 */
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable('token_exchange_policies')
    .addColumn('client_id', 'varchar(128)', (c) => c.notNull().references('clients.client_id').onDelete('cascade'))
    .addColumn('resource_id', 'varchar(64)', (c) => c.notNull().references('resources.id').onDelete('cascade'))
    .addColumn('scope', 'varchar(200)', (c) => c.notNull().references('resource_scopes.scope').onDelete('cascade'))
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .addPrimaryKeyConstraint('token_exchange_policies_pk', ['client_id', 'resource_id', 'scope'])
    .execute();
  await db.schema.createIndex('token_exchange_policies_resource_idx').on('token_exchange_policies').column('resource_id').execute();
  await db.schema.createIndex('token_exchange_policies_scope_idx').on('token_exchange_policies').column('scope').execute();
  await db.schema.alterTable('opaque_access_tokens').addColumn('act', 'text').execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable('opaque_access_tokens').dropColumn('act').execute();
  await db.schema.dropTable('token_exchange_policies').execute();
}
