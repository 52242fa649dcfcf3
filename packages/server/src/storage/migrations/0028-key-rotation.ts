import type { Kysely } from 'kysely';

// Frozen in time: never imports application code.

/**
 * Keys that rotate by themselves (issue 17): named leases, so that of all the nodes (or processes on
 * one SQLite file) exactly one performs a scheduled task such as a key rotation. A row is held by
 * `holder` until `expires_at`; after that any node may take it over.
 */
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable('locks')
    .addColumn('name', 'varchar(100)', (c) => c.primaryKey())
    .addColumn('holder', 'varchar(64)', (c) => c.notNull())
    .addColumn('acquired_at', 'bigint', (c) => c.notNull())
    .addColumn('expires_at', 'bigint', (c) => c.notNull())
    .execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable('locks').execute();
}
