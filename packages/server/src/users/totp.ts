import { Secret, TOTP } from 'otpauth';
import QRCode from 'qrcode';
import type { ServerContext } from '../context.ts';
import { ConfigError } from '../errors.ts';
import type { User } from '../storage/user-store.ts';
import { normalizeRecoveryCode, useRecoveryCode } from './recovery-codes.ts';
import { accountDelaySeconds, ACCOUNT_FAILURES_KEPT_SECONDS, FREE_FAILURES_PER_ACCOUNT, MAX_DOUBLINGS } from './authenticate-user.ts';

/**
 * One-time codes from an authenticator app (RFC 6238 TOTP with the RFC 4226 defaults every app
 * understands: HMAC-SHA-1, 6 digits, 30-second steps). The code arithmetic is the `otpauth` library's;
 * what is ours: the secret encrypted at rest, single use, and the limit on guessing.
 */

/** RFC 6238 §4.1 X, the time step; §5.2 recommends 30 seconds. */
const PERIOD_SECONDS = 30;
/** RFC 4226 §4 R6: 160-bit shared secrets. */
const SECRET_BYTES = 20;
/**
 * RFC 6238 §5.2: "We RECOMMEND that at most one time step is allowed as the network delay": the
 * code of the previous and of the next step are accepted too (a clock a little off, a slow typist).
 */
const WINDOW_STEPS = 1;

/** What the enrolment page shows: the secret as text, the otpauth URI, and that URI as a QR code (SVG). */
export interface TotpEnrolment {
  secret: string;
  uri: string;
  qrSvg: string;
}

/**
 * `invalid_code` says how many wrong codes in a row the account has now; `locked`: too many (below),
 * no code is checked until the failures are forgotten or an operator resets the user's factors.
 */
export type TotpCheck =
  | { ok: true }
  | { ok: false; reason: 'invalid_code'; failures: number }
  | { ok: false; reason: 'rate_limited'; retryAfterSeconds: number }
  | { ok: false; reason: 'locked' }
  /** The stored secret cannot be decrypted (LATCHKEY_SECRET changed): only an operator's reset helps. */
  | { ok: false; reason: 'unreadable' };

/**
 * NIST SP 800-63B §5.2.2: "the verifier SHALL effectively limit the number of consecutive failed
 * authentication attempts on a single account to no more than 100". Past that the factor is locked.
 */
export const MAX_CONSECUTIVE_CODE_FAILURES = 100;

/** The key under which an account's wrong codes are counted (storage/login-throttle-store.ts). */
export const totpThrottleKey = (userId: string) => `totp:account:${userId}`;

/** The authenticated data that binds an encrypted secret to its user's row (keys/key-encryption.ts). */
const aad = (userId: string) => `totp:${userId}`;

function totpFor(ctx: ServerContext, user: Pick<User, 'username'>, base32: string): TOTP {
  return new TOTP({
    issuer: new URL(ctx.settings.issuer).host,
    label: user.username,
    algorithm: 'SHA1',
    digits: 6,
    period: PERIOD_SECONDS,
    secret: Secret.fromBase32(base32),
  });
}

/**
 * Starts setting up an authenticator: a new random secret, stored encrypted and unconfirmed (an
 * earlier unconfirmed one is replaced). Undefined when the user already has a confirmed one.
 */
export async function beginTotpEnrolment(ctx: ServerContext, user: User): Promise<TotpEnrolment | undefined> {
  const secret = new Secret({ size: SECRET_BYTES }).base32;
  if (!(await ctx.storage.totp.begin(user.id, ctx.encryption.encrypt(secret, aad(user.id)), ctx.now()))) return undefined;
  return enrolmentOf(ctx, user, secret);
}

/** The unconfirmed authenticator being set up, to show again (a page reload, a wrong first code). */
export async function pendingTotpEnrolment(ctx: ServerContext, user: User): Promise<TotpEnrolment | undefined> {
  const factor = await ctx.storage.totp.find(user.id);
  if (!factor || factor.confirmedAt !== null) return undefined;
  let secret: string;
  try {
    secret = ctx.encryption.decrypt(factor.secretEnc, aad(user.id), `the TOTP secret of user ${user.id}`);
  } catch (err) {
    // Unreadable (LATCHKEY_SECRET changed): as if none were pending; a new setup replaces it.
    if (err instanceof ConfigError) return undefined;
    throw err;
  }
  return enrolmentOf(ctx, user, secret);
}

