import { createHash } from 'node:crypto';

/**
 * A bounded map whose entries expire: the exchanged tokens and the gateway's own JWTs, kept under the
 * SHA-256 of the caller's token (never the token itself). Past `maxEntries`, the oldest entry goes.
 */
export class TtlCache<T> {
  private readonly entries = new Map<string, { value: T; untilMs: number }>();

  private readonly maxEntries: number;

  constructor(maxEntries: number) {
    this.maxEntries = maxEntries;
  }

  get(key: string): T | undefined {
    const entry = this.entries.get(key);
    if (!entry) return undefined;
    if (Date.now() >= entry.untilMs) {
      this.entries.delete(key);
      return undefined;
    }
    return entry.value;
  }

  /** Keeps `value` until `untilMs` (nothing is kept when that is already past). */
  set(key: string, value: T, untilMs: number): void {
    if (untilMs <= Date.now()) return;
    this.entries.delete(key);
    if (this.entries.size >= this.maxEntries) this.entries.delete(this.entries.keys().next().value!);
    this.entries.set(key, { value, untilMs });
  }
}

/** The cache key of a token: its SHA-256, base64url. */
export function tokenHash(token: string): string {
  return createHash('sha256').update(token).digest('base64url');
}
