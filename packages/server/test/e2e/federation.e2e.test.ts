import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import type { Browser } from 'playwright-core';
import { authorizeUrl, chromiumSkip, launchChromium, PASSWORD, pkcePair, type RunningServer, seedUserFlow, sqlite, startServer, type TestDatabase, type UserFlowSeed } from '@latchkey/testing';
import { addProvider } from '../../src/federation/providers.ts';

const ARTIFACTS = fileURLToPath(new URL('../../../../test-artifacts/', import.meta.url));

/**
 * "Sign in with ..." in a real browser (issue 16): the login page's provider button, the upstream's
 * login page (a second Latchkey), and back to this server's consent page, signed in as the linked
 * local user. Screenshot of the login page in test-artifacts/.
 */
describe('sign-in with an upstream provider in Chromium (sqlite)', () => {
  let downDb: TestDatabase;
  let upDb: TestDatabase;
  let down: RunningServer;
  let up: RunningServer;
  let downSeed: UserFlowSeed;
  let browser: Browser | undefined;

  before(async () => {
    downDb = await sqlite.create();
    upDb = await sqlite.create();
    down = await startServer(downDb, { allowLoopbackUpstream: true });
    up = await startServer(upDb, { productName: 'Upstream Co' });
    downSeed = await seedUserFlow(down);
    await seedUserFlow(up);
    const rp = await up.registry.createClient({ name: 'Downstream', type: 'confidential', grantTypes: ['authorization_code'], scopes: ['openid', 'email', 'profile'], redirectUris: [`${down.issuer}/login/upstream/callback`], firstParty: true });
    await addProvider(down.server.context, { id: 'upco', issuer: up.issuer, clientId: rp.client.clientId, clientSecret: rp.clientSecret!, displayName: 'Upstream Co' });
    mkdirSync(ARTIFACTS, { recursive: true });
  });
  after(async () => {
    await browser?.close();
    await down?.close();
    await up?.close();
    await downDb?.drop();
    await upDb?.drop();
  });

  test('the provider\'s button, its login page, and back signed in', { skip: chromiumSkip() }, async () => {
    browser = await launchChromium();
    const context = await browser.newContext({ viewport: { width: 520, height: 760 } });
    const page = await context.newPage();
    const violations: string[] = [];
    page.on('console', (m) => {
      if (/Content Security Policy|Refused to/i.test(m.text())) violations.push(m.text());
    });
    await page.goto(authorizeUrl(down, { clientId: downSeed.publicClient, scope: 'openid profile' }, pkcePair().challenge));
    await page.waitForSelector('a:text("Sign in with Upstream Co")');
    await page.screenshot({ path: join(ARTIFACTS, 'login-upstream.png'), fullPage: true });
    await page.click('a:text("Sign in with Upstream Co")');
    await page.waitForURL((url) => url.origin === up.issuer);
    await page.fill('input[name=username]', 'alice');
    await page.fill('input[name=password]', PASSWORD);
    await page.click('form:not([data-passkey]) button[type=submit]');
    // Back at this server: its consent page, for the user the upstream account is linked to.
    await page.waitForSelector('button[name=decision][value=allow]');
    assert.equal(new URL(page.url()).origin, down.issuer);
    assert.match((await page.textContent('main')) ?? '', /Signed in as Alice Liddell/);
    assert.deepEqual(violations, []);
    await context.close();
  });
});
