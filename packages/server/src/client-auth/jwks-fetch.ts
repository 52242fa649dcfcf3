import { checkFetchableUrl, fetchGuarded, OutboundFetchError, parseJsonBody } from '../lib/outbound-fetch.ts';

/**
 * Fetching a client's `jwks_uri` through the SSRF guard of lib/outbound-fetch.ts (docs/security.md
 * L78). Loopback (and plain http to it) only with LATCHKEY_ALLOW_LOOPBACK_JWKS_URI, for development.
 */

/** Time allowed for one fetch, DNS included. */
export const JWKS_FETCH_TIMEOUT_MS = 5000; // 5 s
/** Largest JWKS document accepted. */
export const JWKS_FETCH_MAX_BYTES = 64 * 1024; // 64 KiB
/** Longest jwks_uri registered. */
export const MAX_JWKS_URI_LENGTH = 2000;

export interface JwksFetchOptions {
  /** LATCHKEY_ALLOW_LOOPBACK_JWKS_URI: loopback addresses, and http to them, are allowed. */
  allowLoopback: boolean;
  /** LATCHKEY_OUTBOUND_CA_FILE. */
  caFile?: string | undefined;
  timeoutMs?: number;
  maxBytes?: number;
}

/**
 * Registration-time check of a jwks_uri (RFC 7591 §2: the client's JWK Set document "by reference"):
 * an absolute https URL without userinfo or fragment; http only for a loopback IP literal, which the
 * fetch then still refuses unless LATCHKEY_ALLOW_LOOPBACK_JWKS_URI is on. Returns why not, or
 * undefined.
 */
export function checkJwksUriSyntax(uri: string): string | undefined {
  return checkFetchableUrl(uri, MAX_JWKS_URI_LENGTH);
}

/**
 * Fetches and parses the JSON document at a client's jwks_uri, through the guard. Throws
 * OutboundFetchError for anything refused or failed.
 */
export async function fetchJwksDocument(uri: string, options: JwksFetchOptions): Promise<unknown> {
  const syntax = checkJwksUriSyntax(uri);
  if (syntax) throw new OutboundFetchError(`jwks_uri ${syntax}`);
  const response = await fetchGuarded(uri, {
    allowLoopback: options.allowLoopback,
    loopbackSetting: 'LATCHKEY_ALLOW_LOOPBACK_JWKS_URI',
    timeoutMs: options.timeoutMs ?? JWKS_FETCH_TIMEOUT_MS,
    maxBytes: options.maxBytes ?? JWKS_FETCH_MAX_BYTES,
    accept: 'application/jwk-set+json, application/json',
    what: 'jwks_uri',
    caFile: options.caFile,
  });
  return parseJsonBody(response, 'jwks_uri');
}
