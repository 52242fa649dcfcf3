import { createHash } from 'node:crypto';
import type { AccessTokenClaims } from '../claims.ts';

/** Entries kept at most; past it the oldest goes. Only active results are cached, so this is generous. */
const MAX_ENTRIES = 10_000;

/**
 * Active introspection results, keyed by the SHA-256 of the token, never the token itself (a heap
 * dump or a debugger shows no usable token). An entry lives `cacheSeconds`, and never past the
 * token's `exp` (RFC 7662 §4: a cached response must not outlive the token).
 */
export class IntrospectionCache {
  private readonly entries = new Map<string, { claims: AccessTokenClaims; untilMs: number }>();

  private readonly cacheSeconds: number;

  constructor(cacheSeconds: number) {
    this.cacheSeconds = cacheSeconds;
  }

  get(token: string): AccessTokenClaims | undefined {
    const key = hashToken(token);
    const entry = this.entries.get(key);
    if (!entry) return undefined;
    if (Date.now() >= entry.untilMs) {
      this.entries.delete(key);
      return undefined;
    }
    return entry.claims;
  }

  set(token: string, claims: AccessTokenClaims): void {
    if (this.cacheSeconds === 0) return;
    const untilMs = Math.min(Date.now() + this.cacheSeconds * 1000, claims.exp * 1000);
    if (untilMs <= Date.now()) return;
    if (this.entries.size >= MAX_ENTRIES) this.entries.delete(this.entries.keys().next().value!);
    this.entries.set(hashToken(token), { claims, untilMs });
  }

  /** The keys held (hashes), for tests. */
  keys(): string[] {
    return [...this.entries.keys()];
  }
}

export function hashToken(token: string): string {
  return createHash('sha256').update(token).digest('base64url');
}
