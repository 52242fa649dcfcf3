import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { jwtDecrypt } from 'jose';
import { authorizeInBrowser, countingFetch, FormBrowser, type Latchkey, type Page, parseSetCookie, startLatchkey } from '@latchkey/testing';
import { appendSetCookie, createBff, LatchkeyClient, OAuthError, sendBffResponse, StateMismatchError, toResponse, type Bff } from '../src/index.ts';
import { listen } from './helpers/http-servers.ts';

/**
 * The backend-for-frontend helper in a node:http app, against Latchkey: login, callback, an API route that
 * needs the user's access token, refresh with rotation, logout. The browser only ever holds encrypted,
 * HttpOnly, Secure cookies, and the refresh token never appears in anything the app sends it.
 */

const SESSION = '__Host-latchkey';
const LOGIN = '__Host-latchkey-login';

/** One response of the app, as the browser received it. */
interface Seen {
  url: string;
  status: number;
  body: string;
  headers: [string, string][];
  setCookies: string[];
}

describe('backend for frontend', () => {
  let lk: Latchkey;
  let app: { url: string; close(): Promise<void> };
  let bff: Bff;
  let client: LatchkeyClient;
  let counter: ReturnType<typeof countingFetch>;
  const cookieKey = randomBytes(32);
  const seen: Seen[] = [];

  before(async () => {
    lk = await startLatchkey({ settings: { refreshGraceSeconds: 0 } });
    app = await listen(async (req, res) => {
      const path = new URL(req.url ?? '/', 'http://app').pathname;
      if (path === '/login') return sendBffResponse(res, await bff.login({ returnTo: '/me' }));
      if (path === '/callback') {
        try {
          return sendBffResponse(res, await bff.callback(req));
        } catch (err) {
          res.writeHead(400, { 'content-type': 'text/plain' });
          return res.end(`sign-in failed: ${(err as Error).name}`);
        }
      }
      if (path === '/me') {
        const { accessToken, setCookie } = await bff.getAccessToken(req);
        appendSetCookie(res, setCookie);
        if (!accessToken) {
          res.writeHead(401, { 'content-type': 'application/json' });
          return res.end(JSON.stringify({ signedIn: false }));
        }
        // The app calls an API for the user (here Latchkey's userinfo) and shows the result, never the token.
        const userinfo = await fetch(`${lk.issuer}/userinfo`, { headers: { authorization: `Bearer ${accessToken}` } });
        res.writeHead(200, { 'content-type': 'application/json' });
        return res.end(JSON.stringify({ signedIn: true, userinfo: await userinfo.json(), user: (await bff.getUser(req))?.preferred_username }));
      }
      if (path === '/logout' && req.method === 'POST') return sendBffResponse(res, await bff.logout(req));
      res.writeHead(404);
      res.end();
    });
    const registered = await lk.running.registry.createClient({
      name: 'Shop BFF',
      type: 'confidential',
      grantTypes: ['authorization_code', 'refresh_token'],
      scopes: ['openid', 'profile', 'offline_access', 'orders:read'],
      redirectUris: ['http://127.0.0.1/callback'],
      postLogoutRedirectUris: [`${app.url}/bye`],
    });
    counter = countingFetch();
    client = new LatchkeyClient({ issuer: lk.issuer, clientId: registered.client.clientId, clientSecret: registered.clientSecret!, fetch: counter.fetch });
    bff = createBff({
      client,
      redirectUri: `${app.url}/callback`,
      scope: 'openid profile offline_access orders:read',
      cookieKey,
      postLogoutRedirectUri: `${app.url}/bye`,
    });
  });
  after(async () => {
    await app?.close();
    await lk?.close();
  });

  const record = (page: Page): Page => {
    seen.push({ url: page.url, status: page.status, body: page.text, headers: [...page.headers], setCookies: page.headers.getSetCookie() });
    return page;
  };
  const recordResponse = async (url: string, res: Response) => {
    const body = await res.text();
    seen.push({ url, status: res.status, body, headers: [...res.headers], setCookies: res.headers.getSetCookie() });
    return { status: res.status, body, setCookies: res.headers.getSetCookie() };
  };
  const cookieValue = (setCookies: string[], name: string) => setCookies.map((c) => parseSetCookie(c)).find((c) => c?.name === name)?.value;
  const refreshTokenIn = async (sessionCookie: string) =>
    (await jwtDecrypt(sessionCookie, cookieKey, { keyManagementAlgorithms: ['dir'], contentEncryptionAlgorithms: ['A256GCM'] })).payload.rt as string;

  test('login, callback, API calls with refresh and rotation, logout: tokens stay on the server', async (t) => {
    const browser = new FormBrowser();
    // Login: a 303 to Latchkey, the state, nonce and verifier in an encrypted login cookie.
    const login = record(await browser.get(`${app.url}/login`));
    assert.equal(login.status, 303);
    assert.ok(login.location?.startsWith(`${lk.issuer}/authorize?`));
    const loginCookie = cookieValue(login.headers.getSetCookie(), LOGIN)!;
    const authorize = new URL(login.location!).searchParams;
    assert.ok(!loginCookie.includes(authorize.get('state')!), 'the login cookie is encrypted');

    // The user logs in and consents at Latchkey; the browser comes back to the callback.
    const callbackUrl = await authorizeInBrowser(browser, lk.issuer, login.location!);
    assert.ok(callbackUrl.startsWith(`${app.url}/callback?`));
    const callback = record(await browser.get(callbackUrl));
    assert.equal(callback.status, 200, callback.text);
    assert.match(callback.text, /http-equiv="refresh" content="0;url=\/me"/);
    const firstCookie = cookieValue(callback.headers.getSetCookie(), SESSION)!;
    assert.ok(firstCookie);
    assert.equal(cookieValue(callback.headers.getSetCookie(), LOGIN), '', 'the login cookie is cleared');
    const firstRefreshToken = await refreshTokenIn(firstCookie);
    assert.match(firstRefreshToken, /^lkr_[A-Za-z0-9_-]+\.[A-Za-z0-9_-]{43}\.[A-Za-z0-9_-]{22}$/, 'the session cookie holds the refresh token, encrypted');

    // An API route: the access token from the server's memory.
    const me = record(await browser.get(`${app.url}/me`));
    assert.equal(me.status, 200, me.text);
    const body = JSON.parse(me.text) as { userinfo: { sub: string }; user: string };
    assert.equal(body.userinfo.sub, lk.seed.user.id);
    assert.equal(body.user, 'alice');
    assert.deepEqual(me.headers.getSetCookie(), [], 'nothing to change while the access token is fresh');

    // Eleven minutes later the access token has expired: 20 concurrent requests, one refresh, one new cookie.
    const refreshesBefore = counter.count('/token');
    t.mock.timers.enable({ apis: ['Date'], now: Date.now() + 11 * 60_000 });
    const cookieHeader = `${SESSION}=${firstCookie}`;
    const concurrent = await Promise.all(
      Array.from({ length: 20 }, async () => recordResponse(`${app.url}/me`, await fetch(`${app.url}/me`, { headers: { cookie: cookieHeader } }))),
    );
    assert.equal(counter.count('/token') - refreshesBefore, 1, 'one refresh request');
    assert.ok(concurrent.every((r) => r.status === 200));
    const rotatedCookies = new Set(concurrent.map((r) => cookieValue(r.setCookies, SESSION)));
    assert.equal(rotatedCookies.size, 1, 'every response sets the same rotated session cookie');
    const rotatedCookie = [...rotatedCookies][0]!;
    const rotatedRefreshToken = await refreshTokenIn(rotatedCookie);
    assert.notEqual(rotatedRefreshToken, firstRefreshToken, 'the refresh token rotated');

    // A request that left the browser with the previous cookie still gets through, without spending the
    // old refresh token again, and brings the browser the current cookie.
    const late = await recordResponse(`${app.url}/me`, await fetch(`${app.url}/me`, { headers: { cookie: cookieHeader } }));
    assert.equal(late.status, 200);
    assert.equal(cookieValue(late.setCookies, SESSION), rotatedCookie);
    assert.equal(counter.count('/token') - refreshesBefore, 1);

    // Logout: revocation, the cookie cleared, and the browser sent to Latchkey's RP-initiated logout.
    browser.setCookie(app.url, SESSION, rotatedCookie);
    const logout = record(await browser.post(`${app.url}/logout`, {}));
    assert.equal(logout.status, 303);
    const endSession = new URL(logout.location!);
    assert.equal(`${endSession.origin}${endSession.pathname}`, `${lk.issuer}/logout`);
    assert.equal(endSession.searchParams.get('post_logout_redirect_uri'), `${app.url}/bye`);
    assert.equal(endSession.searchParams.get('client_id'), client.clientId);
    assert.ok(endSession.searchParams.get('id_token_hint'));
    assert.equal(cookieValue(logout.headers.getSetCookie(), SESSION), '');
    const atLatchkey = await browser.get(logout.location!);
    assert.equal(atLatchkey.status, 303, 'the id_token_hint lets Latchkey log out without asking');
    assert.equal(atLatchkey.location, `${app.url}/bye`);

    // Both refresh tokens are dead: the rotated one revoked at logout, the first one spent by the rotation.
    for (const refreshToken of [rotatedRefreshToken, firstRefreshToken]) {
      await assert.rejects(client.refresh(refreshToken), (err: unknown) => err instanceof OAuthError && err.error === 'invalid_grant');
    }
    const after = record(await browser.get(`${app.url}/me`));
    assert.equal(after.status, 401);

    // What the browser ever received from the app: no refresh token anywhere, only HttpOnly Secure cookies.
    assert.ok(seen.length >= 25);
    for (const response of seen) {
      for (const secret of [firstRefreshToken, rotatedRefreshToken]) {
        assert.ok(!response.body.includes(secret), `a refresh token in the body of ${response.url}`);
        assert.ok(!response.headers.some(([, value]) => value.includes(secret)), `a refresh token in the headers of ${response.url}`);
      }
      for (const cookie of response.setCookies) {
        const attributes = cookie.split(';').map((a) => a.trim().toLowerCase());
        assert.ok(attributes.includes('httponly'), cookie);
        assert.ok(attributes.includes('secure'), cookie);
        assert.ok(attributes.includes('path=/'), cookie);
        assert.ok(!attributes.some((a) => a.startsWith('domain=')), cookie);
        // The session cookie is Strict. The login cookie must be Lax: the browser returns to the callback
        // from Latchkey, another site, and would not send a Strict cookie with that navigation.
        const name = cookie.slice(0, cookie.indexOf('='));
        assert.ok(attributes.includes(name === LOGIN ? 'samesite=lax' : 'samesite=strict'), cookie);
      }
    }
  });

  test('a tampered or foreign session cookie is no session, and is cleared', async () => {
    const other = createBff({ client, redirectUri: `${app.url}/callback`, cookieKey: randomBytes(32) });
    const res = await fetch(`${app.url}/me`, { headers: { cookie: `${SESSION}=eyJhbGciOiJkaXIiLCJlbmMiOiJBMjU2R0NNIn0..AAAA.BBBB.CCCC` } });
    assert.equal(res.status, 401);
    assert.equal(cookieValue(res.headers.getSetCookie(), SESSION), '');
    assert.deepEqual(await other.getAccessToken({ headers: {} }), { accessToken: undefined, setCookie: [] });
  });

  test('a callback without a login in progress in this browser is refused (StateMismatchError)', async () => {
    await assert.rejects(bff.callback({ url: '/callback?code=x&state=y&iss=z', headers: {} }), StateMismatchError);
    const res = await fetch(`${app.url}/callback?code=x&state=y`);
    assert.equal(res.status, 400);
    assert.equal(await res.text(), 'sign-in failed: StateMismatchError');
  });

  test('a logout request without the session cookie (another site) clears nothing', async () => {
    const res = await fetch(`${app.url}/logout`, { method: 'POST', redirect: 'manual' });
    assert.equal(res.status, 303);
    assert.deepEqual(res.headers.getSetCookie(), []);
  });

  test('options are checked when the BFF is created; returnTo must stay on the site', async () => {
    const base = { client, redirectUri: `${app.url}/callback`, cookieKey };
    assert.throws(() => createBff({ ...base, cookieKey: randomBytes(16) }), /32 bytes/);
    assert.throws(() => createBff({ ...base, secure: false, cookieName: '__Host-x' }), /__Host-/);
    assert.throws(() => createBff({ ...base, cookieName: 'bad name' }), TypeError);
    const dev = createBff({ ...base, secure: false, cookieKey: cookieKey.toString('base64url') });
    const started = await dev.login();
    assert.ok(!String(started.headers['set-cookie']).includes('Secure'));
    assert.match(String(started.headers['set-cookie']), /^latchkey-login=/);
    // Fetch-style frameworks: the same response as a fetch Response, each cookie its own header.
    const response = toResponse(await bff.login());
    assert.equal(response.status, 303);
    assert.equal(response.headers.getSetCookie().length, 1);
    assert.ok(response.headers.get('location')?.startsWith(`${lk.issuer}/authorize?`));
    for (const returnTo of ['//evil.example', 'https://evil.example', '/\\evil.example']) {
      await assert.rejects(bff.login({ returnTo }), TypeError, returnTo);
    }
  });
});
