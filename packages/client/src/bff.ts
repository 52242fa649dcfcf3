import type { ServerResponse } from 'node:http';
import { decodeJwt } from 'jose';
import { clientCore, type LatchkeyClient } from './client.ts';
import { DEFAULTS } from './defaults.ts';
import { LogoutTokenError, OAuthError, StateMismatchError, type StepUpRequiredError, UnsupportedFeatureError } from './errors.ts';
import { LogoutTokenValidator } from './backchannel-logout.ts';
import type { IdTokenClaims } from './id-token.ts';
import { readCookie, serializeCookie } from './lib/cookies.ts';
import { readBody, resourceRequest } from './lib/resource-request.ts';
import { fingerprint, randomValue } from './lib/random.ts';
import { type CookieKey, CookieSealer } from './lib/sealed-cookie.ts';
import { SingleFlight } from './lib/single-flight.ts';
import { INSUFFICIENT_USER_AUTHENTICATION, stepUpIn } from './step-up.ts';
import { staleAt, type TokenSet } from './token-set.ts';

export interface BffOptions {
  client: LatchkeyClient;
  /** The absolute URL of the app's callback route, registered with the client. */
  redirectUri: string;
  /** Default `openid offline_access` (offline_access brings the refresh token). */
  scope?: string | undefined;
  /**
   * The 256-bit key that encrypts the cookies (32 bytes, or their base64/base64url). Several: the first
   * encrypts, all decrypt (key rotation). Keep it secret, and the same on every instance.
   */
  cookieKey: CookieKey | readonly CookieKey[];
  /** Name of the session cookie; the login cookie is `<name>-login`. Default `__Host-latchkey` (`latchkey` when not secure). */
  cookieName?: string | undefined;
  /** Mark cookies Secure (sent over https only). Default true; false only for http://localhost development. */
  secure?: boolean | undefined;
  /** Lifetime of the session cookie. Default 30 days (Latchkey's refresh-token family lifetime). */
  sessionMaxAgeSeconds?: number | undefined;
  /** How long a login may take. Default 600 s. */
  loginMaxAgeSeconds?: number | undefined;
  /** Refresh this long before the access token expires (at most half its lifetime). Default 30 s. */
  refreshMarginSeconds?: number | undefined;
  /** Where the server sends the browser after logout (registered with the client). */
  postLogoutRedirectUri?: string | undefined;
  /** Extra authorization request parameters for every login (e.g. `{ resource: 'https://api.example.com' }`). */
  authorizationParams?: Record<string, string> | undefined;
  /**
   * The path of the app's login route (the one answering `bff.login(bff.loginOptions(req))`), for the
   * `login` link of stepUpResponse. Default `/login`.
   */
  loginPath?: string | undefined;
}

/** What a login may ask for: where to go afterwards, and for a step-up (RFC 9470 §4) how the user must authenticate. */
export interface BffLoginOptions {
  /** A path on this site to land on after the login. Default `/`. */
  returnTo?: string | undefined;
  /** OIDC Core §3.1.2.1 `acr_values`, in order of preference. */
  acrValues?: string | readonly string[] | undefined;
  /** OIDC Core §3.1.2.1 `max_age`, in seconds: the ID token's `auth_time` is then checked. */
  maxAge?: number | undefined;
  /** Refuse the login when the ID token's `acr` is not one of `acrValues`. Default false. */
  requireAcr?: boolean | undefined;
  /** Other authorization request parameters (`prompt`, `login_hint`, ...). */
  [parameter: string]: string | readonly string[] | number | boolean | undefined;
}

/** What the BFF needs of a request: its URL (path and query are enough) and its headers. Node's, Express's and Fastify's requests, and fetch's Request, all fit. */
export interface BffRequest {
  url?: string | undefined;
  headers: Headers | Record<string, string | string[] | undefined>;
}

/** A complete HTTP response for the framework to send (see sendBffResponse). */
export interface BffResponse {
  status: number;
  headers: Record<string, string | string[]>;
  body: string;
}

