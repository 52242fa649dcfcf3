import {
  type AuthorizationRequestOptions,
  type CallbackExpectations,
  createAuthorizationRequest,
  handleCallback,
  type PendingAuthorization,
} from './authorization-code.ts';
import { type ClientCredentialsRequest, requestClientCredentialsToken } from './client-credentials.ts';
import { DEFAULTS } from './defaults.ts';
import {
  type DeviceAuthorization,
  type DeviceAuthorizationOptions,
  pollDeviceToken,
  type PollOptions,
  startDeviceAuthorization,
} from './device-authorization.ts';
import type { ServerMetadata } from './discovery.ts';
import { type EndSessionOptions, endSessionUrl } from './end-session.ts';
import { type IntrospectionResponse, type IntrospectOptions, introspect } from './introspection.ts';
import { CERTIFICATE_METHODS, type ClientAuthMethod } from './lib/client-auth.ts';
import { ClientCore, ID_TOKEN_ALGORITHMS, type IdTokenAlgorithm, type ParMode } from './lib/client-core.ts';
import { DPoPKey, type DPoPOption } from './lib/dpop.ts';
import type { FetchLike } from './lib/http.ts';
import { mtlsFetch, type MtlsOptions } from './lib/mtls.ts';
import { isSecureUrl } from './lib/secure-url.ts';
import { refresh, type RefreshOptions } from './refresh.ts';
import { revoke, type RevokeOptions } from './revocation.ts';
import { exchangeToken, type ExchangedToken, type TokenExchangeRequest } from './token-exchange.ts';
import { TokenSession, type TokenSessionOptions } from './token-session.ts';
import type { TokenSet } from './token-set.ts';

export interface LatchkeyClientOptions {
  /** The issuer identifier, exactly as the server names itself (`iss`), e.g. `https://login.example.com`. */
  issuer: string;
  clientId: string;
  /** For a confidential client. */
  clientSecret?: string | undefined;
  /**
   * How the client authenticates at the token, revocation and introspection endpoints. Default:
   * `client_secret_basic` with a secret, `tls_client_auth` with `mtls` and no secret, `none` (a public
   * client) without either.
   */
  tokenEndpointAuthMethod?: ClientAuthMethod | undefined;
  /**
   * Mutual TLS (RFC 8705): a client certificate and its key (PEM), and the authorities to trust for the
   * servers (`ca`). Every request of this client (to the server, and `authorizedFetch` to APIs) presents
   * the certificate; requests to the server go to its `mtls_endpoint_aliases` (§5). It is the proof of
   * `tls_client_auth` and `self_signed_tls_client_auth` (§2), and what certificate-bound access tokens
   * are bound to (§3, `cnf.x5t#S256`). Default: none.
   */
  mtls?: MtlsOptions | undefined;
  /**
   * Replaces the global fetch for every request to the server (JWKS included). With `mtls` it is called
   * with an undici Agent as `init.dispatcher`, which it must pass on (Node's fetch and undici's do).
   */
  fetch?: FetchLike | undefined;
  /** Per request. Default 10 000 ms. */
  requestTimeoutMs?: number | undefined;
  /** Clock skew tolerated when checking ID tokens. Default 30 s. */
  clockToleranceSeconds?: number | undefined;
  /** The ID token algorithms to accept. Default: those of RS256 and ES256 that the metadata lists. */
  idTokenSigningAlgorithms?: readonly IdTokenAlgorithm[] | undefined;
  /**
   * Allows an http issuer and http endpoints on hosts other than localhost, 127.0.0.1 and [::1].
   * Tokens and secrets then cross the network in clear: never in production.
   */
  allowInsecureRequests?: boolean | undefined;
  /**
   * DPoP (RFC 9449): `true` makes an ES256 key pair whose private key cannot be exported, on first use;
   * `{ keyPair }` uses yours. Every token request then carries a proof, access tokens come back bound to
   * the key (`tokenType: 'DPoP'`), authorization requests carry `dpop_jkt`, and `authorizedFetch` signs
   * a proof for each API request. Default: off.
   */
  dpop?: DPoPOption | undefined;
  /**
   * Pushed authorization requests (RFC 9126): `auto` pushes when the server's metadata says
   * `require_pushed_authorization_requests`; `always` pushes whenever (the server must advertise a
   * `pushed_authorization_request_endpoint`; use it for a client the server requires it of); `never`
   * never. Default `auto`.
   */
  par?: ParMode | undefined;
}

/** The internals of each client, for the SDK's other classes (TokenSession, ClientCredentials, the BFF). */
const cores = new WeakMap<LatchkeyClient, ClientCore>();

/** The internals of a client. Not exported from the package. */
export function clientCore(client: LatchkeyClient): ClientCore {
  const core = cores.get(client);
  if (!core) throw new TypeError('not a LatchkeyClient');
  return core;
}

