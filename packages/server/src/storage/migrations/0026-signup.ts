import type { Kysely } from 'kysely';

// Frozen in time: never imports application code.

/**
 * Sign-up (issue 16): invitations, single use, by the SHA-256 of their token; and a user who signed
 * up and has not confirmed their address yet (`email_confirmation_required`), who cannot sign in until
 * they do.
 */
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable('invitations')
    .addColumn('token_hash', 'varchar(64)', (c) => c.primaryKey())
    .addColumn('email', 'varchar(320)', (c) => c.notNull())
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .addColumn('expires_at', 'bigint', (c) => c.notNull())
    .addColumn('used_at', 'bigint')
    .addColumn('user_id', 'varchar(64)')
    .execute();
  await db.schema.alterTable('users').addColumn('email_confirmation_required', 'integer', (c) => c.notNull().defaultTo(0)).execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable('users').dropColumn('email_confirmation_required').execute();
  await db.schema.dropTable('invitations').execute();
}
