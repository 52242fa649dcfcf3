import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { parse } from 'node-html-parser';
import type { ClientSource } from '../../src/registry/types.ts';
import { backends, FormBrowser, pkcePair, REDIRECT_URI, type RunningServer, seedUserFlow, startServer, type TestDatabase, type UserFlowSeed, walkAuthorization } from '@latchkey/testing';
import { authorizationUrl, codeOf, expectRedirectError } from './authorize-requests.ts';

/**
 * docs/security.md L77 at the authorization endpoint: a client that registered itself (dynamic client
 * registration, a client ID metadata document) is an unverified application. It is never first-party,
 * whatever its row says, its consent is asked (once per client and user when its code goes to an https
 * redirect URI, every time when it goes to a loopback address: RFC 8252 §8.6), and the consent page says it is
 * unverified, names it by its redirect URI's host (the MCP authorization specification's requirement),
 * with its self-chosen name only as text beside that host, and lists the APIs and scopes.
 */

/** A display name a client could choose to look official, with markup that must stay text. */
const HOSTILE_NAME = '<b>Official</b> "Bank" & <img src=x onerror=alert(1)>';
const TOOL_REDIRECT = 'https://tools.example.net/callback';

for (const backend of await backends()) {
  describe(`unverified (self-registered) clients at /authorize (${backend.name})`, { skip: backend.skip }, () => {
    let db: TestDatabase;
    let s: RunningServer;
    let seed: UserFlowSeed;
    let operatorFirstParty: string;

    /** Stores a client as registration would, its row claiming first-party to show that it does not count. */
    const storeClient = async (clientId: string, source: ClientSource, redirectUris = [TOOL_REDIRECT]) => {
      const api = await s.server.context.storage.resources.findByIdentifier(seed.api);
      await s.server.context.storage.clients.create({
        clientId,
        name: HOSTILE_NAME,
        type: 'public',
        tokenEndpointAuthMethod: 'none',
        secretHash: null,
        grantTypes: ['authorization_code'],
        scopes: ['orders:read'],
        audienceResourceIds: [api!.id],
        createdAt: Math.floor(Date.now() / 1000),
        redirectUris,
        oidcScopes: ['openid'],
        firstParty: true,
        source,
      });
      return clientId;
    };

    before(async () => {
      db = await backend.create();
      s = await startServer(db);
      seed = await seedUserFlow(s);
      // What registration would have checked: orders:read is open to self-registered clients.
      await s.registry.updateResourceScopes(seed.api, { openScopes: ['orders:read'] });
      await storeClient('dyn-tool', 'dynamic-registration', [TOOL_REDIRECT, 'http://localhost/cb']);
      await storeClient('doc-tool', 'metadata-document');
      operatorFirstParty = (
        await s.registry.createClient({
          name: 'Our Own App',
          type: 'public',
          grantTypes: ['authorization_code'],
          scopes: ['openid', 'orders:read'],
          redirectUris: [REDIRECT_URI],
          firstParty: true,
        })
      ).client.clientId;
    });
    after(async () => {
      await s?.close();
      await db?.drop();
    });

    const walk = (browser: FormBrowser, clientId: string, over: Record<string, string | undefined> = {}, redirectUri = TOOL_REDIRECT) =>
      walkAuthorization(browser, s.issuer, authorizationUrl(s.issuer, clientId, pkcePair().challenge, { redirect_uri: redirectUri, ...over }));

    test('L77: a self-registered client is asked for consent although its row says first-party; prompt=none before consent is consent_required; one consent per client and user', async () => {
      for (const clientId of ['dyn-tool', 'doc-tool']) {
        const browser = new FormBrowser();
        // Signed in, consent denied: nothing is remembered.
        const denied = await walkAuthorization(browser, s.issuer, authorizationUrl(s.issuer, clientId, pkcePair().challenge, { redirect_uri: TOOL_REDIRECT }), { decision: 'deny' });
        assert.equal(denied.sawConsent, true, `${clientId}: consent asked`);
        const silentBefore = await browser.get(authorizationUrl(s.issuer, clientId, pkcePair().challenge, { redirect_uri: TOOL_REDIRECT, prompt: 'none' }));
        expectRedirectError(silentBefore, s.issuer, 'consent_required', TOOL_REDIRECT);
        const allowed = await walk(browser, clientId);
        assert.equal(allowed.sawConsent, true, `${clientId}: consent asked`);
        codeOf(allowed.callback, s.issuer, TOOL_REDIRECT);
        // Allowed once, remembered for this client and user, as for any third-party client.
        const second = await walk(browser, clientId);
        assert.equal(second.sawLogin, false, 'the session is still there');
        assert.equal(second.sawConsent, false, `${clientId}: consent remembered`);
        codeOf(second.callback, s.issuer, TOOL_REDIRECT);
        assert.equal((await walk(browser, clientId, { prompt: 'consent' })).sawConsent, true, 'prompt=consent asks again');
      }
      // The operator's first-party client is not asked (the control).
      const own = await walk(new FormBrowser(), operatorFirstParty, {}, REDIRECT_URI);
      assert.equal(own.sawConsent, false);
      codeOf(own.callback, s.issuer);
    });

    test('RFC 8252 §8.6: with a loopback redirect URI an unverified client is asked every time (any local program could be it); prompt=none stays consent_required', async () => {
      const browser = new FormBrowser();
      const loopback = 'http://localhost:53124/cb';
      const first = await walk(browser, 'dyn-tool', {}, loopback);
      assert.equal(first.sawConsent, true);
      codeOf(first.callback, s.issuer, loopback);
      const second = await walk(browser, 'dyn-tool', {}, loopback);
      assert.equal(second.sawConsent, true, 'asked again');
      const silent = await browser.get(authorizationUrl(s.issuer, 'dyn-tool', pkcePair().challenge, { redirect_uri: loopback, prompt: 'none' }));
      expectRedirectError(silent, s.issuer, 'consent_required', loopback);
    });

    test('the login page names an unverified application by its redirect host, never by the name it chose', async () => {
      const browser = new FormBrowser();
      const start = await browser.get(authorizationUrl(s.issuer, 'dyn-tool', pkcePair().challenge, { redirect_uri: TOOL_REDIRECT }));
      assert.equal(start.status, 303);
      const login = await browser.get(new URL(start.location!, s.issuer).href);
      assert.equal(login.status, 200);
      assert.match(login.text, /to continue to <strong>tools\.example\.net<\/strong>/);
      assert.doesNotMatch(login.text, /Official/);
    });

    test('the consent page says the application is unverified, names the redirect host first, its own name as text beside it, the API and the scopes', async () => {
      const { consentPage } = await walk(new FormBrowser(), 'dyn-tool', { prompt: 'consent' });
      assert.ok(consentPage);
      const html = parse(consentPage.text);
      assert.equal(html.querySelector('h1')?.text, 'tools.example.net wants to access your account');
      assert.equal(html.querySelector('h1 strong')?.text, 'tools.example.net');
      assert.equal(html.querySelector('title')?.text, 'Allow tools.example.net?');
      const notice = html.querySelector('.unverified');
      assert.ok(notice, 'an unverified notice');
      assert.match(notice.text, /Unverified application\. It registered itself with Latchkey: Latchkey does not know who runs it\./);
      assert.equal(notice.querySelector('.host')?.text, 'tools.example.net');
      // The chosen name is text: escaped in the HTML, never markup.
      assert.equal(notice.querySelector('.given-name')?.text, HOSTILE_NAME);
      assert.ok(consentPage.text.includes('&#60;b&#62;Official&#60;/b&#62; &#34;Bank&#34; &#38; &#60;img src=x onerror=alert(1)&#62;'));
      assert.equal(html.querySelectorAll('main b, main img').length, 0, 'no element comes from the name');
      assert.deepEqual(
        html.querySelectorAll('ul.apis li').map((li) => [li.querySelector('.what')?.text, li.querySelector('code')?.text]),
        [['Orders API', seed.api]],
      );
      assert.deepEqual(html.querySelectorAll('ul.scopes:not(.apis) code').map((c) => c.text), ['openid', 'orders:read']);
    });

    test('for a localhost redirect the page names localhost and the port the request used', async () => {
      const { consentPage } = await walk(new FormBrowser(), 'dyn-tool', { prompt: 'consent' }, 'http://localhost:53123/cb');
      const html = parse(consentPage!.text);
      assert.equal(html.querySelector('h1 strong')?.text, 'localhost:53123');
      assert.equal(html.querySelector('.unverified .host')?.text, 'localhost:53123');
    });

    test('an operator-registered client\'s consent page has no unverified notice and is headed by its name', async () => {
      const { consentPage } = await walk(new FormBrowser(), seed.publicClient, { prompt: 'consent' }, REDIRECT_URI);
      const html = parse(consentPage!.text);
      assert.equal(html.querySelector('.unverified'), null);
      assert.equal(html.querySelector('h1 strong')?.text, 'Demo Shop');
    });
  });
}
