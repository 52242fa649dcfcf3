import type { Kysely } from 'kysely';

// Frozen in time: never imports application code.

/**
 * What the browser flow needs: clients' redirect URIs and OpenID Connect settings, remembered
 * consents, refresh tokens in families (a family is a grant), and the access tokens each grant issued
 * (so revoking a grant revokes them too).
 */
export async function up(db: Kysely<any>): Promise<void> {
  // JSON arrays; exact strings, compared byte for byte (registry/redirect-uri.ts).
  await db.schema.alterTable('clients').addColumn('redirect_uris', 'text', (c) => c.notNull().defaultTo('[]')).execute();
  await db.schema.alterTable('clients').addColumn('post_logout_redirect_uris', 'text', (c) => c.notNull().defaultTo('[]')).execute();
  // The built-in OpenID Connect scopes the client may ask for (API scopes are in client_scopes).
  await db.schema.alterTable('clients').addColumn('oidc_scopes', 'text', (c) => c.notNull().defaultTo('[]')).execute();
  // 1: the operator's own application, which skips the consent page.
  await db.schema.alterTable('clients').addColumn('first_party', 'integer', (c) => c.notNull().defaultTo(0)).execute();
  await db.schema
    .alterTable('clients')
    .addColumn('id_token_signed_response_alg', 'varchar(16)', (c) => c.notNull().defaultTo('RS256'))
    .execute();

  // What each user allowed each client; a request for more asks again.
  await db.schema
    .createTable('consents')
    .addColumn('user_id', 'varchar(36)', (c) => c.notNull().references('users.id').onDelete('cascade'))
    .addColumn('client_id', 'varchar(128)', (c) => c.notNull().references('clients.client_id').onDelete('cascade'))
    .addColumn('scope', 'text', (c) => c.notNull())
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .addColumn('updated_at', 'bigint', (c) => c.notNull())
    .addPrimaryKeyConstraint('consents_pk', ['user_id', 'client_id'])
    .execute();
  await db.schema.createIndex('consents_client_idx').on('consents').column('client_id').execute();

  // Refresh tokens by the SHA-256 of the token. The grant is the family: revoking it ends every
  // token in it. Rotation consumes a row by one atomic UPDATE.
  await db.schema
    .createTable('refresh_tokens')
    .addColumn('token_hash', 'varchar(64)', (c) => c.primaryKey())
    .addColumn('grant_id', 'varchar(64)', (c) => c.notNull().references('grants.id').onDelete('cascade'))
    .addColumn('scope', 'text', (c) => c.notNull())
    // The original login time, kept in every ID token the family issues (OIDC Core §12.2).
    .addColumn('auth_time', 'bigint', (c) => c.notNull())
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    // The family's absolute end, inherited by every rotation.
    .addColumn('expires_at', 'bigint', (c) => c.notNull())
    .addColumn('consumed_at', 'bigint')
    // The response that replaced this token, encrypted under a key derived from this token, so only
    // its holder can read it: answers a retry within the grace window with the same new pair.
    .addColumn('successor_enc', 'text')
    .addColumn('successor_hash', 'varchar(64)')
    .execute();
  await db.schema.createIndex('refresh_tokens_grant_idx').on('refresh_tokens').column('grant_id').execute();
  await db.schema.createIndex('refresh_tokens_expires_idx').on('refresh_tokens').column('expires_at').execute();

  // Access tokens issued under a grant, by jti, until they expire: revoking the grant revokes them.
  await db.schema
    .createTable('grant_access_tokens')
    .addColumn('jti', 'varchar(64)', (c) => c.primaryKey())
    .addColumn('grant_id', 'varchar(64)', (c) => c.notNull().references('grants.id').onDelete('cascade'))
    .addColumn('client_id', 'varchar(128)', (c) => c.notNull())
    .addColumn('expires_at', 'bigint', (c) => c.notNull())
    .execute();
  await db.schema.createIndex('grant_access_tokens_grant_idx').on('grant_access_tokens').column('grant_id').execute();
  await db.schema.createIndex('grant_access_tokens_expires_idx').on('grant_access_tokens').column('expires_at').execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable('grant_access_tokens').execute();
  await db.schema.dropTable('refresh_tokens').execute();
  await db.schema.dropTable('consents').execute();
  for (const column of ['id_token_signed_response_alg', 'first_party', 'oidc_scopes', 'post_logout_redirect_uris', 'redirect_uris']) {
    await db.schema.alterTable('clients').dropColumn(column).execute();
  }
}
