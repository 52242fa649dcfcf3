import type { Kysely } from 'kysely';

// Frozen in time: never imports application code.

/** Tables that carry a user's authentication from the SSO session to the tokens issued under it. */
const CARRIERS = ['sessions', 'authorization_codes', 'refresh_tokens', 'device_codes', 'opaque_access_tokens'] as const;

/**
 * How the user signed in (issue 15): the RFC 8176 `amr` values, space-separated, beside `auth_time`
 * wherever it travels; opaque access tokens gain `auth_time` too, for introspection (RFC 9470 §6.2).
 * Null in rows written before: password sign-ins, the only kind there was.
 */
export async function up(db: Kysely<any>): Promise<void> {
  for (const table of CARRIERS) await db.schema.alterTable(table).addColumn('amr', 'text').execute();
  await db.schema.alterTable('opaque_access_tokens').addColumn('auth_time', 'bigint').execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable('opaque_access_tokens').dropColumn('auth_time').execute();
  for (const table of CARRIERS) await db.schema.alterTable(table).dropColumn('amr').execute();
}
