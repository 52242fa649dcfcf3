import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import type { Browser } from 'playwright-core';
import {
  authorizeUrl,
  chromiumSkip,
  launchChromium,
  PASSWORD,
  pkcePair,
  type RunningServer,
  seedUserFlow,
  sqlite,
  startServer,
  startSmtpServer,
  type TestDatabase,
  type TestSmtpServer,
  type UserFlowSeed,
} from '@latchkey/testing';
import { UserRegistry } from '../../src/users/user-registry.ts';

const ARTIFACTS = fileURLToPath(new URL('../../../../test-artifacts/', import.meta.url));

/**
 * Mail links in a real browser (issue 16): "Forgot password?" from an application's login page, the
 * message read from a real SMTP server started here, its link opened in Chromium, a new password set,
 * and the sign-in with it; then the account page's address confirmation. Screenshots in test-artifacts/.
 */
describe('password reset and email verification in Chromium (sqlite)', () => {
  let db: TestDatabase;
  let s: RunningServer;
  let seed: UserFlowSeed;
  let smtp: TestSmtpServer;
  let browser: Browser | undefined;

  before(async () => {
    db = await sqlite.create();
    smtp = await startSmtpServer();
    s = await startServer(db, { smtpUrl: smtp.url });
    seed = await seedUserFlow(s);
    mkdirSync(ARTIFACTS, { recursive: true });
  });
  after(async () => {
    await browser?.close();
    await s?.close();
    await smtp?.close();
    await db?.drop();
  });

  test('forgot password from the login page, the link from the mail, a new password, and a sign-in with it', { skip: chromiumSkip() }, async () => {
    await new UserRegistry(s.server.context.storage).create({ username: 'mira', password: PASSWORD, email: 'mira@example.com' });
    browser = await launchChromium();
    const context = await browser.newContext({ viewport: { width: 520, height: 800 } });
    const page = await context.newPage();
    const violations: string[] = [];
    page.on('console', (m) => {
      if (/Content Security Policy|Refused to/i.test(m.text())) violations.push(m.text());
    });

    await page.goto(authorizeUrl(s, { clientId: seed.publicClient, scope: 'openid' }, pkcePair().challenge));
    await page.click('a:text("Forgot password?")');
    await page.waitForSelector('h1:text("Reset your password")');
    await page.fill('input[name=identifier]', 'mira@example.com');
    await page.screenshot({ path: join(ARTIFACTS, 'forgot-password.png'), fullPage: true });
    await page.click('button:text("Send the link")');
    await page.waitForSelector('h1:text("Check your mail")');

    const mail = await smtp.waitFor((m) => m.to.includes('mira@example.com'));
    await page.goto(mail.link!);
    await page.waitForSelector('h1:text("Choose a new password")');
    await page.screenshot({ path: join(ARTIFACTS, 'reset-password.png'), fullPage: true });
    await page.fill('input[name=new_password]', 'mira has a new passphrase');
    await page.click('button:text("Set the password")');
    await page.waitForSelector('h1:text("Your password is changed")');

    await page.click('a:text("Go to your account")');
    await page.fill('input[name=username]', 'mira');
    await page.fill('input[name=password]', 'mira has a new passphrase');
    await page.click('form:not([data-passkey]) button[type=submit]');
    await page.waitForSelector('h1:text("Your account")');
    // The reset link reached the address: it counts as confirmed.
    assert.match((await page.textContent('dl.profile')) ?? '', /mira@example\.com\s*Confirmed/);

    // A new address: the link goes there, and the address changes when it is opened.
    await page.fill('input[name=email]', 'mira@new.example');
    await page.click('button:text("Change address")');
    await page.waitForSelector('text=We sent a link');
    await page.screenshot({ path: join(ARTIFACTS, 'account-email.png'), fullPage: true });
    const confirm = await smtp.waitFor((m) => m.to.includes('mira@new.example'));
    await page.goto(confirm.link!);
    await page.click('button:text("Confirm")');
    await page.waitForSelector('h1:text("Your email address is confirmed")');
    await page.click('a:text("Go to your account")');
    assert.match((await page.textContent('dl.profile')) ?? '', /mira@new\.example\s*Confirmed/);
    assert.deepEqual(violations, [], 'no CSP violation on any page');
    await context.close();
  });
});
