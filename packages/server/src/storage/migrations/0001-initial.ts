import { sql, type Kysely } from 'kysely';

// Frozen in time: this migration never imports application code and is never edited once released.

export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable('resources')
    .addColumn('id', 'varchar(64)', (c) => c.primaryKey())
    .addColumn('identifier', 'varchar(2048)', (c) => c.notNull().unique())
    .addColumn('name', 'varchar(200)', (c) => c.notNull())
    .addColumn('access_token_ttl_seconds', 'integer')
    // 'jwt' (RFC 9068, validated locally) or 'opaque' (a reference, validated by introspection).
    .addColumn('access_token_format', 'varchar(10)', (c) => c.notNull().defaultTo('jwt'))
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .execute();

  await db.schema
    .createTable('resource_scopes')
    .addColumn('scope', 'varchar(200)', (c) => c.primaryKey())
    .addColumn('resource_id', 'varchar(64)', (c) => c.notNull().references('resources.id').onDelete('cascade'))
    .addColumn('description', 'varchar(1000)', (c) => c.notNull().defaultTo(''))
    .execute();
  await db.schema.createIndex('resource_scopes_resource_idx').on('resource_scopes').column('resource_id').execute();

  await db.schema
    .createTable('clients')
    .addColumn('client_id', 'varchar(128)', (c) => c.primaryKey())
    .addColumn('name', 'varchar(200)', (c) => c.notNull())
    .addColumn('type', 'varchar(20)', (c) => c.notNull())
    .addColumn('token_endpoint_auth_method', 'varchar(40)', (c) => c.notNull())
    .addColumn('secret_hash', 'varchar(100)')
    .addColumn('grant_types', 'text', (c) => c.notNull())
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .addColumn('secret_rotated_at', 'bigint')
    .execute();

  await db.schema
    .createTable('client_scopes')
    .addColumn('client_id', 'varchar(128)', (c) => c.notNull().references('clients.client_id').onDelete('cascade'))
    .addColumn('scope', 'varchar(200)', (c) => c.notNull().references('resource_scopes.scope').onDelete('cascade'))
    .addPrimaryKeyConstraint('client_scopes_pk', ['client_id', 'scope'])
    .execute();
  await db.schema.createIndex('client_scopes_scope_idx').on('client_scopes').column('scope').execute();

  await db.schema
    .createTable('client_audiences')
    .addColumn('client_id', 'varchar(128)', (c) => c.notNull().references('clients.client_id').onDelete('cascade'))
    .addColumn('resource_id', 'varchar(64)', (c) => c.notNull().references('resources.id').onDelete('cascade'))
    .addPrimaryKeyConstraint('client_audiences_pk', ['client_id', 'resource_id'])
    .execute();
  await db.schema.createIndex('client_audiences_resource_idx').on('client_audiences').column('resource_id').execute();

  await db.schema
    .createTable('signing_keys')
    .addColumn('kid', 'varchar(100)', (c) => c.primaryKey())
    .addColumn('alg', 'varchar(20)', (c) => c.notNull())
    .addColumn('public_jwk', 'text', (c) => c.notNull())
    .addColumn('private_key_enc', 'text', (c) => c.notNull())
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    // When the key starts signing: keys are published ahead of it.
    .addColumn('activates_at', 'bigint', (c) => c.notNull())
    // When the next key takes over (may be in the future); null for the newest key of its algorithm.
    .addColumn('retired_at', 'bigint')
    // When it leaves the JWKS: after every token it signed has expired.
    .addColumn('expires_at', 'bigint')
    .execute();
  // One newest key per algorithm, guaranteed by the schema even when nodes start or rotate at once.
  await db.schema
    .createIndex('signing_keys_one_signer_per_alg')
    .on('signing_keys')
    .column('alg')
    .unique()
    .where(sql.ref('retired_at'), 'is', null)
    .execute();

  await db.schema
    .createTable('revoked_access_tokens')
    .addColumn('jti', 'varchar(100)', (c) => c.primaryKey())
    .addColumn('client_id', 'varchar(128)', (c) => c.notNull())
    .addColumn('expires_at', 'bigint', (c) => c.notNull())
    .addColumn('revoked_at', 'bigint', (c) => c.notNull())
    .execute();
  await db.schema.createIndex('revoked_access_tokens_expires_idx').on('revoked_access_tokens').column('expires_at').execute();

  // Opaque access tokens, by the SHA-256 of the token: the token itself is never stored.
  await db.schema
    .createTable('opaque_access_tokens')
    .addColumn('token_hash', 'varchar(64)', (c) => c.primaryKey())
    .addColumn('jti', 'varchar(100)', (c) => c.notNull())
    .addColumn('client_id', 'varchar(128)', (c) => c.notNull())
    .addColumn('subject', 'varchar(255)', (c) => c.notNull())
    .addColumn('audience', 'text', (c) => c.notNull())
    .addColumn('scope', 'text', (c) => c.notNull())
    .addColumn('issued_at', 'bigint', (c) => c.notNull())
    .addColumn('expires_at', 'bigint', (c) => c.notNull())
    .execute();
  await db.schema.createIndex('opaque_access_tokens_expires_idx').on('opaque_access_tokens').column('expires_at').execute();

  // A deleted client's id is never given to another client: its tokens must not come back to life.
  await db.schema
    .createTable('deleted_client_ids')
    .addColumn('client_id', 'varchar(128)', (c) => c.primaryKey())
    .addColumn('deleted_at', 'bigint', (c) => c.notNull())
    .execute();

  // Facts the nodes share through the database: the registry version (raised by every change to
  // resources or clients, so nodes can cache clients) and the longest token lifetime any node issues.
  await db.schema
    .createTable('server_facts')
    .addColumn('name', 'varchar(100)', (c) => c.primaryKey())
    .addColumn('value', 'bigint', (c) => c.notNull())
    .addColumn('updated_at', 'bigint', (c) => c.notNull())
    .execute();
  await db.insertInto('server_facts').values({ name: 'registry_version', value: 0, updated_at: 0 }).execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  for (const table of [
    'server_facts',
    'deleted_client_ids',
    'opaque_access_tokens',
    'revoked_access_tokens',
    'signing_keys',
    'client_audiences',
    'client_scopes',
    'clients',
    'resource_scopes',
    'resources',
  ]) {
    await db.schema.dropTable(table).execute();
  }
}
