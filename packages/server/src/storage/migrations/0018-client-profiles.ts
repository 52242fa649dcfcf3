import type { Kysely } from 'kysely';

// Frozen in time: never imports application code.

/**
 * Per-client security profiles (issue 14): `default` (Latchkey's own rules) or `fapi2`, the FAPI 2.0
 * Security Profile's authorization server requirements (profiles/fapi2.ts). Set by the operator only.
 */
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable('clients').addColumn('profile', 'varchar(16)', (c) => c.notNull().defaultTo('default')).execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable('clients').dropColumn('profile').execute();
}
