import type { Kysely } from 'kysely';

// Frozen in time: never imports application code.

/**
 * Facts the nodes publish about themselves through the database, for decisions taken elsewhere (the
 * CLI's key rotation needs the longest token lifetime any node issues).
 */
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable('server_facts')
    .addColumn('name', 'varchar(100)', (c) => c.primaryKey())
    .addColumn('value', 'bigint', (c) => c.notNull())
    .addColumn('updated_at', 'bigint', (c) => c.notNull())
    .execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable('server_facts').execute();
}
