import type { Kysely } from 'kysely';

// Frozen in time: never imports application code.

/**
 * A counter that every change to resources or clients raises in the same transaction, so each node
 * can keep clients in memory and know with one cheap read whether its copy is still current.
 */
export async function up(db: Kysely<any>): Promise<void> {
  await db.insertInto('server_facts').values({ name: 'registry_version', value: 0, updated_at: 0 }).execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.deleteFrom('server_facts').where('name', '=', 'registry_version').execute();
}
