import type { Kysely } from 'kysely';
import type { Database } from './schema.ts';

/** What each user allowed each client, remembered so the consent page is not shown every time. */
export class ConsentStore {
  private readonly db: Kysely<Database>;

  constructor(db: Kysely<Database>) {
    this.db = db;
  }

  /** The scopes the user has allowed the client, or an empty list. */
  async find(userId: string, clientId: string): Promise<string[]> {
    const row = await this.db
      .selectFrom('consents')
      .select('scope')
      .where('user_id', '=', userId)
      .where('client_id', '=', clientId)
      .executeTakeFirst();
    return row ? row.scope.split(' ').filter((s) => s !== '') : [];
  }

  /** Adds `scopes` to what the user allowed the client (a consent only ever grows until revoked). */
  async remember(userId: string, clientId: string, scopes: readonly string[], now: number): Promise<void> {
    await this.db.transaction().execute(async (trx) => {
      const row = await trx
        .selectFrom('consents')
        .select('scope')
        .where('user_id', '=', userId)
        .where('client_id', '=', clientId)
        .executeTakeFirst();
      const merged = [...new Set([...(row ? row.scope.split(' ').filter((s) => s !== '') : []), ...scopes])].sort().join(' ');
      await trx
        .insertInto('consents')
        .values({ user_id: userId, client_id: clientId, scope: merged, created_at: now, updated_at: now })
        .onConflict((oc) => oc.columns(['user_id', 'client_id']).doUpdateSet({ scope: merged, updated_at: now }))
        .execute();
    });
  }

  /** Forgets the consent: the next authorization asks again. */
  async forget(userId: string, clientId: string): Promise<void> {
    await this.db.deleteFrom('consents').where('user_id', '=', userId).where('client_id', '=', clientId).execute();
  }
}
