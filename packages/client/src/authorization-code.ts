import * as oauth from 'oauth4webapi';
import {
  AuthorizationResponseError,
  IdTokenValidationError,
  InvalidResponseError,
  IssuerMismatchError,
  StateMismatchError,
  UnsupportedFeatureError,
} from './errors.ts';
import type { ServerMetadata } from './discovery.ts';
import type { ClientCore } from './lib/client-core.ts';
import type { TokenSet } from './token-set.ts';

/**
 * Parameters of the authorization request. Other members, strings or arrays of strings, are sent as they
 * are (`prompt`, `login_hint`, `resource`, ...).
 */
export interface AuthorizationRequestOptions {
  /** Exactly as registered for the client. */
  redirectUri: string;
  /** Space-separated, e.g. `openid profile offline_access orders:read`. */
  scope: string;
  /**
   * OIDC Core §3.1.2.1 `acr_values`: the authentication context classes wanted, in order of preference
   * (an array, or space-separated). Voluntary for the server: the ID token's `acr` says what it did,
   * and `requireAcr` refuses anything else. (`acr_values` as a string works too.)
   */
  acrValues?: string | readonly string[] | undefined;
  /**
   * OIDC Core §3.1.2.1 `max_age`: the most seconds since the user last authenticated (0: now). The ID
   * token's `auth_time` is then required and checked (§3.1.3.7 item 13). (`max_age` as a string works too.)
   */
  maxAge?: number | undefined;
  /**
   * Refuse the login (IdTokenValidationError, check `acr`) when the ID token's `acr` is not one of
   * `acrValues` (§3.1.3.7 item 12). Default false: the server may satisfy acr_values or not.
   */
  requireAcr?: boolean | undefined;
  [parameter: string]: string | readonly string[] | number | boolean | undefined;
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
  /** The `acr_values` sent, when they were. */
  acrValues?: string[] | undefined;
  /** Whether the ID token's `acr` must be one of `acrValues`. */
  requireAcr?: boolean | undefined;
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
  /** The `acr_values` requested. */
  acrValues?: readonly string[] | undefined;
  /** The ID token's `acr` must be one of `acrValues`. */
  requireAcr?: boolean | undefined;
}

/** Parameters the SDK sets itself; passing them as extras is a mistake. */
const RESERVED = new Set([
  'response_type',
  'client_id',
  'redirect_uri',
  'scope',
  'state',
  'nonce',
  'code_challenge',
  'code_challenge_method',
  'request_uri',
  'dpop_jkt',
]);

/**
 * Builds an authorization request (RFC 6749 §4.1.1, OAuth 2.1 §4.1.1) with PKCE S256 (RFC 7636), a
 * `state` and a `nonce` of 256 bits each, and with DPoP on, `dpop_jkt` (RFC 9449 §10). With PAR (RFC
 * 9126) the parameters are pushed to the server first, and the URL carries only `client_id` and the
 * `request_uri` it answered (§4).
 */
