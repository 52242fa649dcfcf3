import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { decodeJwt } from 'jose';
import { UserRegistry } from '../src/users/user-registry.ts';
import { backends, FormBrowser, type Page, PASSWORD, postForm, type RunningServer, startServer, type TestDatabase } from '@latchkey/testing';

const DEVICE_GRANT = 'urn:ietf:params:oauth:grant-type:device_code';

/**
 * RFC 8628 device authorization (docs/security.md G52-G56): the endpoint's response, the verification page
 * (login, code entry, confirmation with client and scopes, allow or deny), polling with every error
 * of §3.5, binding to the client, single redemption, rate limits on wrong codes.
 */
for (const backend of await backends()) {
  describe(`device authorization grant (${backend.name})`, { skip: backend.skip }, () => {
    let db: TestDatabase;
    let s: RunningServer;
    let tv: string;
    let other: string;
    let confidential: [string, string];

    before(async () => {
      db = await backend.create();
      s = await startServer(db);
      await s.registry.createResource({
        identifier: 'https://api.example.com',
        scopes: [{ scope: 'orders:read', description: 'Read your orders' }],
      });
      tv = (
        await s.registry.createClient({
          clientId: 'living-room-tv',
          name: 'Living Room TV',
          type: 'public',
          grantTypes: ['device_code', 'refresh_token'],
          scopes: ['openid', 'profile', 'offline_access', 'orders:read'],
        })
      ).client.clientId;
      other = (
        await s.registry.createClient({ name: 'Other Device', type: 'public', grantTypes: [DEVICE_GRANT], scopes: ['orders:read'] })
      ).client.clientId;
      const c = await s.registry.createClient({ name: 'Kiosk', type: 'confidential', grantTypes: [DEVICE_GRANT], scopes: ['orders:read'] });
      confidential = [c.client.clientId, c.clientSecret!];
      const users = new UserRegistry(s.server.context.storage);
      await users.create({ username: 'alice', password: PASSWORD, name: 'Alice Liddell' });
    });
    after(async () => {
      await s?.close();
      await db?.drop();
    });

    const start = async (clientId = tv, scope = 'openid profile offline_access orders:read') => {
      const res = await postForm(`${s.issuer}/device_authorization`, { client_id: clientId, scope });
      assert.equal(res.status, 200, res.text);
      return res.body as {
        device_code: string;
        user_code: string;
        verification_uri: string;
        verification_uri_complete: string;
        expires_in: number;
        interval: number;
      };
    };
    const poll = (deviceCode: string, clientId = tv) =>
      postForm(`${s.issuer}/token`, { grant_type: DEVICE_GRANT, device_code: deviceCode, client_id: clientId });

    /** Logs in on /device (when asked) and returns the page after login. */
    const openDevicePage = async (browser: FormBrowser, url: string): Promise<Page> => {
      let page = await browser.get(url);
      if (page.text.includes('name="password"')) {
        const [form] = browser.forms(page.text, page.url);
        page = await browser.submit(page, form!, { values: { username: 'alice', password: PASSWORD }, followRedirects: true });
      }
      return page;
    };
    const decide = async (browser: FormBrowser, page: Page, decision: 'allow' | 'deny') => {
      const [form] = browser.forms(page.text, page.url);
      return browser.submit(page, form!, { button: { name: 'decision', value: decision } });
    };

    test('G52: the response has every member; user codes are XXXX-XXXX from an alphabet without look-alikes', async () => {
      const r = await start();
      assert.match(r.user_code, /^[BCDFGHJKMNPQRSTVWXZ]{4}-[BCDFGHJKMNPQRSTVWXZ]{4}$/);
      assert.ok(r.device_code.length >= 43, 'a 256-bit device code');
      assert.equal(r.verification_uri, `${s.issuer}/device`);
      assert.equal(r.verification_uri_complete, `${s.issuer}/device?user_code=${encodeURIComponent(r.user_code)}`);
      assert.equal(r.expires_in, 600);
      assert.equal(r.interval, 5);
      const meta = (await (await fetch(`${s.issuer}/.well-known/oauth-authorization-server`)).json()) as { device_authorization_endpoint: string; grant_types_supported: string[] };
      assert.equal(meta.device_authorization_endpoint, `${s.issuer}/device_authorization`);
      assert.ok(meta.grant_types_supported.includes(DEVICE_GRANT));
    });

    test('the device authorization endpoint: client registered for the grant, allowed scopes, client authentication', async () => {
      const noGrant = await s.registry.createClient({ name: 'svc', type: 'confidential', grantTypes: ['client_credentials'], scopes: ['orders:read'] });
      const refused = await postForm(`${s.issuer}/device_authorization`, { scope: 'orders:read' }, { basic: [noGrant.client.clientId, noGrant.clientSecret!] });
      assert.equal(refused.body.error, 'unauthorized_client');
      assert.equal((await postForm(`${s.issuer}/device_authorization`, { client_id: tv, scope: 'orders:write' })).body.error, 'invalid_scope');
      assert.equal((await postForm(`${s.issuer}/device_authorization`, { client_id: tv })).body.error, 'invalid_scope');
      assert.equal((await postForm(`${s.issuer}/device_authorization`, { client_id: 'nobody', scope: 'orders:read' })).status, 401);
      const wrongSecret = await postForm(`${s.issuer}/device_authorization`, { scope: 'orders:read' }, { basic: [confidential[0], 'wrong'] });
      assert.equal(wrongSecret.body.error, 'invalid_client');
      assert.equal((await postForm(`${s.issuer}/device_authorization`, { scope: 'orders:read' }, { basic: confidential })).status, 200);
      assert.equal((await fetch(`${s.issuer}/device_authorization`)).status, 405);
    });

    test('G53, G56: pending, then slow_down when polled too fast, then the tokens after approval; the page shows client and scopes', async (t) => {
      const r = await start();
      const first = await poll(r.device_code);
      assert.equal(first.status, 400);
      assert.equal(first.body.error, 'authorization_pending');
      const fast = await poll(r.device_code);
      assert.equal(fast.body.error, 'slow_down', 'polled again at once');
      // The interval is now 10 s: 6 s later is still too fast, 11 s later is fine.
      const base = Date.now();
      t.mock.timers.enable({ apis: ['Date'], now: base + 6_000 });
      assert.equal((await poll(r.device_code)).body.error, 'slow_down', 'the interval grew by 5 s');
      t.mock.timers.setTime(base + 6_000 + 16_000);
      assert.equal((await poll(r.device_code)).body.error, 'authorization_pending');
      t.mock.timers.reset();

      const browser = new FormBrowser();
      const page = await openDevicePage(browser, r.verification_uri_complete);
      assert.equal(page.status, 200, page.text.slice(0, 300));
      assert.match(page.text, /Living Room TV/);
      assert.match(page.text, /Read your orders/);
      assert.match(page.text, new RegExp(r.user_code));
      assert.match(page.headers.get('content-security-policy') ?? '', /frame-ancestors 'none'/);
      const done = await decide(browser, page, 'allow');
      assert.equal(done.status, 200);
      assert.match(done.text, /Device connected/);

      t.mock.timers.enable({ apis: ['Date'], now: Date.now() + 60_000 });
      const tokens = await poll(r.device_code);
      t.mock.timers.reset();
      assert.equal(tokens.status, 200, tokens.text);
      assert.equal(decodeJwt(tokens.body.access_token).client_id, tv);
      assert.ok(tokens.body.id_token, 'openid gives an ID token');
      // The sign-in of the user who approved on the page (RFC 8176 pwd), in both tokens.
      for (const token of [tokens.body.id_token, tokens.body.access_token]) {
        const claims = decodeJwt(token);
        assert.deepEqual([claims.acr, claims.amr, typeof claims.auth_time], ['urn:latchkey:acr:password', ['pwd'], 'number']);
      }
      assert.ok(tokens.body.refresh_token, 'offline_access gives a refresh token');
      const refreshed = await postForm(`${s.issuer}/token`, { grant_type: 'refresh_token', refresh_token: tokens.body.refresh_token, client_id: tv });
      assert.equal(refreshed.status, 200, refreshed.text);
    });

    test('G54: a device code is bound to its client and redeemed once', async (t) => {
      const r = await start();
      const browser = new FormBrowser();
      await decide(browser, await openDevicePage(browser, r.verification_uri_complete), 'allow');
      t.mock.timers.enable({ apis: ['Date'], now: Date.now() + 60_000 });
      const stolen = await poll(r.device_code, other);
      assert.equal(stolen.body.error, 'invalid_grant', 'another client');
      t.mock.timers.setTime(Date.now() + 120_000);
      assert.equal((await poll(r.device_code)).status, 200, 'its own client still can');
      t.mock.timers.setTime(Date.now() + 180_000);
      assert.equal((await poll(r.device_code)).body.error, 'invalid_grant', 'once only');
      t.mock.timers.reset();
    });

    test('another client polling a device code changes nothing of it: its own client is not slowed down', async (t) => {
      const r = await start();
      t.mock.timers.enable({ apis: ['Date'], now: Date.now() + 1000 });
      try {
        // Rapid polls by another client: refused, and nothing recorded against the code...
        for (let i = 0; i < 3; i++) assert.equal((await poll(r.device_code, other)).body.error, 'invalid_grant');
        // ...so the first poll of its own client is not "too soon".
        assert.equal((await poll(r.device_code)).body.error, 'authorization_pending', 'its own client is not told to slow down');
      } finally {
        t.mock.timers.reset();
      }
    });

    test('G53, G56: a denial is final: access_denied, and the code cannot be approved afterwards', async (t) => {
      const r = await start();
      const browser = new FormBrowser();
      const page = await openDevicePage(browser, r.verification_uri_complete);
      const denied = await decide(browser, page, 'deny');
      assert.match(denied.text, /denied/);
      // Browser Back and Allow (Keycloak #36811): the code is no longer pending.
      const again = await decide(browser, page, 'allow');
      assert.equal(again.status, 400);
      t.mock.timers.enable({ apis: ['Date'], now: Date.now() + 60_000 });
      assert.equal((await poll(r.device_code)).body.error, 'access_denied');
      t.mock.timers.reset();
    });

    test('G53: expired_token after the lifetime; approval after expiry fails', async (t) => {
      const r = await start();
      const browser = new FormBrowser();
      const page = await openDevicePage(browser, r.verification_uri_complete);
      t.mock.timers.enable({ apis: ['Date'], now: Date.now() + 601_000 });
      const late = await decide(browser, page, 'allow');
      assert.equal(late.status, 400, 'approval after expiry fails');
      assert.equal((await poll(r.device_code)).body.error, 'expired_token');
      t.mock.timers.reset();
    });

    test('G55: the code entry is rate limited per session; codes are case-insensitive and ignore the dash', async () => {
      const r = await start();
      const browser = new FormBrowser();
      let page = await openDevicePage(browser, `${s.issuer}/device`);
      assert.match(page.text, /name="user_code"/);
      // Lower case, no dash: accepted.
      const [form] = browser.forms(page.text, page.url);
      const loose = await browser.submit(page, form!, { values: { user_code: r.user_code.replace('-', '').toLowerCase() } });
      assert.equal(loose.status, 200);
      assert.match(loose.text, /Living Room TV/);
      // Every attempt counts (12 per session): the lookup above and 11 wrong codes, then even the
      // right one is refused for this session.
      for (let i = 0; i < 11; i++) {
        page = await browser.submit(page, browser.forms(page.text, page.url)[0]!, { values: { user_code: 'BBBB-BBBB' } });
        assert.equal(page.status, 400, `wrong code ${i + 1}`);
      }
      const limited = await browser.submit(page, browser.forms(page.text, page.url)[0]!, { values: { user_code: r.user_code } });
      assert.equal(limited.status, 429);
      assert.match(limited.text, /Too many wrong codes/);
    });

    test('G55: simultaneous guesses cannot slip under the limit (counted atomically before the lookup)', async () => {
      const browser = new FormBrowser();
      const page = await openDevicePage(browser, `${s.issuer}/device`);
      const [form] = browser.forms(page.text, page.url);
      const csrf = form!.inputs.find((i) => i.name === 'csrf_token')!.value;
      const answers = await Promise.all(
        Array.from({ length: 40 }, () => browser.post(`${s.issuer}/device`, { csrf_token: csrf, user_code: 'BBBB-BBBB' })),
      );
      const checked = answers.filter((a) => a.status === 400).length;
      assert.ok(checked <= 12, `${checked} guesses were checked against the database`);
      assert.equal(answers.filter((a) => a.status === 429).length, 40 - checked);
    });

    test('the verification forms need the CSRF token and a session', async () => {
      const r = await start();
      const anonymous = await fetch(`${s.issuer}/device`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ user_code: r.user_code, decision: 'allow' }),
      });
      assert.ok((await anonymous.text()).includes('name="password"'), 'without a session: the login form');
      const browser = new FormBrowser();
      await openDevicePage(browser, `${s.issuer}/device`);
      const forged = await browser.post(`${s.issuer}/device`, { user_code: r.user_code, decision: 'allow', csrf_token: 'forged' });
      assert.equal(forged.status, 403);
      assert.equal((await poll(r.device_code)).body.error, 'authorization_pending', 'nothing was approved');
    });

    test('a user disabled after approval gets no tokens', async (t) => {
      const users = new UserRegistry(s.server.context.storage);
      await users.create({ username: 'bill', password: PASSWORD });
      const r = await start();
      const browser = new FormBrowser();
      let page = await browser.get(r.verification_uri_complete);
      const [form] = browser.forms(page.text, page.url);
      page = await browser.submit(page, form!, { values: { username: 'bill', password: PASSWORD }, followRedirects: true });
      await decide(browser, page, 'allow');
      await users.disable('bill');
      t.mock.timers.enable({ apis: ['Date'], now: Date.now() + 60_000 });
      assert.equal((await poll(r.device_code)).body.error, 'invalid_grant');
      t.mock.timers.reset();
    });
  });
}
