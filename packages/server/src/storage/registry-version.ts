import type SQLite from 'better-sqlite3';
import type { Kysely, Transaction } from 'kysely';
import { FastRead } from './fast-read.ts';
import type { Database } from './schema.ts';
import { toInt } from './values.ts';

const NAME = 'registry_version';

/** Raises the registry version inside the transaction that changes a resource or client. */
export async function bumpRegistryVersion(trx: Transaction<Database>): Promise<void> {
  await trx
    .updateTable('server_facts')
    .set((eb) => ({ value: eb('value', '+', 1) }))
    .where('name', '=', NAME)
    .execute();
}

/** Reads the registry version: the per-request cost of the client cache. */
export class RegistryVersion {
  private readonly read: FastRead<{ value: number | string }>;

  constructor(db: Kysely<Database>, sqlite?: SQLite.Database) {
    const query = db.selectFrom('server_facts').select('value').where('name', '=', NAME).compile();
    this.read = new FastRead(db, sqlite, query.sql);
  }

  current(): number | Promise<number> {
    const row = this.read.first([NAME]);
    return row instanceof Promise ? row.then(toVersion) : toVersion(row);
  }
}

function toVersion(row: { value: number | string } | undefined): number {
  return row ? toInt(row.value) : -1;
}
