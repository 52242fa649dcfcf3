import assert from 'node:assert/strict';
import { randomBytes, randomUUID } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { decodeJwt, generateKeyPair, SignJWT } from 'jose';
import { authorizeInBrowser, FormBrowser, type Latchkey, startLatchkey } from '@latchkey/testing';
import { appendSetCookie, BACKCHANNEL_LOGOUT_EVENT, createBff, LatchkeyClient, sendBffResponse, type Bff } from '../src/index.ts';
import { listen } from './helpers/http-servers.ts';

/**
 * OpenID Connect Back-Channel Logout 1.0 at the BFF, against Latchkey: the user signs in at the app;
 * signing out at Latchkey makes Latchkey POST a logout token to the app's backchannel route, which
 * ends the app's session. The route refuses what §2.6 refuses: another audience, a replayed jti, a
 * nonce, no events, no sub or sid, another signer, an ID token.
 */

describe('back-channel logout at the BFF', () => {
  let lk: Latchkey;
  let app: { url: string; close(): Promise<void> };
  let bff: Bff;
  let clientId: string;
  /** What the backchannel route answered, in order. */
  const answers: { status: number; body: string }[] = [];

  before(async () => {
    lk = await startLatchkey({ settings: { allowLoopbackBackchannelLogout: true } });
    app = await listen(async (req, res) => {
      const path = new URL(req.url ?? '/', 'http://app').pathname;
      if (path === '/login') return sendBffResponse(res, await bff.login({ returnTo: '/me' }));
      if (path === '/callback') return sendBffResponse(res, await bff.callback(req));
      if (path === '/backchannel-logout' && req.method === 'POST') {
        const answer = await bff.backchannelLogout(req);
        answers.push({ status: answer.status, body: answer.body });
        return sendBffResponse(res, answer);
      }
      if (path === '/me') {
        const { accessToken, setCookie } = await bff.getAccessToken(req);
        appendSetCookie(res, setCookie);
        res.writeHead(accessToken ? 200 : 401, { 'content-type': 'application/json' });
        return res.end(JSON.stringify({ signedIn: accessToken !== undefined, sid: (await bff.getUser(req))?.sid }));
      }
      res.writeHead(404);
      res.end();
    });
    const registered = await lk.running.registry.createClient({
      name: 'Shop BFF',
      type: 'confidential',
      grantTypes: ['authorization_code', 'refresh_token'],
      scopes: ['openid', 'profile', 'offline_access', 'orders:read'],
      redirectUris: ['http://127.0.0.1/callback'],
      firstParty: true,
      backchannelLogoutUri: `${app.url}/backchannel-logout`,
      backchannelLogoutSessionRequired: true,
    });
    clientId = registered.client.clientId;
    const client = new LatchkeyClient({ issuer: lk.issuer, clientId, clientSecret: registered.clientSecret! });
    bff = createBff({ client, redirectUri: `${app.url}/callback`, scope: 'openid profile offline_access orders:read', cookieKey: randomBytes(32), secure: false });
  });
  after(async () => {
    await app?.close();
    await lk?.close();
  });

  /** Signs in at the app in `browser`; returns the OP session id the app's ID token names. */
  const signIn = async (browser: FormBrowser): Promise<string> => {
    const login = await browser.get(`${app.url}/login`);
    const callback = await browser.get(await authorizeInBrowser(browser, lk.issuer, login.location!));
    assert.equal(callback.status, 200, callback.text);
    const me = await browser.get(`${app.url}/me`);
    assert.equal(me.status, 200, me.text);
    const { sid } = JSON.parse(me.text) as { sid: string };
    assert.equal(typeof sid, 'string', 'the ID token has a sid');
    return sid;
  };

  /** A logout token signed by Latchkey's own key, with these claims changed (undefined removes one). */
  const logoutToken = async (changes: Record<string, unknown> = {}, header: Record<string, unknown> = {}): Promise<string> => {
    const signer = await lk.running.server.context.keys.signer('RS256');
    const now = Math.floor(Date.now() / 1000);
    const claims: Record<string, unknown> = {
      iss: lk.issuer,
      aud: clientId,
      iat: now,
      exp: now + 120,
      jti: randomUUID(),
      sub: lk.seed.user.id,
      sid: 'some-session',
      events: { [BACKCHANNEL_LOGOUT_EVENT]: {} },
      ...changes,
    };
    for (const [k, v] of Object.entries(claims)) if (v === undefined) delete claims[k];
    return new SignJWT(claims).setProtectedHeader({ alg: 'RS256', kid: signer.kid, typ: 'logout+jwt', ...header }).sign(signer.key);
  };

  const post = (token: string) =>
    fetch(`${app.url}/backchannel-logout`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams({ logout_token: token }) });

  test('signing out at Latchkey ends the session at the app', async () => {
    const browser = new FormBrowser();
    const other = new FormBrowser();
    const sid = await signIn(browser);
    const otherSid = await signIn(other);
    assert.notEqual(sid, otherSid);
    const before = answers.length;
    // RP-initiated logout at Latchkey, with the user confirming on its page (no id_token_hint here).
    const page = await browser.get(`${lk.issuer}/logout`);
    const [form] = browser.forms(page.text, page.url);
    assert.ok(form, 'the logout confirmation form');
    const done = await browser.submit(page, form);
    assert.equal(done.status, 200, done.text.slice(0, 200));
    // Latchkey delivers outside the request: wait for the app to have been told.
    for (let i = 0; i < 200 && answers.length === before; i++) {
      await lk.running.server.context.backchannelLogout.deliverDue();
      if (answers.length === before) await new Promise((r) => setTimeout(r, 25));
    }
    assert.deepEqual(answers.slice(before), [{ status: 200, body: '' }]);
    const me = await browser.get(`${app.url}/me`);
    assert.equal(me.status, 401, 'the app session has ended');
    assert.match(me.headers.getSetCookie().join(), /latchkey=;/, 'its cookie is cleared');
    const stillIn = await other.get(`${app.url}/me`);
    assert.equal(stillIn.status, 200, 'the other browser (another Latchkey session) is still signed in');
  });

  test('a valid token is 200, no-store; a sub-only token ends every session of the user', async () => {
    const browser = new FormBrowser();
    await signIn(browser);
    const res = await post(await logoutToken({ sid: undefined }));
    assert.equal(res.status, 200, await res.text());
    assert.equal(res.headers.get('cache-control'), 'no-store');
    assert.equal((await browser.get(`${app.url}/me`)).status, 401);
    // A sign-in after the logout (a new Latchkey session, a later auth_time) is not ended by it.
    await new Promise((r) => setTimeout(r, 1100));
    const later = new FormBrowser();
    await signIn(later);
    assert.equal((await later.get(`${app.url}/me`)).status, 200);
  });

  test('refused with 400: wrong aud, replayed jti, a nonce, no events, no sub or sid, an ID token, another signer, expired', async () => {
    const replayed = await logoutToken();
    assert.equal((await post(replayed)).status, 200);
    const { privateKey } = await generateKeyPair('RS256');
    const now = Math.floor(Date.now() / 1000);
    const cases: [string, string, RegExp][] = [
      ['wrong aud', await logoutToken({ aud: 'another-client' }), /aud/],
      ['replayed jti', replayed, /replayed/],
      ['nonce present', await logoutToken({ nonce: 'n-0S6_WzA2Mj' }), /nonce/],
      ['missing events', await logoutToken({ events: undefined }), /events/],
      ['events without the logout member', await logoutToken({ events: { 'http://example.com/other': {} } }), /backchannel-logout/],
      ['neither sub nor sid', await logoutToken({ sub: undefined, sid: undefined }), /sub nor sid/],
      ['no jti', await logoutToken({ jti: undefined }), /jti/],
      ['an ID token (typ JWT)', await logoutToken({}, { typ: 'JWT' }), /typ/],
      ['expired', await logoutToken({ iat: now - 600, exp: now - 300 }), /exp/],
      ['another issuer', await logoutToken({ iss: 'https://evil.example' }), /iss/],
      ['signed by another key', await new SignJWT({ iss: lk.issuer, aud: clientId, iat: now, jti: randomUUID(), sid: 's', events: { [BACKCHANNEL_LOGOUT_EVENT]: {} } }).setProtectedHeader({ alg: 'RS256', typ: 'logout+jwt' }).sign(privateKey), /signature|key/i],
      ['not a JWT', 'not-a-jwt', /.+/],
    ];
    for (const [label, token, reason] of cases) {
      const res = await post(token);
      const body = (await res.json()) as { error: string; error_description: string };
      assert.equal(res.status, 400, label);
      assert.equal(body.error, 'invalid_request', label);
      assert.match(body.error_description, reason, label);
      assert.equal(res.headers.get('cache-control'), 'no-store', label);
    }
    const missing = await fetch(`${app.url}/backchannel-logout`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'other=1' });
    assert.equal(missing.status, 400, 'no logout_token');
    assert.ok(decodeJwt(replayed).jti);
  });
});
