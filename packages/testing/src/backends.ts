import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import type { ClientConfig } from 'pg';

/**
 * The storage backends every server suite runs against. SQLite always; PostgreSQL when
 * LATCHKEY_TEST_DATABASE_URL, DATABASE_URL or a local server on 127.0.0.1:5432 answers. Without one the
 * PostgreSQL suites are skipped with a visible reason, except in CI (CI=true), where they fail.
 */
export interface Backend {
  name: 'sqlite' | 'postgres';
  /** A reason to skip, or false. */
  skip: string | false;
  /** A fresh, empty database for one suite: a data directory, and a PostgreSQL URL for postgres. */
  create(): Promise<TestDatabase>;
}

export interface TestDatabase {
  dataDir: string;
  databaseUrl: string | undefined;
  drop(): Promise<void>;
}

const PG_ADMIN_URL =
  process.env.LATCHKEY_TEST_DATABASE_URL ?? process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';

/** A PostgreSQL client; `pg` is loaded only by suites that reach PostgreSQL. */
async function pgClient(config: ClientConfig) {
  const { default: pg } = await import('pg');
  return new pg.Client(config);
}

let pgReachable: Promise<string | undefined> | undefined;

/** Undefined when PostgreSQL answers, else why not. */
function checkPostgres(): Promise<string | undefined> {
  pgReachable ??= (async () => {
    const client = await pgClient({ connectionString: PG_ADMIN_URL, connectionTimeoutMillis: 3000 });
    try {
      await client.connect();
      await client.query('select 1');
      return undefined;
    } catch (err) {
      return `PostgreSQL at ${redact(PG_ADMIN_URL)} is not reachable (${(err as Error).message})`;
    } finally {
      await client.end().catch(() => {});
    }
  })();
  return pgReachable;
}

function redact(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return '(unparseable URL)';
  }
}

function tempDataDir(): string {
  return mkdtempSync(join(tmpdir(), 'latchkey-test-'));
}

export const sqlite: Backend = {
  name: 'sqlite',
  skip: false,
  async create() {
    const dataDir = tempDataDir();
    return { dataDir, databaseUrl: undefined, drop: async () => rmSync(dataDir, { recursive: true, force: true }) };
  },
};

async function postgresBackend(): Promise<Backend> {
  const unreachable = await checkPostgres();
  const inCi = process.env.CI === 'true' || process.env.CI === '1';
  if (unreachable && !inCi) {
    console.log(`# SKIPPING PostgreSQL suites: ${unreachable}. Set LATCHKEY_TEST_DATABASE_URL to run them.`);
  }
  if (unreachable && inCi) {
    // Counted as a failure in the runner's summary, not only as cancelled suites.
    test('PostgreSQL is reachable (required in CI)', () => {
      throw new Error(`CI requires PostgreSQL: ${unreachable}`);
    });
  }
  return {
    name: 'postgres',
    // In CI a missing PostgreSQL is a failure, never a skip: create() throws and the suite fails.
    skip: unreachable && !inCi ? unreachable : false,
    async create() {
      if (unreachable) throw new Error(`CI requires PostgreSQL: ${unreachable}`);
      const name = `latchkey_test_${randomBytes(6).toString('hex')}`;
      const admin = await pgClient({ connectionString: PG_ADMIN_URL });
      await admin.connect();
      await admin.query(`create database ${name}`);
      await admin.end();
      const url = new URL(PG_ADMIN_URL);
      url.pathname = `/${name}`;
      const dataDir = tempDataDir();
      return {
        dataDir,
        databaseUrl: url.toString(),
        async drop() {
          rmSync(dataDir, { recursive: true, force: true });
          const a = await pgClient({ connectionString: PG_ADMIN_URL });
          await a.connect();
          await a.query(`drop database if exists ${name} with (force)`);
          await a.end();
        },
      };
    },
  };
}

export async function backends(): Promise<Backend[]> {
  return [sqlite, await postgresBackend()];
}
