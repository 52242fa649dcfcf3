import { nowSeconds } from './lib/clock.ts';
import { AUTHORIZATION_CODE_TTL_SECONDS } from './config/defaults.ts';
import type { ServerContext } from './context.ts';
import { ACCOUNT_FAILURES_KEPT_SECONDS } from './users/authenticate-user.ts';
import { SESSION_IDLE_SECONDS } from './users/sessions.ts';

/** Rows deleted per statement, so a purge never holds a long lock. */
const BATCH_SIZE = 500;
/**
 * Revocations are kept this long past the token's `exp`: resource servers that validate with some
 * clock leeway may still ask about a token just after it expired.
 */
export const REVOCATION_KEEP_AFTER_EXPIRY_SECONDS = 300;
/** Authorization codes are kept this long past their expiry to detect replays (OAuth 2.1 §4.1.3). */
export const CODE_KEEP_AFTER_EXPIRY_SECONDS = 600;
/** Time one run may spend per table; what is left waits for the next run. */
const RUN_BUDGET_MS = 5000;
/** A metadata-document client without a grant is kept at least this long (an hour), for flows under way. */
const UNUSED_METADATA_CLIENT_SECONDS = 3600;

/**
 * Purges what has outlived its use: revocations of tokens that have expired anyway, and retired keys
 * that left the JWKS. Bounded batches on a schedule (Hydra's tables grew without bound without one).
 */
export class Janitor {
  private timer: NodeJS.Timeout | undefined;

  private readonly ctx: ServerContext;

  constructor(ctx: ServerContext) {
    this.ctx = ctx;
  }

  start(): void {
    const seconds = this.ctx.settings.janitorIntervalSeconds;
    if (seconds === 0) return;
    this.timer = setInterval(() => {
      this.runOnce().catch((err: unknown) => this.ctx.logger.warn({ err }, 'janitor run failed'));
    }, seconds * 1000);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
  }

  async runOnce(now = nowSeconds()): Promise<{ revocations: number; opaqueTokens: number; keys: number; registrations: number }> {
    const { storage } = this.ctx;
    const revocations = await drain((limit) => storage.revocations.purgeExpired(now - REVOCATION_KEEP_AFTER_EXPIRY_SECONDS, limit));
    const opaqueTokens = await drain((limit) => storage.opaqueTokens.purgeExpired(now, limit));
    // Codes are kept a while past their expiry, so a late replay is still recognised as one.
    await drain((limit) => storage.grants.purgeExpiredCodes(now - CODE_KEEP_AFTER_EXPIRY_SECONDS, limit));
    await drain((limit) => storage.sessions.purge(now, now - SESSION_IDLE_SECONDS, limit));
    await drain((limit) => storage.refreshTokens.purgeExpired(now, limit));
    // Rotated refresh tokens past their grace window, with the sealed responses they kept for it.
    await drain((limit) => storage.refreshTokens.purgeForgotten(now, limit));
    await drain((limit) => storage.deviceCodes.purgeExpired(now - CODE_KEEP_AFTER_EXPIRY_SECONDS, limit));
    // Mail links a day past their expiry; sent and given-up mail (bodies already gone) after a week.
    await drain((limit) => storage.emailLinks.purgeExpired(now - 24 * 3600, limit));
    await drain((limit) => storage.mailOutbox.purgeDone(now - 7 * 24 * 3600, limit));
    await drain((limit) => storage.grants.purgeExpiredAccessTokens(now, limit));
    // A grant with nothing left to issue goes once its codes' replay window has passed too.
    await drain((limit) => storage.grants.purgeSpent(now, CODE_KEEP_AFTER_EXPIRY_SECONDS + AUTHORIZATION_CODE_TTL_SECONDS, limit));
    // Counters of windows that ended a day ago count nothing any more.
    await drain((limit) => storage.rateLimits.purgeBefore(now - 24 * 3600, limit));
    // Account sign-in failures, once they are no longer counted.
    await drain((limit) => storage.loginThrottles.purgeBefore(now - ACCOUNT_FAILURES_KEPT_SECONDS, limit));
    // Client assertion jti values, once the assertions carrying them have expired.
    await drain((limit) => storage.replays.purgeExpired(now, limit));
    // Pushed authorization requests whose request_uri expired unused (RFC 9126 §2.2).
    await drain((limit) => storage.pushedRequests.purgeExpired(now, limit));
    // Client metadata documents past their cache lifetime; they are fetched again when next used.
    await drain((limit) => storage.clientMetadata.purgeExpired(now, limit));
    // Their clients too, when unused: a client_id URL seen once and never granted anything.
    const metadataClients = await drain((limit) => storage.clientMetadata.purgeUnusedClients(now - UNUSED_METADATA_CLIENT_SECONDS, limit));
    if (metadataClients > 0) this.ctx.logger.info({ metadataClients }, 'janitor deleted unused metadata-document clients');
    // Self-registered clients that never obtained a token (RFC 7591 §5: abandoned registrations).
    const unusedTtl = this.ctx.settings.registrationUnusedTtlSeconds;
    const registrations = unusedTtl === 0 ? 0 : await drain((limit) => storage.registrations.purgeUnused(now - unusedTtl, now, limit));
    if (registrations > 0) this.ctx.logger.info({ registrations }, 'janitor deleted unused client registrations');
    const keys = await storage.signingKeys.purgeExpired(now, BATCH_SIZE);
    if (revocations + opaqueTokens + keys > 0) this.ctx.logger.info({ revocations, opaqueTokens, keys }, 'janitor purged expired rows');
    return { revocations, opaqueTokens, keys, registrations };
  }
}

/**
 * Deletes in batches until a batch comes back short, so the purge keeps up with any issuance rate,
 * yielding to requests between batches; stops after RUN_BUDGET_MS and goes on at the next run.
 */
async function drain(purge: (limit: number) => Promise<number>): Promise<number> {
  const started = Date.now();
  let total = 0;
  for (;;) {
    const n = await purge(BATCH_SIZE);
    total += n;
    if (n < BATCH_SIZE || Date.now() - started > RUN_BUDGET_MS) return total;
    await new Promise((resolve) => setImmediate(resolve));
  }
}
