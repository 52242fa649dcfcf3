import { checkFetchableUrl } from '../lib/outbound-fetch.ts';
import type { ClientType } from './types.ts';

/** Longest `backchannel_logout_uri`. */
export const MAX_BACKCHANNEL_LOGOUT_URI_LENGTH = 2000;

/**
 * Back-Channel Logout §2.2 `backchannel_logout_uri`: "This URL SHOULD use the https scheme ...; however,
 * it MAY use the http scheme, provided that the Client Type is confidential ... and provided the OP
 * allows the use of http RP URIs", and "MUST NOT include a fragment component". Latchkey allows http
 * only to a loopback IP literal, and delivers there only with LATCHKEY_ALLOW_LOOPBACK_BACKCHANNEL_LOGOUT
 * (the guarded fetcher refuses it otherwise, lib/outbound-fetch.ts). No userinfo, spaces or controls.
 * Returns why not, or undefined.
 */
export function checkBackchannelLogoutUri(uri: string, type: ClientType): string | undefined {
  const problem = checkFetchableUrl(uri, MAX_BACKCHANNEL_LOGOUT_URI_LENGTH);
  if (problem) return problem;
  if (uri.toLowerCase().startsWith('http:') && type !== 'confidential') return 'may use http only for a confidential client (Back-Channel Logout §2.2)';
  return undefined;
}
