import { checkFetchableUrl } from '../lib/outbound-fetch.ts';

/**
 * Client Identifier URLs (draft-ietf-oauth-client-id-metadata-document §3): a client_id that is the
 * https URL of the client's own metadata document.
 */

/**
 * Longest client_id URL accepted: every client_id column (grants, consents, tokens) holds 128
 * characters, and the draft recommends a short URL (§3: "A short URL is RECOMMENDED").
 */
export const MAX_CLIENT_ID_URL_LENGTH = 128;

/**
 * Whether a client_id is meant as a Client Identifier URL. No other client_id can look like one: the
 * registry's ids have neither `:` nor `/` (draft §7.1: generated ids must "not start with https://").
 */
export function isClientIdUrl(clientId: string): boolean {
  return /^https?:\/\//i.test(clientId);
}

/**
 * Checks a Client Identifier URL against draft §3, before anything is resolved or fetched. Plain http
 * (to a loopback IP literal) only with `allowLoopback` (LATCHKEY_ALLOW_LOOPBACK_CLIENT_METADATA).
 * Returns why not, or undefined.
 */
export function checkClientIdUrl(clientId: string, allowLoopback: boolean): string | undefined {
  const problem = checkFetchableUrl(clientId, MAX_CLIENT_ID_URL_LENGTH);
  if (problem) return problem;
  // §3: "MUST use the https URL scheme". Written in lower case: the URL is compared as a string.
  if (!clientId.startsWith('https://') && !(allowLoopback && clientId.startsWith('http://'))) {
    return 'must use the https scheme (http to loopback only with LATCHKEY_ALLOW_LOOPBACK_CLIENT_METADATA, in development)';
  }
  // A URI holds printable ASCII only (RFC 3986 §2); anything else would be encoded before the fetch.
  if (/[^\x21-\x7e]/.test(clientId)) return 'must be written in printable ASCII (percent-encode the rest)';
  // §3: "MUST contain a path component".
  const path = /^https?:\/\/[^/?#]*(\/[^?#]*)?/.exec(clientId)?.[1];
  if (path === undefined) return 'must contain a path (https://client.example/metadata.json)';
  // §3: "MUST NOT contain single-dot or double-dot path components" (in any spelling, RFC 3986 §2.3).
  const segments = path.split('/').map((s) => s.replace(/%2e/gi, '.'));
  if (segments.some((s) => s === '.' || s === '..')) return 'must not contain . or .. path segments';
  // §3: the userinfo, fragment and port rules are checkFetchableUrl's; a query "SHOULD NOT" be there,
  // so one is allowed.
  return undefined;
}