/** An access token for the request's user (undefined: not signed in), and cookies to set on the response. */
export interface BffAccessToken {
  accessToken: string | undefined;
  /** `Bearer`, or `DPoP` when the client uses DPoP (send it with `authorizedFetch`, which signs the proof). */
  tokenType?: string | undefined;
  /**
   * fetch for this user with the access token, and with DPoP a proof by the BFF's key (RFC 9449 §7.1);
   * a `use_dpop_nonce` challenge is answered once. A step-up challenge (RFC 9470 §3) throws
   * StepUpRequiredError (answer the browser with `stepUpResponse`). Undefined when not signed in.
   */
  authorizedFetch?: ((input: string | URL | Request, init?: RequestInit) => Promise<Response>) | undefined;
  /** Set-Cookie values to add to the response, always (a rotated session, or a cleared one). */
  setCookie: string[];
}

export interface Bff {
  /** Starts a login: a 303 to the authorization server, with state, nonce and PKCE verifier in an encrypted cookie. */
  login(options?: BffLoginOptions): Promise<BffResponse>;
  /**
   * The login options a login route's query asks for: `returnTo`, and for a step-up `acr_values` and
   * `max_age` (the `login` link of stepUpResponse). Throws TypeError for a returnTo off the site or a
   * max_age that is not a number of seconds.
   */
  loginOptions(request: BffRequest): BffLoginOptions;
  /**
   * The answer to the browser when an API asked for a step-up (authorizedFetch threw StepUpRequiredError,
   * RFC 9470 §3): 401 JSON `{ error: 'insufficient_user_authentication', login, acr_values?, max_age? }`,
   * `login` being the app's login route with the challenge's acr_values and max_age, for the front end to
   * send the user to.
   */
  stepUpResponse(error: StepUpRequiredError, options?: { returnTo?: string | undefined }): BffResponse;
  /** Completes the login at the redirect URI: sets the session cookie and sends the browser to `returnTo`. Throws the SDK's typed errors. */
  callback(request: BffRequest): Promise<BffResponse & { claims: IdTokenClaims | undefined }>;
  /** The user's access token, refreshed when needed. Apply `setCookie` to the response. */
  getAccessToken(request: BffRequest): Promise<BffAccessToken>;
  /** The claims of the user's ID token, when signed in. */
  getUser(request: BffRequest): Promise<IdTokenClaims | undefined>;
  /** Revokes the tokens, clears the session cookie, and sends the browser to the server's logout (RP-initiated logout). */
  logout(request: BffRequest, options?: { postLogoutRedirectUri?: string | undefined }): Promise<BffResponse>;
  /**
   * The route at the client's `backchannel_logout_uri` (OpenID Connect Back-Channel Logout 1.0): reads
   * the POSTed `logout_token`, validates it (LogoutTokenValidator), and ends the sessions it names (its
   * `sid`, or every session of its `sub`): their next request finds no user and their cookie is
   * cleared. Answers 200, or 400 with `error` and `error_description` (§2.8). Takes Node's request (its
   * body unread), Express's or Fastify's (body already parsed), or a fetch Request.
   */
  backchannelLogout(request: BffBackchannelRequest): Promise<BffResponse>;
}

/** The back-channel logout POST: a request whose form body is unread (Node, fetch), or already parsed (`body`). */
export type BffBackchannelRequest = Request | AsyncIterable<Uint8Array | string> | { body?: unknown; headers?: unknown };

/** What the session cookie holds: never shown to the browser's scripts, encrypted for everyone else. */
interface SessionCookie {
  sid: string;
  rt?: string | undefined;
  idt?: string | undefined;
}

/** What the login cookie holds between login and callback. */
interface LoginCookie {
  state: string;
  nonce: string;
  codeVerifier: string;
  returnTo: string;
  maxAge?: number | undefined;
  acrValues?: string[] | undefined;
  requireAcr?: boolean | undefined;
}

