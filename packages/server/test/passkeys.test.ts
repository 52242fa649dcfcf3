import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { decodeJwt } from 'jose';
import { parse } from 'node-html-parser';
import {
  authorizeUrl,
  backends,
  dbEnv,
  exchangeCode,
  FormBrowser,
  freePort,
  type HtmlForm,
  type Page,
  PASSWORD,
  pkcePair,
  postForm,
  type RunningServer,
  runLatchkey,
  seedUserFlow,
  SoftAuthenticator,
  startServer,
  type TestDatabase,
  type UserFlowSeed,
  walkAuthorization,
  type CeremonyOverrides,
} from '@latchkey/testing';
import { UserRegistry } from '../src/users/user-registry.ts';

/**
 * Passkeys (W3C WebAuthn Level 3) through real HTTP on both databases: added on the account page,
 * used to sign in without a password, as the second step after one, and for step-up (acr `phr`). The
 * authenticator is a software one (@latchkey/testing SoftAuthenticator) so that every way an answer
 * can be wrong can be tried: another origin, another RP ID, a replayed or foreign or expired challenge,
 * no user verification, a counter that goes back. The browser test (e2e/passkeys.e2e.test.ts) runs the
 * same pages in Chromium with its virtual authenticator.
 */

interface PasskeyFormOf {
  form: HtmlForm;
  options: any;
}

/** The passkey form of a page whose action ends with `actionEnd`, and the WebAuthn options it carries. */
function passkeyFormOf(browser: FormBrowser, page: Page, actionEnd: string): PasskeyFormOf {
  const element = parse(page.text)
    .querySelectorAll('form[data-passkey]')
    .find((f) => (f.getAttribute('action') ?? '').endsWith(actionEnd));
  assert.ok(element, `no passkey form for ${actionEnd} at ${page.url}: ${page.text.slice(0, 600)}`);
  const form = browser.forms(page.text, page.url).find((f) => f.action.endsWith(actionEnd) && f.inputs.some((i) => i.name === 'credential'));
  assert.ok(form);
  return { form, options: JSON.parse(element.getAttribute('data-options')!) };
}

const sessionCookieOf = (page: Page) => (page.headers.get('set-cookie') ?? '').match(/latchkey_session=([^;]+)/)?.[1];