export async function createAuthorizationRequest(core: ClientCore, options: AuthorizationRequestOptions): Promise<PendingAuthorization> {
  const { redirectUri, scope, acrValues: acrOption, maxAge: maxAgeOption, requireAcr, ...rest } = options;
  const extra: Record<string, string | readonly string[]> = {};
  for (const [name, value] of Object.entries(rest)) {
    if (RESERVED.has(name)) throw new TypeError(`createAuthorizationRequest sets ${name} itself; do not pass it`);
    if (value === undefined) continue;
    if (typeof value !== 'string' && !(Array.isArray(value) && value.every((v) => typeof v === 'string'))) {
      throw new TypeError(`the authorization request parameter ${name} must be a string or an array of strings`);
    }
    extra[name] = value;
  }
  const { acrValues, maxAge } = authenticationRequirements(extra, acrOption, maxAgeOption);
  if (requireAcr === true && acrValues === undefined) throw new TypeError('requireAcr needs acrValues');
  const endpoint = await core.endpoint('authorization_endpoint', 'authorization_code');
  const metadata = await core.metadata();
  // OAuth 2.1 §4.1.1: PKCE with S256; a server that does not list it cannot be used safely.
  const methods = metadata.code_challenge_methods_supported;
  if (Array.isArray(methods) && !methods.includes('S256')) {
    throw new UnsupportedFeatureError('authorization_code', 'metadata', `${core.issuer} does not support PKCE with S256`);
  }
  const state = oauth.generateRandomState();
  const nonce = oauth.generateRandomNonce();
  const codeVerifier = oauth.generateRandomCodeVerifier();
  const params = new URLSearchParams();
  params.set('response_type', 'code');
  params.set('client_id', core.clientId);
  params.set('redirect_uri', redirectUri);
  params.set('scope', scope);
  params.set('state', state);
  params.set('nonce', nonce);
  params.set('code_challenge', await oauth.calculatePKCECodeChallenge(codeVerifier));
  params.set('code_challenge_method', 'S256');
  // RFC 9449 §10: the code can be redeemed only with a proof by this key.
  if (core.dpop) params.set('dpop_jkt', await core.dpop.thumbprint());
  for (const [name, value] of Object.entries(extra)) {
    if (value === undefined) continue;
    for (const v of typeof value === 'string' ? [value] : value) params.append(name, v);
  }
  const url = new URL(endpoint);
  if (await usePar(core, metadata)) {
    const { request_uri } = await core.call(
      'the pushed authorization request endpoint',
      ({ as, client, auth, options }) => oauth.pushedAuthorizationRequest(as, client, auth, params, options),
      ({ as, client }, response) => oauth.processPushedAuthorizationResponse(as, client, response),
    );
    // RFC 9126 §4: "The client uses the request_uri value returned by the authorization server to build
    // an authorization request as a URI".
    url.searchParams.set('client_id', core.clientId);
    url.searchParams.set('request_uri', request_uri);
  } else {
    for (const [name, value] of params) url.searchParams.append(name, value);
  }
  const pending: PendingAuthorization = { url: url.toString(), state, nonce, codeVerifier, redirectUri, scope };
  if (maxAge !== undefined) pending.maxAge = maxAge;
  if (acrValues !== undefined) pending.acrValues = acrValues;
  if (requireAcr === true) pending.requireAcr = true;
  return pending;
}

/**
 * OIDC Core §3.1.2.1 `acr_values` ("space-separated string that specifies the acr values ... in order of
 * preference") and `max_age` ("Maximum Authentication Age ... in seconds"), from the options or from the
 * parameters as the server names them (not both), checked and written into `extra` as parameters.
 */
function authenticationRequirements(
  extra: Record<string, string | readonly string[]>,
  acrOption: AuthorizationRequestOptions['acrValues'],
  maxAgeOption: number | undefined,
): { acrValues: string[] | undefined; maxAge: number | undefined } {
  if (acrOption !== undefined && extra.acr_values !== undefined) throw new TypeError('pass acrValues or acr_values, not both');
  if (maxAgeOption !== undefined && extra.max_age !== undefined) throw new TypeError('pass maxAge or max_age, not both');
  const acrSource = acrOption ?? extra.acr_values;
  let acrValues: string[] | undefined;
  if (acrSource !== undefined) {
    acrValues = (typeof acrSource === 'string' ? [acrSource] : [...acrSource]).flatMap((v) => v.split(' ')).filter((v) => v !== '');
    if (acrValues.length === 0) throw new TypeError('acrValues is empty');
    extra.acr_values = acrValues.join(' ');
  }
  const maxAgeSource = maxAgeOption ?? extra.max_age;
  let maxAge: number | undefined;
  if (maxAgeSource !== undefined) {
    maxAge = typeof maxAgeSource === 'number' ? maxAgeSource : /^\d{1,10}$/.test(String(maxAgeSource)) ? Number(maxAgeSource) : Number.NaN;
    if (!Number.isSafeInteger(maxAge) || maxAge < 0) throw new TypeError(`maxAge must be a whole number of seconds, not ${JSON.stringify(maxAgeSource)}`);
    extra.max_age = String(maxAge);
  }
  return { acrValues, maxAge };
}

/**
 * Whether to push this request (RFC 9126): `always` when the client says so (the server must then
 * advertise the endpoint), `auto` when the server requires it (`require_pushed_authorization_requests`,
 * §5), `never` never.
 */
async function usePar(core: ClientCore, metadata: ServerMetadata): Promise<boolean> {
  switch (core.config.par) {
    case 'never':
      return false;
    case 'always':
      await core.endpoint('pushed_authorization_request_endpoint', 'par');
      return true;
    case 'auto':
      if (metadata.require_pushed_authorization_requests !== true) return false;
      await core.endpoint('pushed_authorization_request_endpoint', 'par');
      return true;
  }
}

/**
 * Completes the code flow at the redirect URI: oauth4webapi checks `iss` (RFC 9207), `state`, and turns
 * an `error` into an AuthorizationResponseError; the code is exchanged with its PKCE verifier (and a DPoP
 * proof), and the ID token validated. `callbackUrl` may be relative (`req.url`): it is resolved against
 * the redirect URI.
 */