/** A signed-in session as this process knows it: the access token lives only here. */
interface LiveSession {
  session: SessionCookie;
  accessToken: string;
  /** `Bearer` or `DPoP`. */
  tokenType: string;
  /** Seconds since the epoch after which the access token is refreshed. */
  staleAt: number;
  /** When the access token expires (seconds since the epoch; Infinity when unknown). */
  expiresAt: number;
  refreshHash: string | undefined;
  /** The refresh token before the last rotation, and when it rotated (milliseconds). */
  previousRefreshHash: string | undefined;
  rotatedAtMs: number;
  /** The Set-Cookie of the current session cookie, for browsers still sending the previous one. */
  cookie: string;
}

const SESSION_TYP = 'latchkey-bff-session+jwt';
const LOGIN_TYP = 'latchkey-bff-login+jwt';
const SWEEP_INTERVAL_MS = 60_000;
/** Back-channel logouts remembered at most, of each kind. */
const MAX_ENDED = 100_000;
/** The largest back-channel logout body read. */
const MAX_LOGOUT_BODY_BYTES = 64 * 1024;

/**
 * A backend-for-frontend (the pattern of the IETF "OAuth 2.0 for Browser-Based Applications" draft,
 * §6.1): the app's server does the OAuth work, the browser holds only an encrypted, HttpOnly, Secure,
 * SameSite=Strict session cookie, and its JavaScript never sees a token. The refresh token lives in
 * that cookie (rotated on every refresh); the access token in this process's memory.
 *
 * @example
 * const bff = createBff({ client, redirectUri: 'https://app.example/callback', cookieKey: process.env.COOKIE_KEY! });
 * // GET /login:    sendBffResponse(res, await bff.login({ returnTo: '/' }))
 * // GET /callback: sendBffResponse(res, await bff.callback(req))
 * // an API route:  const { accessToken, setCookie } = await bff.getAccessToken(req); appendSetCookie(res, setCookie);
 * // POST /logout:  sendBffResponse(res, await bff.logout(req))
 */
export function createBff(options: BffOptions): Bff {
  return new BffSessions(options);
}

/** The options of a BFF, checked and with their defaults. */
interface BffConfig {
  client: BffOptions['client'];
  secure: boolean;
  sessionName: string;
  loginName: string;
  redirectUri: string;
  scope: string;
  sealer: CookieSealer;
  sessionMaxAgeSeconds: number;
  loginMaxAgeSeconds: number;
  marginSeconds: number;
  overlapMs: number;
  authorizationParams: BffOptions['authorizationParams'];
  postLogoutRedirectUri: string | undefined;
  loginPath: string;
}

function bffConfig(options: BffOptions): BffConfig {
  const secure = options.secure ?? true;
  const sessionName = options.cookieName ?? (secure ? '__Host-latchkey' : 'latchkey');
  if (!/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/.test(sessionName)) throw new TypeError(`cookieName ${JSON.stringify(sessionName)} is not a valid cookie name`);
  if (sessionName.startsWith('__Host-') && !secure) throw new TypeError('a __Host- cookie must be Secure: choose another cookieName with secure: false');
  return {
    client: options.client,
    secure,
    sessionName,
    loginName: `${sessionName}-login`,
    redirectUri: new URL(options.redirectUri).toString(),
    scope: options.scope ?? 'openid offline_access',
    sealer: new CookieSealer(Array.isArray(options.cookieKey) ? options.cookieKey : [options.cookieKey as CookieKey]),
    sessionMaxAgeSeconds: positive(options.sessionMaxAgeSeconds ?? DEFAULTS.bffSessionMaxAgeSeconds, 'sessionMaxAgeSeconds'),
    loginMaxAgeSeconds: positive(options.loginMaxAgeSeconds ?? DEFAULTS.bffLoginMaxAgeSeconds, 'loginMaxAgeSeconds'),
    marginSeconds: options.refreshMarginSeconds ?? DEFAULTS.sessionRefreshMarginSeconds,
    overlapMs: DEFAULTS.bffRotationOverlapSeconds * 1000,
    authorizationParams: options.authorizationParams,
    postLogoutRedirectUri: options.postLogoutRedirectUri,
    loginPath: localPath(options.loginPath ?? '/login', 'loginPath'),
  };
}

