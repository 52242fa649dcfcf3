import assert from 'node:assert/strict';
import { after, before, describe, test, type TestContext } from 'node:test';
import { decodeJwt } from 'jose';
import { generateSync } from 'otplib';
import {
  backends,
  authorizeUrl,
  completeFlow,
  dbEnv,
  exchangeCode,
  FormBrowser,
  type Page,
  PASSWORD,
  pkcePair,
  postForm,
  type RunningServer,
  runAuthorization,
  runLatchkey,
  seedUserFlow,
  startServer,
  type TestDatabase,
  type UserFlowSeed,
} from '@latchkey/testing';
import { UserRegistry } from '../src/users/user-registry.ts';

/**
 * One-time codes (RFC 6238) as a second factor, through real HTTP on both databases: set up on the
 * account page, then asked for by every sign-in (authorization, device, account). The codes are
 * computed by `otplib`, a library the server does not use (it uses `otpauth`), from the secret the
 * page shows, so a mistake in either the secret, its encoding or the time step would show.
 */

/**
 * Waits out the last seconds of a 30-second step, so that a code of the previous step computed now is
 * still within the server's window (±1 step) when the server checks it.
 */
const awayFromStepEdge = async () => {
  const into = (Date.now() / 1000) % 30;
  if (into > 26) await new Promise((resolve) => setTimeout(resolve, (31 - into) * 1000));
};

/** The code of `secret` at `seconds` (default now), as an authenticator app would show it. */
const codeAt = (secret: string, seconds = Math.floor(Date.now() / 1000)) => generateSync({ secret, epoch: seconds });

