import type { Kysely } from 'kysely';
import { deleteBatch } from './purge.ts';
import type { Database } from './schema.ts';

/** An authorization request's parameters as pushed (RFC 9126): single values, `resource` as a list. */
export type PushedParams = Record<string, string | string[]>;

export interface NewPushedRequest {
  /** SHA-256 of the request_uri, base64url: the request_uri itself is never stored. */
  requestUriHash: string;
  clientId: string;
  params: PushedParams;
  createdAt: number;
  expiresAt: number;
}

/** Pushed authorization requests (RFC 9126), shared by every node through the database. */
export class PushedRequestStore {
  private readonly db: Kysely<Database>;

  constructor(db: Kysely<Database>) {
    this.db = db;
  }

  async insert(request: NewPushedRequest): Promise<void> {
    await this.db
      .insertInto('pushed_authorization_requests')
      .values({
        request_uri_hash: request.requestUriHash,
        client_id: request.clientId,
        params: JSON.stringify(request.params),
        created_at: request.createdAt,
        expires_at: request.expiresAt,
      })
      .execute();
  }

  /**
   * Uses a request_uri: one atomic statement deletes the request only if it belongs to `clientId` and
   * has not expired, and returns its parameters; so of any number of simultaneous uses, on any number
   * of nodes, exactly one gets them. Undefined when it is unknown, used, expired or another client's
   * (which leaves it to its own client).
   */
  async consume(requestUriHash: string, clientId: string, now: number): Promise<PushedParams | undefined> {
    const row = await this.db
      .deleteFrom('pushed_authorization_requests')
      .where('request_uri_hash', '=', requestUriHash)
      .where('client_id', '=', clientId)
      .where('expires_at', '>', now)
      .returning('params')
      .executeTakeFirst();
    return row ? (JSON.parse(row.params) as PushedParams) : undefined;
  }

  /** Deletes requests that expired before `now` unused, at most `limit` of them. */
  async purgeExpired(now: number, limit: number): Promise<number> {
    return deleteBatch(this.db, 'pushed_authorization_requests', 'request_uri_hash', (eb) => eb('expires_at', '<', now), limit);
  }
}
