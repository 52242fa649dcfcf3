import { safeDescription, TemporarilyUnavailable, type OAuthError } from '../errors.ts';
import { DatabaseUnavailable } from '../storage/unavailable.ts';
import { AuthorizationRedirectError } from './authorization-request.ts';

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

/**
 * Runs a step of a validated authorization request. A database that fails in it sends the browser back
 * to the client with temporarily_unavailable (RFC 6749 §4.1.2.1: the code exists "because a 503
 * Service Unavailable HTTP status code cannot be returned to the client via an HTTP redirect").
 */
export async function toClientIfUnavailable<T>(target: { redirectUri: string; state: string | undefined }, step: () => Promise<T>): Promise<T> {
  try {
    return await step();
  } catch (err) {
    if (!(err instanceof DatabaseUnavailable)) throw err;
    throw new AuthorizationRedirectError(target, new TemporarilyUnavailable('the service is temporarily unavailable; try again shortly'));
  }
}