async function enrolmentOf(ctx: ServerContext, user: User, secret: string): Promise<TotpEnrolment> {
  const uri = totpFor(ctx, user, secret).toString();
  // Drawn here, as SVG: the secret never goes to a QR service.
  const qrSvg = await QRCode.toString(uri, { type: 'svg', errorCorrectionLevel: 'M', margin: 2 });
  return { secret, uri, qrSvg };
}

/**
 * Guessing codes is limited per account the way passwords are (users/authenticate-user.ts): a few
 * free failures, then a delay that doubles with each one, from all addresses together; the attempt is
 * counted before the code is checked, so parallel guesses cannot slip past; a right code clears it.
 * Authenticator codes and recovery codes share the limit.
 */
async function throttled(ctx: ServerContext, user: User, check: () => Promise<boolean>): Promise<TotpCheck> {
  const now = ctx.now();
  const key = totpThrottleKey(user.id);
  const reserved = await ctx.storage.loginThrottles.reserve(key, now, now - ACCOUNT_FAILURES_KEPT_SECONDS, accountDelaySeconds, FREE_FAILURES_PER_ACCOUNT + MAX_DOUBLINGS);
  if (!reserved.ok) return { ok: false, reason: 'rate_limited', retryAfterSeconds: reserved.retryAfterSeconds };
  // The reservation counted this attempt: more than the limit before it, and nothing is checked.
  if (reserved.failures > MAX_CONSECUTIVE_CODE_FAILURES) return { ok: false, reason: 'locked' };
  let right: boolean;
  try {
    right = await check();
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    ctx.logger.error({ user: user.id, err }, 'the authenticator secret cannot be decrypted: was LATCHKEY_SECRET changed?');
    return { ok: false, reason: 'unreadable' };
  }
  if (!right) return { ok: false, reason: 'invalid_code', failures: reserved.failures };
  await ctx.storage.loginThrottles.reset(key);
  return { ok: true };
}

/**
 * Checks an authenticator code: `confirm` for the first code of an authenticator being set up, else
 * of the confirmed one. A right code is spent: it, and any earlier one, is refused afterwards (RFC
 * 6238 §5.2).
 */
export async function checkTotpCode(ctx: ServerContext, user: User, code: string, confirm: boolean): Promise<TotpCheck> {
  return throttled(ctx, user, () => spendTotpCode(ctx, user, code, confirm));
}

/**
 * The second step of a sign-in: a 6-digit authenticator code, or one of the user's recovery codes
 * (users/recovery-codes.ts), told apart by their form. `method` says which was used.
 */
export async function checkSecondFactor(ctx: ServerContext, user: User, typed: string): Promise<(TotpCheck & { ok: false }) | { ok: true; method: 'totp' | 'recovery_code' }> {
  const recovery = normalizeRecoveryCode(typed) !== undefined;
  const check = await throttled(ctx, user, () => (recovery ? useRecoveryCode(ctx, user.id, typed) : spendTotpCode(ctx, user, typed, false)));
  return check.ok ? { ok: true, method: recovery ? 'recovery_code' : 'totp' } : check;
}

async function spendTotpCode(ctx: ServerContext, user: User, code: string, confirm: boolean): Promise<boolean> {
  const token = code.replace(/\s/g, '');
  const factor = await ctx.storage.totp.find(user.id);
  if (!/^\d{6}$/.test(token) || !factor || (factor.confirmedAt !== null) === confirm) return false;
  const totp = totpFor(ctx, user, ctx.encryption.decrypt(factor.secretEnc, aad(user.id), `the TOTP secret of user ${user.id}`));
  const now = ctx.now();
  const timestamp = now * 1000;
  const delta = totp.validate({ token, timestamp, window: WINDOW_STEPS });
  if (delta === null) return false;
  const step = totp.counter({ timestamp }) + delta;
  return ctx.storage.totp.useStep(user.id, step, now, confirm);
}
