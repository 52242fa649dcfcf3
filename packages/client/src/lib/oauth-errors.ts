import * as oauth from 'oauth4webapi';
import { IdTokenValidationError, type IdTokenCheck, InvalidResponseError, LatchkeyClientError, OAuthError } from '../errors.ts';
import { isObject } from './http.ts';

/**
 * The SDK's error for what oauth4webapi threw while sending a request or reading its response:
 * - an RFC 6749 §5.2 error body (at any status, 5xx included) → OAuthError with the HTTP status;
 * - a challenge in WWW-Authenticate (a 401 `invalid_client` with `Basic`, a 400 with `DPoP`) → the
 *   OAuthError of its body, else of the challenge's `error`;
 * - anything else that is not the protocol (not JSON, another status) → InvalidResponseError;
 * - the SDK's own errors (NetworkError from the fetch) pass through.
 */
export async function fromOAuth4WebApi(err: unknown, what: string): Promise<unknown> {
  if (err instanceof LatchkeyClientError) return err;
  if (err instanceof oauth.ResponseBodyError) {
    const body = err.cause;
    return new OAuthError(
      { error: err.error, error_description: err.error_description, error_uri: typeof body.error_uri === 'string' ? body.error_uri : undefined },
      err.status,
    );
  }
  if (err instanceof oauth.WWWAuthenticateChallengeError) {
    const fromBody = await oauthErrorIn(err.response);
    if (fromBody) return fromBody;
    const challenge = err.cause.find((c) => typeof c.parameters.error === 'string');
    if (challenge) return new OAuthError({ error: challenge.parameters.error!, error_description: challenge.parameters.error_description }, err.status);
    return new InvalidResponseError(`${what} answered HTTP ${err.status} with a challenge and no OAuth error`, err.status);
  }
  if (err instanceof oauth.OperationProcessingError) {
    if (err.cause instanceof Response) {
      const response = err.cause;
      return (await oauthErrorIn(response)) ?? new InvalidResponseError(`${what} answered HTTP ${response.status} without an OAuth error body`, response.status);
    }
    return new InvalidResponseError(`${what}: ${err.message}`, 200);
  }
  if (err instanceof oauth.UnsupportedOperationError) return new InvalidResponseError(`${what}: ${err.message}`, 200);
  return err;
}

/** The OAuthError an unread response body carries (RFC 6749 §5.2), if any. */
async function oauthErrorIn(response: Response): Promise<OAuthError | undefined> {
  if (response.bodyUsed) return undefined;
  let body: unknown;
  try {
    body = JSON.parse(await response.text());
  } catch {
    return undefined;
  }
  if (!isObject(body) || typeof body.error !== 'string' || body.error === '') return undefined;
  return new OAuthError(
    {
      error: body.error,
      error_description: typeof body.error_description === 'string' ? body.error_description : undefined,
      error_uri: typeof body.error_uri === 'string' ? body.error_uri : undefined,
    },
    response.status,
  );
}

/** Claims whose failed check oauth4webapi names, and the check the SDK reports for each. */
const CLAIM_CHECKS: Record<string, IdTokenCheck> = {
  iss: 'iss',
  aud: 'aud',
  azp: 'azp',
  sub: 'sub',
  exp: 'exp',
  iat: 'iat',
  nbf: 'nbf',
  nonce: 'nonce',
  auth_time: 'auth_time',
};

/**
 * The IdTokenValidationError for an error oauth4webapi threw while validating an ID token inside a
 * token response (OIDC Core §3.1.3.7), or undefined when the error is not about the ID token. oauth4webapi
 * names the claim of a failed comparison or timestamp check in `cause.claim`; other checks only in its
 * message (pinned to oauth4webapi 3.8.8, and covered by test/id-token.test.ts).
 */
export function idTokenError(err: unknown): IdTokenValidationError | undefined {
  const fail = (check: IdTokenCheck) => new IdTokenValidationError(check, err instanceof Error ? err.message : String(err), { cause: err });
  if (err instanceof oauth.UnsupportedOperationError) {
    if (/JWE|crit/.test(err.message)) return fail('format');
    if (/alg|algorithm/i.test(err.message)) return fail('alg');
    return undefined;
  }
  if (!(err instanceof oauth.OperationProcessingError)) return undefined;
  const cause = err.cause as { claim?: unknown; header?: unknown; claims?: unknown } | undefined;
  switch (err.code) {
    case oauth.JWT_CLAIM_COMPARISON:
    case oauth.JWT_TIMESTAMP_CHECK: {
      const claim = typeof cause?.claim === 'string' ? cause.claim : '';
      return fail(CLAIM_CHECKS[claim] ?? 'format');
    }
    case oauth.KEY_SELECTION:
      return fail('signature');
    case oauth.PARSE_ERROR:
      return /JWT/.test(err.message) ? fail('format') : undefined;
    case oauth.INVALID_RESPONSE: {
      if (/signature verification failed/.test(err.message)) return fail('signature');
      if (/"alg" header parameter/.test(err.message)) return fail('alg');
      const claim = /JWT "(\w+)"/.exec(err.message)?.[1] ?? /ID Token "(\w+)"/.exec(err.message)?.[1];
      if (claim !== undefined) return fail(CLAIM_CHECKS[claim] ?? 'format');
      if (/Invalid JWT|JWT Header|JWT Payload/.test(err.message)) return fail('format');
      if (/"id_token" property/.test(err.message)) return fail('missing');
      return undefined;
    }
    default:
      return undefined;
  }
}
