import { InvalidResponseError, OAuthError, UnsupportedFeatureError } from './errors.ts';
import type { ClientCore } from './lib/client-core.ts';
import { optionalLifetime, optionalString } from './token-set.ts';

/** RFC 8693 §2.1: the grant type of a token exchange. */
export const TOKEN_EXCHANGE_GRANT_TYPE = 'urn:ietf:params:oauth:grant-type:token-exchange';

/** RFC 8693 §3: token type identifiers. */
export const TOKEN_TYPES = {
  accessToken: 'urn:ietf:params:oauth:token-type:access_token',
  refreshToken: 'urn:ietf:params:oauth:token-type:refresh_token',
  idToken: 'urn:ietf:params:oauth:token-type:id_token',
  jwt: 'urn:ietf:params:oauth:token-type:jwt',
} as const;

export interface TokenExchangeRequest {
  /** The token that represents the party on whose behalf the request is made. */
  subjectToken: string;
  /** Its type, e.g. `TOKEN_TYPES.accessToken`. */
  subjectTokenType: string;
  /** The token of the party acting (delegation, RFC 8693 §1.1). */
  actorToken?: string | undefined;
  /** Its type; required with `actorToken`. */
  actorTokenType?: string | undefined;
  /** Logical names of the target services. */
  audience?: string | readonly string[] | undefined;
  /** URIs of the target services (RFC 8707). */
  resource?: string | readonly string[] | undefined;
  scope?: string | undefined;
  requestedTokenType?: string | undefined;
}

/** RFC 8693 §2.2.1: the issued token. */
export interface ExchangedToken {
  /** The issued token (named access_token even when it is another kind). */
  accessToken: string;
  /** What was issued, e.g. `TOKEN_TYPES.accessToken`. */
  issuedTokenType: string;
  /** `Bearer`, or `N_A` when the issued token is not an access token. */
  tokenType: string;
  expiresIn?: number | undefined;
  /** In seconds since the epoch. */
  expiresAt?: number | undefined;
  scope?: string | undefined;
  refreshToken?: string | undefined;
}

/** RFC 8693 §2.1: exchanges a token for another (impersonation or delegation). */
export async function exchangeToken(core: ClientCore, request: TokenExchangeRequest): Promise<ExchangedToken> {
  // RFC 8693 §2.1: actor_token_type "is REQUIRED when the actor_token parameter is present in the
  // request but MUST NOT be included otherwise".
  if ((request.actorToken === undefined) !== (request.actorTokenType === undefined)) {
    throw new TypeError('exchangeToken: actorToken and actorTokenType go together');
  }
  let body: Record<string, unknown>;
  try {
    body = await core.requestToken({
      grant_type: TOKEN_EXCHANGE_GRANT_TYPE,
      subject_token: request.subjectToken,
      subject_token_type: request.subjectTokenType,
      actor_token: request.actorToken,
      actor_token_type: request.actorTokenType,
      audience: request.audience,
      resource: request.resource,
      scope: request.scope,
      requested_token_type: request.requestedTokenType,
    });
  } catch (err) {
    if (err instanceof OAuthError && err.error === 'unsupported_grant_type') {
      throw new UnsupportedFeatureError('token_exchange', 'server', `${core.issuer} does not support token exchange (it answered unsupported_grant_type)`, {
        cause: err,
      });
    }
    throw err;
  }
  const what = 'the token endpoint (token exchange)';
  const accessToken = optionalString(body, 'access_token', what);
  const issuedTokenType = optionalString(body, 'issued_token_type', what);
  const tokenType = optionalString(body, 'token_type', what);
  if (accessToken === undefined || issuedTokenType === undefined || tokenType === undefined) {
    throw new InvalidResponseError(`${what} answered without access_token, issued_token_type or token_type`, 200);
  }
  const expiresIn = optionalLifetime(body.expires_in, what);
  return {
    accessToken,
    issuedTokenType,
    tokenType,
    expiresIn,
    expiresAt: expiresIn === undefined ? undefined : Math.floor(Date.now() / 1000) + expiresIn,
    scope: optionalString(body, 'scope', what),
    refreshToken: optionalString(body, 'refresh_token', what),
  };
}
