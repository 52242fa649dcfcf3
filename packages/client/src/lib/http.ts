import { NetworkError } from '../errors.ts';

/** The shape of the global `fetch`; inject your own (a wrapper, a mock) through the options. */
export type FetchLike = (input: string | URL | Request, init?: RequestInit) => Promise<Response>;

export interface Http {
  fetch: FetchLike;
  /** Per request, in milliseconds. */
  timeoutMs: number;
}

/**
 * The fetch that oauth4webapi sends every request to the authorization server through: the
 * application's fetch, a timeout per request, redirects not followed (a token endpoint that redirects
 * is not one), and every failure to get an answer a NetworkError.
 */
export function serverFetch(http: Http): (url: string, init: RequestInit) => Promise<Response> {
  return async (url, init) => {
    try {
      return await http.fetch(url, { ...init, redirect: 'manual', signal: AbortSignal.timeout(http.timeoutMs) });
    } catch (err) {
      const reason = err instanceof Error ? err.message : String(err);
      throw new NetworkError(`${init.method ?? 'GET'} ${url} failed: ${reason}`, { cause: err });
    }
  };
}

export function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
