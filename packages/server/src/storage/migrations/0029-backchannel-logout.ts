import { randomBytes } from 'node:crypto';
import type { Kysely } from 'kysely';

// Frozen in time: never imports application code.

/**
 * OpenID Connect Back-Channel Logout 1.0: a client's `backchannel_logout_uri` and
 * `backchannel_logout_session_required` (§2.2); each SSO session's `sid` (§2.1: an opaque identifier
 * of the session, never its cookie), kept on the grants made in it, so that ending the session finds
 * the clients it issued tokens to (§2.3); and the queue of logout tokens to deliver (§2.5).
 */
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable('clients').addColumn('backchannel_logout_uri', 'varchar(2000)').execute();
  await db.schema.alterTable('clients').addColumn('backchannel_logout_session_required', 'integer', (c) => c.notNull().defaultTo(0)).execute();
  await db.schema.alterTable('sessions').addColumn('sid', 'varchar(64)').execute();
  // Sessions of before get an identifier of their own, like every new one.
  const sessions = await db.selectFrom('sessions').select('id_hash').execute();
  for (const { id_hash } of sessions as { id_hash: string }[]) {
    await db.updateTable('sessions').set({ sid: randomBytes(16).toString('base64url') }).where('id_hash', '=', id_hash).execute();
  }
  await db.schema.alterTable('grants').addColumn('sid', 'varchar(64)').execute();
  await db.schema.createIndex('grants_sid_idx').on('grants').column('sid').execute();
  await db.schema
    .createTable('backchannel_logouts')
    .addColumn('id', 'varchar(40)', (c) => c.primaryKey())
    .addColumn('client_id', 'varchar(400)', (c) => c.notNull())
    .addColumn('subject', 'varchar(255)', (c) => c.notNull())
    .addColumn('sid', 'varchar(64)')
    .addColumn('attempts', 'integer', (c) => c.notNull())
    .addColumn('next_attempt_at', 'bigint', (c) => c.notNull())
    .addColumn('locked_until', 'bigint', (c) => c.notNull())
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .addColumn('last_error', 'varchar(300)')
    .execute();
  await db.schema.createIndex('backchannel_logouts_due_idx').on('backchannel_logouts').column('next_attempt_at').execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable('backchannel_logouts').execute();
  await db.schema.dropIndex('grants_sid_idx').execute();
  await db.schema.alterTable('grants').dropColumn('sid').execute();
  await db.schema.alterTable('sessions').dropColumn('sid').execute();
  await db.schema.alterTable('clients').dropColumn('backchannel_logout_session_required').execute();
  await db.schema.alterTable('clients').dropColumn('backchannel_logout_uri').execute();
}
