import type { Kysely } from 'kysely';

// Frozen in time: never imports application code.

/**
 * Who must sign in with two factors (issue 15): a client whose users must
 * (`require_second_factor`), and a user who must (`second_factor_required`), besides the global
 * setting LATCHKEY_REQUIRE_SECOND_FACTOR.
 */
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable('clients').addColumn('require_second_factor', 'integer', (c) => c.notNull().defaultTo(0)).execute();
  await db.schema.alterTable('users').addColumn('second_factor_required', 'integer', (c) => c.notNull().defaultTo(0)).execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable('users').dropColumn('second_factor_required').execute();
  await db.schema.alterTable('clients').dropColumn('require_second_factor').execute();
}
