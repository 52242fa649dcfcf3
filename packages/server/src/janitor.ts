import type { ServerContext } from './context.ts';

/** Rows deleted per statement, so a purge never holds a long lock. */
const BATCH_SIZE = 500;
/**
 * Revocations are kept this long past the token's `exp`: resource servers that validate with some
 * clock leeway may still ask about a token just after it expired.
 */
export const REVOCATION_KEEP_AFTER_EXPIRY_SECONDS = 300;
/** Batches per run at most; the rest waits for the next run. */
const MAX_BATCHES_PER_RUN = 20;

/**
 * Purges what has outlived its use: revocations of tokens that have expired anyway, and retired keys
 * that left the JWKS. Bounded batches on a schedule (Hydra's tables grew without bound without one).
 */
export class Janitor {
  private timer: NodeJS.Timeout | undefined;

  constructor(private readonly ctx: ServerContext) {}

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

  async runOnce(now = Math.floor(Date.now() / 1000)): Promise<{ revocations: number; opaqueTokens: number; keys: number }> {
    let revocations = 0;
    for (let i = 0; i < MAX_BATCHES_PER_RUN; i++) {
      const n = await this.ctx.storage.revocations.purgeExpired(now - REVOCATION_KEEP_AFTER_EXPIRY_SECONDS, BATCH_SIZE);
      revocations += n;
      if (n < BATCH_SIZE) break;
    }
    let opaqueTokens = 0;
    for (let i = 0; i < MAX_BATCHES_PER_RUN; i++) {
      const n = await this.ctx.storage.opaqueTokens.purgeExpired(now, BATCH_SIZE);
      opaqueTokens += n;
      if (n < BATCH_SIZE) break;
    }
    const keys = await this.ctx.storage.signingKeys.purgeExpired(now, BATCH_SIZE);
    if (revocations + opaqueTokens + keys > 0) this.ctx.logger.info({ revocations, opaqueTokens, keys }, 'janitor purged expired rows');
    return { revocations, opaqueTokens, keys };
  }
}
