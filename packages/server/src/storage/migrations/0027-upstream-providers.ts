import type { Kysely } from 'kysely';

// Frozen in time: never imports application code.

/**
 * Sign-in with another identity provider (issue 16): the upstream OpenID providers an operator
 * registered (their client secret encrypted at rest: Latchkey must present it), and the links between
 * an upstream account (provider, `sub`) and a local user. A provider that authenticates Latchkey by
 * `private_key_jwt` has Latchkey's key pair for it (the private key encrypted).
 */
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable('upstream_providers')
    .addColumn('id', 'varchar(40)', (c) => c.primaryKey())
    .addColumn('issuer', 'varchar(2000)', (c) => c.notNull())
    .addColumn('client_id', 'varchar(400)', (c) => c.notNull())
    .addColumn('client_secret_enc', 'text')
    .addColumn('private_jwk_enc', 'text')
    .addColumn('scopes', 'varchar(400)', (c) => c.notNull())
    .addColumn('display_name', 'varchar(100)', (c) => c.notNull())
    .addColumn('link_by_email', 'integer', (c) => c.notNull())
    .addColumn('create_users', 'integer', (c) => c.notNull().defaultTo(1))
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .execute();
  await db.schema
    .createTable('user_links')
    .addColumn('provider_id', 'varchar(40)', (c) => c.notNull())
    .addColumn('subject', 'varchar(255)', (c) => c.notNull())
    .addColumn('user_id', 'varchar(64)', (c) => c.notNull())
    .addColumn('email', 'varchar(320)')
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .addColumn('last_used_at', 'bigint', (c) => c.notNull())
    .addPrimaryKeyConstraint('user_links_pk', ['provider_id', 'subject'])
    .execute();
  await db.schema.createIndex('user_links_user_idx').on('user_links').column('user_id').execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable('user_links').execute();
  await db.schema.dropTable('upstream_providers').execute();
}
