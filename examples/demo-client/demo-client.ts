import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { createRemoteJWKSet, jwtVerify, type JWTPayload } from 'jose';
import { escapeHtml, listen, page, sendHtml } from './web.ts';

/**
 * "Demo Shop": a server-side web application that signs its users in with Latchkey through the authorization
 * code flow (OAuth 2.1 with PKCE S256, OpenID Connect), as a public client, then calls a protected API with
 * the access token.
 */

export interface DemoClientOptions {
  /** The Latchkey issuer, e.g. http://127.0.0.1:8080 (no trailing slash). */
  issuer: string;
  /** The client_id Latchkey registered for this app (a public client). */
  clientId: string;
  /** The protected API to call after sign-in, e.g. http://127.0.0.1:8081/orders. */
  apiUrl: string;
  /** Defaults to `openid profile email orders:read`. */
  scope?: string;
  /** 0 (the default): a free port. */
  port?: number;
  host?: string;
}

export interface RunningApp {
  /** The app's base URL; its redirect URI is `${url}/callback`. */
  url: string;
  close(): Promise<void>;
}

/** What the app keeps between /login and /callback, server side, keyed by a random cookie. */
interface PendingLogin {
  state: string;
  nonce: string;
  codeVerifier: string;
  expiresAt: number;
}

interface TokenResponse {
  access_token: string;
  token_type: string;
  id_token: string;
  expires_in?: number;
  scope?: string;
  refresh_token?: string;
}

/** The cookie naming the pending login. Cookies are per host, not per port: the name must not clash with Latchkey's. */
const COOKIE = 'demo_shop_login';
const PENDING_LOGIN_SECONDS = 600;
const DEFAULT_SCOPE = 'openid profile email orders:read';

class CallbackError extends Error {
  readonly status: number;

  constructor(
    message: string,
    status = 400,
  ) {
    super(message);
    this.status = status;
  }
}

