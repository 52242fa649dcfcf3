import type { Kysely } from 'kysely';

// Frozen in time: never imports application code.

/**
 * private_key_jwt client authentication (RFC 7523 §2.2, OIDC Core §9): the keys a client signs its
 * assertions with, inline (a JWKS as JSON text) or at a `jwks_uri`, and a replay cache that makes each
 * assertion's `jti` single use.
 */
export async function up(db: Kysely<any>): Promise<void> {
  // Nullable: only private_key_jwt clients have keys, and exactly one of the two.
  await db.schema.alterTable('clients').addColumn('jwks', 'text').execute();
  await db.schema.alterTable('clients').addColumn('jwks_uri', 'varchar(2000)').execute();

  // Single-use values by type (docs/security.md C31: codes, request_uri, device_code and jti never share
  // keys), each kept until the credential it was taken from has expired; the janitor purges the rest.
  await db.schema
    .createTable('replay_cache')
    .addColumn('type', 'varchar(32)', (c) => c.notNull())
    .addColumn('value', 'varchar(128)', (c) => c.notNull())
    .addColumn('expires_at', 'bigint', (c) => c.notNull())
    .addPrimaryKeyConstraint('replay_cache_pk', ['type', 'value'])
    .execute();
  await db.schema.createIndex('replay_cache_expires_idx').on('replay_cache').column('expires_at').execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable('replay_cache').execute();
  await db.schema.alterTable('clients').dropColumn('jwks_uri').execute();
  await db.schema.alterTable('clients').dropColumn('jwks').execute();
}
