import type { Kysely } from 'kysely';
import type { Database, DeviceCodeRow } from './schema.ts';
import { toInt, toIntOrNull } from './values.ts';
import { deleteBatch } from './purge.ts';
import { formatMethods, parseMethods, type AuthenticationMethod } from '../users/authentication-context.ts';

export type DeviceCodeStatus = 'pending' | 'approved' | 'denied' | 'redeemed';

export interface DeviceCode {
  deviceCodeHash: string;
  userCodeHash: string;
  clientId: string;
  scope: string;
  createdAt: number;
  expiresAt: number;
  intervalSeconds: number;
  lastPolledAt: number | null;
  status: DeviceCodeStatus;
  userId: string | null;
  authTime: number | null;
  /** RFC 8176 methods of the approving user's sign-in; null until approved. */
  amr: AuthenticationMethod[] | null;
  grantId: string | null;
}

/** What one poll found (RFC 8628 §3.4, §3.5). */
export type PollResult =
  | { status: 'unknown' }
  /** Polled sooner than the interval allows: the interval is now 5 s longer. */
  | { status: 'slow_down'; code: DeviceCode }
  | { status: 'polled'; code: DeviceCode };

/** Device authorization requests (RFC 8628), each settled by atomic statements. */
export class DeviceCodeStore {
  private readonly db: Kysely<Database>;

  constructor(db: Kysely<Database>) {
    this.db = db;
  }

  async insert(code: Omit<DeviceCode, 'lastPolledAt' | 'status' | 'userId' | 'authTime' | 'amr' | 'grantId'>): Promise<void> {
    await this.db
      .insertInto('device_codes')
      .values({
        device_code_hash: code.deviceCodeHash,
        user_code_hash: code.userCodeHash,
        client_id: code.clientId,
        scope: code.scope,
        created_at: code.createdAt,
        expires_at: code.expiresAt,
        interval_seconds: code.intervalSeconds,
        last_polled_at: null,
        status: 'pending',
        user_id: null,
        auth_time: null,
        grant_id: null,
      })
      .execute();
  }

  async findByUserCode(userCodeHash: string): Promise<DeviceCode | undefined> {
    const row = await this.db.selectFrom('device_codes').selectAll().where('user_code_hash', '=', userCodeHash).executeTakeFirst();
    return row ? toDeviceCode(row) : undefined;
  }

  /**
   * Records a poll. RFC 8628 §3.5 slow_down: a poll sooner than `interval` after the previous one
   * raises the interval by 5 seconds. One conditional UPDATE per case, so simultaneous polls on
   * several nodes cannot all slip through.
   */
  async poll(deviceCodeHash: string, clientId: string, now: number): Promise<PollResult> {
    return this.db.transaction().execute(async (trx) => {
      // RFC 8628 §3.4: the code is bound to its client; another client's poll touches nothing of it.
      const row = await trx
        .selectFrom('device_codes')
        .selectAll()
        .where('device_code_hash', '=', deviceCodeHash)
        .where('client_id', '=', clientId)
        .executeTakeFirst();
      if (!row) return { status: 'unknown' as const };
      const code = toDeviceCode(row);
      const tooSoon = code.lastPolledAt !== null && now - code.lastPolledAt < code.intervalSeconds;
      const updated = await trx
        .updateTable('device_codes')
        .set(tooSoon ? { last_polled_at: now, interval_seconds: code.intervalSeconds + 5 } : { last_polled_at: now })
        .where('device_code_hash', '=', deviceCodeHash)
        .where((eb) => (code.lastPolledAt === null ? eb('last_polled_at', 'is', null) : eb('last_polled_at', '=', code.lastPolledAt)))
        .returningAll()
        .executeTakeFirst();
      // Another poll got in between: this one was too soon by definition.
      if (!updated) {
        const raised = await trx
          .updateTable('device_codes')
          .set((eb) => ({ last_polled_at: now, interval_seconds: eb('interval_seconds', '+', 5) }))
          .where('device_code_hash', '=', deviceCodeHash)
          .returningAll()
          .executeTakeFirst();
        return raised ? { status: 'slow_down' as const, code: toDeviceCode(raised) } : { status: 'unknown' as const };
      }
      return tooSoon ? { status: 'slow_down' as const, code: toDeviceCode(updated) } : { status: 'polled' as const, code: toDeviceCode(updated) };
    });
  }

  /** The user's decision on a pending, unexpired request; false when it was no longer pending. */
  async decide(
    userCodeHash: string,
    decision: { status: 'approved'; userId: string; authTime: number; amr: AuthenticationMethod[]; grantId: string } | { status: 'denied'; userId: string },
    now: number,
  ): Promise<boolean> {
    const result = await this.db
      .updateTable('device_codes')
      .set(
        decision.status === 'approved'
          ? { status: 'approved', user_id: decision.userId, auth_time: decision.authTime, amr: formatMethods(decision.amr), grant_id: decision.grantId }
          : { status: 'denied', user_id: decision.userId },
      )
      .where('user_code_hash', '=', userCodeHash)
      .where('status', '=', 'pending')
      .where('expires_at', '>', now)
      .executeTakeFirst();
    return Number(result.numUpdatedRows) > 0;
  }

  /** Redeems an approved code: exactly one of any number of simultaneous redemptions wins. */
  async redeem(deviceCodeHash: string): Promise<boolean> {
    const result = await this.db
      .updateTable('device_codes')
      .set({ status: 'redeemed' })
      .where('device_code_hash', '=', deviceCodeHash)
      .where('status', '=', 'approved')
      .executeTakeFirst();
    return Number(result.numUpdatedRows) > 0;
  }

  /** Deletes requests that expired before `now`, at most `limit` of them. */
  async purgeExpired(now: number, limit: number): Promise<number> {
    return deleteBatch(this.db, 'device_codes', 'device_code_hash', (eb) => eb('expires_at', '<', now), limit);
  }
}

function toDeviceCode(row: DeviceCodeRow): DeviceCode {
  return {
    deviceCodeHash: row.device_code_hash,
    userCodeHash: row.user_code_hash,
    clientId: row.client_id,
    scope: row.scope,
    createdAt: toInt(row.created_at),
    expiresAt: toInt(row.expires_at),
    intervalSeconds: toInt(row.interval_seconds),
    lastPolledAt: toIntOrNull(row.last_polled_at),
    status: row.status as DeviceCodeStatus,
    userId: row.user_id,
    authTime: toIntOrNull(row.auth_time),
    amr: row.auth_time === null ? null : parseMethods(row.amr),
    grantId: row.grant_id,
  };
}