/**
 * A client of one Latchkey (or any OAuth 2.1 / OpenID Connect) authorization server. Discovery runs on
 * first use and is cached; every method links the RFC it implements.
 *
 * @example
 * const client = new LatchkeyClient({ issuer: 'https://login.example.com', clientId: 'demo-shop' });
 * const pending = await client.createAuthorizationRequest({ redirectUri, scope: 'openid offline_access' });
 * // redirect the browser to pending.url, keep the rest; then, at the redirect URI:
 * const tokens = await client.handleCallback(req.url, pending);
 */
export class LatchkeyClient {
  readonly #core: ClientCore;
  /** The fetch this client uses (with `mtls`, one that presents the certificate). */
  readonly fetch: FetchLike;

  constructor(options: LatchkeyClientOptions) {
    const issuer = checkIssuer(options.issuer, options.allowInsecureRequests === true);
    if (typeof options.clientId !== 'string' || options.clientId === '') throw new TypeError('clientId is required');
    const method: ClientAuthMethod =
      options.tokenEndpointAuthMethod ?? (options.clientSecret !== undefined ? 'client_secret_basic' : options.mtls !== undefined ? 'tls_client_auth' : 'none');
    if (!['client_secret_basic', 'client_secret_post', 'none', ...CERTIFICATE_METHODS].includes(method)) throw new TypeError(`unsupported tokenEndpointAuthMethod ${method}`);
    if (CERTIFICATE_METHODS.includes(method)) {
      // RFC 8705 §2: the certificate of the TLS connection is the proof; a secret would be a second one the server ignores.
      if (options.mtls === undefined) throw new TypeError(`${method} needs mtls: { cert, key }`);
      if (options.clientSecret !== undefined) throw new TypeError(`a clientSecret was given with tokenEndpointAuthMethod ${method}`);
    } else if (method !== 'none' && !options.clientSecret) throw new TypeError(`${method} needs a clientSecret`);
    if (method === 'none' && options.clientSecret !== undefined) throw new TypeError('a clientSecret was given with tokenEndpointAuthMethod none');
    for (const alg of options.idTokenSigningAlgorithms ?? []) {
      if (!ID_TOKEN_ALGORITHMS.includes(alg)) throw new TypeError(`unsupported ID token algorithm ${alg}`);
    }
    const par = options.par ?? DEFAULTS.par;
    if (!['auto', 'always', 'never'].includes(par)) throw new TypeError(`par must be auto, always or never, not ${JSON.stringify(par)}`);
    const dpop = options.dpop ?? false;
    if (typeof dpop !== 'boolean' && (typeof dpop !== 'object' || dpop === null)) throw new TypeError('dpop must be true, false or { keyPair }');
    const baseFetch: FetchLike = options.fetch ?? ((input, init) => globalThis.fetch(input, init));
    const fetchImpl = options.mtls === undefined ? baseFetch : mtlsFetch(options.mtls, baseFetch);
    this.fetch = fetchImpl;
    this.#core = new ClientCore(
      {
        issuer,
        clientId: options.clientId,
        clientSecret: options.clientSecret,
        method,
        http: { fetch: fetchImpl, timeoutMs: options.requestTimeoutMs ?? DEFAULTS.requestTimeoutMs },
        allowInsecureRequests: options.allowInsecureRequests === true,
        clockToleranceSeconds: options.clockToleranceSeconds ?? DEFAULTS.clockToleranceSeconds,
        idTokenAlgorithms: options.idTokenSigningAlgorithms,
        par,
        mtls: options.mtls !== undefined,
      },
      (client) => (dpop === false ? undefined : new DPoPKey(client, dpop === true ? {} : dpop)),
    );
    cores.set(this, this.#core);
  }

  get issuer(): string {
    return this.#core.issuer;
  }

  get clientId(): string {
    return this.#core.clientId;
  }

  /**
   * The RFC 7638 thumbprint (SHA-256, base64url) of the client's DPoP public key: the `cnf.jkt` of the
   * access tokens bound to it (RFC 9449 §6.1). Undefined without DPoP. Makes the key if it is not made yet.
   *
   * @example
   * const jkt = await client.dpopThumbprint(); // equals decodeJwt(tokens.accessToken).cnf.jkt
   */
  async dpopThumbprint(): Promise<string | undefined> {
    return this.#core.dpop?.thumbprint();
  }

  /**
   * The server's metadata (OpenID Connect Discovery 1.0 §4, falling back to RFC 8414 §3), fetched on
   * first use and cached; its `issuer` must be exactly this client's issuer.
   */
  metadata(): Promise<ServerMetadata> {
    return this.#core.metadata();
  }

