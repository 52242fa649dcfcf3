import type { Kysely } from 'kysely';

// Frozen in time: never imports application code.

/**
 * RFC 8628 device authorization: the device code (hashed; what the device polls with) and the user
 * code (hashed, normalised; what the person types on /device) of each request, its state, and the
 * grant it became once approved.
 */
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable('device_codes')
    .addColumn('device_code_hash', 'varchar(64)', (c) => c.primaryKey())
    .addColumn('user_code_hash', 'varchar(64)', (c) => c.notNull().unique())
    .addColumn('client_id', 'varchar(128)', (c) => c.notNull().references('clients.client_id').onDelete('cascade'))
    .addColumn('scope', 'text', (c) => c.notNull())
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .addColumn('expires_at', 'bigint', (c) => c.notNull())
    // Seconds between polls; slow_down raises it by 5 (RFC 8628 §3.5).
    .addColumn('interval_seconds', 'integer', (c) => c.notNull())
    .addColumn('last_polled_at', 'bigint')
    // pending, approved, denied or redeemed.
    .addColumn('status', 'varchar(16)', (c) => c.notNull())
    .addColumn('user_id', 'varchar(36)', (c) => c.references('users.id').onDelete('cascade'))
    .addColumn('auth_time', 'bigint')
    .addColumn('grant_id', 'varchar(64)', (c) => c.references('grants.id').onDelete('cascade'))
    .execute();
  await db.schema.createIndex('device_codes_expires_idx').on('device_codes').column('expires_at').execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable('device_codes').execute();
}
