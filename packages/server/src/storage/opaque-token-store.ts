import type SQLite from 'better-sqlite3';
import type { Kysely } from 'kysely';
import type { ActClaim } from '../registry/types.ts';
import { parseConfirmation, type Confirmation } from '../tokens/confirmation.ts';
import { FastRead } from './fast-read.ts';
import type { Database, OpaqueAccessTokenRow } from './schema.ts';
import { toInt } from './values.ts';
import { formatMethods, parseMethods, type Authentication } from '../users/authentication-context.ts';
import { deleteBatch } from './purge.ts';

export interface OpaqueAccessToken {
  tokenHash: string;
  jti: string;
  clientId: string;
  subject: string;
  audience: string[];
  scope: string;
  issuedAt: number;
  expiresAt: number;
  /** RFC 8693 §4.1 actor of an exchanged token; null otherwise. */
  act?: ActClaim | null;
  /** RFC 9449 §6.2 / RFC 8705 §3.2: what the token is bound to; null: a bearer token. */
  cnf?: Confirmation | null;
  /** The user's sign-in behind the token (auth_time, amr); null: none (client credentials, or issued before it was recorded). */
  authentication?: Authentication | null;
}

/** Opaque access tokens by the SHA-256 of the token; the token itself is never stored. */
export class OpaqueTokenStore {
  private readonly byHash: FastRead<OpaqueAccessTokenRow>;

  private readonly db: Kysely<Database>;

  constructor(
    db: Kysely<Database>,
    sqlite?: SQLite.Database,
  ) {
    this.db = db;
    const query = db.selectFrom('opaque_access_tokens').selectAll().where('token_hash', '=', '').compile();
    this.byHash = new FastRead(db, sqlite, query.sql);
  }

  async insert(token: OpaqueAccessToken): Promise<void> {
    await this.db
      .insertInto('opaque_access_tokens')
      .values({
        token_hash: token.tokenHash,
        jti: token.jti,
        client_id: token.clientId,
        subject: token.subject,
        audience: JSON.stringify(token.audience),
        scope: token.scope,
        issued_at: token.issuedAt,
        expires_at: token.expiresAt,
        act: token.act == null ? null : JSON.stringify(token.act),
        cnf: token.cnf == null ? null : JSON.stringify(token.cnf),
        auth_time: token.authentication?.time ?? null,
        amr: token.authentication ? formatMethods(token.authentication.methods) : null,
      })
      .execute();
  }

  /** On every introspection of an opaque token: a prepared read on SQLite. */
  async find(tokenHash: string): Promise<OpaqueAccessToken | undefined> {
    const row = await this.byHash.first([tokenHash]);
    if (!row) return undefined;
    return {
      tokenHash: row.token_hash,
      jti: row.jti,
      clientId: row.client_id,
      subject: row.subject,
      audience: JSON.parse(row.audience) as string[],
      scope: row.scope,
      issuedAt: toInt(row.issued_at),
      expiresAt: toInt(row.expires_at),
      act: row.act === null ? null : (JSON.parse(row.act) as ActClaim),
      cnf: parseConfirmation(row.cnf) ?? null,
      authentication: row.auth_time === null ? null : { time: toInt(row.auth_time), methods: parseMethods(row.amr) },
    };
  }

  /** Revocation forgets the token: an unknown token is inactive (RFC 7662 §2.2). */
  async delete(tokenHash: string, clientId: string): Promise<void> {
    await this.db.deleteFrom('opaque_access_tokens').where('token_hash', '=', tokenHash).where('client_id', '=', clientId).execute();
  }

  /** Forgets every opaque token of a client (before the client is deleted). */
  async deleteAllForClient(clientId: string): Promise<void> {
    await this.db.deleteFrom('opaque_access_tokens').where('client_id', '=', clientId).execute();
  }

  /** Deletes tokens that expired before `now`, at most `limit` of them. */
  async purgeExpired(now: number, limit: number): Promise<number> {
    return deleteBatch(this.db, 'opaque_access_tokens', 'token_hash', (eb) => eb('expires_at', '<', now), limit);
  }
}