  /**
   * Starts the authorization code flow with PKCE (OAuth 2.1 §4.1.1, RFC 7636): the URL to send the
   * browser to, and the state, nonce and verifier to keep until the callback. With `par`, the request is
   * first pushed to the server (RFC 9126 §2) and the URL carries only `client_id` and `request_uri`.
   *
   * @example
   * const pending = await client.createAuthorizationRequest({ redirectUri, scope: 'openid offline_access', prompt: 'login' });
   * session.pending = pending; // server side
   * res.writeHead(303, { location: pending.url }).end();
   */
  createAuthorizationRequest(options: AuthorizationRequestOptions): Promise<PendingAuthorization> {
    return createAuthorizationRequest(this.#core, options);
  }

  /**
   * Completes the code flow at the redirect URI: checks `iss` (RFC 9207 §2.4) and `state` (RFC 6749
   * §10.12), exchanges the code (RFC 6749 §4.1.3, RFC 7636 §4.5) and validates the ID token (OIDC Core
   * §3.1.3.7).
   *
   * @example
   * const tokens = await client.handleCallback(req.url, session.pending);
   * console.log(tokens.idTokenClaims?.sub, tokens.accessToken);
   */
  handleCallback(callbackUrl: string | URL, expected: CallbackExpectations): Promise<TokenSet> {
    return handleCallback(this.#core, callbackUrl, expected);
  }

  /**
   * RFC 6749 §6: new tokens for a refresh token; the set carries the rotated refresh token (OAuth 2.1
   * §4.3.1), which replaces the spent one.
   *
   * @example
   * const next = await client.refresh(tokens.refreshToken!, { previous: tokens });
   * await store.save(next); // the old refresh token no longer works
   */
  refresh(refreshToken: string, options?: RefreshOptions): Promise<TokenSet> {
    return refresh(this.#core, refreshToken, options);
  }

  /**
   * A user's tokens kept fresh, with one refresh in flight at a time.
   *
   * @example
   * const session = client.session(tokens, { onTokens: (next) => store.save(next) });
   * const accessToken = await session.getAccessToken();
   */
  session(tokens: TokenSet, options?: TokenSessionOptions): TokenSession {
    return new TokenSession(this, tokens, options);
  }

  /**
   * RFC 6749 §4.4.2: one client-credentials token request (ClientCredentials adds caching and retries).
   *
   * @example
   * const { accessToken, expiresAt } = await client.clientCredentialsGrant({ scope: 'orders:read' });
   */
  clientCredentialsGrant(request?: ClientCredentialsRequest): Promise<TokenSet> {
    return requestClientCredentialsToken(this.#core, request);
  }

  /**
   * RFC 7009 §2.1: revokes a token of this client.
   *
   * @example
   * await client.revoke(tokens.refreshToken!, { tokenTypeHint: 'refresh_token' });
   */
  revoke(token: string, options?: RevokeOptions): Promise<void> {
    return revoke(this.#core, token, options);
  }

  /**
   * RFC 7662 §2.1: whether a token is active, and its claims.
   *
   * @example
   * const { active, scope } = await client.introspect(token);
   */
  introspect(token: string, options?: IntrospectOptions): Promise<IntrospectionResponse> {
    return introspect(this.#core, token, options);
  }

  /**
   * RFC 8628 §3.1: starts a device authorization.
   *
   * @example
   * const authorization = await client.startDeviceAuthorization({ scope: 'openid offline_access' });
   * console.log(`Open ${authorization.verificationUri} and enter ${authorization.userCode}`);
   */
  startDeviceAuthorization(options?: DeviceAuthorizationOptions): Promise<DeviceAuthorization> {
    return startDeviceAuthorization(this.#core, options);
  }

  /**
   * RFC 8628 §3.4-3.5: polls until the user approves or denies, or the code expires.
   *
   * @example
   * const tokens = await client.pollDeviceToken(authorization, { signal: AbortSignal.timeout(600_000) });
   */
  pollDeviceToken(authorization: DeviceAuthorization, options?: PollOptions): Promise<TokenSet> {
    return pollDeviceToken(this.#core, authorization, options);
  }

  /**
   * RFC 8693 §2.1: exchanges a token for another.
   *
   * @example
   * const { accessToken } = await client.exchangeToken({ subjectToken, subjectTokenType: TOKEN_TYPES.accessToken, audience: 'https://notifications.example' });
   */
  exchangeToken(request: TokenExchangeRequest): Promise<ExchangedToken> {
    return exchangeToken(this.#core, request);
  }

  /**
   * OpenID Connect RP-Initiated Logout 1.0 §2: the URL that ends the user's session at the server.
   *
   * @example
   * res.writeHead(303, { location: await client.endSessionUrl({ idTokenHint: tokens.idToken, postLogoutRedirectUri }) }).end();
   */
  endSessionUrl(options?: EndSessionOptions): Promise<string> {
    return endSessionUrl(this.#core, options);
  }
}

function checkIssuer(issuer: string, allowInsecureRequests: boolean): string {
  let url: URL;
  try {
    url = new URL(issuer);
  } catch {
    throw new TypeError(`issuer ${JSON.stringify(issuer)} is not an absolute URL`);
  }
  // RFC 8414 §2: "a case-sensitive URL that uses the https scheme that contains scheme, host, and
  // optionally, port number and path components and no query or fragment components".
  if (url.search !== '' || url.hash !== '' || issuer.includes('#')) throw new TypeError('the issuer has no query or fragment');
  if (!allowInsecureRequests && !isSecureUrl(url)) {
    throw new TypeError(`issuer ${issuer} is not https; allowInsecureRequests permits it outside production`);
  }
  return issuer;
}
