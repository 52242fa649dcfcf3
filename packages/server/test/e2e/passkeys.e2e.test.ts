import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import type { Browser, CDPSession, Page } from 'playwright-core';
import { decodeJwt } from 'jose';
import {
  authorizeUrl,
  chromiumSkip,
  exchangeCode,
  freePort,
  launchChromium,
  PASSWORD,
  pkcePair,
  type RunningServer,
  seedUserFlow,
  sqlite,
  startServer,
  type TestDatabase,
  type UserFlowSeed,
} from '@latchkey/testing';
import { UserRegistry } from '../../src/users/user-registry.ts';

const ARTIFACTS = fileURLToPath(new URL('../../../../test-artifacts/', import.meta.url));

/**
 * Passkeys in a real browser (issue 15), with Chromium's virtual authenticator (DevTools protocol
 * `WebAuthn` domain: a CTAP2 platform authenticator with resident keys and user verification). Alice
 * adds a passkey on /account through the page's own script, signs out, and signs in to an application
 * with "Sign in with a passkey" and no password; the ID token says acr phr. A second authenticator
 * that does not verify the user cannot sign in. The pages run Latchkey's script and nothing else, with
 * no CSP violation. Screenshots go to test-artifacts/.
 */
describe('passkeys in Chromium with a virtual authenticator (sqlite)', () => {
  let db: TestDatabase;
  let s: RunningServer;
  let seed: UserFlowSeed;
  let browser: Browser | undefined;

  before(async () => {
    db = await sqlite.create();
    // The RP ID is the issuer's host; browsers refuse an IP address, so the issuer is localhost.
    const port = await freePort();
    s = await startServer(db, { port, issuer: `http://localhost:${port}` });
    seed = await seedUserFlow(s);
    mkdirSync(ARTIFACTS, { recursive: true });
  });
  after(async () => {
    await browser?.close();
    await s?.close();
    await db?.drop();
  });

  /** A virtual authenticator on `page`; `verifies`: it verifies the user (a PIN, biometrics). */
  const virtualAuthenticator = async (page: Page, verifies: boolean): Promise<{ cdp: CDPSession; id: string }> => {
    const cdp = await page.context().newCDPSession(page);
    await cdp.send('WebAuthn.enable');
    const { authenticatorId } = await cdp.send('WebAuthn.addVirtualAuthenticator', {
      options: { protocol: 'ctap2', transport: 'internal', hasResidentKey: true, hasUserVerification: verifies, isUserVerified: verifies, automaticPresenceSimulation: true },
    });
    return { cdp, id: authenticatorId };
  };

  test('added on /account, then an application sign-in with "Sign in with a passkey" and no password', { skip: chromiumSkip() }, async () => {
    browser = await launchChromium();
    const context = await browser.newContext({ viewport: { width: 520, height: 1000 } });
    const page = await context.newPage();
    const violations: string[] = [];
    const errors: string[] = [];
    page.on('console', (m) => {
      if (/Content Security Policy|Refused to/i.test(m.text())) violations.push(m.text());
    });
    page.on('pageerror', (e) => errors.push(e.message));
    const { cdp, id } = await virtualAuthenticator(page, true);

    await page.goto(`${s.issuer}/account`);
    await page.fill('input[name=username]', 'alice');
    await page.fill('input[name=password]', seed.user.password);
    await page.click('form:not([data-passkey]) button[type=submit]');
    await page.waitForSelector('h1:text("Your account")');
    // The script shows the passkey form once it finds WebAuthn in the browser.
    await page.waitForSelector('form[data-passkey=create]', { state: 'visible' });
    await page.fill('#passkey-name', 'Laptop');
    await page.click('button:text("Add a passkey")');
    await page.waitForSelector('text=Your passkey is added');
    assert.match((await page.textContent('ul.passkeys')) ?? '', /Laptop/);
    await page.screenshot({ path: join(ARTIFACTS, 'account-passkey.png'), fullPage: true });
    const { credentials } = await cdp.send('WebAuthn.getCredentials', { authenticatorId: id });
    assert.equal(credentials.length, 1);
    assert.equal(credentials[0]!.isResidentCredential, true, 'a discoverable credential');
    assert.equal(credentials[0]!.rpId, 'localhost');

    await page.click('button:text("Sign out")');
    await page.waitForSelector('h1:text("Sign in")');

    // An application's sign-in: no username, no password, the passkey.
    const { verifier, challenge } = pkcePair();
    await page.goto(authorizeUrl(s, { clientId: seed.publicClient, scope: 'openid' }, challenge));
    await page.waitForSelector('button:text("Sign in with a passkey")', { state: 'visible' });
    await page.screenshot({ path: join(ARTIFACTS, 'login-passkey.png'), fullPage: true });
    await page.click('button:text("Sign in with a passkey")');
    await page.waitForSelector('button[name=decision][value=allow]');
    // The client's redirect URI is not served here: the code is read from the redirect itself.
    const [redirect] = await Promise.all([
      page.waitForResponse((r) => r.status() === 303 && (r.headers().location ?? '').startsWith(seed.redirectUri)),
      page.click('button[name=decision][value=allow]').catch(() => undefined),
    ]);
    const code = new URL(redirect.headers().location!).searchParams.get('code');
    assert.ok(code);
    const tokens = await exchangeCode(s, { clientId: seed.publicClient, code, verifier });
    assert.equal(tokens.status, 200, tokens.text);
    const claims = decodeJwt(tokens.body.id_token as string);
    assert.equal(claims.acr, 'phr');
    assert.deepEqual(claims.amr, ['hwk', 'user', 'mfa']);
    const [credential] = (await cdp.send('WebAuthn.getCredentials', { authenticatorId: id })).credentials;
    assert.ok(credential!.signCount >= 1, 'the authenticator counted the use');
    assert.deepEqual(violations, [], 'no CSP violation on any page');
    assert.deepEqual(errors, [], 'no script error');
    await context.close();
  });

  test('an authenticator that does not verify the user cannot sign in without a password', { skip: chromiumSkip() }, async () => {
    browser ??= await launchChromium();
    const context = await browser.newContext();
    const page = await context.newPage();
    const first = await virtualAuthenticator(page, true);
    // Bruno's credential copied onto an authenticator that has no user verification.
    await new UserRegistry(s.server.context.storage).create({ username: 'bruno', password: PASSWORD });
    const existing = (await seedPasskey(page, first, 'bruno')).credential;
    await first.cdp.send('WebAuthn.removeVirtualAuthenticator', { authenticatorId: first.id });
    const weak = await virtualAuthenticator(page, false);
    await weak.cdp.send('WebAuthn.addCredential', { authenticatorId: weak.id, credential: existing });
    const { challenge } = pkcePair();
    await page.goto(authorizeUrl(s, { clientId: seed.publicClient, scope: 'openid' }, challenge));
    await page.waitForSelector('button:text("Sign in with a passkey")', { state: 'visible' });
    await page.click('button:text("Sign in with a passkey")');
    // The browser refuses (user verification required), or the server does: no sign-in either way.
    await page.waitForSelector('.passkey-error:visible, .alert:text("could not sign you in")');
    assert.equal(new URL(page.url()).pathname, '/login');
    assert.ok(!(await context.cookies()).some((c) => c.name === 'latchkey_session'));
    await context.close();
  });

  test('a passkey as the second step after a password, step-up to phr from a password session, and removal on /account', { skip: chromiumSkip() }, async () => {
    browser ??= await launchChromium();
    const context = await browser.newContext({ viewport: { width: 520, height: 1000 } });
    const page = await context.newPage();
    const violations: string[] = [];
    page.on('console', (m) => {
      if (/Content Security Policy|Refused to/i.test(m.text())) violations.push(m.text());
    });
    const authenticator = await virtualAuthenticator(page, true);
    const storage = s.server.context.storage;
    const carl = await new UserRegistry(storage).create({ username: 'carl', password: PASSWORD });

    // Step-up: an application asks for acr phr; Carl has a password only, so he adds a passkey there.
    const stepUp = pkcePair();
    await page.goto(authorizeUrl(s, { clientId: seed.publicClient, scope: 'openid', extra: { acr_values: 'phr' } }, stepUp.challenge));
    await page.fill('input[name=username]', 'carl');
    await page.fill('input[name=password]', PASSWORD);
    await page.click('form:not([data-passkey]) button[type=submit]');
    await page.waitForSelector('h1:text("Add a passkey")');
    await page.waitForSelector('form[data-passkey=create]', { state: 'visible' });
    await page.screenshot({ path: join(ARTIFACTS, 'passkey-step-up.png'), fullPage: true });
    await page.fill('#passkey-name', 'Desk');
    await page.click('button:text("Add a passkey")');
    await page.waitForSelector('button[name=decision][value=allow]');
    const [stepUpRedirect] = await Promise.all([
      page.waitForResponse((r) => r.status() === 303 && (r.headers().location ?? '').startsWith(seed.redirectUri)),
      page.click('button[name=decision][value=allow]').catch(() => undefined),
    ]);
    const stepUpTokens = await exchangeCode(s, { clientId: seed.publicClient, code: new URL(stepUpRedirect.headers().location!).searchParams.get('code')!, verifier: stepUp.verifier });
    assert.equal(decodeJwt(stepUpTokens.body.id_token as string).acr, 'phr');
    assert.equal((await storage.passkeys.listForUser(carl.id)).length, 1);
    // The client's redirect URI is not served here (the browser ends on its error page): let that
    // navigation end before the next one starts.
    await settle(page);

    // A new sign-in with the password: the second step is the passkey.
    await context.clearCookies();
    const second = pkcePair();
    await gotoAfterSettling(page, authorizeUrl(s, { clientId: seed.publicClient, scope: 'openid' }, second.challenge));
    await page.fill('input[name=username]', 'carl');
    await page.fill('input[name=password]', PASSWORD);
    await page.click('form:not([data-passkey]) button[type=submit]');
    await page.waitForSelector('button:text("Use a passkey")', { state: 'visible' });
    await page.screenshot({ path: join(ARTIFACTS, 'login-second-step-passkey.png'), fullPage: true });
    const [secondRedirect] = await Promise.all([
      page.waitForResponse((r) => r.status() === 303 && (r.headers().location ?? '').startsWith(seed.redirectUri)),
      page.click('button:text("Use a passkey")'),
    ]);
    const secondTokens = await exchangeCode(s, { clientId: seed.publicClient, code: new URL(secondRedirect.headers().location!).searchParams.get('code')!, verifier: second.verifier });
    assert.deepEqual(decodeJwt(secondTokens.body.id_token as string).amr, ['pwd', 'hwk', 'user', 'mfa']);
    await settle(page);

    // Removal on the account page (the sign-in is recent), after which the password alone signs in.
    await gotoAfterSettling(page, `${s.issuer}/account`);
    await page.waitForSelector('ul.passkeys');
    await page.click('ul.passkeys button:text("Remove")');
    await page.waitForSelector('text=The passkey is removed');
    assert.equal((await storage.passkeys.listForUser(carl.id)).length, 0);
    assert.equal(await page.locator('ul.passkeys').count(), 0);
    assert.deepEqual(violations, [], 'no CSP violation on any page');
    void authenticator;
    await context.close();
  });

  /**
   * The client's redirect URI is not served here: the browser's navigation there ends on Chromium's
   * error page, which may still be loading when the test moves on. Waits for it, and goes to `url`,
   * again if that navigation interrupts this one.
   */
  async function settle(page: Page): Promise<void> {
    await page.waitForURL(/^chrome-error:/, { timeout: 5000 }).catch(() => undefined);
    await page.waitForLoadState('load').catch(() => undefined);
  }
  async function gotoAfterSettling(page: Page, url: string): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      try {
        await page.goto(url);
        return;
      } catch (err) {
        if (attempt >= 3 || !/interrupted by another navigation/.test(String(err))) throw err;
        await page.waitForLoadState('load').catch(() => undefined);
        if (page.url() === url) return;
      }
    }
  }

  /** Adds a passkey for `username` through /account on `page` and signs out; returns the credential. */
  async function seedPasskey(page: Page, authenticator: { cdp: CDPSession; id: string }, username: string) {
    await page.goto(`${s.issuer}/account`);
    await page.fill('input[name=username]', username);
    await page.fill('input[name=password]', PASSWORD);
    await page.click('form:not([data-passkey]) button[type=submit]');
    await page.waitForSelector('form[data-passkey=create]', { state: 'visible' });
    await page.fill('#passkey-name', 'Second');
    await page.click('button:text("Add a passkey")');
    await page.waitForSelector('text=Your passkey is added');
    await page.click('button:text("Sign out")');
    await page.waitForSelector('h1:text("Sign in")');
    const { credentials } = await authenticator.cdp.send('WebAuthn.getCredentials', { authenticatorId: authenticator.id });
    return { credential: credentials[0]! };
  }
});
