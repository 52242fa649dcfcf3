import type { Kysely } from 'kysely';

// Frozen in time: never imports application code.

/** People who log in. `id` is the `sub` of their tokens: a UUID, a form no client id may take. */
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable('users')
    .addColumn('id', 'varchar(36)', (c) => c.primaryKey())
    // Stored lower-case: usernames are compared without regard to case.
    .addColumn('username', 'varchar(64)', (c) => c.notNull().unique())
    .addColumn('email', 'varchar(320)')
    .addColumn('name', 'varchar(200)')
    // argon2id in PHC string format; never the password.
    .addColumn('password_hash', 'varchar(200)', (c) => c.notNull())
    .addColumn('disabled_at', 'bigint')
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .addColumn('password_changed_at', 'bigint', (c) => c.notNull())
    .execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable('users').execute();
}
