import type { Kysely } from 'kysely';
import type { Database } from './schema.ts';
import { toInt } from './values.ts';

/** Numeric facts shared by every node, such as the longest access-token lifetime any node issues. */
export class ServerFactStore {
  private readonly db: Kysely<Database>;

  constructor(db: Kysely<Database>) {
    this.db = db;
  }

  /** Raises the fact to `value` if it is lower (or unset); never lowers it. Atomic on both dialects. */
  async raiseTo(name: string, value: number, now: number): Promise<void> {
    await this.db
      .insertInto('server_facts')
      .values({ name, value, updated_at: now })
      .onConflict((oc) =>
        oc
          .column('name')
          .doUpdateSet({ value, updated_at: now })
          .where('server_facts.value', '<', value),
      )
      .execute();
  }

  async get(name: string): Promise<number | undefined> {
    const row = await this.db.selectFrom('server_facts').select('value').where('name', '=', name).executeTakeFirst();
    return row ? toInt(row.value) : undefined;
  }
}
