import type { Kysely } from 'kysely';
import type { AuthorizationCodeRow, Database } from './schema.ts';
import { toInt, toIntOrNull } from './values.ts';
import { formatMethods, parseMethods, type AuthenticationMethod } from '../users/authentication-context.ts';
import { deleteBatch } from './purge.ts';

export interface Grant {
  id: string;
  clientId: string;
  userId: string;
  scope: string;
  createdAt: number;
  revokedAt: number | null;
  /** The `sid` of the SSO session the grant was made in (Back-Channel Logout §2.3); absent: none. */
  sid?: string | null;
}

export interface AuthorizationCode {
  /** SHA-256 of the code (base64url); the code itself is never stored. */
  codeHash: string;
  grantId: string;
  redirectUri: string;
  codeChallenge: string;
  nonce: string | null;
  authTime: number;
  /** RFC 8176 methods of the sign-in the code was issued under. */
  amr: AuthenticationMethod[];
  scope: string;
  /** RFC 8707 resource indicators the authorization request named; absent or empty: none. */
  resources?: string[];
  createdAt: number;
  expiresAt: number;
  /** RFC 9449 §10: the `dpop_jkt` of the authorization request: only a proof by that key redeems the code. */
  dpopJkt?: string | null;
}

/** What redeeming a code found. */
export type CodeRedemption =
  | { status: 'redeemed'; code: AuthorizationCode; grant: Grant }
  /** The code was redeemed before: OAuth 2.1 §4.1.3, a second redemption revokes what the first issued. */
  | { status: 'replayed'; grantId: string }
  /** Unknown, expired, or its grant was revoked. */
  | { status: 'invalid' };

/** Grants and the authorization codes issued under them. */
export class GrantStore {
  private readonly db: Kysely<Database>;
  /** PostgreSQL needs row locks where SQLite's single writer already serialises. */
  private readonly dialect: 'sqlite' | 'postgres';

  constructor(
    db: Kysely<Database>,
    dialect: 'sqlite' | 'postgres' = 'sqlite',
  ) {
    this.db = db;
    this.dialect = dialect;
  }

  /** Records a grant without a code (a device authorization approved on /device). */
  async create(grant: Grant): Promise<void> {
    await insertGrant(this.db, grant);
  }

  /** Records a grant and its first code in one transaction. */
  async createWithCode(grant: Grant, code: AuthorizationCode): Promise<void> {
    await this.db.transaction().execute(async (trx) => {
      await insertGrant(trx, grant);
      await trx
        .insertInto('authorization_codes')
        .values({
          code_hash: code.codeHash,
          grant_id: code.grantId,
          redirect_uri: code.redirectUri,
          code_challenge: code.codeChallenge,
          nonce: code.nonce,
          auth_time: code.authTime,
          amr: formatMethods(code.amr),
          scope: code.scope,
          resources: code.resources && code.resources.length > 0 ? JSON.stringify(code.resources) : null,
          created_at: code.createdAt,
          expires_at: code.expiresAt,
          consumed_at: null,
          dpop_jkt: code.dpopJkt ?? null,
        })
        .execute();
    });
  }

  /**
   * Redeems a code: one atomic statement marks it consumed only if it was not consumed and has not
   * expired, so of any number of simultaneous redemptions, on any number of nodes, exactly one wins.
   * The caller checks client, redirect URI and PKCE before calling, so a failed check (OAuth 2.1 §7.5.2)
   * consumes and revokes nothing.
   */
  async redeem(codeHash: string, now: number): Promise<CodeRedemption> {
    const consumed = await this.db
      .updateTable('authorization_codes')
      .set({ consumed_at: now })
      .where('code_hash', '=', codeHash)
      .where('consumed_at', 'is', null)
      .where('expires_at', '>', now)
      // A code of a revoked grant is worthless: it is never consumed.
      .where('grant_id', 'in', (eb) => eb.selectFrom('grants').select('id').where('revoked_at', 'is', null))
      .returningAll()
      .executeTakeFirst();
    if (!consumed) {
      const existing = await this.db
        .selectFrom('authorization_codes')
        .select(['grant_id', 'consumed_at'])
        .where('code_hash', '=', codeHash)
        .executeTakeFirst();
      if (existing && existing.consumed_at !== null) return { status: 'replayed', grantId: existing.grant_id };
      return { status: 'invalid' };
    }
    // The grant was live when the code was consumed. A replay racing this redemption may revoke it
    // from now on; this redemption still is the one that won (docs/security.md C26), and the tokens it
    // issues are revoked with the grant (grants/user-tokens.ts).
    const grant = await this.findGrant(consumed.grant_id);
    if (!grant) return { status: 'invalid' };
    return { status: 'redeemed', code: toCode(consumed), grant };
  }

