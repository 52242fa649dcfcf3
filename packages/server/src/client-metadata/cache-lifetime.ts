import type { IncomingHttpHeaders } from 'node:http';
import CachePolicy from 'http-cache-semantics';

export interface CacheBounds {
  /** LATCHKEY_CLIENT_METADATA_CACHE_MIN_SECONDS. */
  minSeconds: number;
  /** LATCHKEY_CLIENT_METADATA_CACHE_MAX_SECONDS. */
  maxSeconds: number;
}

/**
 * How long a fetched metadata document is used before it is fetched again, in seconds. Draft §5.2:
 * the server "SHOULD respect HTTP cache headers [RFC9111] when caching client metadata, but MAY define
 * its own upper and/or lower bounds": the freshness lifetime of RFC 9111 §4.2 (Cache-Control max-age,
 * else Expires, less the Age; a private cache, so s-maxage does not count), clamped into `bounds`.
 * `no-store`, `no-cache` and a missing lifetime all come out as the minimum.
 */
export function cacheLifetimeSeconds(url: string, headers: IncomingHttpHeaders, bounds: CacheBounds): number {
  const policy = new CachePolicy(
    { url, method: 'GET', headers: {} },
    { status: 200, headers: headers as CachePolicy.Headers },
    // No heuristic freshness (RFC 9111 §4.2.2): a document without a lifetime is refetched soonest.
    { shared: false, cacheHeuristic: 0 },
  );
  // Whole seconds; rounded, since the milliseconds since the answer arrived are not the document's age.
  const seconds = Math.round(policy.timeToLive() / 1000);
  return Math.min(bounds.maxSeconds, Math.max(bounds.minSeconds, seconds));
}