/**
 * The sessions of a BFF: the cookies (the session cookie is Strict, so no other site can make the
 * browser send it; the login cookie must be Lax, since the browser comes back to the callback from
 * the authorization server, another site), the access tokens in memory, and their rotation.
 */
class BffSessions implements Bff {
  private readonly config: BffConfig;
  private readonly live = new Map<string, LiveSession>();
  private readonly refreshes = new SingleFlight<string, LiveSession>();
  private lastSweepMs = Date.now();
  private readonly clearSession: string;
  private readonly clearLogin: string;
  private readonly logoutTokens: LogoutTokenValidator;
  /** Back-channel logouts received: ended OP sessions (`sid`), and users (`sub`) signed out everywhere, until when to remember them. */
  private readonly endedSids = new Map<string, number>();
  private readonly endedSubs = new Map<string, { at: number; until: number }>();

  constructor(options: BffOptions) {
    this.config = bffConfig(options);
    const { sessionName, loginName, secure } = this.config;
    this.clearSession = serializeCookie(sessionName, '', { maxAgeSeconds: 0, secure, sameSite: 'Strict' });
    this.clearLogin = serializeCookie(loginName, '', { maxAgeSeconds: 0, secure, sameSite: 'Lax' });
    this.logoutTokens = new LogoutTokenValidator(this.config.client);
  }

  backchannelLogout = async (request: BffBackchannelRequest): Promise<BffResponse> => {
    const answer = (status: number, body: Record<string, string> | undefined): BffResponse => ({
      status,
      // §2.8: "The response MUST include a Cache-Control HTTP response header field with a no-store value".
      headers: { 'cache-control': 'no-store', ...(body ? { 'content-type': 'application/json' } : {}) },
      body: body ? JSON.stringify(body) : '',
    });
    let claims;
    try {
      claims = await this.logoutTokens.validate(await logoutTokenOf(request));
    } catch (err) {
      // §2.8: "If the logout request was invalid or the logout failed, the RP MUST respond with HTTP 400".
      if (err instanceof LogoutTokenError) return answer(400, { error: 'invalid_request', error_description: err.message });
      throw err;
    }
    // §2.7: "the RP MUST destroy all state associated with the session" named by sid, or every session of sub.
    const until = Math.floor(Date.now() / 1000) + this.config.sessionMaxAgeSeconds;
    if (claims.sid !== undefined) this.endedSids.set(claims.sid, until);
    else if (claims.sub !== undefined) this.endedSubs.set(claims.sub, { at: claims.iat, until });
    this.forgetEnded();
    for (const [sid, entry] of this.live) if (entry.session.idt !== undefined && this.ended(entry.session.idt)) this.live.delete(sid);
    return answer(200, undefined);
  };

  /** Whether a back-channel logout ended the OP session of this ID token. */
  private ended(idToken: string): boolean {
    let claims: IdTokenClaims;
    try {
      claims = decodeJwt(idToken) as IdTokenClaims;
    } catch {
      return false;
    }
    if (typeof claims.sid === 'string' && this.endedSids.has(claims.sid)) return true;
    const user = this.endedSubs.get(claims.sub);
    // Every session of the user that signed in before the logout; a sign-in after it is a new one.
    return user !== undefined && (claims.auth_time ?? claims.iat) <= user.at;
  }

  /** Ended sessions are remembered as long as a session cookie lives; at most MAX_ENDED of each. */
  private forgetEnded(): void {
    const now = Math.floor(Date.now() / 1000);
    for (const [sid, until] of this.endedSids) if (until < now || this.endedSids.size > MAX_ENDED) this.endedSids.delete(sid);
    for (const [sub, { until }] of this.endedSubs) if (until < now || this.endedSubs.size > MAX_ENDED) this.endedSubs.delete(sub);
  }

