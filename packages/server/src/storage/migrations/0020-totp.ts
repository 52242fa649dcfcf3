import type { Kysely } from 'kysely';

// Frozen in time: never imports application code.

/**
 * One-time codes (RFC 6238 TOTP; issue 15): a user's authenticator secret, encrypted at rest like the
 * signing keys; confirmed once the user typed a first code; the time step of the last code accepted,
 * so no code is accepted twice (RFC 6238 §5.2). Deleting the user deletes it (foreign key).
 */
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable('totp_factors')
    .addColumn('user_id', 'varchar(36)', (c) => c.primaryKey().references('users.id').onDelete('cascade'))
    .addColumn('secret_enc', 'text', (c) => c.notNull())
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .addColumn('confirmed_at', 'bigint')
    .addColumn('last_used_step', 'bigint')
    .execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable('totp_factors').execute();
}
