import { ConfigError } from '../errors.ts';
import type { DatabaseConnection, Dialect, Driver, QueryCompiler, TransactionSettings } from 'kysely';

/**
 * The database did not answer: unreachable, stopped, frozen past the timeout, locked past the busy
 * timeout, or out of disk. Requests that meet it are answered 503 with `Retry-After`
 * (http/error-reply.ts); every other database error stays what it is (a bug, answered 500).
 */
export class DatabaseUnavailable extends Error {
  override readonly name = 'DatabaseUnavailable';
  constructor(cause: unknown) {
    super('the database is unavailable', { cause });
  }
}

/** PostgreSQL SQLSTATE classes and codes that mean "not now" rather than "wrong query" (Appendix A). */
const PG_UNAVAILABLE_CODE = /^(08|53|57P)|^57014$/;
/** Errors of node's sockets and of pg when the server is gone or silent. */
const NETWORK_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'EHOSTUNREACH', 'ENETUNREACH', 'ENOTFOUND', 'EAI_AGAIN']);
const PG_UNAVAILABLE_MESSAGE =
  /timeout exceeded when trying to connect|Connection terminated|Query read timeout|connection timeout|not queryable|Cannot use a pool after calling end|Postgres connection has been discarded|driver has already been destroyed/;
/** SQLite result codes (with their extended forms) that mean the file is busy or the disk failed. */
const SQLITE_UNAVAILABLE_CODE = /^SQLITE_(BUSY|LOCKED|IOERR|FULL|CANTOPEN|PROTOCOL|NOMEM)/;

/** Whether `error` means the database is unavailable (as opposed to a query that is wrong). */
export function isUnavailable(error: unknown): boolean {
  if (error instanceof DatabaseUnavailable) return true;
  if (typeof error !== 'object' || error === null) return false;
  const { code, message } = error as { code?: unknown; message?: unknown };
  if (typeof code === 'string') {
    if (SQLITE_UNAVAILABLE_CODE.test(code) || NETWORK_CODES.has(code)) return true;
    // SQLSTATEs are five characters; node's own codes are longer.
    if (code.length === 5 && PG_UNAVAILABLE_CODE.test(code)) return true;
  }
  // better-sqlite3 on a closed connection throws a TypeError with this text.
  return typeof message === 'string' && (PG_UNAVAILABLE_MESSAGE.test(message) || message === 'The database connection is not open');
}

/** `error` as a DatabaseUnavailable when it means that, else unchanged. */
export function translate(error: unknown): unknown {
  return isUnavailable(error) && !(error instanceof DatabaseUnavailable) ? new DatabaseUnavailable(error) : error;
}

/** How long, at most, a statement that met another process's SQLite write lock is retried. */
interface RetryPolicy {
  retryBusyMs: number;
}

/** Retries of SQLITE_BUSY end at `deadline` (ms since the epoch). */
interface Retries {
  deadline: number;
}

/**
 * Runs `run`, translating its errors. With a policy, SQLITE_BUSY (another process holds the write
 * lock) is retried after a growing pause until `retryBusyMs` has passed: the wait is asynchronous,
 * where SQLite's own busy_timeout would block the event loop, and so every request, for its whole
 * length. A statement that failed with SQLITE_BUSY did nothing (and a BEGIN that did, began nothing),
 * so running it again is safe.
 */
async function translating<T>(run: () => Promise<T>, retries?: Retries): Promise<T> {
  const deadline = retries?.deadline ?? 0;
  let pauseMs = 2;
  for (;;) {
    try {
      return await run();
    } catch (err) {
      const busy = typeof (err as { code?: unknown })?.code === 'string' && (err as { code: string }).code.startsWith('SQLITE_BUSY');
      if (!busy || Date.now() + pauseMs > deadline) throw translate(err);
      await new Promise((resolve) => setTimeout(resolve, pauseMs));
      pauseMs = Math.min(pauseMs * 2, 50);
    }
  }
}

/**
 * A connection whose errors are translated; the driver below gets its own connection back. One is
 * made per acquisition (a statement, or a whole transaction), and its retries end a fixed time after
 * the acquisition began: time spent queueing for SQLite's one connection counts, so requests that
 * queue behind a busy one are not kept waiting one timeout each.
 */
class TranslatingConnection implements DatabaseConnection {
  readonly inner: DatabaseConnection;
  readonly retries: Retries | undefined;

  constructor(
    inner: DatabaseConnection,
    retries: Retries | undefined,
  ) {
    this.inner = inner;
    this.retries = retries;
  }

