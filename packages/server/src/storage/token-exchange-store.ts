import type { Kysely } from 'kysely';
import type { TokenExchangePolicy } from '../registry/types.ts';
import type { Database } from './schema.ts';
import { toIntOrNull } from './values.ts';

/** Token exchange policies (RFC 8693, docs/security.md H57), and the grant a subject token came from. */
export class TokenExchangeStore {
  private readonly db: Kysely<Database>;

  constructor(db: Kysely<Database>) {
    this.db = db;
  }

  /** What the client may obtain by token exchange, one entry per API; empty when it may not exchange. */
  async policiesFor(clientId: string): Promise<TokenExchangePolicy[]> {
    const rows = await this.db
      .selectFrom('token_exchange_policies as p')
      .innerJoin('resources as r', 'r.id', 'p.resource_id')
      .select(['r.identifier as identifier', 'r.access_token_ttl_seconds as ttl', 'r.access_token_format as format', 'p.scope as scope'])
      .where('p.client_id', '=', clientId)
      .orderBy('r.identifier')
      .orderBy('p.scope')
      .execute();
    const byAudience = new Map<string, TokenExchangePolicy>();
    for (const row of rows) {
      let policy = byAudience.get(row.identifier);
      if (!policy) {
        policy = {
          audience: row.identifier,
          accessTokenTtlSeconds: toIntOrNull(row.ttl),
          accessTokenFormat: row.format === 'opaque' ? 'opaque' : 'jwt',
          scopes: [],
        };
        byAudience.set(row.identifier, policy);
      }
      policy.scopes.push(row.scope);
    }
    return [...byAudience.values()];
  }

  /** Sets the scopes the client may obtain for the resource, replacing what was allowed there before. */
  async allow(clientId: string, resourceId: string, scopes: readonly string[], now: number): Promise<void> {
    await this.db.transaction().execute(async (trx) => {
      await trx.deleteFrom('token_exchange_policies').where('client_id', '=', clientId).where('resource_id', '=', resourceId).execute();
      await trx
        .insertInto('token_exchange_policies')
        .values(scopes.map((scope) => ({ client_id: clientId, resource_id: resourceId, scope, created_at: now })))
        .execute();
    });
  }

  /** Removes the client's permission to exchange for the resource; false when there was none. */
  async disallow(clientId: string, resourceId: string): Promise<boolean> {
    const result = await this.db
      .deleteFrom('token_exchange_policies')
      .where('client_id', '=', clientId)
      .where('resource_id', '=', resourceId)
      .executeTakeFirst();
    return Number(result.numDeletedRows) > 0;
  }

  /**
   * The grant an access token was issued under (a user's tokens, grants/user-tokens.ts), if any, so
   * the tokens exchanged from it are revoked with that grant.
   */
  async grantOfAccessToken(jti: string): Promise<string | undefined> {
    const row = await this.db.selectFrom('grant_access_tokens').select('grant_id').where('jti', '=', jti).executeTakeFirst();
    return row?.grant_id;
  }
}
