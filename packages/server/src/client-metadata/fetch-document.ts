import type { Settings } from '../config/defaults.ts';
import { fetchGuarded, OutboundFetchError, parseJsonBody } from '../lib/outbound-fetch.ts';
import { cacheLifetimeSeconds } from './cache-lifetime.ts';
import { ClientMetadataError } from './errors.ts';

/** Largest document read: draft §8.7, "The recommended maximum size to read is 5 kilobytes." */
export const METADATA_DOCUMENT_MAX_BYTES = 5 * 1024; // 5 KiB
/** Time allowed for one fetch, DNS included. */
export const METADATA_DOCUMENT_TIMEOUT_MS = 5000; // 5 s

export interface FetchedDocument {
  /** The parsed body, not yet checked. */
  document: unknown;
  /** How long it may be used, from its cache headers within the configured bounds. */
  lifetimeSeconds: number;
}

type FetchSettings = Pick<Settings, 'allowLoopbackClientMetadata' | 'clientMetadataCacheMinSeconds' | 'clientMetadataCacheMaxSeconds'> &
  Partial<Pick<Settings, 'outboundCaFile'>>;

/**
 * Fetches the document at a client_id URL through the SSRF guard (draft §8.6, lib/outbound-fetch.ts).
 * §5: "The authorization server MUST NOT automatically follow HTTP redirects", and any status but 200
 * is an error. Throws ClientMetadataError for anything refused or failed. `limits` are for tests.
 */
export async function fetchMetadataDocument(
  clientId: string,
  settings: FetchSettings,
  limits: { timeoutMs?: number; maxBytes?: number } = {},
): Promise<FetchedDocument> {
  try {
    const response = await fetchGuarded(clientId, {
      allowLoopback: settings.allowLoopbackClientMetadata,
      loopbackSetting: 'LATCHKEY_ALLOW_LOOPBACK_CLIENT_METADATA',
      timeoutMs: limits.timeoutMs ?? METADATA_DOCUMENT_TIMEOUT_MS,
      maxBytes: limits.maxBytes ?? METADATA_DOCUMENT_MAX_BYTES,
      accept: 'application/json',
      what: 'client_id',
      caFile: settings.outboundCaFile,
    });
    return {
      document: parseJsonBody(response, 'client_id'),
      lifetimeSeconds: cacheLifetimeSeconds(clientId, response.headers, {
        minSeconds: settings.clientMetadataCacheMinSeconds,
        maxSeconds: settings.clientMetadataCacheMaxSeconds,
      }),
    };
  } catch (err) {
    if (err instanceof OutboundFetchError) throw new ClientMetadataError(err.message);
    throw err;
  }
}
