import type { RateLimit } from '../config/defaults.ts';

/** Buckets kept at most; past it, full (idle) buckets are dropped, and if none are, the oldest. */
const MAX_BUCKETS = 100_000;

interface Bucket {
  tokens: number;
  updatedMs: number;
}

/**
 * One token bucket per client_id: each request takes a token; tokens come back at `requestsPerSecond`
 * up to `burst`. The limits may change on a configuration reload; the buckets stay.
 */
export class RateLimiter {
  private readonly buckets = new Map<string, Bucket>();

  private limits: RateLimit & { clients: Record<string, RateLimit> };
  private readonly now: () => number;

  constructor(
    limits: RateLimit & { clients: Record<string, RateLimit> },
    now: () => number = Date.now,
  ) {
    this.limits = limits;
    this.now = now;
  }

  update(limits: RateLimit & { clients: Record<string, RateLimit> }): void {
    this.limits = limits;
  }

  /** Takes a token for `clientId`: undefined if allowed, else the seconds until one is available. */
  take(clientId: string): number | undefined {
    const limit = this.limitFor(clientId);
    const now = this.now();
    let bucket = this.buckets.get(clientId);
    if (!bucket) {
      if (this.buckets.size >= MAX_BUCKETS) this.evict(now);
      bucket = { tokens: limit.burst, updatedMs: now };
      this.buckets.set(clientId, bucket);
    }
    bucket.tokens = Math.min(limit.burst, bucket.tokens + ((now - bucket.updatedMs) / 1000) * limit.requestsPerSecond);
    bucket.updatedMs = now;
    if (bucket.tokens >= 1) {
      bucket.tokens -= 1;
      return undefined;
    }
    return Math.max(1, Math.ceil((1 - bucket.tokens) / limit.requestsPerSecond));
  }

  private limitFor(clientId: string): RateLimit {
    return Object.hasOwn(this.limits.clients, clientId) ? this.limits.clients[clientId]! : this.limits;
  }

  private evict(now: number): void {
    for (const [clientId, bucket] of this.buckets) {
      const limit = this.limitFor(clientId);
      if (bucket.tokens + ((now - bucket.updatedMs) / 1000) * limit.requestsPerSecond >= limit.burst) this.buckets.delete(clientId);
    }
    if (this.buckets.size >= MAX_BUCKETS) this.buckets.delete(this.buckets.keys().next().value!);
  }
}
