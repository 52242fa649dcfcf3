import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import {
  backends,
  completeFlow,
  FormBrowser,
  type HtmlForm,
  type Page,
  PASSWORD,
  postForm,
  type RunningServer,
  seedUserFlow,
  startServer,
  type TestDatabase,
  type UserFlowSeed,
} from '@latchkey/testing';
import { UserRegistry } from '../src/users/user-registry.ts';

/**
 * The account page's own parts besides the authenticator app (test/totp.test.ts): where the user is
 * signed in (and signing another browser out), the applications with access (and removing one, which
 * revokes its tokens), and the password change (the current password required). Real HTTP, both
 * databases.
 */

const FIREFOX = 'Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:133.0) Gecko/20100101 Firefox/133.0';
const SAFARI = 'Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Mobile/15E148 Safari/604.1';

for (const backend of await backends()) {
  describe(`account page: sessions, applications, password (${backend.name})`, { skip: backend.skip }, () => {
    let db: TestDatabase;
    let s: RunningServer;
    let seed: UserFlowSeed;

    before(async () => {
      db = await backend.create();
      s = await startServer(db);
      seed = await seedUserFlow(s);
    });
    after(async () => {
      await s?.close();
      await db?.drop();
    });

    const account = () => `${s.issuer}/account`;

    const signIn = async (browser: FormBrowser, username: string, password = PASSWORD, userAgent = FIREFOX): Promise<Page> => {
      const headers = { 'user-agent': userAgent };
      const login = await browser.get(account(), { headers });
      return browser.submit(login, browser.forms(login.text, login.url)[0]!, { values: { username, password }, followRedirects: true, headers });
    };

    const formOf = (browser: FormBrowser, page: Page, actionEnd: string, field?: [string, string]): HtmlForm => {
      const form = browser
        .forms(page.text, page.url)
        .find((f) => f.action.endsWith(actionEnd) && (field === undefined || f.inputs.some((i) => i.name === field[0] && i.value === field[1])));
      assert.ok(form, `no form for ${actionEnd} at ${page.url}`);
      return form;
    };

    const newUser = (username: string) => new UserRegistry(s.server.context.storage).create({ username, password: PASSWORD, name: username });

    test("where you're signed in: each browser with its address; another one is signed out from here", async () => {
      await newUser('nina');
      const laptop = new FormBrowser();
      const phone = new FormBrowser();
      await signIn(phone, 'nina', PASSWORD, SAFARI);
      const page = await signIn(laptop, 'nina');
      assert.match(page.text, /Firefox on Windows <span class="status on">This browser/);
      assert.match(page.text, /Safari on iOS/);
      assert.match(page.text, /127\.0\.0\.1 · last active [A-Z][a-z]{2} \d{1,2}, \d{4}</);
      // Nothing a cookie could be made from: no session id hash in the page.
      const sessions = await s.server.context.storage.sessions.listForUser((await s.server.context.storage.users.findByUsername('nina'))!.id);
      assert.equal(sessions.length, 2);
      for (const session of sessions) assert.ok(!page.text.includes(session.idHash));
      // Exactly one "Sign out" form for another session (none for this browser).
      const ends = laptop.forms(page.text, page.url).filter((f) => f.action.endsWith('/account/sessions/end'));
      assert.equal(ends.length, 1);
      const done = await laptop.submit(page, ends[0]!, { followRedirects: true });
      assert.match(done.text, /That browser is signed out/);
      assert.doesNotMatch(done.text, /Safari on iOS/);
      assert.match((await phone.get(account())).text, /Sign in/, 'the phone must sign in again');
      assert.match((await laptop.get(account())).text, /Your account/, 'this browser stays signed in');
      // "Sign out all other browsers": two more, both signed out at once, this one stays.
      const tablet = new FormBrowser();
      const desk = new FormBrowser();
      await signIn(tablet, 'nina', PASSWORD, SAFARI);
      await signIn(desk, 'nina');
      const before = await laptop.get(account());
      const all = await laptop.submit(before, formOf(laptop, before, '/account/sessions/end-others'), { followRedirects: true });
      assert.match(all.text, /Every other browser is signed out/);
      for (const other of [tablet, desk]) assert.match((await other.get(account())).text, /Sign in/);
      assert.match((await laptop.get(account())).text, /Your account/);
      assert.doesNotMatch(all.text, /Sign out all other browsers/, 'no other browser is left');
    });

    test('applications with access: a sign-in lists the application; removing it revokes its tokens and its consent', async () => {
      const browser = new FormBrowser();
      const { tokens } = await completeFlow(browser, s, { clientId: seed.publicClient });
      const page = await browser.get(account());
      assert.match(page.text, /Applications with access/);
      assert.match(page.text, /Demo Shop/);
      // With what it may do: the scopes of its grants.
      assert.match(page.text, /can use <code>email<\/code> <code>offline_access<\/code> <code>openid<\/code> <code>orders:read<\/code> <code>profile<\/code>/);
      const userinfo = () => fetch(`${s.issuer}/userinfo`, { headers: { authorization: `Bearer ${tokens.access_token}` } });
      assert.equal((await userinfo()).status, 200);
      const removed = await browser.submit(page, formOf(browser, page, '/account/applications/remove', ['client_id', seed.publicClient]), { followRedirects: true });
      assert.match(removed.text, /no longer has access/);
      assert.doesNotMatch(removed.text, /Demo Shop/);
      assert.equal((await userinfo()).status, 401, 'the access token is revoked');
      const refresh = await postForm(`${s.issuer}/token`, { grant_type: 'refresh_token', refresh_token: tokens.refresh_token!, client_id: seed.publicClient });
      assert.equal(refresh.status, 400);
      assert.equal(refresh.body.error, 'invalid_grant');
      // The consent is forgotten: the next sign-in asks again.
      const again = await completeFlow(browser, s, { clientId: seed.publicClient });
      assert.ok(again.sawConsent);
      // A client id that is not among the user's applications changes nothing.
      const other = await browser.get(account());
      const forged = await browser.submit(other, formOf(browser, other, '/account/applications/remove'), { values: { client_id: 'someone-else' }, followRedirects: true });
      assert.match(forged.text, /Demo Shop/);
    });

    test('password change: the current password is required; a short one is refused; the new one works and every other browser is signed out', async () => {
      await newUser('oscar');
      const other = new FormBrowser();
      await signIn(other, 'oscar');
      const browser = new FormBrowser();
      const page = await signIn(browser, 'oscar');
      const change = (current: string, next: string) => browser.submit(page, formOf(browser, page, '/account/password'), { values: { current_password: current, new_password: next }, followRedirects: true });
      const wrong = await change('not the password', 'a brand new passphrase');
      assert.equal(wrong.status, 400);
      assert.match(wrong.text, /current password is not right/);
      const short = await change(PASSWORD, 'short');
      assert.equal(short.status, 400);
      assert.match(short.text, /at least 8 characters/);
      const changed = await change(PASSWORD, 'a brand new passphrase');
      assert.match(changed.text, /Your password is changed/);
      assert.match((await browser.get(account())).text, /Your account/, 'this browser stays signed in');
      assert.match((await other.get(account())).text, /Sign in/, 'the other browser is signed out');
      assert.match((await signIn(new FormBrowser(), 'oscar', 'a brand new passphrase')).text, /Your account/);
      const old = await signIn(new FormBrowser(), 'oscar', PASSWORD);
      assert.equal(old.status, 400, 'the old password no longer works');
    });

    test('the forms need the CSRF token of the session', async () => {
      await newUser('peggy');
      const browser = new FormBrowser();
      await signIn(browser, 'peggy');
      for (const path of ['/password', '/sessions/end', '/applications/remove']) {
        const res = await browser.post(`${account()}${path}`, { csrf_token: 'forged', current_password: PASSWORD, new_password: 'another passphrase', session: 'x', client_id: seed.publicClient });
        assert.equal(res.status, 403, path);
      }
      assert.match((await signIn(new FormBrowser(), 'peggy')).text, /Your account/, 'the password is unchanged');
    });
  });
}
