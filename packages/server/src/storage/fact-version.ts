import type SQLite from 'better-sqlite3';
import type { Kysely, Transaction } from 'kysely';
import { FastRead } from './fast-read.ts';
import type { Database } from './schema.ts';
import { toInt } from './values.ts';

/**
 * Counters in `server_facts` that every change of some shared state raises in its own transaction, so
 * that one cheap read tells any node whether its copy of that state is still current:
 * `registry_version` (resources and clients, storage/client-store.ts) and `keys_version` (signing
 * keys, keys/key-ring.ts).
 */
export type VersionedFact = 'registry_version' | 'keys_version';

/** Raises the version inside the transaction that changes what it versions. */
export async function bumpVersion(trx: Transaction<Database>, name: VersionedFact): Promise<void> {
  await trx
    .updateTable('server_facts')
    .set((eb) => ({ value: eb('value', '+', 1) }))
    .where('name', '=', name)
    .execute();
}

/** Reads a version: the per-request cost of a cache that must never be stale. */
export class FactVersion {
  private readonly read: FastRead<{ value: number | string }>;

  private readonly name: VersionedFact;

  constructor(
    db: Kysely<Database>,
    sqlite: SQLite.Database | undefined,
    name: VersionedFact,
  ) {
    this.name = name;
    const query = db.selectFrom('server_facts').select('value').where('name', '=', name).compile();
    this.read = new FastRead(db, sqlite, query.sql);
  }

  current(): number | Promise<number> {
    const row = this.read.first([this.name]);
    return row instanceof Promise ? row.then(toVersion) : toVersion(row);
  }
}

function toVersion(row: { value: number | string } | undefined): number {
  return row ? toInt(row.value) : -1;
}
