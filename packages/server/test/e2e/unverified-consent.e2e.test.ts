import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { backends, chromiumSkip, launchChromium, PASSWORD, pkcePair, type RunningServer, seedUserFlow, startServer, type TestDatabase, type UserFlowSeed } from '@latchkey/testing';
import { authorizationUrl } from '../flows/authorize-requests.ts';

/**
 * The consent page of a self-registered client, rendered by headless Chromium: the user reads that the
 * application is unverified, sees the host the browser will return to in the heading and in the
 * warning, the application's chosen name as plain text (its markup is not rendered), the API and the
 * scopes, and Allow takes the browser to that host with a code.
 */

const ARTIFACTS = fileURLToPath(new URL('../../../../test-artifacts/', import.meta.url));
const REDIRECT = 'https://tools.example.net/callback';
const NAME = '<b>Official</b> Bank <img src=x>';

for (const backend of await backends()) {
  describe(`an unverified client's consent page in Chromium (${backend.name})`, { skip: backend.skip }, () => {
    let db: TestDatabase;
    let s: RunningServer;
    let seed: UserFlowSeed;

    before(async () => {
      db = await backend.create();
      s = await startServer(db);
      seed = await seedUserFlow(s);
      // What registration would have checked: orders:read is open to self-registered clients.
      await s.registry.updateResourceScopes(seed.api, { openScopes: ['orders:read'] });
      const api = await s.server.context.storage.resources.findByIdentifier(seed.api);
      // As dynamic client registration stores a client (RFC 7591).
      await s.server.context.storage.clients.create({
        clientId: 'dyn-chromium',
        name: NAME,
        type: 'public',
        tokenEndpointAuthMethod: 'none',
        secretHash: null,
        grantTypes: ['authorization_code'],
        scopes: ['orders:read'],
        audienceResourceIds: [api!.id],
        createdAt: Math.floor(Date.now() / 1000),
        redirectUris: [REDIRECT],
        oidcScopes: ['openid'],
        source: 'dynamic-registration',
      });
    });
    after(async () => {
      await s?.close();
      await db?.drop();
    });

    test(`Chromium shows the unverified warning, the redirect host, the name as text, the API and the scopes; Allow returns to that host (${backend.name})`, { skip: chromiumSkip(), timeout: 90_000 }, async () => {
      const browser = await launchChromium();
      try {
        const page = await (await browser.newContext()).newPage();
        page.setDefaultTimeout(15_000);
        // The redirect URI's host is not reachable from here: the browser's request to it is answered in place.
        await page.route('https://tools.example.net/**', (route) => route.fulfill({ status: 200, contentType: 'text/plain', body: 'back at the tool' }));

        await page.goto(authorizationUrl(s.issuer, 'dyn-chromium', pkcePair().challenge, { redirect_uri: REDIRECT, resource: seed.api }));
        await page.fill('input[name=username]', seed.user.username);
        await page.fill('input[name=password]', PASSWORD);
        await page.locator('form:has(input[name=password]) [type=submit]').click();
        await page.waitForURL((url) => url.pathname === '/consent');

        assert.equal(await page.locator('h1').innerText(), 'tools.example.net wants to access your account');
        assert.equal(await page.title(), 'Allow tools.example.net?');
        const warning = page.locator('.unverified');
        assert.ok(await warning.isVisible(), 'the warning is shown');
        const warningText = await warning.innerText();
        assert.match(warningText, /Unverified application\. It registered itself with Latchkey: Latchkey does not know who runs it\./);
        assert.match(warningText, /Allow it only if you trust tools\.example\.net\./);
        assert.ok(await page.locator('.unverified .host').isVisible());
        assert.equal(await page.locator('.unverified .given-name').textContent(), NAME, 'the name is shown exactly, as text');
        assert.equal(await page.locator('main b, main img').count(), 0, 'no markup from the name is rendered');
        const body = await page.locator('main').innerText();
        assert.match(body, /Orders API\s+https:\/\/api\.example\.com/);
        assert.match(body, /Read your orders\s+orders:read/);
        mkdirSync(ARTIFACTS, { recursive: true });
        await page.screenshot({ path: `${ARTIFACTS}unverified-consent-${backend.name}.png`, fullPage: true });

        await page.click('button[name=decision][value=allow]');
        await page.waitForURL((url) => url.host === 'tools.example.net');
        const back = new URL(page.url());
        assert.equal(`${back.origin}${back.pathname}`, REDIRECT);
        assert.ok(back.searchParams.get('code'));
        assert.equal(back.searchParams.get('iss'), s.issuer);
      } finally {
        await browser.close();
      }
    });
  });
}