  login = async (loginOptions: Parameters<Bff['login']>[0] = {}): Promise<BffResponse> => {
    const { client, sealer, loginName, loginMaxAgeSeconds, secure, redirectUri, scope } = this.config;
    const { returnTo = '/', ...extra } = loginOptions;
    if (typeof returnTo !== 'string' || !isLocalPath(returnTo)) throw new TypeError('returnTo must be a path on this site, such as /orders');
    // A step-up's acr_values and max_age replace those given for every login.
    const every: Record<string, string> = { ...this.config.authorizationParams };
    if (extra.maxAge !== undefined || extra.max_age !== undefined) delete every.max_age;
    if (extra.acrValues !== undefined || extra.acr_values !== undefined) delete every.acr_values;
    const pending = await client.createAuthorizationRequest({ ...every, ...extra, redirectUri, scope });
    const login: LoginCookie = {
      state: pending.state,
      nonce: pending.nonce,
      codeVerifier: pending.codeVerifier,
      returnTo,
      maxAge: pending.maxAge,
      acrValues: pending.acrValues,
      requireAcr: pending.requireAcr,
    };
    const cookie = serializeCookie(loginName, await sealer.seal(LOGIN_TYP, { ...login }, loginMaxAgeSeconds), {
      maxAgeSeconds: loginMaxAgeSeconds,
      secure,
      sameSite: 'Lax',
    });
    return { status: 303, headers: { location: pending.url, 'set-cookie': [cookie], 'cache-control': 'no-store' }, body: '' };
  };

  loginOptions = (request: BffRequest): BffLoginOptions => {
    const query = new URL(request.url ?? '/', 'http://bff.invalid').searchParams;
    const options: BffLoginOptions = {};
    const returnTo = query.get('returnTo');
    if (returnTo !== null) {
      if (!isLocalPath(returnTo)) throw new TypeError('returnTo must be a path on this site, such as /orders');
      options.returnTo = returnTo;
    }
    const acrValues = query.get('acr_values');
    if (acrValues !== null && acrValues.trim() !== '') options.acrValues = acrValues;
    const maxAge = query.get('max_age');
    if (maxAge !== null) {
      if (!/^\d{1,10}$/.test(maxAge)) throw new TypeError('max_age must be a number of seconds');
      options.maxAge = Number(maxAge);
    }
    return options;
  };

  stepUpResponse = (error: StepUpRequiredError, options: { returnTo?: string | undefined } = {}): BffResponse => {
    const query = new URLSearchParams();
    if (options.returnTo !== undefined) {
      if (!isLocalPath(options.returnTo)) throw new TypeError('returnTo must be a path on this site, such as /orders');
      query.set('returnTo', options.returnTo);
    }
    if (error.acrValues !== undefined) query.set('acr_values', error.acrValues.join(' '));
    if (error.maxAge !== undefined) query.set('max_age', String(error.maxAge));
    const login = `${this.config.loginPath}${query.size > 0 ? `?${query.toString()}` : ''}`;
    const body = {
      error: INSUFFICIENT_USER_AUTHENTICATION,
      ...(error.error_description !== undefined ? { error_description: error.error_description } : {}),
      ...(error.acrValues !== undefined ? { acr_values: error.acrValues.join(' ') } : {}),
      ...(error.maxAge !== undefined ? { max_age: error.maxAge } : {}),
      login,
    };
    return { status: 401, headers: { 'content-type': 'application/json', 'cache-control': 'no-store' }, body: JSON.stringify(body) };
  };

  callback = async (request: BffRequest): Promise<BffResponse & { claims: IdTokenClaims | undefined }> => {
    const { client, sealer, loginName, redirectUri, scope } = this.config;
    const value = readCookie(cookieHeader(request), loginName);
    const login = value === undefined ? undefined : ((await sealer.open(LOGIN_TYP, value)) as unknown as LoginCookie | undefined);
    if (!login || typeof login.state !== 'string' || typeof login.returnTo !== 'string') {
      throw new StateMismatchError('no login in progress in this browser (or it took too long)');
    }
    const tokens = await client.handleCallback(request.url ?? '', { ...login, redirectUri, scope });
    const entry = await this.remember({ sid: randomValue(), rt: tokens.refreshToken, idt: tokens.idToken }, tokens, undefined);
    const target = isLocalPath(login.returnTo) ? login.returnTo : '/';
    return {
      status: 200,
      headers: {
        'set-cookie': [entry.cookie, this.clearLogin],
        'content-type': 'text/html; charset=utf-8',
        'cache-control': 'no-store',
        'content-security-policy': "default-src 'none'; frame-ancestors 'none'",
        'referrer-policy': 'no-referrer',
      },
      // A page that moves on by itself rather than a redirect: the browser arrived from another site, and
      // it would not send the new SameSite=Strict cookie with a redirect that continues that navigation.
      body: `<!doctype html><meta charset="utf-8"><meta http-equiv="refresh" content="0;url=${escapeHtml(target)}"><title>Signed in</title><p><a href="${escapeHtml(target)}">Continue</a></p>`,
      claims: tokens.idTokenClaims,
    };
  };