  executeQuery: DatabaseConnection['executeQuery'] = (query) => translating(() => this.inner.executeQuery(query), this.retries);

  async *streamQuery<R>(query: Parameters<DatabaseConnection['streamQuery']>[0], chunkSize?: number) {
    try {
      for await (const chunk of this.inner.streamQuery<R>(query, chunkSize)) yield chunk;
    } catch (err) {
      throw translate(err);
    }
  }
}

const unwrap = (connection: DatabaseConnection) => (connection instanceof TranslatingConnection ? connection.inner : connection);
const retriesOf = (connection: DatabaseConnection) => (connection instanceof TranslatingConnection ? connection.retries : undefined);

/** Every call of the dialect's driver, with its errors translated. */
class TranslatingDriver implements Driver {
  private readonly inner: Driver;
  private readonly policy: RetryPolicy | undefined;

  constructor(
    inner: Driver,
    policy: RetryPolicy | undefined,
  ) {
    this.inner = inner;
    this.policy = policy;
  }

  init = () => translating(() => this.inner.init());
  acquireConnection = () => {
    const retries = this.policy ? { deadline: Date.now() + this.policy.retryBusyMs } : undefined;
    return translating(async () => new TranslatingConnection(await this.inner.acquireConnection(), retries));
  };
  beginTransaction = (c: DatabaseConnection, settings: TransactionSettings) =>
    translating(() => this.inner.beginTransaction(unwrap(c), settings), retriesOf(c));
  commitTransaction = (c: DatabaseConnection) => translating(() => this.inner.commitTransaction(unwrap(c)), retriesOf(c));
  rollbackTransaction = (c: DatabaseConnection) => translating(() => this.inner.rollbackTransaction(unwrap(c)));
  savepoint = (c: DatabaseConnection, name: string, compile: QueryCompiler['compileQuery']) =>
    translating(() => this.inner.savepoint!(unwrap(c), name, compile));
  rollbackToSavepoint = (c: DatabaseConnection, name: string, compile: QueryCompiler['compileQuery']) =>
    translating(() => this.inner.rollbackToSavepoint!(unwrap(c), name, compile));
  releaseSavepoint = (c: DatabaseConnection, name: string, compile: QueryCompiler['compileQuery']) =>
    translating(() => this.inner.releaseSavepoint!(unwrap(c), name, compile));
  releaseConnection = (c: DatabaseConnection) => this.inner.releaseConnection(unwrap(c));
  destroy = () => this.inner.destroy();
}

/**
 * `dialect` with every driver error that means "unavailable" thrown as DatabaseUnavailable; with
 * `retryBusyMs`, SQLite's SQLITE_BUSY retried without blocking for up to that long first.
 */
export function reportingUnavailability(dialect: Dialect, options: { retryBusyMs?: number } = {}): Dialect {
  const policy = options.retryBusyMs === undefined ? undefined : { retryBusyMs: options.retryBusyMs };
  return {
    createDriver: () => new TranslatingDriver(dialect.createDriver(), policy),
    createQueryCompiler: () => dialect.createQueryCompiler(),
    createAdapter: () => dialect.createAdapter(),
    createIntrospector: (db) => dialect.createIntrospector(db),
  };
}

/**
 * A database that cannot be reached when a process starts, as a configuration error that names it: the
 * PostgreSQL host, port and database of DATABASE_URL (never its password), or the SQLite file.
 */
export function unreachableDatabase(settings: { databaseUrl: string | undefined; dataDir: string }, error: unknown): unknown {
  if (!isUnavailable(error)) return error;
  const cause = (error instanceof DatabaseUnavailable ? error.cause : error) as { code?: unknown; message?: unknown } | undefined;
  const why = typeof cause?.code === 'string' ? cause.code : typeof cause?.message === 'string' ? cause.message : 'no answer';
  if (settings.databaseUrl) {
    let where = 'the server in DATABASE_URL';
    try {
      const url = new URL(settings.databaseUrl);
      where = `${url.hostname || 'localhost'}:${url.port || 5432}, database "${decodeURIComponent(url.pathname.slice(1)) || 'postgres'}"`;
    } catch {
      // the URL was checked at load; keep the generic words
    }
    return new ConfigError(`cannot reach PostgreSQL at ${where} (DATABASE_URL): ${why}`);
  }
  return new ConfigError(`cannot open the SQLite database in ${settings.dataDir} (LATCHKEY_DATA_DIR): ${why}`);
}
