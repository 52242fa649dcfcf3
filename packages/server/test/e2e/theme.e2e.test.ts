import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import type { Browser } from 'playwright-core';
import { authorizeUrl, chromiumSkip, FormBrowser, launchChromium, pkcePair, type RunningServer, seedUserFlow, sqlite, startServer, type TestDatabase, type UserFlowSeed } from '@latchkey/testing';

const ARTIFACTS = fileURLToPath(new URL('../../../../test-artifacts/', import.meta.url));
const THEME_DIR = fileURLToPath(new URL('../fixtures/theme/', import.meta.url));
const LAYOUT_THEME_DIR = fileURLToPath(new URL('../fixtures/theme-layout/', import.meta.url));

/**
 * The operator's look (issue 16): a product name, a colour, their stylesheet and logo from
 * LATCHKEY_THEME_DIR, all served from the issuer's origin so the pages' CSP does not change; rendered
 * in Chromium with no CSP violation, and a screenshot saved.
 */
describe('the operator\'s look (sqlite)', () => {
  let db: TestDatabase;
  let s: RunningServer;
  let seed: UserFlowSeed;
  let browser: Browser | undefined;

  before(async () => {
    db = await sqlite.create();
    s = await startServer(db, { productName: 'Acme ID', themeColor: '#0a7d5a', themeDir: THEME_DIR });
    seed = await seedUserFlow(s);
    mkdirSync(ARTIFACTS, { recursive: true });
  });
  after(async () => {
    await browser?.close();
    await s?.close();
    await db?.drop();
  });

  test('pages carry the logo, the colours and the stylesheet from the issuer\'s origin; the CSP stays as strict', async () => {
    const page = await new FormBrowser().get(`${s.issuer}/account`);
    assert.match(page.text, /<p class="brand"><img src="\/assets\/logo\.svg" alt="Acme ID"><\/p>/);
    assert.match(page.text, /<link rel="stylesheet" href="\/assets\/theme-colors\.css">\n<link rel="stylesheet" href="\/assets\/theme\.css">/);
    assert.doesNotMatch(page.text, /Latchkey/, 'the product name replaces Latchkey\'s');
    // The sign-in page runs Latchkey's one script ("Show password", passkeys) under its nonce; nothing else.
    assert.match(page.headers.get('content-security-policy') ?? '', /^default-src 'none'; script-src 'nonce-[A-Za-z0-9_-]{22}'; style-src 'self'; img-src 'self'; frame-ancestors 'none'; base-uri 'none'$/);
    const colors = await fetch(`${s.issuer}/assets/theme-colors.css`);
    assert.match(await colors.text(), /--lk-primary:#0a7d5a/);
    const logo = await fetch(`${s.issuer}/assets/logo.svg`);
    assert.equal(logo.headers.get('content-type'), 'image/svg+xml');
    assert.match(logo.headers.get('content-security-policy') ?? '', /default-src 'none'/, 'an SVG opened on its own runs nothing');
    assert.equal((await fetch(`${s.issuer}/assets/theme.css`)).status, 200);
  });

  test('in Chromium: the login page with the operator\'s look, and no CSP violation', { skip: chromiumSkip() }, async () => {
    browser = await launchChromium();
    const context = await browser.newContext({ viewport: { width: 520, height: 760 } });
    const tab = await context.newPage();
    const violations: string[] = [];
    tab.on('console', (m) => {
      if (/Content Security Policy|Refused to/i.test(m.text())) violations.push(m.text());
    });
    await tab.goto(authorizeUrl(s, { clientId: seed.publicClient, scope: 'openid' }, pkcePair().challenge));
    await tab.waitForSelector('.brand img');
    // Evaluated in the page (no DOM types in this Node project).
    const color = await tab.evaluate('getComputedStyle(document.querySelector("button.primary")).backgroundColor');
    assert.equal(color, 'rgb(10, 125, 90)', 'the operator\'s colour');
    const loaded = await tab.evaluate('document.querySelector(".brand img").naturalWidth');
    assert.ok(Number(loaded) > 0, 'the logo loads');
    await tab.screenshot({ path: join(ARTIFACTS, 'login-themed.png'), fullPage: true });
    assert.deepEqual(violations, []);
    await context.close();
  });
});

/**
 * Pages in the second language, in the operator's frame (docs/languages.md): Chromium with a German
 * locale gets German pages (its Accept-Language), the operator's layout around them and their own
 * message in German; a right-to-left language is laid out right to left. Screenshots are saved.
 */
describe('pages in German and in the operator\'s frame, in Chromium (sqlite)', { skip: chromiumSkip() }, () => {
  let db: TestDatabase;
  let s: RunningServer;
  let seed: UserFlowSeed;
  let browser: Browser | undefined;

  before(async () => {
    db = await sqlite.create();
    s = await startServer(db, { productName: 'Acme ID', themeColor: '#0a7d5a', themeDir: LAYOUT_THEME_DIR });
    seed = await seedUserFlow(s);
    mkdirSync(ARTIFACTS, { recursive: true });
    browser = await launchChromium();
  });
  after(async () => {
    await browser?.close();
    await s?.close();
    await db?.drop();
  });

  test('login and consent in German, in the layout, with no CSP violation', async () => {
    const context = await browser!.newContext({ viewport: { width: 520, height: 820 }, locale: 'de-DE' });
    const tab = await context.newPage();
    const violations: string[] = [];
    tab.on('console', (m) => {
      if (/Content Security Policy|Refused to/i.test(m.text())) violations.push(m.text());
    });
    await tab.goto(authorizeUrl(s, { clientId: seed.publicClient, scope: 'openid profile orders:read' }, pkcePair().challenge));
    await tab.waitForSelector('footer.acme-footer');
    assert.equal(await tab.evaluate('document.documentElement.lang'), 'de');
    assert.equal(await tab.textContent('h1'), 'Anmelden');
    assert.equal(await tab.textContent('footer.acme-footer a'), 'Datenschutzerklärung');
    await tab.fill('#username', seed.user.username);
    await tab.fill('#password', seed.user.password);
    // "Show password" (the page's script): the password as text while checked, a password again when sent.
    assert.equal(await tab.getAttribute('#password', 'type'), 'password');
    await tab.click('text=Passwort anzeigen');
    assert.equal(await tab.getAttribute('#password', 'type'), 'text');
    await tab.screenshot({ path: join(ARTIFACTS, 'login-de-layout.png'), fullPage: true });
    await tab.click('button.primary');
    await tab.waitForSelector('button[value="allow"]');
    assert.equal(await tab.textContent('button[value="allow"]'), 'Zulassen');
    assert.match((await tab.textContent('h1')) ?? '', /möchte auf Ihr Konto zugreifen/);
    await tab.screenshot({ path: join(ARTIFACTS, 'consent-de-layout.png'), fullPage: true });
    assert.deepEqual(violations, []);
    await context.close();
  });

  test('a right-to-left language the operator added is laid out right to left', async () => {
    const context = await browser!.newContext({ viewport: { width: 520, height: 760 }, locale: 'ar' });
    const tab = await context.newPage();
    await tab.goto(authorizeUrl(s, { clientId: seed.publicClient, scope: 'openid' }, pkcePair().challenge));
    await tab.waitForSelector('h1');
    assert.equal(await tab.evaluate('getComputedStyle(document.querySelector("main")).direction'), 'rtl');
    await tab.screenshot({ path: join(ARTIFACTS, 'login-ar-rtl.png'), fullPage: true });
    await context.close();
  });
});