  /** Finds the code (consumed or not) without consuming it: for the checks that precede redemption. */
  async peek(codeHash: string): Promise<(AuthorizationCode & { consumed: boolean; clientId: string }) | undefined> {
    const row = await this.db
      .selectFrom('authorization_codes as c')
      .innerJoin('grants as g', 'g.id', 'c.grant_id')
      .selectAll('c')
      .select('g.client_id as client_id')
      .where('c.code_hash', '=', codeHash)
      .executeTakeFirst();
    if (!row) return undefined;
    return { ...toCode(row), consumed: row.consumed_at !== null, clientId: row.client_id };
  }

  async findGrant(id: string): Promise<Grant | undefined> {
    const row = await this.db.selectFrom('grants').selectAll().where('id', '=', id).executeTakeFirst();
    if (!row) return undefined;
    return {
      id: row.id,
      clientId: row.client_id,
      userId: row.user_id,
      scope: row.scope,
      createdAt: toInt(row.created_at),
      revokedAt: toIntOrNull(row.revoked_at),
      sid: row.sid,
    };
  }

  /**
   * Revokes the grant and everything issued under it, in one transaction: its codes and refresh
   * tokens stop working (they check the grant on every use), its unexpired JWT access tokens join the
   * revocation list, and its opaque access tokens are deleted. Revoking twice is harmless. The UPDATE
   * comes first: its row lock makes a concurrent recordAccessToken wait (see there).
   */
  async revokeGrant(id: string, now: number): Promise<void> {
    await this.db.transaction().execute(async (trx) => {
      await trx.updateTable('grants').set({ revoked_at: now }).where('id', '=', id).where('revoked_at', 'is', null).execute();
      // Already revoked: the UPDATE matched nothing and took no lock; lock the row anyway.
      if (this.dialect === 'postgres') await trx.selectFrom('grants').select('id').where('id', '=', id).forUpdate().execute();
      const issued = trx
        .selectFrom('grant_access_tokens')
        .select('jti')
        .where('grant_id', '=', id)
        .where('expires_at', '>', now);
      await trx
        .insertInto('revoked_access_tokens')
        .columns(['jti', 'client_id', 'expires_at', 'revoked_at'])
        .expression(
          trx
            .selectFrom('grant_access_tokens')
            .select((eb) => ['jti', 'client_id', 'expires_at', eb.val(now).as('revoked_at')])
            .where('grant_id', '=', id)
            .where('expires_at', '>', now),
        )
        .onConflict((oc) => oc.column('jti').doNothing())
        .execute();
      await trx.deleteFrom('opaque_access_tokens').where('jti', 'in', issued).execute();
    });
  }

  /** The clients a user has live grants with: how many, and when the last was made (the account page's list). */
  async liveClientsForUser(userId: string): Promise<{ clientId: string; grants: number; lastGrantAt: number; scopes: string[] }[]> {
    const rows = await this.db
      .selectFrom('grants')
      .select((eb) => ['client_id', eb.fn.countAll<number | string>().as('grants'), eb.fn.max('created_at').as('last')])
      .where('user_id', '=', userId)
      .where('revoked_at', 'is', null)
      .groupBy('client_id')
      .orderBy('last', 'desc')
      .execute();
    // The scopes of those grants, together per client: what the application can do now.
    const scoped = await this.db.selectFrom('grants').select(['client_id', 'scope']).where('user_id', '=', userId).where('revoked_at', 'is', null).execute();
    const scopes = new Map<string, Set<string>>();
    for (const g of scoped) {
      const set = scopes.get(g.client_id) ?? new Set<string>();
      for (const scope of g.scope.split(' ')) if (scope !== '') set.add(scope);
      scopes.set(g.client_id, set);
    }
    return rows.map((r) => ({
      clientId: r.client_id,
      grants: Number(r.grants),
      lastGrantAt: toInt(r.last as number | string),
      scopes: [...(scopes.get(r.client_id) ?? [])].sort(),
    }));
  }

  /** Revokes every live grant of a user with one client (the user removed its access): their tokens stop working. */
  async revokeForUserAndClient(userId: string, clientId: string, now: number): Promise<number> {
    const live = await this.db.selectFrom('grants').select('id').where('user_id', '=', userId).where('client_id', '=', clientId).where('revoked_at', 'is', null).execute();
    for (const { id } of live) await this.revokeGrant(id, now);
    return live.length;
  }

