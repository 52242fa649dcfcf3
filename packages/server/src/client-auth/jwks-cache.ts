import type { JSONWebKeySet } from 'jose';
import { usableFetchedKeys } from './client-keys.ts';
import { OutboundFetchError } from '../lib/outbound-fetch.ts';
import { fetchJwksDocument, type JwksFetchOptions } from './jwks-fetch.ts';

/** How long a fetched client JWKS is used before it is fetched again. */
export const JWKS_CACHE_SECONDS = 300; // 5 minutes
/**
 * Least time between two fetches of one client's jwks_uri, whatever the reason (an unknown `kid`, a
 * failed fetch): anyone can send an assertion naming a client, and must not make the server fetch
 * on every request.
 */
export const JWKS_REFETCH_COOLDOWN_SECONDS = 30;
/** Clients whose keys are kept at most; past that the cache starts over. */
const MAX_CACHED_CLIENTS = 1000;

interface Entry {
  fetchedAt: number;
  /** The last good set, or the failure of the last attempt. */
  result: { jwks: JSONWebKeySet } | { error: OutboundFetchError };
}

/** The keys behind each client's jwks_uri, per server: fetched through the SSRF guard, then cached. */
export class JwksUriCache {
  private readonly entries = new Map<string, Entry>();
  private readonly pending = new Map<string, Promise<Entry>>();

  private readonly fetchOptions: JwksFetchOptions;
  private readonly nowMs: () => number;

  constructor(
    fetchOptions: JwksFetchOptions,
    nowMs: () => number = Date.now,
  ) {
    this.fetchOptions = fetchOptions;
    this.nowMs = nowMs;
  }

  /** The client's keys, from the cache while fresh. Throws OutboundFetchError when they cannot be had. */
  async keys(clientId: string, uri: string): Promise<JSONWebKeySet> {
    const key = `${clientId}\n${uri}`;
    let entry = this.entries.get(key);
    const age = entry ? (this.nowMs() - entry.fetchedAt) / 1000 : Infinity;
    const fresh = entry && ('jwks' in entry.result ? age < JWKS_CACHE_SECONDS : age < JWKS_REFETCH_COOLDOWN_SECONDS);
    if (!fresh) entry = await this.fetch(key, uri);
    return unwrap(entry!);
  }

  /**
   * Fetches the keys again because an assertion named a key the cached set lacks (a rotation), unless
   * the last fetch was less than the cooldown ago. Returns undefined when it did not fetch.
   */
  async refresh(clientId: string, uri: string): Promise<JSONWebKeySet | undefined> {
    const key = `${clientId}\n${uri}`;
    const entry = this.entries.get(key);
    if (entry && (this.nowMs() - entry.fetchedAt) / 1000 < JWKS_REFETCH_COOLDOWN_SECONDS) return undefined;
    return unwrap(await this.fetch(key, uri));
  }

  /** One fetch per client at a time; concurrent callers share it. */
  private fetch(key: string, uri: string): Promise<Entry> {
    let running = this.pending.get(key);
    if (!running) {
      running = this.load(uri).finally(() => this.pending.delete(key));
      this.pending.set(key, running);
      running.then((entry) => {
        if (this.entries.size >= MAX_CACHED_CLIENTS) this.entries.clear();
        this.entries.set(key, entry);
      });
    }
    return running;
  }

  private async load(uri: string): Promise<Entry> {
    const fetchedAt = this.nowMs();
    try {
      const checked = await usableFetchedKeys(await fetchJwksDocument(uri, this.fetchOptions));
      if (!checked.ok) return { fetchedAt, result: { error: new OutboundFetchError(`jwks_uri document refused: ${checked.reason}`) } };
      return { fetchedAt, result: { jwks: checked.jwks } };
    } catch (err) {
      const error = err instanceof OutboundFetchError ? err : new OutboundFetchError(`jwks_uri fetch failed: ${(err as Error).message}`);
      return { fetchedAt, result: { error } };
    }
  }
}

function unwrap(entry: Entry): JSONWebKeySet {
  if ('error' in entry.result) throw entry.result.error;
  return entry.result.jwks;
}
