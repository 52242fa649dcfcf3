import type SQLite from 'better-sqlite3';
import { CompiledQuery, type Kysely } from 'kysely';
import type { Database } from './schema.ts';
import { translate } from './unavailable.ts';

/**
 * A one-row read on a per-request path, compiled once by Kysely. On SQLite it runs as a prepared
 * statement straight on the connection (microseconds, no promise); on PostgreSQL through Kysely.
 */
export class FastRead<Row> {
  private readonly statement: SQLite.Statement<unknown[], Row> | undefined;

  private readonly db: Kysely<Database>;
  private readonly sql: string;

  constructor(
    db: Kysely<Database>,
    sqlite: SQLite.Database | undefined,
    sql: string,
  ) {
    this.db = db;
    this.sql = sql;
    this.statement = sqlite?.prepare<unknown[], Row>(sql);
  }

  first(parameters: readonly unknown[]): Row | undefined | Promise<Row | undefined> {
    if (this.statement) {
      try {
        return this.statement.get(...parameters);
      } catch (err) {
        throw translate(err);
      }
    }
    return this.db.executeQuery<Row>(CompiledQuery.raw(this.sql, [...parameters])).then(({ rows }) => rows[0]);
  }
}