export async function handleCallback(core: ClientCore, callbackUrl: string | URL, expected: CallbackExpectations): Promise<TokenSet> {
  const metadata = await core.metadata();
  const params = new URL(callbackUrl, expected.redirectUri).searchParams;
  const validated = validateAuthorizationResponse(core, metadata, params, expected.state);

  const openid = expected.scope?.split(' ').includes('openid') === true;
  // RFC 6749 §4.1.3 with RFC 7636 §4.5: the code, the same redirect_uri, and the PKCE verifier.
  const tokens = await core.requestTokens(
    'the token endpoint',
    ({ as, client, auth, options }) => oauth.authorizationCodeGrantRequest(as, client, auth, validated, expected.redirectUri, expected.codeVerifier, options),
    {
      // OIDC Core §3.1.3.7 (11) and (13): the nonce sent, and auth_time against max_age. Without openid
      // in the request, an ID token still needs the nonce (the SDK always sends one).
      process: async (as, client, response) =>
        oauth.processAuthorizationCodeResponse(as, client, response, {
          ...(openid || (await hasIdToken(response)) ? { expectedNonce: expected.nonce, requireIdToken: true } : {}),
          ...(expected.maxAge !== undefined ? { maxAge: expected.maxAge } : {}),
        }),
      idToken: { nonce: expected.nonce, maxAgeSeconds: expected.maxAge },
    },
  );
  // OIDC Core §3.1.3.3: the token response of an openid request carries an ID token.
  if (tokens.idToken === undefined && tokens.scope?.split(' ').includes('openid')) {
    throw new IdTokenValidationError('missing', 'openid was granted but the token response has no id_token');
  }
  if (expected.requireAcr === true) checkAcr(tokens, expected.acrValues);
  return tokens;
}

/**
 * OIDC Core §3.1.3.7 item 12: "If the acr Claim was requested, the Client SHOULD check that the asserted
 * Claim Value is appropriate." With `requireAcr`, appropriate means one of the `acr_values` requested;
 * without it the `acr` is only reported (acr_values is a voluntary claim request, §5.5.1.1).
 */
function checkAcr(tokens: TokenSet, acrValues: readonly string[] | undefined): void {
  if (acrValues === undefined || acrValues.length === 0) throw new TypeError('requireAcr needs acrValues');
  if (tokens.idTokenClaims === undefined) throw new IdTokenValidationError('acr', `an acr of ${acrValues.join(', ')} was required, but there is no ID token`);
  const { acr } = tokens.idTokenClaims;
  if (typeof acr !== 'string' || !acrValues.includes(acr)) {
    throw new IdTokenValidationError(
      'acr',
      `the user authenticated with ${acr === undefined ? 'no acr' : `acr ${JSON.stringify(acr)}`}, not one of the acr_values required (${acrValues.join(', ')})`,
    );
  }
}

/**
 * RFC 9207 §2.4 (`iss`, compared as a string, required when the metadata says
 * authorization_response_iss_parameter_supported) and RFC 6749 §10.12 (`state`, CSRF), both before
 * the code is used, then §4.1.2.1 (`error`), through oauth4webapi's validateAuthResponse; its
 * failures become the SDK's errors.
 */
function validateAuthorizationResponse(core: ClientCore, metadata: ServerMetadata, params: URLSearchParams, expectedState: string): URLSearchParams {
  try {
    return oauth.validateAuthResponse(metadata as oauth.AuthorizationServer, core.client, params, expectedState);
  } catch (err) {
    if (err instanceof oauth.AuthorizationResponseError) {
      throw new AuthorizationResponseError({
        error: err.error,
        error_description: err.error_description,
        error_uri: params.get('error_uri') ?? undefined,
      });
    }
    if (!(err instanceof oauth.OperationProcessingError)) throw err;
    if (/only once/.test(err.message)) throw new InvalidResponseError(`the authorization response repeats a parameter: ${err.message}`);
    if (/"iss"/.test(err.message)) throw new IssuerMismatchError(core.issuer, params.get('iss'));
    if (/"state"/.test(err.message)) {
      throw new StateMismatchError(params.get('state') === null ? 'the authorization response has no state' : 'the state is not the one this login started with');
    }
    throw new InvalidResponseError(`the authorization response is not valid: ${err.message}`);
  }
}

/** Whether a token response carries an ID token, read from a copy (the response itself is read once). */
async function hasIdToken(response: Response): Promise<boolean> {
  if (response.status !== 200) return false;
  try {
    const body: unknown = await response.clone().json();
    return typeof body === 'object' && body !== null && 'id_token' in body;
  } catch {
    return false;
  }
}
