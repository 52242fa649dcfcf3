import type { Kysely } from 'kysely';

// Frozen in time: never imports application code.

/**
 * A grant is the record of "user U allowed client C these scopes". Authorization codes (and later
 * refresh tokens) point at their grant, so revoking the grant revokes everything issued under it, and
 * deleting the client or the user deletes their grants (foreign keys, not callers remembering).
 */
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable('grants')
    .addColumn('id', 'varchar(64)', (c) => c.primaryKey())
    .addColumn('client_id', 'varchar(128)', (c) => c.notNull().references('clients.client_id').onDelete('cascade'))
    .addColumn('user_id', 'varchar(36)', (c) => c.notNull().references('users.id').onDelete('cascade'))
    .addColumn('scope', 'text', (c) => c.notNull())
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .addColumn('revoked_at', 'bigint')
    .execute();
  await db.schema.createIndex('grants_client_user_idx').on('grants').columns(['client_id', 'user_id']).execute();
  await db.schema.createIndex('grants_user_idx').on('grants').column('user_id').execute();

  // Codes by the SHA-256 of the code; single use by one atomic UPDATE of consumed_at.
  await db.schema
    .createTable('authorization_codes')
    .addColumn('code_hash', 'varchar(64)', (c) => c.primaryKey())
    .addColumn('grant_id', 'varchar(64)', (c) => c.notNull().references('grants.id').onDelete('cascade'))
    .addColumn('redirect_uri', 'varchar(2000)', (c) => c.notNull())
    .addColumn('code_challenge', 'varchar(64)', (c) => c.notNull())
    .addColumn('nonce', 'varchar(500)')
    .addColumn('auth_time', 'bigint', (c) => c.notNull())
    .addColumn('scope', 'text', (c) => c.notNull())
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .addColumn('expires_at', 'bigint', (c) => c.notNull())
    .addColumn('consumed_at', 'bigint')
    .execute();
  await db.schema.createIndex('authorization_codes_grant_idx').on('authorization_codes').column('grant_id').execute();
  await db.schema.createIndex('authorization_codes_expires_idx').on('authorization_codes').column('expires_at').execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable('authorization_codes').execute();
  await db.schema.dropTable('grants').execute();
}
