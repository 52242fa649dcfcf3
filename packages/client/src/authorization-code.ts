import {
  AuthorizationResponseError,
  IdTokenValidationError,
  InvalidResponseError,
  IssuerMismatchError,
  StateMismatchError,
  UnsupportedFeatureError,
} from './errors.ts';
import type { ClientCore } from './lib/client-core.ts';
import { randomValue, s256, sameString } from './lib/random.ts';
import { parseTokenResponse, type TokenSet } from './token-set.ts';

/** Parameters of the authorization request. Other members are sent as they are (`prompt`, `login_hint`, `max_age`, `resource`, ...). */
export interface AuthorizationRequestOptions {
  /** Exactly as registered for the client. */
  redirectUri: string;
  /** Space-separated, e.g. `openid profile offline_access orders:read`. */
  scope: string;
  [parameter: string]: string | readonly string[] | undefined;
}

/** What to keep (server side, or in an encrypted cookie) until the callback, and the URL to send the browser to. */
export interface PendingAuthorization {
  /** The authorization endpoint URL with every parameter: redirect the browser here. */
  url: string;
  state: string;
  nonce: string;
  codeVerifier: string;
  redirectUri: string;
  scope: string;
  /** The `max_age` sent, in seconds, when one was. */
  maxAge?: number | undefined;
}

/** What handleCallback checks the response against: the values createAuthorizationRequest returned. */
export interface CallbackExpectations {
  state: string;
  nonce: string;
  codeVerifier: string;
  redirectUri: string;
  /** The scope requested; with `openid` an ID token is required. */
  scope?: string | undefined;
  /** The `max_age` requested, in seconds: the ID token's `auth_time` is then checked. */
  maxAge?: number | undefined;
}

/** Parameters the SDK sets itself; passing them as extras is a mistake. */
const RESERVED = new Set(['response_type', 'client_id', 'redirect_uri', 'scope', 'state', 'nonce', 'code_challenge', 'code_challenge_method']);

/**
 * Builds an authorization request (RFC 6749 §4.1.1, OAuth 2.1 §4.1.1) with PKCE S256 (RFC 7636), a
 * `state` and a `nonce` of 256 bits each.
 */
export async function createAuthorizationRequest(core: ClientCore, options: AuthorizationRequestOptions): Promise<PendingAuthorization> {
  const { redirectUri, scope, ...extra } = options;
  for (const name of Object.keys(extra)) {
    if (RESERVED.has(name)) throw new TypeError(`createAuthorizationRequest sets ${name} itself; do not pass it`);
  }
  const endpoint = await core.endpoint('authorization_endpoint', 'authorization_code');
  const methods = (await core.metadata()).code_challenge_methods_supported;
  // OAuth 2.1 §4.1.1: PKCE with S256; a server that does not list it cannot be used safely.
  if (Array.isArray(methods) && !methods.includes('S256')) {
    throw new UnsupportedFeatureError('authorization_code', 'metadata', `${core.issuer} does not support PKCE with S256`);
  }
  const state = randomValue();
  const nonce = randomValue();
  const codeVerifier = randomValue();
  const url = new URL(endpoint);
  const params = url.searchParams;
  params.set('response_type', 'code');
  params.set('client_id', core.clientId);
  params.set('redirect_uri', redirectUri);
  params.set('scope', scope);
  params.set('state', state);
  params.set('nonce', nonce);
  params.set('code_challenge', s256(codeVerifier));
  params.set('code_challenge_method', 'S256');
  for (const [name, value] of Object.entries(extra)) {
    if (value === undefined) continue;
    for (const v of typeof value === 'string' ? [value] : value) params.append(name, v);
  }
  const pending: PendingAuthorization = { url: url.toString(), state, nonce, codeVerifier, redirectUri, scope };
  if (typeof extra.max_age === 'string') pending.maxAge = Number(extra.max_age);
  return pending;
}

/**
 * Completes the code flow at the redirect URI: checks `iss` (RFC 9207) and `state`, turns an `error`
 * into an AuthorizationResponseError, exchanges the code with its PKCE verifier, and validates the ID
 * token. `callbackUrl` may be relative (`req.url`): it is resolved against the redirect URI.
 */
export async function handleCallback(core: ClientCore, callbackUrl: string | URL, expected: CallbackExpectations): Promise<TokenSet> {
  const metadata = await core.metadata();
  const params = new URL(callbackUrl, expected.redirectUri).searchParams;
  for (const name of ['iss', 'state', 'code', 'error']) {
    if (params.getAll(name).length > 1) throw new InvalidResponseError(`the authorization response repeats ${name}`);
  }

  // RFC 9207 §2.4: "Clients that support this specification MUST extract the value of the iss parameter
  // from authorization responses they receive if the parameter is present. Clients MUST then decode the
  // value ... and compare the result to the issuer identifier of the authorization server where the
  // authorization request was sent to. This comparison MUST use simple string comparison". And: clients
  // "MUST reject authorization responses without the iss parameter" from servers whose metadata says
  // authorization_response_iss_parameter_supported.
  const iss = params.get('iss');
  if (iss !== null ? iss !== core.issuer : metadata.authorization_response_iss_parameter_supported === true) {
    throw new IssuerMismatchError(core.issuer, iss);
  }

  // RFC 6749 §10.12: the state binds the response to this browser's request (CSRF).
  const state = params.get('state');
  if (state === null || !sameString(state, expected.state)) {
    throw new StateMismatchError(state === null ? 'the authorization response has no state' : 'the state is not the one this login started with');
  }

  // RFC 6749 §4.1.2.1: the user denied, or the server refused the request.
  const error = params.get('error');
  if (error !== null) {
    throw new AuthorizationResponseError({
      error,
      error_description: params.get('error_description') ?? undefined,
      error_uri: params.get('error_uri') ?? undefined,
    });
  }
  const code = params.get('code');
  if (code === null || code === '') throw new InvalidResponseError('the authorization response has neither a code nor an error');

  // RFC 6749 §4.1.3 with RFC 7636 §4.5: the code, the same redirect_uri, and the PKCE verifier.
  const tokens = parseTokenResponse(
    await core.requestToken({
      grant_type: 'authorization_code',
      code,
      redirect_uri: expected.redirectUri,
      code_verifier: expected.codeVerifier,
    }),
  );
  const openid = [expected.scope, tokens.scope].some((s) => s?.split(' ').includes('openid'));
  if (tokens.idToken !== undefined) {
    tokens.idTokenClaims = await core.validateIdToken(tokens.idToken, {
      nonce: expected.nonce,
      accessToken: tokens.accessToken,
      maxAgeSeconds: expected.maxAge,
    });
  } else if (openid) {
    // OIDC Core §3.1.3.3: the token response of an openid request carries an ID token.
    throw new IdTokenValidationError('missing', 'openid was requested but the token response has no id_token');
  }
  return tokens;
}
