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

async function translating<T>(run: () => Promise<T>): Promise<T> {
  try {
    return await run();
  } catch (err) {
    throw translate(err);
  }
}

/** A connection whose errors are translated; the driver below gets its own connection back. */
class TranslatingConnection implements DatabaseConnection {
  constructor(readonly inner: DatabaseConnection) {}

  executeQuery: DatabaseConnection['executeQuery'] = (query) => translating(() => this.inner.executeQuery(query));

  async *streamQuery<R>(query: Parameters<DatabaseConnection['streamQuery']>[0], chunkSize?: number) {
    try {
      for await (const chunk of this.inner.streamQuery<R>(query, chunkSize)) yield chunk;
    } catch (err) {
      throw translate(err);
    }
  }
}

const unwrap = (connection: DatabaseConnection) => (connection instanceof TranslatingConnection ? connection.inner : connection);

/** Every call of the dialect's driver, with its errors translated. */
class TranslatingDriver implements Driver {
  constructor(private readonly inner: Driver) {}

  init = () => translating(() => this.inner.init());
  acquireConnection = () => translating(async () => new TranslatingConnection(await this.inner.acquireConnection()));
  beginTransaction = (c: DatabaseConnection, settings: TransactionSettings) => translating(() => this.inner.beginTransaction(unwrap(c), settings));
  commitTransaction = (c: DatabaseConnection) => translating(() => this.inner.commitTransaction(unwrap(c)));
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

/** `dialect` with every driver error that means "unavailable" thrown as DatabaseUnavailable. */
export function reportingUnavailability(dialect: Dialect): Dialect {
  return {
    createDriver: () => new TranslatingDriver(dialect.createDriver()),
    createQueryCompiler: () => dialect.createQueryCompiler(),
    createAdapter: () => dialect.createAdapter(),
    createIntrospector: (db) => dialect.createIntrospector(db),
  };
}