export async function startDemoClient(options: DemoClientOptions): Promise<RunningApp> {
  const issuer = options.issuer.replace(/\/+$/, '');
  const jwks = createRemoteJWKSet(new URL(`${issuer}/jwks`));
  const pending = new Map<string, PendingLogin>();
  let baseUrl = '';

  const server = createServer((req, res) => {
    handle(req, res).catch((err: unknown) => {
      const status = err instanceof CallbackError ? err.status : 500;
      const message = err instanceof Error ? err.message : String(err);
      if (!res.headersSent) {
        sendHtml(res, status, page('Sign-in failed', `<h1>Sign-in failed</h1><p class="error" id="error">${escapeHtml(message)}</p><p><a href="/">Back</a></p>`));
      } else res.destroy();
    });
  });

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', baseUrl);
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      sendHtml(res, 405, page('Method not allowed', '<h1>Method not allowed</h1>'), { allow: 'GET, HEAD' });
      return;
    }
    switch (url.pathname) {
      case '/':
        sendHtml(res, 200, page('Demo Shop', '<h1>Demo Shop</h1><p>Sign in to see your orders.</p><p><a id="sign-in" href="/login">Sign in</a></p>'));
        return;
      case '/login':
        return startLogin(res);
      case '/callback':
        return finishLogin(req, res, url);
      default:
        sendHtml(res, 404, page('Not found', '<h1>Not found</h1>'));
    }
  }

  function startLogin(res: ServerResponse): void {
    const now = Date.now();
    for (const [id, p] of pending) if (p.expiresAt <= now) pending.delete(id);
    const id = random();
    const login: PendingLogin = { state: random(), nonce: random(), codeVerifier: random(), expiresAt: now + PENDING_LOGIN_SECONDS * 1000 };
    pending.set(id, login);
    const authorize = new URL(`${issuer}/authorize`);
    authorize.search = new URLSearchParams({
      response_type: 'code',
      client_id: options.clientId,
      redirect_uri: `${baseUrl}/callback`,
      scope: options.scope ?? DEFAULT_SCOPE,
      state: login.state,
      nonce: login.nonce,
      // RFC 7636: S256 of the verifier, base64url without padding.
      code_challenge: createHash('sha256').update(login.codeVerifier).digest('base64url'),
      code_challenge_method: 'S256',
    }).toString();
    res.writeHead(302, {
      location: authorize.toString(),
      'set-cookie': `${COOKIE}=${id}; Path=/; HttpOnly; SameSite=Lax; Max-Age=${PENDING_LOGIN_SECONDS}`,
      'cache-control': 'no-store',
    });
    res.end();
  }

  async function finishLogin(req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> {
    const id = readCookie(req, COOKIE);
    const login = id === undefined ? undefined : pending.get(id);
    // Single use, whatever happens next.
    if (id !== undefined) pending.delete(id);
    res.setHeader('set-cookie', `${COOKIE}=; Path=/; HttpOnly; SameSite=Lax; Max-Age=0`);
    if (!login || login.expiresAt <= Date.now()) throw new CallbackError('no sign-in in progress in this browser (or it took too long)');

    const params = url.searchParams;
    if (!sameString(params.get('state') ?? '', login.state)) throw new CallbackError('the state does not match this sign-in');
    // RFC 9207: the response names its issuer, so a response from another authorization server is refused.
    if (params.get('iss') !== issuer) throw new CallbackError(`the response's iss is ${JSON.stringify(params.get('iss'))}, not ${issuer}`);
    const error = params.get('error');
    if (error !== null) {
      const description = params.get('error_description');
      throw new CallbackError(`the authorization server answered ${error}${description ? `: ${description}` : ''}`);
    }
    const code = params.get('code');
    if (!code) throw new CallbackError('the response has no code');

    const tokens = await redeemCode(code, login.codeVerifier);
    const { payload: idToken } = await jwtVerify(tokens.id_token, jwks, {
      issuer,
      audience: options.clientId,
      algorithms: ['RS256'],
    }).catch((err: unknown) => {
      throw new CallbackError(`the ID token is not valid: ${(err as Error).message}`, 502);
    });
    if (typeof idToken.nonce !== 'string' || !sameString(idToken.nonce, login.nonce)) {
      throw new CallbackError('the ID token nonce does not match this sign-in', 502);
    }

    const api = await fetch(options.apiUrl, {
      headers: { authorization: `Bearer ${tokens.access_token}`, accept: 'application/json' },
      signal: AbortSignal.timeout(10_000),
    });
    const apiText = await api.text();
    let apiBody: unknown = apiText;
    try {
      apiBody = JSON.parse(apiText);
    } catch {
      // Shown as text.
    }
    sendHtml(res, 200, signedInPage(idToken, api.status, apiBody));
  }

  async function redeemCode(code: string, codeVerifier: string): Promise<TokenResponse> {
    const res = await fetch(`${issuer}/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' },
      body: new URLSearchParams({
        grant_type: 'authorization_code',
        code,
        redirect_uri: `${baseUrl}/callback`,
        code_verifier: codeVerifier,
        client_id: options.clientId,
      }).toString(),
      signal: AbortSignal.timeout(10_000),
    });
    const text = await res.text();
    if (!res.ok) throw new CallbackError(`the token endpoint answered ${res.status}: ${text}`, 502);
    let body: Partial<TokenResponse>;
    try {
      body = JSON.parse(text) as Partial<TokenResponse>;
    } catch {
      throw new CallbackError(`the token endpoint answered ${res.status} with something other than JSON`, 502);
    }
    if (typeof body.access_token !== 'string' || typeof body.id_token !== 'string') {
      throw new CallbackError('the token response lacks an access_token or an id_token', 502);
    }
    if (typeof body.token_type !== 'string' || body.token_type.toLowerCase() !== 'bearer') {
      throw new CallbackError(`unexpected token_type ${JSON.stringify(body.token_type)}`, 502);
    }
    return body as TokenResponse;
  }

  const running = await listen(server, options.host ?? '127.0.0.1', options.port ?? 0);
  baseUrl = running.url;
  return running;
}

function signedInPage(idToken: JWTPayload, apiStatus: number, apiBody: unknown): string {
  const name = typeof idToken.name === 'string' ? idToken.name : (idToken.sub ?? 'unknown user');
  const email = typeof idToken.email === 'string' ? idToken.email : '';
  return page(
    'Demo Shop: signed in',
    `<h1>Demo Shop</h1>
<p>Signed in as <strong id="user-name">${escapeHtml(name)}</strong>${email ? ` (<span id="user-email">${escapeHtml(email)}</span>)` : ''}.</p>
<p>Subject: <code id="user-sub">${escapeHtml(idToken.sub ?? '')}</code></p>
<h2>Your orders</h2>
<p>The orders API answered <span id="api-status">${apiStatus}</span>:</p>
<pre id="api-response">${escapeHtml(typeof apiBody === 'string' ? apiBody : JSON.stringify(apiBody, null, 2))}</pre>
<p><a href="/">Home</a></p>`,
  );
}

function random(): string {
  return randomBytes(32).toString('base64url');
}

function sameString(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

function readCookie(req: IncomingMessage, name: string): string | undefined {
  for (const part of (req.headers.cookie ?? '').split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0 && part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim();
  }
  return undefined;
}