  getAccessToken = async (request: BffRequest): Promise<BffAccessToken> => {
    const { present, session } = await this.readSession(request);
    if (!session) return { accessToken: undefined, setCookie: present ? [this.clearSession] : [] };
    const { current, setCookie } = this.catchUp(session);
    const known = this.live.get(session.sid);
    const currentHash = current.rt === undefined ? undefined : fingerprint(current.rt);
    if (known && currentHash === known.refreshHash && Date.now() / 1000 < known.staleAt) {
      return this.accessToken(known, setCookie);
    }
    if (current.rt === undefined) {
      // Signed in without a refresh token (no offline_access): the session ends with its access token.
      if (known && Date.now() / 1000 < known.expiresAt) return this.accessToken(known, setCookie);
      this.live.delete(session.sid);
      return { accessToken: undefined, setCookie: [this.clearSession] };
    }
    try {
      const entry = await this.rotate({ ...current, rt: current.rt });
      return this.accessToken(entry, [entry.cookie]);
    } catch (err) {
      // RFC 6749 §5.2: the refresh token is invalid, expired or revoked: the user must log in again.
      if (err instanceof OAuthError && err.error === 'invalid_grant') {
        this.live.delete(session.sid);
        return { accessToken: undefined, setCookie: [this.clearSession] };
      }
      throw err;
    }
  };

  getUser = async (request: BffRequest): Promise<IdTokenClaims | undefined> => {
    const { session } = await this.readSession(request);
    if (!session?.idt) return undefined;
    // Validated when it was received; the cookie it came in is authenticated.
    return decodeJwt(session.idt) as IdTokenClaims;
  };

  logout = async (request: BffRequest, logoutOptions: { postLogoutRedirectUri?: string | undefined } = {}): Promise<BffResponse> => {
    const { client } = this.config;
    const { present, session } = await this.readSession(request);
    const postLogoutRedirectUri = logoutOptions.postLogoutRedirectUri ?? this.config.postLogoutRedirectUri;
    if (session) {
      const known = this.live.get(session.sid);
      this.live.delete(session.sid);
      // RFC 7009: at Latchkey, revoking the refresh token ends the grant and its access tokens; the
      // access token is revoked too for servers that do not cascade. A failure does not keep the user
      // signed in here.
      const revocations: Promise<void>[] = [];
      if (session.rt !== undefined) revocations.push(client.revoke(session.rt, { tokenTypeHint: 'refresh_token' }));
      if (known) revocations.push(client.revoke(known.accessToken, { tokenTypeHint: 'access_token' }));
      await Promise.allSettled(revocations);
    }
    let location: string;
    try {
      location = await client.endSessionUrl({ idTokenHint: session?.idt, postLogoutRedirectUri });
    } catch (err) {
      if (!(err instanceof UnsupportedFeatureError)) throw err;
      location = postLogoutRedirectUri ?? '/';
    }
    // Only a browser that sent the cookie gets it cleared: another site cannot sign the user out here.
    return { status: 303, headers: { location, 'set-cookie': present ? [this.clearSession] : [], 'cache-control': 'no-store' }, body: '' };
  };

