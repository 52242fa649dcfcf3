import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { generateSync } from 'otplib';
import type { Browser } from 'playwright-core';
import { authorizeUrl, chromiumSkip, launchChromium, pkcePair, type RunningServer, seedUserFlow, sqlite, startServer, type TestDatabase, type UserFlowSeed } from '@latchkey/testing';

const ARTIFACTS = fileURLToPath(new URL('../../../../test-artifacts/', import.meta.url));

/**
 * The account page and the two-step sign-in in a real browser (issue 15): Alice signs in on
 * /account, sets up an authenticator app from the QR page (the key read off the page; codes computed
 * by otplib, which the server does not use), and the next sign-in of an application asks for the
 * code. The CSP of every page lets no script run and no other origin load; nothing is refused by it
 * (a violation would show in the console). Screenshots go to test-artifacts/.
 */
describe('account page and authenticator app in Chromium (sqlite)', () => {
  let db: TestDatabase;
  let s: RunningServer;
  let seed: UserFlowSeed;
  let browser: Browser | undefined;

  before(async () => {
    db = await sqlite.create();
    s = await startServer(db);
    seed = await seedUserFlow(s);
    mkdirSync(ARTIFACTS, { recursive: true });
  });
  after(async () => {
    await browser?.close();
    await s?.close();
    await db?.drop();
  });

  test('set up on /account with the QR page, then an application sign-in asks for the code', { skip: chromiumSkip() }, async () => {
    browser = await launchChromium();
    const context = await browser.newContext({ viewport: { width: 520, height: 900 } });
    const page = await context.newPage();
    const violations: string[] = [];
    page.on('console', (m) => {
      if (/Content Security Policy|Refused to/i.test(m.text())) violations.push(m.text());
    });

    await page.goto(`${s.issuer}/account`);
    await page.fill('input[name=username]', 'alice');
    await page.fill('input[name=password]', seed.user.password);
    await page.click('button[type=submit]');
    await page.waitForSelector('h1:text("Your account")');
    assert.match((await page.textContent('main')) ?? '', /Authenticator app\s*Off/);
    await page.screenshot({ path: join(ARTIFACTS, 'account.png'), fullPage: true });

    await page.click('button:text("Set up")');
    await page.waitForSelector('.qr svg');
    const box = await page.locator('.qr svg').boundingBox();
    assert.ok(box && box.width >= 150 && box.height >= 150, 'the QR code is drawn large enough to scan');
    await page.screenshot({ path: join(ARTIFACTS, 'totp-setup.png'), fullPage: true });
    const secret = ((await page.textContent('#secret')) ?? '').replace(/\s/g, '');
    assert.match(secret, /^[A-Z2-7]{32}$/);
    // The previous step's code; out of the last seconds of a step, so it is still in the window when checked.
    const into = (Date.now() / 1000) % 30;
    if (into > 26) await new Promise((resolve) => setTimeout(resolve, (31 - into) * 1000));
    await page.fill('input[name=code]', generateSync({ secret, epoch: Math.floor(Date.now() / 1000) - 30 }));
    await page.click('button:text("Turn on")');
    await page.waitForSelector('h1:text("Your recovery codes")');
    assert.equal(await page.locator('ol.recovery-codes li').count(), 10);
    await page.screenshot({ path: join(ARTIFACTS, 'recovery-codes.png'), fullPage: true });
    await page.click('a:text("I have saved them")');
    await page.waitForSelector('text=Your authenticator app is on');
    await page.screenshot({ path: join(ARTIFACTS, 'account-totp-on.png'), fullPage: true });

    // A new browser (no session): an application's sign-in asks for the password, then the code.
    const fresh = await browser.newContext();
    const app = await fresh.newPage();
    const { challenge } = pkcePair();
    await app.goto(authorizeUrl(s, { clientId: seed.publicClient }, challenge));
    await app.fill('input[name=username]', 'alice');
    await app.fill('input[name=password]', seed.user.password);
    await app.click('button[type=submit]');
    await app.waitForSelector('input[autocomplete=one-time-code]');
    assert.match((await app.textContent('main')) ?? '', /Enter the 6-digit code/);
    await app.screenshot({ path: join(ARTIFACTS, 'login-otp.png'), fullPage: true });
    await app.fill('input[name=code]', generateSync({ secret, epoch: Math.floor(Date.now() / 1000) }));
    const [response] = await Promise.all([
      app.waitForResponse((r) => r.status() === 303 && (r.headers().location ?? '').includes('consent')),
      app.click('button:text("Verify")'),
    ]);
    assert.ok(response);
    await app.waitForSelector('button[name=decision][value=allow]');
    assert.deepEqual(violations, [], 'no CSP violation on any page');
    await fresh.close();
    await context.close();
  });
});
