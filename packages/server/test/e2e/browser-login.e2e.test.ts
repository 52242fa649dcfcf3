import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import type { Browser, Page } from 'playwright-core';
import { startDemoClient, startOrdersApi, type RunningApi, type RunningApp } from '../../../../examples/demo-client/index.ts';
import { UserRegistry, type UserView } from '../../src/users/user-registry.ts';
import { chromiumSkip, FormBrowser, launchChromium, type RunningServer, sqlite, startServer, type TestDatabase } from '@latchkey/testing';

/**
 * The whole browser login, end to end, on SQLite: the demo shop (a public client, PKCE S256) sends headless
 * Chromium to Latchkey's /authorize, the user signs in on the login page and allows the consent page, the
 * shop redeems the code, verifies the ID token and calls the orders API with the access token.
 */

const ARTIFACTS = fileURLToPath(new URL('../../../../test-artifacts/', import.meta.url));
const RESOURCE = 'https://orders.example';
const CLIENT_ID = 'demo-shop';
const USER = { username: 'alice', password: 'correct horse battery', email: 'alice@example.com', name: 'Alice Liddell' };
/** A second user for the form-browser run, so that Alice's remembered consent does not skip the consent page. */
const DORMOUSE = { username: 'dormouse', password: 'treacle well tea party', email: 'dormouse@example.com', name: 'The Dormouse' };

