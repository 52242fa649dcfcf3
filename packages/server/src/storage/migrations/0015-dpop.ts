import type { Kysely } from 'kysely';

// Frozen in time: never imports application code.

/**
 * Sender-constrained tokens with DPoP (RFC 9449; issue 14):
 * - an opaque access token keeps its confirmation (`cnf`, JSON) for introspection and userinfo;
 * - an authorization code keeps the `dpop_jkt` of its authorization request (RFC 9449 §10);
 * - a refresh token of a public client keeps the key it is bound to (`cnf`, JSON, RFC 9449 §5),
 *   passed on at each rotation;
 * - a client may be required to use DPoP (`dpop_bound_access_tokens`, RFC 9449 §5.2).
 */
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable('opaque_access_tokens').addColumn('cnf', 'text').execute();
  await db.schema.alterTable('authorization_codes').addColumn('dpop_jkt', 'varchar(64)').execute();
  await db.schema.alterTable('refresh_tokens').addColumn('cnf', 'text').execute();
  await db.schema.alterTable('clients').addColumn('dpop_bound_access_tokens', 'integer', (c) => c.notNull().defaultTo(0)).execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable('clients').dropColumn('dpop_bound_access_tokens').execute();
  await db.schema.alterTable('refresh_tokens').dropColumn('cnf').execute();
  await db.schema.alterTable('authorization_codes').dropColumn('dpop_jkt').execute();
  await db.schema.alterTable('opaque_access_tokens').dropColumn('cnf').execute();
}
