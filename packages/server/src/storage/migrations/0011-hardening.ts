import type { Kysely } from 'kysely';

// Frozen in time: never imports application code.

/**
 * Hardening after the outside review (issue 11):
 * - refresh tokens: `forget_at`, when a rotated token's row (and the sealed grace-window response it
 *   carries) may go. Set only for tokens whose reuse is recognised without their row (they carry a
 *   MAC'd family id); rows of older tokens keep it null and stay until the family ends.
 * - clients: their own refresh grace window (null: the default for their type).
 * - login throttling per account: failures and the time of the last one, for a growing delay
 *   instead of a fixed lockout.
 * - signing keys: a version every rotation and revocation raises, so nodes see a revoked key at once.
 */
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable('refresh_tokens').addColumn('forget_at', 'bigint').execute();
  await db.schema.createIndex('refresh_tokens_forget_idx').on('refresh_tokens').column('forget_at').execute();
  await db.schema.alterTable('clients').addColumn('refresh_grace_seconds', 'integer').execute();
  await db.schema
    .createTable('login_throttles')
    .addColumn('key', 'varchar(300)', (c) => c.primaryKey())
    .addColumn('failures', 'integer', (c) => c.notNull())
    .addColumn('last_failure_at', 'bigint', (c) => c.notNull())
    // No attempt before this time: an attempt is reserved by moving it forward before the password
    // is checked, so parallel attempts cannot all pass one check.
    .addColumn('blocked_until', 'bigint', (c) => c.notNull())
    .execute();
  await db.schema.createIndex('login_throttles_last_idx').on('login_throttles').column('last_failure_at').execute();
  await db.insertInto('server_facts').values({ name: 'keys_version', value: 0, updated_at: 0 }).execute();
  // Responses sealed for the grace window of tokens rotated before this version outlived it (they
  // stayed until the family ended): the window of each has long passed.
  await db.updateTable('refresh_tokens').set({ successor_enc: null }).where('consumed_at', 'is not', null).execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.deleteFrom('server_facts').where('name', '=', 'keys_version').execute();
  await db.schema.dropTable('login_throttles').execute();
  await db.schema.alterTable('clients').dropColumn('refresh_grace_seconds').execute();
  await db.schema.dropIndex('refresh_tokens_forget_idx').execute();
  await db.schema.alterTable('refresh_tokens').dropColumn('forget_at').execute();
}
