import { randomInt } from 'node:crypto';
import { InvalidResponseError, NetworkError, OAuthError } from '../errors.ts';

export interface RetryOptions {
  /** Attempts in all, the first included (1 = no retry). */
  maxAttempts?: number;
  /** Backoff before the second attempt, in milliseconds; doubled for each next one. */
  baseDelayMs?: number;
  /** Longest backoff, in milliseconds. */
  maxDelayMs?: number;
}

/**
 * Whether a failure is worth another attempt: a network error or a 5xx answer. Never a 4xx: the
 * request itself is wrong (bad credentials, bad scope) and would fail again.
 */
export function isTransient(err: unknown): boolean {
  if (err instanceof NetworkError) return true;
  if (err instanceof OAuthError || err instanceof InvalidResponseError) return err.status !== undefined && err.status >= 500;
  return false;
}

/** Runs `operation` until it succeeds, fails for good, or the attempts are spent, with jittered exponential backoff. */
export async function withRetry<T>(operation: () => Promise<T>, options: Required<RetryOptions>): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await operation();
    } catch (err) {
      if (attempt >= options.maxAttempts || !isTransient(err)) throw err;
      await sleep(backoffMs(attempt, options));
    }
  }
}

/** Exponential backoff with "equal jitter": half the delay fixed, half random, so retries of many callers spread out. */
export function backoffMs(attempt: number, options: Required<RetryOptions>): number {
  const ceiling = Math.min(options.maxDelayMs, options.baseDelayMs * 2 ** (attempt - 1));
  return ceiling / 2 + randomInt(0, Math.floor(ceiling / 2) + 1);
}

/** Waits `ms`; rejects with the signal's reason when it is aborted. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal?.reason);
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
