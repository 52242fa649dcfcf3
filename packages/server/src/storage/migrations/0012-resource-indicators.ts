import { type Kysely, sql } from 'kysely';

// Frozen in time: never imports application code.

/**
 * Open registration and resource indicators (issue 13):
 * - a resource's scopes can be requested by default (a request that names the resource and no scope)
 *   and can be open to clients that registered themselves;
 * - a client records who registered it (operator, dynamic registration, metadata document);
 * - an authorization code keeps the resources (RFC 8707) its request named.
 */
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable('resource_scopes').addColumn('is_default', 'integer', (c) => c.notNull().defaultTo(0)).execute();
  await db.schema.alterTable('resource_scopes').addColumn('open_to_registered', 'integer', (c) => c.notNull().defaultTo(0)).execute();
  await db.schema.alterTable('clients').addColumn('source', 'varchar(30)', (c) => c.notNull().defaultTo(sql`'operator'`)).execute();
  await db.schema.alterTable('authorization_codes').addColumn('resources', 'text').execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable('authorization_codes').dropColumn('resources').execute();
  await db.schema.alterTable('clients').dropColumn('source').execute();
  await db.schema.alterTable('resource_scopes').dropColumn('open_to_registered').execute();
  await db.schema.alterTable('resource_scopes').dropColumn('is_default').execute();
}
