import type { Kysely } from 'kysely';

// Frozen in time: never imports application code.

/**
 * Where each SSO session was started (issue 15, the account page's list of signed-in browsers): the
 * browser's User-Agent (truncated) and the client address. Null in sessions from before.
 */
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable('sessions').addColumn('user_agent', 'text').execute();
  await db.schema.alterTable('sessions').addColumn('address', 'varchar(64)').execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable('sessions').dropColumn('address').execute();
  await db.schema.alterTable('sessions').dropColumn('user_agent').execute();
}
