import type { Kysely } from 'kysely';

// Frozen in time: never imports application code.

/**
 * Passkeys (WebAuthn, issue 15): each user's credentials by credential id, with the public key (COSE,
 * base64url: public, so stored as it is), the signature counter and the backup flags the authenticator
 * reported (W3C WebAuthn Level 3 §6.1), when it was last used, and when its counter last went backwards
 * (a sign of a cloned authenticator, §6.1.1). Also a client whose users must sign in with a passkey.
 */
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable('passkeys')
    .addColumn('credential_id', 'varchar(1400)', (c) => c.primaryKey())
    .addColumn('user_id', 'varchar(64)', (c) => c.notNull())
    .addColumn('name', 'varchar(100)', (c) => c.notNull())
    .addColumn('public_key', 'text', (c) => c.notNull())
    .addColumn('counter', 'bigint', (c) => c.notNull())
    .addColumn('transports', 'varchar(200)', (c) => c.notNull())
    .addColumn('device_type', 'varchar(20)', (c) => c.notNull())
    .addColumn('backed_up', 'integer', (c) => c.notNull())
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .addColumn('last_used_at', 'bigint')
    .addColumn('counter_regressed_at', 'bigint')
    .execute();
  await db.schema.createIndex('passkeys_user_idx').on('passkeys').column('user_id').execute();
  await db.schema.alterTable('clients').addColumn('require_passkey', 'integer', (c) => c.notNull().defaultTo(0)).execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable('clients').dropColumn('require_passkey').execute();
  await db.schema.dropTable('passkeys').execute();
}