for (const backend of await backends()) {
  describe(`passkeys, W3C WebAuthn (${backend.name})`, { skip: backend.skip }, () => {
    let db: TestDatabase;
    let s: RunningServer;
    let seed: UserFlowSeed;
    let origin: string;

    before(async () => {
      db = await backend.create();
      // A passkey's RP ID is the issuer's host, and browsers refuse an IP address: a localhost issuer.
      const port = await freePort();
      origin = `http://localhost:${port}`;
      s = await startServer(db, { port, issuer: origin });
      seed = await seedUserFlow(s);
    });
    after(async () => {
      await s?.close();
      await db?.drop();
    });

    const account = () => `${s.issuer}/account`;
    const storage = () => s.server.context.storage;

    const signInToAccount = async (browser: FormBrowser, username: string): Promise<Page> => {
      const login = await browser.get(account());
      return browser.submit(login, browser.forms(login.text, login.url)[0]!, { values: { username, password: PASSWORD }, followRedirects: true });
    };

    /** A new user who adds a passkey on the account page; returns the authenticator holding it. */
    const userWithPasskey = async (username: string, overrides: CeremonyOverrides = {}) => {
      const user = await new UserRegistry(storage()).create({ username, password: PASSWORD, name: username });
      const authenticator = new SoftAuthenticator(origin);
      const browser = new FormBrowser();
      const home = await signInToAccount(browser, username);
      assert.match(home.text, /Passkeys <span class="status">None/);
      const add = passkeyFormOf(browser, home, '/account/passkeys');
      const added = await browser.submit(home, add.form, { values: { credential: JSON.stringify(authenticator.create(add.options, overrides)), name: 'Work laptop' }, followRedirects: true });
      assert.match(added.text, /Your passkey is added/, added.text.slice(0, 800));
      return { user, authenticator, browser, home: added };
    };

    /** The login page of an authorization request, in a new browser. */
    const loginPage = async (browser: FormBrowser, extra: Record<string, string> = {}, clientId = seed.publicClient) => {
      const page = await browser.get(authorizeUrl(s, { clientId, scope: 'openid', extra }, pkcePair().challenge), { followRedirects: true });
      assert.equal(new URL(page.url).pathname, '/login');
      return page;
    };

    /** Walks from `page` to the client, then exchanges the code: the ID token's claims. */
    const finish = async (browser: FormBrowser, after: Page, clientId = seed.publicClient) => {
      assert.equal(after.status, 303, after.text.slice(0, 500));
      const next = new URL(after.location!, s.issuer);
      const callback = next.origin === origin ? (await walkAuthorization(browser, s.issuer, next.toString())).callback : next;
      const code = callback.searchParams.get('code');
      assert.ok(code, callback.toString());
      return code;
    };

    test('added on the account page: named, stored as a public key with its counter and flags, listed with its dates; the page runs only its own script', async () => {
      const { user, home } = await userWithPasskey('pia');
      assert.match(home.text, /Work laptop <span class="status">This device only<\/span>/);
      assert.match(home.text, /Passkeys <span class="status on">1/);
      const [passkey] = await storage().passkeys.listForUser(user.id);
      assert.ok(passkey);
      assert.equal(passkey.name, 'Work laptop');
      assert.equal(passkey.deviceType, 'singleDevice');
      assert.equal(passkey.counter, 0);
      assert.ok(passkey.publicKey.length > 60);
      // The page runs the passkey script under this response's nonce, and nothing else.
      const csp = home.headers.get('content-security-policy')!;
      const nonce = /script-src 'nonce-([A-Za-z0-9_-]{22,})'/.exec(csp)?.[1];
      assert.ok(nonce, csp);
      assert.match(csp, /default-src 'none'/);
      assert.doesNotMatch(csp, /unsafe-inline|unsafe-eval|script-src[^;]*'self'/);
      assert.deepEqual(home.text.match(/<script[^>]*>/g), [`<script src="/assets/passkey.js" nonce="${nonce}" defer>`]);
      const script = await fetch(`${s.issuer}/assets/passkey.js`);
      assert.equal(script.status, 200);
      assert.match(script.headers.get('content-type') ?? '', /^text\/javascript/);
      assert.match(await script.text(), /navigator\.credentials\.get/);
      // The registration's options: the issuer's host as RP ID, a discoverable credential, no attestation.
      const options = passkeyFormOf(new FormBrowser(), home, '/account/passkeys').options;
      assert.equal(options.rp.id, 'localhost');
      assert.equal(options.attestation, 'none');
      assert.equal(options.authenticatorSelection.residentKey, 'required');
      assert.equal(options.excludeCredentials.length, 1, 'the passkey it has is excluded');
    });

    test('"Sign in with a passkey" on the login page: no password, two factors (RFC 8176 hwk, user, mfa), acr phr; a synced passkey is swk', async () => {
      const { authenticator } = await userWithPasskey('quentin');
      const browser = new FormBrowser();
      const login = await loginPage(browser);
      const pk = passkeyFormOf(browser, login, '/login/passkey');
      assert.equal(pk.options.allowCredentials, undefined, 'no username yet: the authenticator offers its discoverable credentials');
      assert.equal(pk.options.userVerification, 'required');
      assert.equal(pk.options.rpId, 'localhost');
      const signedIn = await browser.submit(login, pk.form, { values: { credential: JSON.stringify(authenticator.get(pk.options)) } });
      const code = await finish(browser, signedIn);
      // The code goes to the test's verifier-less exchange below through a fresh flow: check the session instead.
      assert.ok(code);
      const sessions = await storage().sessions.listForUser((await storage().users.findByUsername('quentin'))!.id);
      assert.ok(sessions.some((session) => JSON.stringify(session.amr) === JSON.stringify(['hwk', 'user', 'mfa'])), JSON.stringify(sessions.map((x) => x.amr)));

      const synced = await userWithPasskey('rosa', { synced: true });
      const b2 = new FormBrowser();
      const { verifier, challenge } = pkcePair();
      const login2 = await b2.get(authorizeUrl(s, { clientId: seed.publicClient, scope: 'openid' }, challenge), { followRedirects: true });
      const pk2 = passkeyFormOf(b2, login2, '/login/passkey');
      const back = await b2.submit(login2, pk2.form, { values: { credential: JSON.stringify(synced.authenticator.get(pk2.options, { synced: true })) } });
      const code2 = await finish(b2, back);
      const tokens = await exchangeCode(s, { clientId: seed.publicClient, code: code2, verifier });
      assert.equal(tokens.status, 200, tokens.text);
      const claims = decodeJwt(tokens.body.id_token as string);
      assert.equal(claims.acr, 'phr');
      assert.deepEqual(claims.amr, ['swk', 'user', 'mfa']);
      const [stored] = await storage().passkeys.listForUser(synced.user.id);
      assert.equal(stored!.deviceType, 'multiDevice');
      assert.equal(stored!.backedUp, true);
      assert.equal(stored!.counter, 1, 'the counter moved');
    });

    test('wrong answers sign nobody in: another origin, another RP ID, no user verification, the wrong ceremony type, another browser\'s challenge, an unknown credential', async () => {
      const { authenticator } = await userWithPasskey('sven');
      const cases: [string, (options: any) => Record<string, unknown>][] = [
        ['another origin (a phishing site)', (o) => authenticator.get(o, { origin: 'https://latchkey.evil.example' })],
        ['another RP ID', (o) => authenticator.get(o, { rpId: 'evil.example' })],
        ['no user verification', (o) => authenticator.get(o, { userVerified: false })],
        ['the ceremony type of a registration', (o) => authenticator.get(o, { type: 'webauthn.create' })],
        ['a challenge this server never made', (o) => authenticator.get(o, { challenge: Buffer.from('made-up-challenge-0123456789').toString('base64url') })],
        ['an unknown credential', (o) => ({ ...authenticator.get(o), id: 'AAAA', rawId: 'AAAA' })],
        ['not JSON', () => ({})],
      ];
      for (const [why, answer] of cases) {
        const browser = new FormBrowser();
        const login = await loginPage(browser);
        const pk = passkeyFormOf(browser, login, '/login/passkey');
        const page = await browser.submit(login, pk.form, { values: { credential: why === 'not JSON' ? '{nope' : JSON.stringify(answer(pk.options)) } });
        assert.equal(page.status, 400, `${why}: ${page.status}`);
        assert.match(page.text, /That passkey could not sign you in/, why);
        assert.equal(sessionCookieOf(page), undefined, why);
      }
      // Another browser's challenge: the answer is right, but for the page another browser was shown.
      const victim = new FormBrowser();
      const victimPage = await loginPage(victim);
      const stolen = authenticator.get(passkeyFormOf(victim, victimPage, '/login/passkey').options);
      const attacker = new FormBrowser();
      const attackerPage = await loginPage(attacker);
      const refused = await attacker.submit(attackerPage, passkeyFormOf(attacker, attackerPage, '/login/passkey').form, { values: { credential: JSON.stringify(stolen) } });
      assert.equal(refused.status, 400);
      assert.equal(sessionCookieOf(refused), undefined);
    });

    test('a challenge is single use on every node: an answer replayed with the same browser binding is refused, and of two sent at once one signs in', async () => {
      const { authenticator } = await userWithPasskey('tove');
      const browser = new FormBrowser();
      const login = await loginPage(browser);
      const binding = browser.cookies(login.url);
      const pk = passkeyFormOf(browser, login, '/login/passkey');
      const answer = JSON.stringify(authenticator.get(pk.options));
      const first = await browser.submit(login, pk.form, { values: { credential: answer } });
      assert.equal(first.status, 303);
      assert.ok(sessionCookieOf(first));
      // The same answer again, from a browser holding the same login binding (a copied cookie).
      const replayer = new FormBrowser();
      for (const [name, value] of Object.entries(binding)) replayer.setCookie(login.url, name, value);
      const again = await replayer.submit(login, pk.form, { values: { credential: answer } });
      assert.equal(again.status, 400);
      assert.equal(sessionCookieOf(again), undefined);

      // Two answers to one challenge at once (the authenticator signs twice, counters 2 and 3).
      const racer = new FormBrowser();
      const racePage = await loginPage(racer);
      const raceBinding = racer.cookies(racePage.url);
      const raceForm = passkeyFormOf(racer, racePage, '/login/passkey');
      const answers = [authenticator.get(raceForm.options), authenticator.get(raceForm.options)];
      const results = await Promise.all(
        answers.map((a) => {
          const b = new FormBrowser();
          for (const [name, value] of Object.entries(raceBinding)) b.setCookie(racePage.url, name, value);
          return b.submit(racePage, raceForm.form, { values: { credential: JSON.stringify(a) } });
        }),
      );
      assert.deepEqual(results.map((r) => r.status).sort(), [303, 400]);
    });

    test('an expired challenge is refused (five minutes)', async () => {
      const { authenticator } = await userWithPasskey('ulla');
      const browser = new FormBrowser();
      const login = await loginPage(browser);
      const pk = passkeyFormOf(browser, login, '/login/passkey');
      const ctx = s.server.context;
      const realNow = ctx.now.bind(ctx);
      ctx.now = () => realNow() + 301;
      try {
        const page = await browser.submit(login, pk.form, { values: { credential: JSON.stringify(authenticator.get(pk.options)) } });
        assert.equal(page.status, 400);
      } finally {
        ctx.now = realNow;
      }
    });

    test('a signature counter that goes back is refused and recorded (a cloned authenticator); the account page and the CLI say so', async () => {
      const { user, authenticator, browser: accountBrowser } = await userWithPasskey('viggo');
      const signIn = async (counter?: number) => {
        const browser = new FormBrowser();
        const login = await loginPage(browser);
        const pk = passkeyFormOf(browser, login, '/login/passkey');
        return browser.submit(login, pk.form, { values: { credential: JSON.stringify(authenticator.get(pk.options, counter === undefined ? {} : { counter })) } });
      };
      assert.equal((await signIn(5)).status, 303);
      assert.equal((await storage().passkeys.listForUser(user.id))[0]!.counter, 5);
      const cloned = await signIn(3);
      assert.equal(cloned.status, 400);
      const [passkey] = await storage().passkeys.listForUser(user.id);
      assert.equal(passkey!.counter, 5, 'the counter stays');
      assert.ok(passkey!.counterRegressedAt, 'the regression is recorded');
      const home = await accountBrowser.get(account());
      assert.match(home.text, /answered like a copy of itself/);
      const factors = await runLatchkey(['users', 'factors', 'viggo', '--json'], dbEnv(db));
      assert.equal(factors.code, 0, factors.stderr);
      const listed = JSON.parse(factors.stdout).passkeys;
      assert.equal(listed.length, 1);
      assert.equal(listed[0].name, 'Work laptop');
      assert.ok(listed[0].counter_regressed_at);
    });

    test('the second step after a password: the user\'s passkey (pwd, hwk, user, mfa); another user\'s passkey is refused; the password alone is good for nothing', async () => {
      const { authenticator } = await userWithPasskey('wanda');
      const other = await userWithPasskey('xaver');
      const browser = new FormBrowser();
      const { verifier, challenge } = pkcePair();
      const login = await browser.get(authorizeUrl(s, { clientId: seed.publicClient, scope: 'openid' }, challenge), { followRedirects: true });
      const step = await browser.submit(login, browser.forms(login.text, login.url)[0]!, { values: { username: 'wanda', password: PASSWORD }, followRedirects: true });
      assert.equal(new URL(step.url).pathname, '/login/otp');
      assert.match(step.text, /Confirm it is you with your passkey/);
      assert.doesNotMatch(step.text, /name="code"/, 'no code to enter: the user has no authenticator app');
      // The password-only session cannot reach the account page or a code.
      assert.match((await browser.get(account())).text, /Two-step verification/);
      const pk = passkeyFormOf(browser, step, '/login/otp/passkey');
      assert.equal(pk.options.allowCredentials.length, 1, "the user's own passkeys");
      const wrong = await browser.submit(step, pk.form, { values: { credential: JSON.stringify(other.authenticator.get(pk.options, {}, other.authenticator.credentials[0])) } });
      assert.equal(wrong.status, 400);
      const step2 = await browser.get(step.url);
      const pk2 = passkeyFormOf(browser, step2, '/login/otp/passkey');
      const done = await browser.submit(step2, pk2.form, { values: { credential: JSON.stringify(authenticator.get(pk2.options)) } });
      const code = await finish(browser, done);
      const tokens = await exchangeCode(s, { clientId: seed.publicClient, code, verifier });
      const claims = decodeJwt(tokens.body.id_token as string);
      assert.deepEqual(claims.amr, ['pwd', 'hwk', 'user', 'mfa']);
      assert.equal(claims.acr, 'phr');
    });

    test('step-up: acr_values=phr asks a password-only user to add a passkey, which completes the sign-in with acr phr; prompt=none answers interaction_required', async () => {
      await new UserRegistry(storage()).create({ username: 'yara', password: PASSWORD });
      const authenticator = new SoftAuthenticator(origin);
      const browser = new FormBrowser();
      const { verifier, challenge } = pkcePair();
      const login = await browser.get(authorizeUrl(s, { clientId: seed.publicClient, scope: 'openid', extra: { acr_values: 'phr' } }, challenge), { followRedirects: true });
      const stepUp = await browser.submit(login, browser.forms(login.text, login.url)[0]!, { values: { username: 'yara', password: PASSWORD }, followRedirects: true });
      assert.equal(new URL(stepUp.url).pathname, '/login/passkey/required');
      assert.match(stepUp.text, /Add a passkey/);
      // prompt=none from this half-way session: no page, an error.
      const silent = await browser.get(authorizeUrl(s, { clientId: seed.publicClient, scope: 'openid', extra: { acr_values: 'phr', prompt: 'none' } }, challenge));
      assert.equal(new URL(silent.location!).searchParams.get('error'), 'interaction_required');
      const add = passkeyFormOf(browser, stepUp, '/login/passkey/required/add');
      // A registration made for another origin is refused.
      const phished = await browser.submit(stepUp, add.form, { values: { credential: JSON.stringify(new SoftAuthenticator('https://evil.example').create(add.options)) } });
      assert.equal(phished.status, 400);
      const fresh = await browser.get(stepUp.url);
      const add2 = passkeyFormOf(browser, fresh, '/login/passkey/required/add');
      const done = await browser.submit(fresh, add2.form, { values: { credential: JSON.stringify(authenticator.create(add2.options)), name: 'Phone' } });
      const code = await finish(browser, done);
      const tokens = await exchangeCode(s, { clientId: seed.publicClient, code, verifier });
      assert.equal(decodeJwt(tokens.body.id_token as string).acr, 'phr');
      assert.deepEqual(decodeJwt(tokens.body.id_token as string).amr, ['pwd', 'hwk', 'user', 'mfa']);
    });

    test('policy: a client that requires a passkey sends a user who signed in with a password and a passkey-less second step to their passkey', async () => {
      const { authenticator } = await userWithPasskey('zoe');
      const vault = await s.registry.createClient({ name: 'Vault', type: 'public', grantTypes: ['authorization_code'], scopes: ['openid'], redirectUris: [seed.redirectUri], requirePasskey: true, firstParty: true });
      assert.equal((await s.registry.getClient(vault.client.clientId)).requirePasskey, true);
      const browser = new FormBrowser();
      const { verifier, challenge } = pkcePair();
      const login = await browser.get(authorizeUrl(s, { clientId: vault.client.clientId, scope: 'openid' }, challenge), { followRedirects: true });
      // The password, then the second step with the passkey: a phr sign-in, so no further step.
      const step = await browser.submit(login, browser.forms(login.text, login.url)[0]!, { values: { username: 'zoe', password: PASSWORD }, followRedirects: true });
      const pk = passkeyFormOf(browser, step, '/login/otp/passkey');
      const done = await browser.submit(step, pk.form, { values: { credential: JSON.stringify(authenticator.get(pk.options)) } });
      const code = await finish(browser, done, vault.client.clientId);
      const tokens = await exchangeCode(s, { clientId: vault.client.clientId, code, verifier });
      assert.equal(decodeJwt(tokens.body.id_token as string).acr, 'phr');
      // The CLI shows and changes the policy.
      const off = await runLatchkey(['clients', 'update', vault.client.clientId, '--no-require-passkey', '--json'], dbEnv(db));
      assert.equal(off.code, 0, off.stderr);
      assert.equal(JSON.parse(off.stdout).require_passkey, false);
      assert.equal((await s.registry.getClient(vault.client.clientId)).requirePasskey, false);
    });

    test('removal needs a sign-in of the last ten minutes; the user\'s password-only sessions end; reset-factors removes passkeys', async () => {
      const { user, browser, home } = await userWithPasskey('arne');
      const removeForm = browser.forms(home.text, home.url).find((f) => f.action.endsWith('/account/passkeys/remove'))!;
      // An old sign-in: the page asks to sign in again, and nothing is removed.
      const current = (await storage().sessions.listForUser(user.id))[0]!;
      await storage().db.kysely.updateTable('sessions').set({ auth_time: current.authTime - 3600 }).where('id_hash', '=', current.idHash).execute();
      const stale = await browser.submit(home, removeForm);
      assert.equal(stale.status, 403);
      assert.match(stale.text, /Sign in again/);
      assert.equal((await storage().passkeys.listForUser(user.id)).length, 1);
      await storage().db.kysely.updateTable('sessions').set({ auth_time: current.authTime }).where('id_hash', '=', current.idHash).execute();
      const removed = await browser.submit(home, removeForm, { followRedirects: true });
      assert.match(removed.text, /The passkey is removed/);
      assert.equal((await storage().passkeys.listForUser(user.id)).length, 0);

      const again = await userWithPasskey('berit');
      const reset = await runLatchkey(['users', 'reset-factors', 'berit', '--json'], dbEnv(db));
      assert.equal(reset.code, 0, reset.stderr);
      assert.deepEqual(JSON.parse(reset.stdout).removed, ['1 passkey(s)']);
      assert.equal((await storage().passkeys.listForUser(again.user.id)).length, 0);
    });

    test('hostile answers get 400, never a 500, and change nothing: ids that are not base64url, no user handle, an unsigned lower counter, odd transports, a name with markup', async () => {
      const { user, authenticator } = await userWithPasskey('carla');
      const refusedWith = async (mangle: (answer: any) => unknown) => {
        const browser = new FormBrowser();
        const login = await loginPage(browser);
        const pk = passkeyFormOf(browser, login, '/login/passkey');
        const page = await browser.submit(login, pk.form, { values: { credential: JSON.stringify(mangle(authenticator.get(pk.options))) } });
        assert.equal(page.status, 400, page.text.slice(0, 300));
        assert.equal(sessionCookieOf(page), undefined);
      };
      await refusedWith((a) => ({ ...a, id: 'a\u0000b' }));
      await refusedWith((a) => ({ ...a, id: 'A'.repeat(1400) }));
      await refusedWith((a) => ({ ...a, id: 42 }));
      await refusedWith((a) => ({ ...a, response: 'x' }));
      await refusedWith((a) => ({ ...a, response: { ...a.response, signature: 42 } }));
      // W3C WebAuthn §7.2 step 6: without a username, the user handle must name the user.
      await refusedWith((a) => ({ ...a, response: { ...a.response, userHandle: undefined } }));
      // A counter below the recorded one but no valid signature: refused, and no clone is recorded.
      await storage().db.kysely.updateTable('passkeys').set({ counter: 50 }).where('user_id', '=', user.id).execute();
      authenticator.credentials[0]!.counter = 10;
      await refusedWith((a) => ({ ...a, response: { ...a.response, signature: Buffer.from('not a signature').toString('base64url') } }));
      const [kept] = await storage().passkeys.listForUser(user.id);
      assert.equal(kept!.counterRegressedAt, null, 'an unsigned answer marks nothing');
      assert.equal(kept!.counter, 50);

      // Registration: transports that are not a list, and a name with markup (shown escaped).
      const browser = new FormBrowser();
      await new UserRegistry(storage()).create({ username: 'dario', password: PASSWORD });
      const home = await signInToAccount(browser, 'dario');
      const add = passkeyFormOf(browser, home, '/account/passkeys');
      const created = new SoftAuthenticator(origin).create(add.options) as any;
      created.response.transports = 'usb';
      const added = await browser.submit(home, add.form, { values: { credential: JSON.stringify(created), name: '<img src=x onerror=alert(1)>' }, followRedirects: true });
      assert.match(added.text, /Your passkey is added/);
      assert.match(added.text, /&#60;img src=x onerror=alert\(1\)&#62;/);
      assert.doesNotMatch(added.text, /<img/);
      // An answer whose id is not the one in the authenticator data.
      const again = await browser.get(account());
      const add2 = passkeyFormOf(browser, again, '/account/passkeys');
      const mismatched = { ...(new SoftAuthenticator(origin).create(add2.options) as any), id: 'AAAAAAAA', rawId: 'AAAAAAAA' };
      const refused = await browser.submit(again, add2.form, { values: { credential: JSON.stringify(mismatched) } });
      assert.equal(refused.status, 400);
      assert.equal((await storage().passkeys.listForUser((await storage().users.findByUsername('dario'))!.id)).length, 1);
    });

    test('the account page signs in with a passkey too; a disabled user cannot', async () => {
      const { authenticator } = await userWithPasskey('elsa');
      const browser = new FormBrowser();
      const login = await browser.get(account());
      const pk = passkeyFormOf(browser, login, '/account/login/passkey');
      const home = await browser.submit(login, pk.form, { values: { credential: JSON.stringify(authenticator.get(pk.options)) }, followRedirects: true });
      assert.match(home.text, /Your account/);
      await new UserRegistry(storage()).disable('elsa');
      const other = new FormBrowser();
      const login2 = await other.get(account());
      const pk2 = passkeyFormOf(other, login2, '/account/login/passkey');
      const refused = await other.submit(login2, pk2.form, { values: { credential: JSON.stringify(authenticator.get(pk2.options)) } });
      assert.equal(refused.status, 400);
      assert.match(refused.text, /disabled/);
    });

    test('step-up cannot add a passkey with an old session (a stolen cookie): the user signs in again first', async () => {
      const user = await new UserRegistry(storage()).create({ username: 'fritz', password: PASSWORD });
      const browser = new FormBrowser();
      const url = authorizeUrl(s, { clientId: seed.publicClient, scope: 'openid', extra: { acr_values: 'phr' } }, pkcePair().challenge);
      const login = await browser.get(url, { followRedirects: true });
      const stepUp = await browser.submit(login, browser.forms(login.text, login.url)[0]!, { values: { username: 'fritz', password: PASSWORD }, followRedirects: true });
      const add = passkeyFormOf(browser, stepUp, '/login/passkey/required/add');
      const [session] = await storage().sessions.listForUser(user.id);
      await storage().db.kysely.updateTable('sessions').set({ auth_time: session!.authTime - 3600 }).where('id_hash', '=', session!.idHash).execute();
      const refused = await browser.submit(stepUp, add.form, { values: { credential: JSON.stringify(new SoftAuthenticator(origin).create(add.options)) } });
      assert.equal(refused.status, 303);
      assert.equal(new URL(refused.location!, s.issuer).pathname, '/login');
      assert.equal((await storage().passkeys.listForUser(user.id)).length, 0, 'nothing added');
      const page = await browser.get(stepUp.url);
      assert.equal(new URL(page.location!, s.issuer).pathname, '/login', 'the page sends the old session to sign in again');
    });

    test('the device page: sign in with a passkey; a client that requires one refuses a password sign-in (403)', async () => {
      const { authenticator } = await userWithPasskey('gerd');
      await new UserRegistry(storage()).create({ username: 'hilde', password: PASSWORD });
      const tv = (await s.registry.createClient({ name: 'Passkey TV', type: 'public', grantTypes: ['urn:ietf:params:oauth:grant-type:device_code'], scopes: ['openid'], requirePasskey: true })).client.clientId;
      const start = async () => (await postForm(`${s.issuer}/device_authorization`, { client_id: tv, scope: 'openid' })).body as { verification_uri_complete: string; user_code: string };
      // A passkey sign-in on the device page: the approval goes through.
      const first = await start();
      const browser = new FormBrowser();
      const login = await browser.get(first.verification_uri_complete, { followRedirects: true });
      const pk = passkeyFormOf(browser, login, '/device/login/passkey');
      const entry = await browser.submit(login, pk.form, { values: { credential: JSON.stringify(authenticator.get(pk.options)) }, followRedirects: true });
      const allow = browser.forms(entry.text, entry.url).find((f) => f.buttons.some((b) => b.name === 'decision' && b.value === 'allow'));
      assert.ok(allow, entry.text.slice(0, 500));
      const done = await browser.submit(entry, allow, { button: { name: 'decision', value: 'allow' } });
      assert.equal(done.status, 200);
      assert.match(done.text, /Device connected/);
      // A password sign-in under the passkey policy: refused, with the reason.
      const second = await start();
      const other = new FormBrowser();
      const login2 = await other.get(second.verification_uri_complete, { followRedirects: true });
      const entry2 = await other.submit(login2, other.forms(login2.text, login2.url)[0]!, { values: { username: 'hilde', password: PASSWORD }, followRedirects: true });
      const allow2 = other.forms(entry2.text, entry2.url).find((f) => f.buttons.some((b) => b.name === 'decision' && b.value === 'allow'))!;
      const refused = await other.submit(entry2, allow2, { button: { name: 'decision', value: 'allow' } });
      assert.equal(refused.status, 403);
      assert.match(refused.text, /needs a passkey/);
    });

    test('discovery lists phr among acr_values_supported', async () => {
      const metadata = (await (await fetch(`${s.issuer}/.well-known/openid-configuration`)).json()) as { acr_values_supported: string[] };
      assert.deepEqual(metadata.acr_values_supported, ['urn:latchkey:acr:password', 'urn:latchkey:acr:mfa', 'phr']);
    });
  });
}