  /** Revokes every live grant of a user (disabled, or signed out everywhere by an admin). */
  async revokeAllForUser(userId: string, now: number): Promise<number> {
    const live = await this.db.selectFrom('grants').select('id').where('user_id', '=', userId).where('revoked_at', 'is', null).execute();
    for (const { id } of live) await this.revokeGrant(id, now);
    return live.length;
  }

  /** Revokes every live grant of a client (before the client is deleted): its tokens join the revocation list. */
  async revokeAllForClient(clientId: string, now: number): Promise<number> {
    const live = await this.db.selectFrom('grants').select('id').where('client_id', '=', clientId).where('revoked_at', 'is', null).execute();
    for (const { id } of live) await this.revokeGrant(id, now);
    return live.length;
  }

  /**
   * Records an access token issued under the grant, and tells whether the grant is still live. In one
   * transaction that first reads the grant under a share lock (PostgreSQL): a revocation in progress
   * holds the row's update lock, so this waits for it and sees it; a revocation that starts later
   * waits for this transaction and then finds the token. Either way no token of a revoked grant
   * escapes the revocation list. On SQLite the one writer serialises the two transactions.
   */
  async recordAccessToken(grantId: string, token: { jti: string; clientId: string; expiresAt: number }): Promise<boolean> {
    return this.db.transaction().execute(async (trx) => {
      let query = trx.selectFrom('grants').select('revoked_at').where('id', '=', grantId);
      if (this.dialect === 'postgres') query = query.forShare();
      const grant = await query.executeTakeFirst();
      await trx
        .insertInto('grant_access_tokens')
        .values({ jti: token.jti, grant_id: grantId, client_id: token.clientId, expires_at: token.expiresAt })
        .execute();
      return grant !== undefined && grant.revoked_at === null;
    });
  }

  /** Forgets access tokens that expired before `now`, at most `limit` of them. */
  async purgeExpiredAccessTokens(now: number, limit: number): Promise<number> {
    return deleteBatch(this.db, 'grant_access_tokens', 'jti', (eb) => eb('expires_at', '<', now), limit);
  }

  /**
   * Deletes grants that can issue nothing more: revoked ones, and ones without a live code or
   * refresh token, once every access token they issued has expired. At most `limit` of them.
   */
  async purgeSpent(now: number, graceSeconds: number, limit: number): Promise<number> {
    const cutoff = now - graceSeconds;
    return deleteBatch(
      this.db,
      'grants',
      'id',
      (eb) =>
        eb.and([
          eb('created_at', '<', cutoff),
          eb.not(eb.exists(eb.selectFrom('authorization_codes as c').select('c.code_hash').whereRef('c.grant_id', '=', 'grants.id'))),
          eb.not(eb.exists(eb.selectFrom('refresh_tokens as r').select('r.token_hash').whereRef('r.grant_id', '=', 'grants.id'))),
          eb.not(eb.exists(eb.selectFrom('grant_access_tokens as a').select('a.jti').whereRef('a.grant_id', '=', 'grants.id'))),
        ]),
      limit,
    );
  }

  /** Deletes codes that expired before `now`, at most `limit` of them. */
  async purgeExpiredCodes(now: number, limit: number): Promise<number> {
    return deleteBatch(this.db, 'authorization_codes', 'code_hash', (eb) => eb('expires_at', '<', now), limit);
  }
}

function insertGrant(db: Kysely<Database>, grant: Grant) {
  return db
    .insertInto('grants')
    .values({
      id: grant.id,
      client_id: grant.clientId,
      user_id: grant.userId,
      scope: grant.scope,
      created_at: grant.createdAt,
      revoked_at: grant.revokedAt,
      sid: grant.sid || null,
    })
    .execute();
}

function toCode(row: AuthorizationCodeRow): AuthorizationCode {
  return {
    codeHash: row.code_hash,
    grantId: row.grant_id,
    redirectUri: row.redirect_uri,
    codeChallenge: row.code_challenge,
    nonce: row.nonce,
    authTime: toInt(row.auth_time),
    amr: parseMethods(row.amr),
    scope: row.scope,
    ...(row.resources === null ? {} : { resources: JSON.parse(row.resources) as string[] }),
    createdAt: toInt(row.created_at),
    expiresAt: toInt(row.expires_at),
    dpopJkt: row.dpop_jkt,
  };
}
