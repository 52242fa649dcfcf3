import { InvalidResponseError, OAuthError, UnsupportedFeatureError } from './errors.ts';
import * as oauth from 'oauth4webapi';
import type { ClientCore } from './lib/client-core.ts';
import { formParameters } from './refresh.ts';

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
  /** `Bearer`, `DPoP` (bound to the client's DPoP key), or `N_A` when the issued token is not an access token. */
  tokenType: string;
  expiresIn?: number | undefined;
  /** In seconds since the epoch. */
  expiresAt?: number | undefined;
  scope?: string | undefined;
  refreshToken?: string | undefined;
}

/** RFC 8693 §2.1: exchanges a token for another (impersonation or delegation). With DPoP, with a proof (RFC 9449 §5). */
export async function exchangeToken(core: ClientCore, request: TokenExchangeRequest): Promise<ExchangedToken> {
  // RFC 8693 §2.1: actor_token_type "is REQUIRED when the actor_token parameter is present in the
  // request but MUST NOT be included otherwise".
  if ((request.actorToken === undefined) !== (request.actorTokenType === undefined)) {
    throw new TypeError('exchangeToken: actorToken and actorTokenType go together');
  }
  const what = 'the token endpoint (token exchange)';
  const parameters = formParameters({
    subject_token: request.subjectToken,
    subject_token_type: request.subjectTokenType,
    actor_token: request.actorToken,
    actor_token_type: request.actorTokenType,
    audience: request.audience,
    resource: request.resource,
    scope: request.scope,
    requested_token_type: request.requestedTokenType,
  });
  let body: oauth.TokenEndpointResponse;
  try {
    body = await core.call(
      what,
      ({ as, client, auth, options }) => oauth.genericTokenEndpointRequest(as, client, auth, TOKEN_EXCHANGE_GRANT_TYPE, parameters, options),
      // RFC 8693 §2.2.1: token_type is `N_A` when the issued token is not an access token.
      ({ as, client }, response) => oauth.processGenericTokenEndpointResponse(as, client, response, { recognizedTokenTypes: { n_a: () => {} } }),
    );
  } catch (err) {
    if (err instanceof OAuthError && err.error === 'unsupported_grant_type') {
      throw new UnsupportedFeatureError('token_exchange', 'server', `${core.issuer} does not support token exchange (it answered unsupported_grant_type)`, {
        cause: err,
      });
    }
    throw err;
  }
  const issuedTokenType = body.issued_token_type;
  if (typeof issuedTokenType !== 'string' || issuedTokenType === '') {
    throw new InvalidResponseError(`${what} answered without issued_token_type`, 200);
  }
  const expiresIn = body.expires_in === undefined ? undefined : Math.floor(body.expires_in);
  return {
    accessToken: body.access_token,
    issuedTokenType,
    tokenType: TOKEN_TYPE_NAMES[body.token_type] ?? body.token_type,
    expiresIn,
    expiresAt: expiresIn === undefined ? undefined : Math.floor(Date.now() / 1000) + expiresIn,
    scope: body.scope,
    refreshToken: body.refresh_token,
  };
}

/** RFC 6749 §7.1: token types are case insensitive (oauth4webapi lowercases them); their usual spelling. */
const TOKEN_TYPE_NAMES: Record<string, string> = { bearer: 'Bearer', dpop: 'DPoP', n_a: 'N_A' };
