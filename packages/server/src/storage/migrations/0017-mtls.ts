import type { Kysely } from 'kysely';

// Frozen in time: never imports application code.

/**
 * Mutual TLS (RFC 8705; issue 14): a `tls_client_auth` client's registered certificate subject (one
 * of the RFC 8705 §2.1.2 members, as JSON), and whether the client's access tokens are bound to its
 * certificate (`tls_client_certificate_bound_access_tokens`, §3.4).
 */
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable('clients').addColumn('tls_client_auth', 'text').execute();
  await db.schema.alterTable('clients').addColumn('tls_client_certificate_bound_access_tokens', 'integer', (c) => c.notNull().defaultTo(0)).execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable('clients').dropColumn('tls_client_certificate_bound_access_tokens').execute();
  await db.schema.alterTable('clients').dropColumn('tls_client_auth').execute();
}
