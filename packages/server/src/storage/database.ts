import { closeSync, openSync } from 'node:fs';
import { ensureDataDir } from '../lib/data-dir.ts';
import { join, resolve } from 'node:path';
import type SQLite from 'better-sqlite3';
import {
  CompiledQuery,
  type Driver,
  Kysely,
  type LogEvent,
  Migrator,
  PostgresDialect,
  SqliteDialect,
  type Migration,
  type MigrationProvider,
  type MigrationResultSet,
  type SqliteDatabase,
  sql,
} from 'kysely';
import type { Database } from './schema.ts';
import { reportingUnavailability } from './unavailable.ts';

export type Dialect = 'sqlite' | 'postgres';

export interface Db {
  kysely: Kysely<Database>;
  dialect: Dialect;
  /** Where the data lives, for logs: a file path or the PostgreSQL host/database (no password). */
  location: string;
  /** The SQLite connection itself, for the few reads on a hot path that skip the query builder. */
  sqlite?: SQLite.Database;
  /** Sets (or with undefined, clears) what is told of every statement run through the query builder. */
  observeQueries(observer: QueryObserver | undefined): void;
  close(): Promise<void>;
}

/** Told of each statement after it ran, with its duration (observability/database-queries.ts). */
export type QueryObserver = (event: LogEvent) => void;

/**
 * Kysely's query log, passed on to the observer set later (the server's metrics and traces). Without
 * one, a statement costs one check more.
 */
function observedQueries(): { log: (event: LogEvent) => void; observe: (observer: QueryObserver | undefined) => void } {
  let current: QueryObserver | undefined;
  return {
    log: (event) => current?.(event),
    observe: (observer) => {
      current = observer;
    },
  };
}

/** Without a configured database timeout (migrations, tests): milliseconds to open a PostgreSQL connection. */
const PG_CONNECT_TIMEOUT_MS = 5000;

/** Without a configured database timeout: milliseconds SQLite waits for another process's write lock. */
const SQLITE_BUSY_TIMEOUT_MS = 5000;
/** With one: how long one attempt blocks for the lock before it is retried without blocking. */
const SQLITE_SERVING_BUSY_TIMEOUT_MS = 5;

/** Where the database is, and how long to wait for it (`databaseTimeoutSeconds`, unset: no statement limit). */
export interface DatabaseSettings {
  databaseUrl: string | undefined;
  dataDir: string;
  /** Longest wait for a pooled connection or one statement, in seconds; then DatabaseUnavailable. */
  databaseTimeoutSeconds?: number | undefined;
}

export function sqliteFile(dataDir: string): string {
  return join(resolve(dataDir), 'latchkey.db');
}

/**
 * Opens the database named by the settings: PostgreSQL when `databaseUrl` is set, else SQLite. Only that
 * database's driver is loaded: a SQLite process never loads `pg`, a PostgreSQL one never loads SQLite.
 */
export async function openDatabase(settings: DatabaseSettings): Promise<Db> {
  const timeoutMs = settings.databaseTimeoutSeconds === undefined ? undefined : settings.databaseTimeoutSeconds * 1000;
  if (settings.databaseUrl) return openPostgres(settings.databaseUrl, timeoutMs);
  ensureDataDir(settings.dataDir);
  return openSqlite(sqliteFile(settings.dataDir), timeoutMs);
}

export async function openSqlite(file: string, timeoutMs?: number): Promise<Db> {
  const { default: SQLite } = await import('better-sqlite3');
  // Created owner-only; SQLite gives the -wal and -shm files the same permissions.
  closeSync(openSync(file, 'a', 0o600));
  const sqlite = new SQLite(file);
  // WAL lets readers and one writer work at once, across processes sharing the file.
  sqlite.pragma('journal_mode = WAL');
  // SQLite waits for another process's write lock synchronously, blocking the event loop. Serving, it
  // waits only a moment, then the statement is retried asynchronously up to the database timeout
  // (storage/unavailable.ts), past which the request is answered 503. Without a timeout (migrations,
  // the CLI's tests) it simply waits.
  sqlite.pragma(`busy_timeout = ${timeoutMs === undefined ? SQLITE_BUSY_TIMEOUT_MS : SQLITE_SERVING_BUSY_TIMEOUT_MS}`);
  sqlite.pragma('foreign_keys = ON');
  sqlite.pragma('synchronous = NORMAL');
  const dialect = new ImmediateSqliteDialect({ database: cachingStatements(sqlite) });
  const queries = observedQueries();
  const kysely = new Kysely<Database>({
    dialect: reportingUnavailability(dialect, timeoutMs === undefined ? {} : { retryBusyMs: timeoutMs }),
    log: queries.log,
  });
  return { kysely, dialect: 'sqlite', location: file, sqlite, observeQueries: queries.observe, close: () => kysely.destroy() };
}

/**
 * SQLite transactions begin IMMEDIATE: every transaction here writes, and a deferred one that reads
 * first and then writes fails at once with SQLITE_BUSY when another process (the CLI, a second
 * server) wrote in between, busy_timeout or not. IMMEDIATE takes the write lock up front, waiting
 * for it under busy_timeout, so concurrent writers queue instead of failing.
 */
