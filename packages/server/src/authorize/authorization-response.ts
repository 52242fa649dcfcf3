import { safeDescription, type OAuthError } from '../errors.ts';

/**
 * The URL that sends the browser back to the client (RFC 6749 §4.1.2 and §4.1.2.1): the registered
 * redirect URI with `code` or `error` added to its query, `state` exactly as sent (absent when not
 * sent, docs/security.md A13), and RFC 9207's `iss` in every response, success or error (docs/security.md A12).
 */
export function authorizationResponseUrl(
  redirectUri: string,
  issuer: string,
  state: string | undefined,
  result: { code: string } | { error: OAuthError },
): string {
  const url = new URL(redirectUri);
  if ('code' in result) {
    url.searchParams.append('code', result.code);
  } else {
    url.searchParams.append('error', result.error.error);
    url.searchParams.append('error_description', safeDescription(result.error.description));
  }
  if (state !== undefined) url.searchParams.append('state', state);
  url.searchParams.append('iss', issuer);
  return url.toString();
}