describe('browser login, end to end (sqlite)', () => {
  let db: TestDatabase;
  let running: RunningServer;
  let api: RunningApi;
  let demo: RunningApp;
  let alice: UserView;

  before(async () => {
    db = await sqlite.create();
    running = await startServer(db);
    await running.registry.createResource({
      identifier: RESOURCE,
      name: 'Orders',
      scopes: [{ scope: 'orders:read', description: 'Read your orders' }],
    });
    api = await startOrdersApi({ issuer: running.issuer, audience: RESOURCE });
    // The demo listens first, so its redirect URI (its port) is known when the client is registered.
    demo = await startDemoClient({ issuer: running.issuer, clientId: CLIENT_ID, apiUrl: `${api.url}/orders` });
    await running.registry.createClient({
      clientId: CLIENT_ID,
      name: 'Demo Shop',
      type: 'public',
      grantTypes: ['authorization_code', 'refresh_token'],
      scopes: ['openid', 'profile', 'email', 'offline_access', 'orders:read'],
      redirectUris: [`${demo.url}/callback`],
      audiences: [RESOURCE],
    });
    const users = new UserRegistry(running.server.context.storage);
    alice = await users.create(USER);
    await users.create(DORMOUSE);
  });

  after(async () => {
    await demo?.close();
    await api?.close();
    await running?.close();
    await db?.drop();
  });

  test('sign in with Chromium: login page, consent page, back at the shop with the name and the orders (sqlite)', { skip: chromiumSkip(), timeout: 90_000 }, async () => {
    const browser: Browser = await launchChromium();
    const navigations: string[] = [];
    try {
      const context = await browser.newContext();
      const page = await context.newPage();
      page.setDefaultTimeout(15_000);
      // Every document response, for the failure message.
      page.on('response', (res) => {
        if (res.request().resourceType() === 'document') {
          const location = res.headers().location;
          navigations.push(`${res.request().method()} ${res.url()} -> ${res.status()}${location ? ` Location: ${location}` : ''}`);
        }
      });

      await step(page, navigations, 'open the shop and click Sign in', async () => {
        await page.goto(demo.url);
        await page.click('a#sign-in');
        await page.waitForURL((url) => url.origin === running.url && url.pathname === '/login');
      });

      await step(page, navigations, 'sign in on the login page', async () => {
        assert.match(await page.locator('body').innerText(), /Demo Shop/);
        await page.fill('input[name=username]', USER.username);
        await page.fill('input[name=password]', USER.password);
        await page.locator('form:has(input[name=password]) [type=submit]').click();
        await page.waitForURL((url) => url.origin === running.url && url.pathname === '/consent');
      });

      await step(page, navigations, 'read the consent page and allow', async () => {
        const text = await page.locator('body').innerText();
        assert.match(text, /Demo Shop/, 'the consent page names the client');
        assert.match(text, /Read your orders/, "the consent page shows the scope's description");
        mkdirSync(ARTIFACTS, { recursive: true });
        await page.screenshot({ path: `${ARTIFACTS}consent.png`, fullPage: true });
        await page.click('button[name=decision][value=allow]');
        await page.waitForURL((url) => url.origin === demo.url && url.pathname === '/callback');
      });

      await step(page, navigations, 'check the shop page', async () => {
        assert.equal(await page.locator('#user-name').innerText(), 'Alice Liddell');
        assert.equal(await page.locator('#user-email').innerText(), 'alice@example.com');
        assert.equal(await page.locator('#user-sub').innerText(), alice.id);
        assert.equal(await page.locator('#api-status').innerText(), '200');
        const answer = JSON.parse(await page.locator('#api-response').innerText()) as { orders: { id: string }[]; sub: string };
        assert.deepEqual(answer.orders.map((o) => o.id), ['A-1001', 'A-1002']);
        assert.equal(answer.sub, alice.id);
      });
    } finally {
      await browser.close();
    }
  });

  test('the same flow without Chromium, through the form browser (sqlite)', async () => {
    const browser = new FormBrowser();
    // The shop's /login redirects to /authorize, which redirects to the login page.
    const login = await browser.get(`${demo.url}/login`, { followRedirects: true });
    assert.equal(login.status, 200, summary(login));
    assert.equal(new URL(login.url).pathname, '/login');
    const loginForm = browser.forms(login.text, login.url).find((f) => f.inputs.some((i) => i.name === 'password'));
    assert.ok(loginForm, 'the login page has a form with a password field');
    assert.equal(loginForm.method, 'post');
    assert.ok(loginForm.inputs.some((i) => i.name === 'csrf_token' && i.type === 'hidden' && i.value !== ''));

    const consent = await browser.submit(login, loginForm, {
      values: { username: DORMOUSE.username, password: DORMOUSE.password },
      followRedirects: true,
    });
    assert.equal(consent.status, 200, summary(consent));
    assert.equal(new URL(consent.url).pathname, '/consent', summary(consent));
    assert.match(consent.text, /Demo Shop/);
    assert.match(consent.text, /Read your orders/);
    const consentForm = browser.forms(consent.text, consent.url).find((f) => f.buttons.some((b) => b.name === 'decision'));
    assert.ok(consentForm, 'the consent page has a form with decision buttons');

    // Allow, one hop at a time: Latchkey answers with a redirect to the shop's callback.
    const allowed = await browser.submit(consent, consentForm, { button: { name: 'decision', value: 'allow' } });
    assert.equal(allowed.status, 303, summary(allowed));
    const redirect = new URL(allowed.location ?? '');
    assert.equal(`${redirect.origin}${redirect.pathname}`, `${demo.url}/callback`);
    assert.equal(redirect.searchParams.get('iss'), running.issuer);
    assert.ok(redirect.searchParams.get('code'));
    assert.ok(redirect.searchParams.get('state'));

    const done = await browser.get(redirect.toString());
    assert.equal(done.status, 200, summary(done));
    assert.match(done.text, /<strong id="user-name">The Dormouse<\/strong>/);
    assert.match(done.text, /A-1001/);
  });
});

/** Runs one step of the browser flow; on failure, a screenshot and the pages seen so far join the error. */
async function step(page: Page, navigations: string[], name: string, body: () => Promise<void>): Promise<void> {
  try {
    await body();
  } catch (err) {
    mkdirSync(ARTIFACTS, { recursive: true });
    const shot = `${ARTIFACTS}browser-login-failure.png`;
    await page.screenshot({ path: shot, fullPage: true }).catch(() => {});
    const text = await page
      .locator('body')
      .innerText({ timeout: 2_000 })
      .catch(() => '(no body)');
    const cause = err instanceof Error ? err.message : String(err);
    throw new Error(
      `step "${name}" failed: ${cause}\n  at ${page.url()}\n  navigations:\n    ${navigations.join('\n    ')}\n  page text:\n${text.slice(0, 1500)}\n  screenshot: ${shot}`,
      { cause: err },
    );
  }
}

function summary(page: { url: string; status: number; location: string | undefined; text: string }): string {
  return `${page.status} at ${page.url}${page.location ? ` -> ${page.location}` : ''}: ${page.text.slice(0, 800)}`;
}