for (const backend of await backends()) {
  describe(`authenticator app, RFC 6238 (${backend.name})`, { skip: backend.skip }, () => {
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

    /** Signs in on the account page with the password; answers the code form when asked. */
    const signInToAccount = async (browser: FormBrowser, username: string, code?: () => Promise<string>): Promise<Page> => {
      const login = await browser.get(account());
      assert.equal(login.status, 200);
      assert.match(login.text, /Sign in/);
      let page = await browser.submit(login, browser.forms(login.text, login.url)[0]!, { values: { username, password: PASSWORD }, followRedirects: true });
      if (code && /Two-step verification/.test(page.text)) {
        page = await browser.submit(page, browser.forms(page.text, page.url)[0]!, { values: { code: await code() }, followRedirects: true });
      }
      return page;
    };

    /** A form of a page by the end of its action. */
    const formOf = (browser: FormBrowser, page: Page, actionEnd: string) => {
      const form = browser.forms(page.text, page.url).find((f) => f.action.endsWith(actionEnd));
      assert.ok(form, `no form for ${actionEnd} at ${page.url}: ${page.text.slice(0, 400)}`);
      return form;
    };

    /** The recovery codes of a page that shows them (once). */
    const recoveryCodesOf = (page: Page) => [...page.text.matchAll(/<li><code>([0-9a-f-]+)<\/code><\/li>/g)].map((m) => m[1]!);

    /** A new user, with an authenticator app set up through the account page; returns its secret and recovery codes. */
    const userWithTotp = async (username: string): Promise<{ secret: string; browser: FormBrowser; id: string; recoveryCodes: string[] }> => {
      const user = await new UserRegistry(s.server.context.storage).create({ username, password: PASSWORD, name: username });
      const browser = new FormBrowser();
      const home = await signInToAccount(browser, username);
      assert.match(home.text, /Authenticator app <span class="status">Off/);
      const setup = await browser.submit(home, formOf(browser, home, '/account/totp'), { followRedirects: true });
      assert.equal(setup.status, 200);
      const secret = /<code class="secret" id="secret">([A-Z2-7 ]+)<\/code>/.exec(setup.text)?.[1]?.replace(/ /g, '');
      assert.ok(secret, 'the key is shown as text');
      // Confirmed with the previous step's code (accepted, RFC 6238 §5.2), so the current one is still unused.
      await awayFromStepEdge();
      const codesPage = await browser.submit(setup, formOf(browser, setup, '/account/totp/confirm'), { values: { code: codeAt(secret, Math.floor(Date.now() / 1000) - 30) }, followRedirects: true });
      const recoveryCodes = recoveryCodesOf(codesPage);
      assert.equal(recoveryCodes.length, 10, codesPage.text.slice(0, 500));
      const done = await browser.get(new URL(/href="([^"]+)">I have saved them/.exec(codesPage.text)![1]!, codesPage.url).toString());
      assert.match(done.text, /Authenticator app <span class="status on">On/, done.text.slice(0, 500));
      return { secret, browser, id: user.id, recoveryCodes };
    };

    test('set up on the account page: a QR code drawn as inline SVG, the key as text, confirmed by a first code; the secret is encrypted at rest', async () => {
      const browser = new FormBrowser();
      const home = await signInToAccount(browser, seed.user.username);
      assert.match(home.headers.get('content-security-policy') ?? '', /default-src 'none'/);
      assert.equal(home.headers.get('cache-control'), 'no-store');
      assert.match(home.text, /alice@example\.com/);
      const setup = await browser.submit(home, formOf(browser, home, '/account/totp'), { followRedirects: true });
      assert.equal(new URL(setup.url).pathname, '/account/totp');
      assert.match(setup.text, /<svg [^>]*viewBox/, 'the QR code is SVG in the page, from no other origin');
      assert.doesNotMatch(setup.text, /<img|<script|https?:\/\/(?!www\.w3\.org)/, 'no image, script or other site');
      const secret = /<code class="secret" id="secret">([A-Z2-7 ]+)<\/code>/.exec(setup.text)![1]!.replace(/ /g, '');
      assert.equal(secret.length, 32, '160 bits in base32 (RFC 4226 §4 R6)');

      const stored = await s.server.context.storage.totp.find(seed.user.id);
      assert.ok(stored && stored.confirmedAt === null, 'stored, not in use before the first code');
      assert.ok(!stored.secretEnc.includes(secret), 'never in clear');
      assert.match(stored.secretEnc, /^v1\./);

      // A wrong first code changes nothing; the page asks again with the same key.
      const wrong = await browser.submit(setup, formOf(browser, setup, '/account/totp/confirm'), { values: { code: codeAt(secret, Math.floor(Date.now() / 1000) - 300) } });
      assert.equal(wrong.status, 400);
      assert.match(wrong.text, /not right/);
      assert.ok(wrong.text.includes(secret.slice(0, 4)));
      assert.equal((await s.server.context.storage.totp.find(seed.user.id))?.confirmedAt, null);

      const codesPage = await browser.submit(wrong, formOf(browser, wrong, '/account/totp/confirm'), { values: { code: codeAt(secret) }, followRedirects: true });
      assert.match(codesPage.text, /Your recovery codes/);
      assert.equal(codesPage.headers.get('cache-control'), 'no-store');
      const codes = recoveryCodesOf(codesPage);
      assert.equal(new Set(codes).size, 10);
      for (const code of codes) assert.match(code, /^[0-9a-f]{5}(-[0-9a-f]{5}){3}$/, '80 bits each');
      const rows = await s.server.context.storage.db.kysely.selectFrom('recovery_codes').selectAll().where('user_id', '=', seed.user.id).execute();
      assert.equal(rows.length, 10);
      for (const code of codes) assert.ok(!JSON.stringify(rows).includes(code.replace(/-/g, '')), 'only hashes are stored');
      const done = await browser.get(`${account()}?updated=totp-on`);
      assert.match(done.text, /Your authenticator app is on/);
      assert.match(done.text, /10 of 10 left/);
      assert.match(done.text, /status on">On/);
      // This browser stays signed in (its session now counts two factors): no code form.
      const again = await browser.get(account());
      assert.match(again.text, /Your account/);
      // Turned off again at the end, so the other tests see alice without it.
      const off = await browser.submit(again, formOf(browser, again, '/account/totp/remove'), { followRedirects: true });
      assert.match(off.text, /Your authenticator app is off/);
      assert.equal(await s.server.context.storage.totp.find(seed.user.id), undefined);
    });

    test('authorization: after the password the code is asked for; the tokens say pwd, otp, mfa (RFC 8176) and acr mfa', async () => {
      const { secret } = await userWithTotp('bob');
      const browser = new FormBrowser();
      let asked = 0;
      const { tokens } = await completeFlow(browser, s, {
        clientId: seed.publicClient,
        username: 'bob',
        otp: async () => {
          asked++;
          return codeAt(secret);
        },
      });
      assert.equal(asked, 1);
      for (const token of [tokens.id_token!, tokens.access_token]) {
        const claims = decodeJwt(token);
        assert.deepEqual(claims.amr, ['pwd', 'otp', 'mfa']);
        assert.equal(claims.acr, 'urn:latchkey:acr:mfa');
      }
    });

    test('the password alone is good for nothing: the session owes its code at /authorize, the account page and prompt=none', async () => {
      const { secret } = await userWithTotp('carol');
      const browser = new FormBrowser();
      const first = await runAuthorization(browser, s, { clientId: seed.publicClient, username: 'carol', otp: async () => '000000' }).catch((err: Error) => err);
      assert.ok(first instanceof Error, 'a wrong code does not get through');
      // Only the password was given: no consent page, no code for the client.
      const authorize = await browser.get(`${s.issuer}/authorize?${new URLSearchParams({ response_type: 'code', client_id: seed.publicClient, redirect_uri: seed.redirectUri, scope: 'openid', code_challenge: 'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM', code_challenge_method: 'S256', prompt: 'none' })}`);
      assert.equal(authorize.status, 303);
      assert.equal(new URL(authorize.location!).searchParams.get('error'), 'login_required');
      const accountPage = await browser.get(account());
      assert.match(accountPage.text, /Two-step verification/);
      assert.doesNotMatch(accountPage.text, /Your account/);
      // The code completes it.
      const done = await browser.submit(accountPage, browser.forms(accountPage.text, accountPage.url)[0]!, { values: { code: codeAt(secret) }, followRedirects: true });
      assert.match(done.text, /Your account/);
    });

    test('a code is accepted once (RFC 6238 §5.2), the previous step too but not older ones, and only the right user', async (t: TestContext) => {
      const { secret } = await userWithTotp('dave');
      const base = Date.now();
      t.mock.timers.enable({ apis: ['Date'], now: base + 90_000 });
      const now = Math.floor(Date.now() / 1000);
      const attempt = async (code: string) => {
        const browser = new FormBrowser();
        const page = await signInToAccount(browser, 'dave');
        return browser.submit(page, browser.forms(page.text, page.url)[0]!, { values: { code }, followRedirects: true });
      };
      assert.equal((await attempt(codeAt(secret, now - 90))).status, 400, 'three steps ago: refused');
      assert.match((await attempt(codeAt(secret, now - 30))).text, /Your account/, 'the previous step: accepted');
      assert.equal((await attempt(codeAt(secret, now - 30))).status, 400, 'the same code again: refused');
      assert.match((await attempt(codeAt(secret, now))).text, /Your account/, 'the current step, later than the one used');
      const replay = await attempt(codeAt(secret, now));
      assert.equal(replay.status, 400);
      assert.match(replay.text, /used already/);
      assert.equal((await attempt(codeAt(secret, now - 30))).status, 400, 'an earlier step than the last used: refused');
    });

    test('the same code sent at once from several browsers signs in exactly one of them (one conditional UPDATE, on every backend)', async () => {
      const { secret } = await userWithTotp('tina');
      const browsers = Array.from({ length: 4 }, () => new FormBrowser());
      const pages = await Promise.all(browsers.map((b) => signInToAccount(b, 'tina')));
      const code = codeAt(secret);
      const answers = await Promise.all(browsers.map((b, i) => b.submit(pages[i]!, b.forms(pages[i]!.text, pages[i]!.url)[0]!, { values: { code }, followRedirects: true })));
      assert.equal(answers.filter((a) => /Your account/.test(a.text)).length, 1, answers.map((a) => a.status).join(' '));
      assert.equal(answers.filter((a) => a.status === 400).length, 3);
    });

    test('guessing is limited per account like passwords: five wrong codes end the half sign-in, then 429 with Retry-After, even for the right code', async () => {
      const { secret } = await userWithTotp('erin');
      const browser = new FormBrowser();
      let page = await signInToAccount(browser, 'erin');
      for (let i = 0; i < 4; i++) {
        page = await browser.submit(page, browser.forms(page.text, page.url)[0]!, { values: { code: String(100000 + i) } });
        assert.equal(page.status, 400, `wrong code ${i + 1}`);
      }
      // The fifth wrong code ends the half sign-in: the password must be given again.
      const ended = await browser.submit(page, browser.forms(page.text, page.url)[0]!, { values: { code: '100004' }, followRedirects: true });
      assert.match(ended.text, /name="password"/, 'back to the login form');
      page = await signInToAccount(browser, 'erin');
      assert.match(page.text, /Two-step verification/);
      const limited = await browser.submit(page, browser.forms(page.text, page.url)[0]!, { values: { code: codeAt(secret) } });
      assert.equal(limited.status, 429);
      // The first wait is 30 s after the fifth failure; a second may have passed since.
      const wait = Number(limited.headers.get('retry-after'));
      assert.ok(wait > 0 && wait <= 30, `Retry-After ${wait}`);
      assert.match(limited.text, /Too many wrong codes/);
      // From another browser and address too: the limit is the account's.
      const other = new FormBrowser();
      const otherPage = await signInToAccount(other, 'erin');
      assert.equal((await other.submit(otherPage, other.forms(otherPage.text, otherPage.url)[0]!, { values: { code: codeAt(secret) } })).status, 429);
    });

    test('a secret that cannot be decrypted (LATCHKEY_SECRET changed) gets a clear 503 page, never a 500', async () => {
      const { secret, id } = await userWithTotp('gus');
      const storage = s.server.context.storage;
      await storage.db.kysely.updateTable('totp_factors').set({ secret_enc: 'v1.AAAAAAAAAAAAAAAA.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA' }).where('user_id', '=', id).execute();
      const browser = new FormBrowser();
      const page = await signInToAccount(browser, 'gus');
      const refused = await browser.submit(page, browser.forms(page.text, page.url)[0]!, { values: { code: codeAt(secret) } });
      assert.equal(refused.status, 503);
      assert.match(refused.text, /cannot be checked right now/);
      assert.doesNotMatch(refused.text, /Error|at .*\.ts/);
    });

    test('NIST SP 800-63B §5.2.2: past 100 wrong codes in a row the factor is locked, the right code too, until the operator resets it', async () => {
      const { secret, id } = await userWithTotp('fiona');
      const storage = s.server.context.storage;
      // 100 failures already counted, their wait over (as if spread over a day).
      const now = Math.floor(Date.now() / 1000);
      await storage.db.kysely.insertInto('login_throttles').values({ key: `totp:account:${id}`, failures: 100, last_failure_at: now - 60, blocked_until: now - 1 }).execute();
      const browser = new FormBrowser();
      const page = await signInToAccount(browser, 'fiona');
      const locked = await browser.submit(page, browser.forms(page.text, page.url)[0]!, { values: { code: codeAt(secret) } });
      assert.equal(locked.status, 429);
      assert.match(locked.text, /locked/);
      assert.equal((await storage.sessions.listForUser(id)).filter((x) => x.amr.includes('mfa')).length, 1, 'only the session that set the app up has two factors');
      const reset = await runLatchkey(['users', 'reset-factors', 'fiona'], dbEnv(db));
      assert.equal(reset.code, 0, reset.stderr);
      assert.equal(await storage.loginThrottles.get(`totp:account:${id}`, 0), undefined, 'the count is gone with the factor');
    });

    test('forms without their CSRF token change nothing; turning the app off needs a sign-in of the last ten minutes', async (t: TestContext) => {
      const { browser, id } = await userWithTotp('frank');
      const home = await browser.get(account());
      const forged = await browser.post(`${account()}/totp/remove`, { csrf_token: 'forged' });
      assert.equal(forged.status, 403);
      assert.ok(await s.server.context.storage.totp.isEnabled(id));
      t.mock.timers.enable({ apis: ['Date'], now: Date.now() + 11 * 60_000 });
      // Keep the session from idling out: it was used 11 minutes ago, under the 30-minute idle limit.
      const stale = await browser.submit(home, formOf(browser, home, '/account/totp/remove'));
      assert.equal(stale.status, 403);
      assert.match(stale.text, /Sign in again/);
      assert.ok(await s.server.context.storage.totp.isEnabled(id), 'still on');
      const reauth = await browser.submit(stale, formOf(browser, stale, '/account/reauthenticate'), { followRedirects: true });
      assert.match(reauth.text, /Sign in/, 'the session ended: the login form');
    });

    test('CLI: users factors shows the authenticator app; reset-factors removes it and ends the sessions; the next sign-in is the password alone', async () => {
      const { browser, id } = await userWithTotp('heidi');
      const cli = (...args: string[]) => runLatchkey(args, dbEnv(db));
      const shown = await cli('users', 'factors', 'heidi', '--json');
      assert.equal(shown.code, 0, shown.stderr);
      const json = JSON.parse(shown.stdout) as { username: string; totp: { enabled: boolean; confirmed_at: string } };
      assert.equal(json.username, 'heidi');
      assert.equal(json.totp.enabled, true);
      assert.doesNotMatch(shown.stdout, /secret/i, 'no secret is ever shown');
      const reset = await cli('users', 'reset-factors', 'heidi');
      assert.equal(reset.code, 0, reset.stderr);
      assert.match(reset.stdout, /removed the second factors of heidi \(totp, recovery_codes\); 1 session\(s\) ended/);
      assert.equal(await s.server.context.storage.totp.find(id), undefined);
      assert.match((await browser.get(account())).text, /Sign in/, 'the session ended');
      assert.match((await signInToAccount(new FormBrowser(), 'heidi')).text, /Your account/, 'the password alone now');
      assert.match((await cli('users', 'factors', 'heidi')).stdout, /authenticator app \(TOTP\): none/);
      const unknown = await cli('users', 'reset-factors', 'nobody');
      assert.equal(unknown.code, 1);
    });

    test('a recovery code signs in once instead of the app code, and the account page then says a code was used', async () => {
      const { recoveryCodes, id } = await userWithTotp('ivan');
      const attempt = async (code: string) => {
        const browser = new FormBrowser();
        const page = await signInToAccount(browser, 'ivan');
        const form = browser.forms(page.text, page.url).filter((f) => f.action.endsWith('/account/otp'))[1];
        assert.ok(form, 'the recovery-code form of the code page');
        return browser.submit(page, form, { values: { code }, followRedirects: true });
      };
      // Typed as people type it: upper case, spaces for dashes.
      const used = await attempt(recoveryCodes[3]!.toUpperCase().replace(/-/g, ' '));
      assert.match(used.text, /Your account/);
      assert.match(used.text, /A recovery code was used to sign in on [A-Z][a-z]{2} \d{1,2}, \d{4}\./);
      assert.match(used.text, /9 of 10 left/);
      const again = await attempt(recoveryCodes[3]!);
      assert.equal(again.status, 400, 'the same code a second time');
      assert.equal((await attempt('00000-00000-00000-00000')).status, 400, 'a code that is not theirs');
      const status = await s.server.context.storage.recoveryCodes.status(id);
      assert.equal(status.remaining, 9);
      // Another user's code does not work for this one.
      const other = await userWithTotp('judy');
      assert.equal((await attempt(other.recoveryCodes[0]!)).status, 400);
    });

    test('new recovery codes replace the old ones, and need a recent sign-in', async (t: TestContext) => {
      const { browser, recoveryCodes, secret } = await userWithTotp('kim');
      const home = await browser.get(account());
      const fresh = await browser.submit(home, formOf(browser, home, '/account/recovery-codes'));
      assert.equal(fresh.status, 200);
      const newCodes = recoveryCodesOf(fresh);
      assert.equal(newCodes.length, 10);
      assert.ok(!newCodes.includes(recoveryCodes[0]!));
      const signInWith = async (code: string) => {
        const b = new FormBrowser();
        const page = await signInToAccount(b, 'kim');
        return b.submit(page, b.forms(page.text, page.url).filter((f) => f.action.endsWith('/account/otp'))[1]!, { values: { code }, followRedirects: true });
      };
      assert.equal((await signInWith(recoveryCodes[0]!)).status, 400, 'an old code no longer works');
      assert.match((await signInWith(newCodes[0]!)).text, /Your account/, 'a new one does');
      t.mock.timers.enable({ apis: ['Date'], now: Date.now() + 11 * 60_000 });
      const later = await browser.get(account());
      const stale = await browser.submit(later, formOf(browser, later, '/account/recovery-codes'));
      assert.equal(stale.status, 403);
      assert.match(stale.text, /Sign in again/);
      assert.ok(secret);
    });

    test('step-up (OIDC acr_values): a request for urn:latchkey:acr:mfa has a password-only user set up the app during the sign-in, then goes on', async () => {
      await new UserRegistry(s.server.context.storage).create({ username: 'lena', password: PASSWORD, name: 'Lena' });
      const browser = new FormBrowser();
      const { verifier, challenge } = pkcePair();
      const url = authorizeUrl(s, { clientId: seed.publicClient, extra: { acr_values: 'urn:latchkey:acr:mfa' } }, challenge);
      const login = await browser.get(url, { followRedirects: true });
      let page = await browser.submit(login, browser.forms(login.text, login.url)[0]!, { values: { username: 'lena', password: PASSWORD }, followRedirects: true });
      assert.equal(new URL(page.url).pathname, '/login/otp/setup', page.text.slice(0, 300));
      assert.match(page.text, /asks for a second step when you sign in/);
      assert.doesNotMatch(page.text, />Cancel</);
      // Without the code, prompt=none cannot go on: interaction_required (OIDC Core §3.1.2.6).
      const silent = await browser.get(authorizeUrl(s, { clientId: seed.publicClient, extra: { acr_values: 'urn:latchkey:acr:mfa', prompt: 'none' } }, challenge));
      assert.equal(new URL(silent.location!).searchParams.get('error'), 'interaction_required');
      const secret = /<code class="secret" id="secret">([A-Z2-7 ]+)<\/code>/.exec(page.text)![1]!.replace(/ /g, '');
      page = await browser.submit(page, browser.forms(page.text, page.url)[0]!, { values: { code: codeAt(secret) } });
      assert.equal(page.status, 200, page.text.slice(0, 300));
      assert.equal(recoveryCodesOf(page).length, 10);
      const next = new URL(/href="([^"]+)">I have saved them, continue/.exec(page.text)![1]!.replace(/&#38;/g, '&'), page.url).toString();
      page = await browser.get(next, { followRedirects: true });
      // The consent page of the public client, then the code.
      const consent = browser.forms(page.text, page.url)[0]!;
      const back = await browser.submit(page, consent, { button: { name: 'decision', value: 'allow' } });
      const code = new URL(back.location!).searchParams.get('code');
      assert.ok(code, back.location);
      const tokens = await exchangeCode(s, { clientId: seed.publicClient, code, verifier });
      assert.equal(tokens.status, 200, tokens.text);
      const claims = decodeJwt(tokens.body.id_token as string);
      assert.equal(claims.acr, 'urn:latchkey:acr:mfa');
      assert.deepEqual(claims.amr, ['pwd', 'otp', 'mfa']);
      assert.ok(await s.server.context.storage.totp.isEnabled((await s.server.context.storage.users.findByUsername('lena'))!.id));
    });

    test('acr_values that a password meets, or that Latchkey does not know, are answered with the sign-in as it is', async () => {
      for (const acrValues of ['urn:latchkey:acr:password urn:latchkey:acr:mfa', 'phr urn:latchkey:acr:password', 'urn:example:unknown']) {
        const { tokens, sawLogin } = await completeFlow(new FormBrowser(), s, { clientId: seed.publicClient, extra: { acr_values: acrValues } });
        assert.ok(sawLogin);
        assert.equal(decodeJwt(tokens.id_token!).acr, 'urn:latchkey:acr:password', acrValues);
      }
      const tooLong = await new FormBrowser().get(authorizeUrl(s, { clientId: seed.publicClient, extra: { acr_values: 'x'.repeat(600) } }, pkcePair().challenge));
      assert.equal(new URL(tooLong.location!).searchParams.get('error'), 'invalid_request');
    });

    /** Signs in to an authorization of `clientId` with the password; returns the page that follows. */
    const passwordSignIn = async (browser: FormBrowser, server: RunningServer, clientId: string, username: string) => {
      const login = await browser.get(authorizeUrl(server, { clientId, scope: 'openid' }, pkcePair().challenge), { followRedirects: true });
      return browser.submit(login, browser.forms(login.text, login.url)[0]!, { values: { username, password: PASSWORD }, followRedirects: true });
    };

    test('policy: a client that requires two factors sends a password-only user to the setup; its other clients do not', async () => {
      await new UserRegistry(s.server.context.storage).create({ username: 'quinn', password: PASSWORD });
      const payroll = await s.registry.createClient({ name: 'Payroll', type: 'public', grantTypes: ['authorization_code'], scopes: ['openid'], redirectUris: [seed.redirectUri], requireSecondFactor: true, firstParty: true });
      const browser = new FormBrowser();
      const strict = await passwordSignIn(browser, s, payroll.client.clientId, 'quinn');
      assert.equal(new URL(strict.url).pathname, '/login/otp/setup');
      assert.match(strict.text, /Payroll asks for a second step/);
      // The consent page is no way around it: GET and POST send the browser back to the setup, no code.
      const consentUrl = new URL(strict.url);
      consentUrl.pathname = '/consent';
      const viaConsent = await browser.get(consentUrl.toString());
      assert.equal(viaConsent.status, 303);
      assert.equal(new URL(viaConsent.location!).pathname, '/login/otp/setup');
      const posted = await browser.post(`${s.issuer}/consent`, { ...Object.fromEntries(consentUrl.searchParams), decision: 'allow', csrf_token: 'x' });
      assert.equal(posted.status, 303);
      assert.equal(new URL(posted.location!).pathname, '/login/otp/setup', 'no code for the client');
      const relaxed = await passwordSignIn(new FormBrowser(), s, seed.publicClient, 'quinn');
      assert.equal(new URL(relaxed.url).pathname, '/consent', 'the shop does not require it');
    });

    test('policy: users require-second-factor (CLI) sends the user to the setup at the next sign-in, refuses a password-only device approval, and --off undoes it', async () => {
      await new UserRegistry(s.server.context.storage).create({ username: 'rita', password: PASSWORD });
      const cli = (...args: string[]) => runLatchkey(args, dbEnv(db));
      const on = await cli('users', 'require-second-factor', 'rita');
      assert.equal(on.code, 0, on.stderr);
      assert.match(on.stdout, /rita must sign in with two factors/);
      assert.equal(new URL((await passwordSignIn(new FormBrowser(), s, seed.publicClient, 'rita')).url).pathname, '/login/otp/setup');
      // The device flow: the approval is refused until the user has two factors.
      const tv = await s.registry.createClient({ name: 'Kiosk', type: 'public', grantTypes: ['urn:ietf:params:oauth:grant-type:device_code'], scopes: ['openid'] });
      const started = await postForm(`${s.issuer}/device_authorization`, { client_id: tv.client.clientId, scope: 'openid' });
      const browser = new FormBrowser();
      const login = await browser.get(started.body.verification_uri_complete as string);
      let page = await browser.submit(login, browser.forms(login.text, login.url)[0]!, { values: { username: 'rita', password: PASSWORD }, followRedirects: true });
      assert.ok(browser.forms(page.text, page.url)[0]?.buttons.some((b) => b.value === 'allow'), page.text.slice(0, 1500));
      page = await browser.submit(page, browser.forms(page.text, page.url)[0]!, { button: { name: 'decision', value: 'allow' } });
      assert.equal(page.status, 403);
      assert.match(page.text, /Two-step verification required/);
      const off = await cli('users', 'require-second-factor', 'rita', '--off');
      assert.equal(off.code, 0, off.stderr);
      assert.equal(new URL((await passwordSignIn(new FormBrowser(), s, seed.publicClient, 'rita')).url).pathname, '/consent');
    });

    test('policy: LATCHKEY_REQUIRE_SECOND_FACTOR applies to every user and client', async () => {
      const strictServer = await startServer(db, { requireSecondFactor: true });
      try {
        await new UserRegistry(strictServer.server.context.storage).create({ username: 'sam', password: PASSWORD });
        const page = await passwordSignIn(new FormBrowser(), strictServer, seed.publicClient, 'sam');
        assert.equal(new URL(page.url).pathname, '/login/otp/setup');
      } finally {
        await strictServer.close();
      }
    });

    test('the device flow asks for the code too, and its tokens say mfa', async () => {
      const { secret } = await userWithTotp('grace');
      const tv = await s.registry.createClient({ name: 'TV', type: 'public', grantTypes: ['urn:ietf:params:oauth:grant-type:device_code'], scopes: ['openid', 'orders:read'] });
      const started = await postForm(`${s.issuer}/device_authorization`, { client_id: tv.client.clientId, scope: 'openid orders:read' });
      assert.equal(started.status, 200, started.text);
      const browser = new FormBrowser();
      const login = await browser.get(started.body.verification_uri_complete as string);
      let page = await browser.submit(login, browser.forms(login.text, login.url)[0]!, { values: { username: 'grace', password: PASSWORD }, followRedirects: true });
      assert.match(page.text, /Two-step verification/);
      page = await browser.submit(page, browser.forms(page.text, page.url)[0]!, { values: { code: codeAt(secret) }, followRedirects: true });
      assert.match(page.text, /TV/);
      page = await browser.submit(page, browser.forms(page.text, page.url)[0]!, { button: { name: 'decision', value: 'allow' } });
      assert.match(page.text, /Device connected/);
      const tokens = await postForm(`${s.issuer}/token`, { grant_type: 'urn:ietf:params:oauth:grant-type:device_code', device_code: started.body.device_code as string, client_id: tv.client.clientId });
      assert.equal(tokens.status, 200, tokens.text);
      assert.deepEqual(decodeJwt(tokens.body.id_token as string).amr, ['pwd', 'otp', 'mfa']);
    });
  });
}