class ImmediateSqliteDialect extends SqliteDialect {
  override createDriver(): Driver {
    const driver = super.createDriver();
    driver.beginTransaction = async (connection) => {
      await connection.executeQuery(CompiledQuery.raw('begin immediate'));
    };
    return driver;
  }
}

/** Prepared statements kept per connection; past this many distinct SQL texts the cache starts over. */
const MAX_CACHED_STATEMENTS = 500;

/**
 * Kysely's SQLite driver prepares every query anew, which costs more than running it. The same SQL
 * text always yields the same statement, so statements are kept and reused (better-sqlite3 statements
 * are reusable, and SQLite re-prepares them by itself after a schema change).
 */
function cachingStatements(sqlite: SQLite.Database): SqliteDatabase {
  const cache = new Map<string, SQLite.Statement>();
  return {
    prepare(sql: string) {
      let statement = cache.get(sql);
      if (!statement) {
        if (cache.size >= MAX_CACHED_STATEMENTS) cache.clear();
        statement = sqlite.prepare(sql);
        cache.set(sql, statement);
      }
      return statement;
    },
    close: () => sqlite.close(),
  };
}

export async function openPostgres(url: string, timeoutMs?: number): Promise<Db> {
  const { default: pg } = await import('pg');
  const pool = new pg.Pool({
    connectionString: url,
    max: 10,
    // A database that stops answering must fail requests (and /readyz) quickly, never hang them: the
    // wait for a pooled connection (or a new one) is bounded, and so is every statement, on the server
    // (statement_timeout) and, for a server that does not answer at all, on the client (query_timeout).
    connectionTimeoutMillis: timeoutMs ?? PG_CONNECT_TIMEOUT_MS,
    ...(timeoutMs === undefined ? {} : { statement_timeout: timeoutMs, query_timeout: timeoutMs + 500 }),
  });
  // A connection that breaks (database restart, network) emits 'error'. pg-pool listens only while a
  // client is idle; a client checked out by a query would emit with no listener and crash the whole
  // process. Its queries fail on their own, so the event needs no further handling.
  pool.on('error', () => {});
  pool.on('connect', (client) => client.on('error', () => {}));
  const queries = observedQueries();
  const kysely = new Kysely<Database>({ dialect: reportingUnavailability(new PostgresDialect({ pool })), log: queries.log });
  const parsed = new URL(url);
  return {
    kysely,
    dialect: 'postgres',
    location: `postgres://${parsed.host}${parsed.pathname}`,
    observeQueries: queries.observe,
    close: () => kysely.destroy(),
  };
}

/** The migrations, loaded when they are run (storage/migrations/index.ts lists them). */
class MigrationModules implements MigrationProvider {
  async getMigrations(): Promise<Record<string, Migration>> {
    return (await import('./migrations/index.ts')).MIGRATIONS;
  }
}

/** Runs every pending migration. Safe to call from several processes at once. */
export async function migrate(db: Db): Promise<string[]> {
  const migrator = new Migrator({ db: db.kysely, provider: new MigrationModules() });
  if (db.dialect === 'postgres') {
    // PostgreSQL: transactional DDL, serialised across nodes by Kysely's advisory lock.
    return applied(await migrator.migrateToLatest());
  }
  // SQLite: Kysely runs each statement on its own (no transactional DDL, no lock), so a crash half-way
  // would leave half a schema. One IMMEDIATE transaction makes the whole run atomic and makes other
  // processes wait for it (busy_timeout) instead of racing. Within one process, runs on the same file
  // are chained: better-sqlite3 waits for a lock synchronously, which would block the very event loop
  // the lock holder needs to finish.
  const previous = sqliteMigrations.get(db.location) ?? Promise.resolve();
  const run = previous.catch(() => {}).then(async () => {
    await sql`begin immediate`.execute(db.kysely);
    let result;
    try {
      result = await migrator.migrateToLatest();
    } finally {
      await sql.raw(result && !result.error ? 'commit' : 'rollback').execute(db.kysely);
    }
    return applied(result);
  });
  sqliteMigrations.set(db.location, run);
  return run;
}

/** The last migration run per SQLite file in this process. */
const sqliteMigrations = new Map<string, Promise<string[]>>();

function applied({ error, results }: MigrationResultSet): string[] {
  if (error) throw error;
  return (results ?? []).filter((r) => r.status === 'Success').map((r) => r.migrationName);
}

/** True when the error is a unique-constraint violation, on either dialect. */
export function isUniqueViolation(error: unknown): boolean {
  const code = (error as { code?: string })?.code;
  return code === '23505' || code === 'SQLITE_CONSTRAINT_UNIQUE' || code === 'SQLITE_CONSTRAINT_PRIMARYKEY';
}

/** True when the error is a foreign-key violation, on either dialect. */
export function isForeignKeyViolation(error: unknown): boolean {
  const code = (error as { code?: string })?.code;
  return code === '23503' || code === 'SQLITE_CONSTRAINT_FOREIGNKEY';
}