  /** The answer of getAccessToken for a live session. */
  private accessToken(entry: LiveSession, setCookie: string[]): BffAccessToken {
    const { client } = this.config;
    const token = { accessToken: entry.accessToken, tokenType: entry.tokenType };
    return {
      ...token,
      setCookie,
      authorizedFetch: async (input, init) => {
        const request = new Request(input, init);
        const dpop = await clientCore(client).dpop?.handle();
        const answer = await resourceRequest(request, await readBody(request), token, dpop, client.fetch);
        // RFC 9470 §3: the user must authenticate again; stepUpResponse tells the browser how.
        const stepUp = stepUpIn(answer);
        if (stepUp) throw stepUp;
        return answer.response;
      },
    };
  }

  /**
   * A request that left the browser before the rotated cookie arrived carries the previous refresh
   * token, which is spent: it is answered from the current session instead of spending it again (which
   * the server would take for theft), and the browser's cookie is brought up to date.
   */
  private catchUp(session: SessionCookie): { current: SessionCookie; setCookie: string[] } {
    const known = this.live.get(session.sid);
    const presentedHash = session.rt === undefined ? undefined : fingerprint(session.rt);
    if (
      known &&
      presentedHash !== known.refreshHash &&
      presentedHash !== undefined &&
      presentedHash === known.previousRefreshHash &&
      Date.now() - known.rotatedAtMs < this.config.overlapMs
    ) {
      return { current: known.session, setCookie: [known.cookie] };
    }
    return { current: session, setCookie: [] };
  }

  private async sessionCookie(session: SessionCookie): Promise<string> {
    const { sealer, sessionName, sessionMaxAgeSeconds, secure } = this.config;
    return serializeCookie(sessionName, await sealer.seal(SESSION_TYP, { ...session }, sessionMaxAgeSeconds), {
      maxAgeSeconds: sessionMaxAgeSeconds,
      secure,
      sameSite: 'Strict',
    });
  }

  private async readSession(request: BffRequest): Promise<{ present: boolean; session: SessionCookie | undefined }> {
    const value = readCookie(cookieHeader(request), this.config.sessionName);
    if (!value) return { present: false, session: undefined };
    const payload = await this.config.sealer.open(SESSION_TYP, value);
    if (!payload || typeof payload.sid !== 'string') return { present: true, session: undefined };
    if (typeof payload.idt === 'string' && this.ended(payload.idt)) {
      // Ended by a back-channel logout: signed out here too; its refresh token is given back.
      this.live.delete(payload.sid);
      if (typeof payload.rt === 'string') void this.config.client.revoke(payload.rt, { tokenTypeHint: 'refresh_token' }).catch(() => undefined);
      return { present: true, session: undefined };
    }
    return {
      present: true,
      session: {
        sid: payload.sid,
        rt: typeof payload.rt === 'string' ? payload.rt : undefined,
        idt: typeof payload.idt === 'string' ? payload.idt : undefined,
      },
    };
  }

  private async remember(session: SessionCookie, tokens: TokenSet, previousRefreshHash: string | undefined): Promise<LiveSession> {
    const entry: LiveSession = {
      session,
      accessToken: tokens.accessToken,
      tokenType: tokens.tokenType,
      staleAt: staleAt(tokens, this.config.marginSeconds),
      expiresAt: tokens.expiresAt ?? Number.POSITIVE_INFINITY,
      refreshHash: session.rt === undefined ? undefined : fingerprint(session.rt),
      previousRefreshHash,
      rotatedAtMs: Date.now(),
      cookie: await this.sessionCookie(session),
    };
    this.sweep();
    this.live.set(session.sid, entry);
    return entry;
  }

  /** Forgets sessions whose access token went stale a while ago: their next request refreshes from the cookie. */
  private sweep(): void {
    const nowMs = Date.now();
    if (nowMs - this.lastSweepMs < SWEEP_INTERVAL_MS) return;
    this.lastSweepMs = nowMs;
    for (const [sid, entry] of this.live) if (entry.staleAt * 1000 + this.config.overlapMs < nowMs) this.live.delete(sid);
  }

