import type { CompiledQuery, Kysely, Transaction } from 'kysely';
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

/** Reads the registry version with a query compiled once: the per-request cost of the client cache. */
export class RegistryVersion {
  private readonly query: CompiledQuery<{ value: number | string }>;

  constructor(private readonly db: Kysely<Database>) {
    this.query = db.selectFrom('server_facts').select('value').where('name', '=', NAME).compile();
  }

  async current(): Promise<number> {
    const { rows } = await this.db.executeQuery(this.query);
    return rows[0] ? toInt(rows[0].value) : -1;
  }
}
