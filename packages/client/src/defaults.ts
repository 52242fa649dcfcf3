/**
 * Every default of the SDK, in one place, with its unit in its name. Each option that takes one of
 * these values says so in its TSDoc.
 */
export const DEFAULTS = {
  /** RFC 9126: push authorization requests when the server requires it (`auto`), or `always`, or `never`. */
  par: 'auto',
  /** How long one HTTP request to the authorization server may take. */
  requestTimeoutMs: 10_000,
  /** Clock skew tolerated when checking an ID token's `exp`, `iat` and `auth_time`. */
  clockToleranceSeconds: 30,
  /** A user's access token is refreshed this long before it expires (at most half its lifetime). */
  sessionRefreshMarginSeconds: 30,
  /** A client-credentials token is replaced this long before it expires (at most half its lifetime). */
  clientCredentialsRefreshMarginSeconds: 60,
  /** Attempts of one client-credentials token request, the first included, on 5xx and network errors. */
  retryMaxAttempts: 4,
  /** Backoff before the second attempt; doubled for each next one, then jittered to 50-100 %. */
  retryBaseDelayMs: 200,
  /** Longest backoff between two attempts. */
  retryMaxDelayMs: 5_000,
  /** RFC 8628 §3.2: the polling interval when the server names none. */
  deviceIntervalSeconds: 5,
  /** RFC 8628 §3.5: added to the polling interval at each `slow_down`. */
  deviceSlowDownSeconds: 5,
  /** BFF: how long a login may take between the redirect to the server and the callback. */
  bffLoginMaxAgeSeconds: 10 * 60,
  /** BFF: lifetime of the session cookie (Latchkey's refresh-token family lives 30 days by default). */
  bffSessionMaxAgeSeconds: 30 * 24 * 3600,
  /** BFF: how long a request with the previous session cookie still gets the rotated tokens. */
  bffRotationOverlapSeconds: 30,
} as const;
