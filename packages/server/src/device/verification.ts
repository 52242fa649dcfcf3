import { addressKey } from '../lib/address-key.ts';
import type { ServerContext } from '../context.ts';
import { randomId128 } from '../lib/random.ts';
import type { DeviceCode } from '../storage/device-code-store.ts';
import type { Session } from '../storage/session-store.ts';
import { normalizeUserCode, userCodeHash } from './user-code.ts';

/**
 * RFC 8628 §5.1: code attempts are limited per session and per address, so the 34 bits of a code
 * cannot be searched: 12 per session and 100 per address in 15 minutes (every attempt counts, so a
 * user looking up and then approving one code spends two).
 */
const CODE_WINDOW_SECONDS = 15 * 60;
const MAX_CODE_ATTEMPTS_PER_SESSION = 12;
const MAX_CODE_ATTEMPTS_PER_ADDRESS = 100;

/**
 * The pending, unexpired request of a user code typed on the verification page (RFC 8628 §3.3), or
 * `limited`. Every attempt is counted first, by one atomic upsert per counter (rate-limit-store.ts),
 * and the decision is made on the counts that upsert returned, so simultaneous guesses on any number
 * of nodes cannot all slip under the limit.
 */
export async function lookUpUserCode(
  ctx: ServerContext,
  attempt: { sessionIdHash: string; address: string; typed: string },
): Promise<DeviceCode | 'limited' | undefined> {
  const now = ctx.now();
  const windowStart = now - (now % CODE_WINDOW_SECONDS);
  const [bySession, byAddress] = await Promise.all(
    [`device:session:${attempt.sessionIdHash}`, `device:address:${addressKey(attempt.address)}`].map((k) => ctx.storage.rateLimits.hit(k, windowStart)),
  );
  if (bySession! > MAX_CODE_ATTEMPTS_PER_SESSION || byAddress! > MAX_CODE_ATTEMPTS_PER_ADDRESS) return 'limited';
  const normalized = normalizeUserCode(attempt.typed);
  const code = normalized ? await ctx.storage.deviceCodes.findByUserCode(userCodeHash(normalized)) : undefined;
  if (!code || code.status !== 'pending' || code.expiresAt <= now) return undefined;
  return code;
}

/**
 * RFC 8628 §3.3: the user's decision on a pending request. Allowing records a grant (the family of
 * what the device will be issued) with the session's user and login time; a denial is final. False
 * when the request was no longer pending (decided or expired meanwhile).
 */
export async function decideDeviceCode(ctx: ServerContext, code: DeviceCode, session: Session, decision: 'allow' | 'deny'): Promise<boolean> {
  const now = ctx.now();
  if (decision === 'deny') return ctx.storage.deviceCodes.decide(code.userCodeHash, { status: 'denied', userId: session.userId }, now);
  const grantId = randomId128();
  await ctx.storage.grants.create({ id: grantId, clientId: code.clientId, userId: session.userId, scope: code.scope, createdAt: now, revokedAt: null });
  return ctx.storage.deviceCodes.decide(code.userCodeHash, { status: 'approved', userId: session.userId, authTime: session.authTime, amr: session.amr, grantId }, now);
}
