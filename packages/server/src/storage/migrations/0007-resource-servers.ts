import type { Kysely } from 'kysely';

// Frozen in time: never imports application code.

/**
 * The clients that act for an API (its resource server): they may introspect the tokens issued for
 * that API (RFC 7662 §2.1, "the protected resource"), whichever client the tokens were issued to.
 */
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable('client_resource_servers')
    .addColumn('client_id', 'varchar(128)', (c) => c.notNull().references('clients.client_id').onDelete('cascade'))
    .addColumn('resource_id', 'varchar(64)', (c) => c.notNull().references('resources.id').onDelete('cascade'))
    .addPrimaryKeyConstraint('client_resource_servers_pk', ['client_id', 'resource_id'])
    .execute();
  await db.schema.createIndex('client_resource_servers_resource_idx').on('client_resource_servers').column('resource_id').execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable('client_resource_servers').execute();
}