  private rotate(session: SessionCookie & { rt: string }): Promise<LiveSession> {
    return this.refreshes.run(fingerprint(session.rt), async () => {
      const previous: TokenSet | undefined =
        session.idt === undefined ? undefined : { accessToken: '', tokenType: 'Bearer', idToken: session.idt, idTokenClaims: decodeJwt(session.idt) as IdTokenClaims };
      const tokens = await this.config.client.refresh(session.rt, { previous });
      return this.remember({ sid: session.sid, rt: tokens.refreshToken, idt: tokens.idToken ?? session.idt }, tokens, fingerprint(session.rt));
    });
  }
}

/** Writes a BffResponse to a Node response (node:http, Express's `res`, Fastify's `reply.raw`). */
export function sendBffResponse(res: ServerResponse, response: BffResponse): void {
  res.statusCode = response.status;
  for (const [name, value] of Object.entries(response.headers)) {
    if (name.toLowerCase() === 'set-cookie') appendSetCookie(res, value);
    else res.setHeader(name, value);
  }
  res.end(response.body);
}

/** A BffResponse as a fetch Response, for fetch-style handlers (Hono, Next.js route handlers, Deno, Bun). */
export function toResponse(response: BffResponse): Response {
  const headers = new Headers();
  for (const [name, value] of Object.entries(response.headers)) {
    for (const v of typeof value === 'string' ? [value] : value) headers.append(name, v);
  }
  return new Response(response.body === '' ? null : response.body, { status: response.status, headers });
}

/** Adds Set-Cookie values to a Node response, keeping those already set. */
export function appendSetCookie(res: ServerResponse, cookies: string | readonly string[]): void {
  for (const cookie of typeof cookies === 'string' ? [cookies] : cookies) res.appendHeader('set-cookie', cookie);
}

/** The `logout_token` of a back-channel logout POST (§2.5: application/x-www-form-urlencoded). */
async function logoutTokenOf(request: BffBackchannelRequest): Promise<unknown> {
  if (request instanceof Request) {
    const text = await request.text();
    if (text.length > MAX_LOGOUT_BODY_BYTES) throw new LogoutTokenError('the request body is too large');
    return new URLSearchParams(text).get('logout_token') ?? undefined;
  }
  const parsed = (request as { body?: unknown }).body;
  if (typeof parsed === 'string') return new URLSearchParams(parsed).get('logout_token') ?? undefined;
  if (parsed instanceof URLSearchParams) return parsed.get('logout_token') ?? undefined;
  if (typeof parsed === 'object' && parsed !== null && !(Symbol.asyncIterator in parsed)) return (parsed as Record<string, unknown>).logout_token;
  if (typeof request === 'object' && request !== null && Symbol.asyncIterator in request) {
    const chunks: Buffer[] = [];
    let size = 0;
    for await (const chunk of request as AsyncIterable<Uint8Array | string>) {
      const buffer = typeof chunk === 'string' ? Buffer.from(chunk) : Buffer.from(chunk);
      size += buffer.length;
      if (size > MAX_LOGOUT_BODY_BYTES) throw new LogoutTokenError('the request body is too large');
      chunks.push(buffer);
    }
    return new URLSearchParams(Buffer.concat(chunks).toString('utf8')).get('logout_token') ?? undefined;
  }
  return undefined;
}

function cookieHeader(request: BffRequest): string | undefined {
  const { headers } = request;
  if (headers instanceof Headers) return headers.get('cookie') ?? undefined;
  const value = headers.cookie;
  return Array.isArray(value) ? value.join('; ') : value;
}

/** A path on this site: `/x`, never `//host` or `/\host` (which browsers follow to another site). */
function isLocalPath(path: string): boolean {
  return path.startsWith('/') && !path.startsWith('//') && !path.startsWith('/\\') && !/[\u0000-\u001f\u007f]/.test(path);
}

function localPath(path: string, name: string): string {
  if (!isLocalPath(path)) throw new TypeError(`${name} must be a path on this site, such as /login`);
  return path;
}

function escapeHtml(value: string): string {
  return value.replace(/&/g, '&amp;').replace(/"/g, '&quot;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/'/g, '&#39;');
}

function positive(value: number, name: string): number {
  if (!(value > 0) || !Number.isFinite(value)) throw new TypeError(`${name} must be a positive number of seconds`);
  return value;
}
