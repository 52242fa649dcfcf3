import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { parse } from 'node-html-parser';
import { backends, FormBrowser, type Page, pkcePair, postForm, REDIRECT_URI, type RunningServer, seedUserFlow, startServer, type TestDatabase, type UserFlowSeed, walkAuthorization } from '@latchkey/testing';
import { audienceOf, authorizationUrl, codeOf, expectRedirectError, firstStop, type ParamValue } from './authorize-requests.ts';

/**
 * RFC 8707 resource indicators at the authorization endpoint, and scope left out (RFC 6749 §3.3), over
 * real HTTP: `resource` is validated and sent back as invalid_target, bound to the code, carried by the
 * login and consent forms, named on the consent page, and limits what the token request may ask.
 */

const CALENDAR = 'https://calendar.example';
/** An API whose tokens are opaque: one token cannot cover it and a JWT API together. */
const LEDGER = 'https://ledger.example';
/** An API without default scopes. */
const NOTES = 'https://notes.example';
/** A registered API the planner may not use. */
const HR = 'https://hr.example';

for (const backend of await backends()) {
  describe(`resource indicators and default scopes at /authorize (${backend.name})`, { skip: backend.skip }, () => {
    let db: TestDatabase;
    let s: RunningServer;
    let seed: UserFlowSeed;
    let planner: string;
    let calendarWriter: string;

    before(async () => {
      db = await backend.create();
      s = await startServer(db);
      seed = await seedUserFlow(s);
      await s.registry.updateResourceScopes(seed.api, { defaultScopes: ['orders:read'] });
      await s.registry.createResource({
        identifier: CALENDAR,
        name: 'Calendar',
        scopes: [{ scope: 'calendar:read', description: 'See your calendar' }, 'calendar:write'],
        defaultScopes: ['calendar:read'],
      });
      await s.registry.createResource({ identifier: LEDGER, name: 'Ledger', scopes: ['ledger:read'], defaultScopes: ['ledger:read'], accessTokenFormat: 'opaque' });
      await s.registry.createResource({ identifier: NOTES, name: 'Notes', scopes: ['notes:read'] });
      await s.registry.createResource({ identifier: HR, name: 'HR', scopes: ['hr:read'], defaultScopes: ['hr:read'] });
      const created = await s.registry.createClient({
        name: 'Planner',
        type: 'public',
        grantTypes: ['authorization_code', 'refresh_token'],
        scopes: ['openid', 'offline_access', 'orders:read', 'orders:write', 'calendar:read', 'calendar:write', 'ledger:read', 'notes:read'],
        redirectUris: [REDIRECT_URI],
      });
      planner = created.client.clientId;
      // May use the calendar, but not its default scope.
      calendarWriter = (
        await s.registry.createClient({ name: 'Calendar Writer', type: 'public', grantTypes: ['authorization_code'], scopes: ['calendar:write'], redirectUris: [REDIRECT_URI] })
      ).client.clientId;
    });
    after(async () => {
      await s?.close();
      await db?.drop();
    });

    const userinfo = () => `${s.issuer}/userinfo`;

    /** Signs Alice in (and allows the consent page, when shown) for a request of the planner; returns the code and verifier. */
    const authorizeCode = async (over: Record<string, ParamValue>, clientId = planner) => {
      const pkce = pkcePair();
      const walked = await walkAuthorization(new FormBrowser(), s.issuer, authorizationUrl(s.issuer, clientId, pkce.challenge, over));
      return { code: codeOf(walked.callback, s.issuer), verifier: pkce.verifier, consentPage: walked.consentPage };
    };

    const redeem = (code: string, verifier: string, resource: string[] = [], clientId = planner) =>
      postForm(`${s.issuer}/token`, {
        grant_type: 'authorization_code',
        client_id: clientId,
        code,
        code_verifier: verifier,
        redirect_uri: REDIRECT_URI,
        ...(resource.length > 0 ? { resource } : {}),
      });

    /** Where the request goes first, without any session: an error back to the client, or the login page. */
    const firstAnswer = (over: Record<string, ParamValue>, clientId = planner) =>
      new FormBrowser().get(authorizationUrl(s.issuer, clientId, pkcePair().challenge, over));

    const expectLoginPage = (page: Page, why: string) => {
      assert.equal(page.status, 303, `${why}: ${page.status} ${page.location}`);
      assert.equal(new URL(page.location!).pathname, '/login', `${why}: ${page.location}`);
    };

    test('RFC 8707: the code keeps its resources; a token request naming none gets them all as audience, one naming a resource narrows to it', async () => {
      const both = { resource: [seed.api, CALENDAR], scope: 'openid orders:read calendar:read' };
      const first = await authorizeCode(both);
      const all = await redeem(first.code, first.verifier);
      assert.equal(all.status, 200, all.text);
      assert.deepEqual(audienceOf(all.body.access_token).sort(), [seed.api, CALENDAR, userinfo()].sort());
      assert.equal(all.body.scope, 'openid orders:read calendar:read');

      // RFC 8707 §2.2: the token request may ask for a token for fewer of the resources.
      const second = await authorizeCode(both);
      const narrowed = await redeem(second.code, second.verifier, [CALENDAR]);
      assert.equal(narrowed.status, 200, narrowed.text);
      assert.deepEqual(audienceOf(narrowed.body.access_token).sort(), [CALENDAR, userinfo()].sort());
      assert.equal(narrowed.body.scope, 'openid calendar:read');
    });

    test('RFC 8707: a token request may name only resources of the authorization request (invalid_target), and that refusal does not spend the code', async () => {
      const { code, verifier } = await authorizeCode({ resource: seed.api, scope: 'orders:read' });
      for (const resource of [[CALENDAR], [seed.api, CALENDAR], [HR]]) {
        const refused = await redeem(code, verifier, resource);
        assert.equal(refused.status, 400, refused.text);
        assert.equal(refused.body.error, 'invalid_target', JSON.stringify(resource));
      }
      const ok = await redeem(code, verifier);
      assert.equal(ok.status, 200, ok.text);
      assert.deepEqual(audienceOf(ok.body.access_token), [seed.api]);
      assert.equal(ok.body.scope, 'orders:read');
    });

    test('RFC 8707 §2: a resource that is not an absolute URI, has a fragment, is unknown or not the client\'s is invalid_target, sent back to the client', async () => {
      for (const resource of ['orders', '/api', 'https://api.example.com#orders', 'https://unknown.example', HR, [seed.api, 'https://unknown.example']]) {
        expectRedirectError(await firstAnswer({ resource, scope: 'openid' }), s.issuer, 'invalid_target');
      }
      // One token cannot be a JWT for one API and an opaque reference for another.
      expectRedirectError(await firstAnswer({ resource: [seed.api, LEDGER], scope: 'orders:read ledger:read' }), s.issuer, 'invalid_target');
      // The same resource twice is one resource.
      expectLoginPage(await firstAnswer({ resource: [seed.api, seed.api], scope: 'orders:read' }), 'a repeated resource');
    });

    test('RFC 6749 §3.3: without scope, the default scopes of the named resources that the client may have are requested', async () => {
      const one = await authorizeCode({ resource: seed.api, scope: undefined, prompt: 'consent' });
      const listed = parse(one.consentPage!.text).querySelectorAll('ul.scopes:not(.apis) code').map((c) => c.text);
      assert.deepEqual(listed, ['orders:read'], 'the consent page lists the default scope only');
      const token = await redeem(one.code, one.verifier);
      assert.equal(token.status, 200, token.text);
      assert.equal(token.body.scope, 'orders:read');
      assert.deepEqual(audienceOf(token.body.access_token), [seed.api]);

      const two = await authorizeCode({ resource: [seed.api, CALENDAR], scope: undefined });
      const both = await redeem(two.code, two.verifier);
      assert.equal(both.status, 200, both.text);
      assert.equal(both.body.scope, 'orders:read calendar:read');
      assert.deepEqual(audienceOf(both.body.access_token).sort(), [seed.api, CALENDAR].sort());
    });

    test('RFC 6749 §3.3: no default scope the client may have is invalid_scope; without scope and resource the request stays invalid_scope', async () => {
      // The calendar's default scope is calendar:read, which this client may not have.
      expectRedirectError(await firstAnswer({ resource: CALENDAR, scope: undefined }, calendarWriter), s.issuer, 'invalid_scope');
      // The notes API has no default scope at all; with two resources, one without a default spoils the request.
      expectRedirectError(await firstAnswer({ resource: NOTES, scope: undefined }), s.issuer, 'invalid_scope');
      expectRedirectError(await firstAnswer({ resource: [seed.api, NOTES], scope: undefined }), s.issuer, 'invalid_scope');
      // Nothing names what the client wants: no default is guessed.
      expectRedirectError(await firstAnswer({ scope: undefined }), s.issuer, 'invalid_scope');
    });

    test('with resources, a requested scope must belong to one of them or be OpenID Connect\'s, and each resource needs a scope', async () => {
      expectRedirectError(await firstAnswer({ resource: seed.api, scope: 'orders:read calendar:read' }), s.issuer, 'invalid_scope');
      expectRedirectError(await firstAnswer({ resource: [seed.api, CALENDAR], scope: 'openid orders:read' }), s.issuer, 'invalid_scope');
      expectRedirectError(await firstAnswer({ resource: seed.api, scope: 'openid' }), s.issuer, 'invalid_scope');
      expectLoginPage(await firstAnswer({ resource: seed.api, scope: 'openid offline_access orders:read orders:write' }), 'OIDC scopes with the API\'s');
    });

    test('the login and consent forms carry every resource, through prompt=login; the consent page names each API by name and identifier', async () => {
      const browser = new FormBrowser();
      const pkce = pkcePair();
      const url = authorizationUrl(s.issuer, planner, pkce.challenge, {
        resource: [seed.api, CALENDAR],
        scope: 'openid orders:read calendar:read',
        prompt: 'login consent',
      });
      const resourcesOf = (page: Page) =>
        browser.forms(page.text, page.url)[0]!.inputs.filter((i) => i.name === 'resource' && i.type === 'hidden').map((i) => i.value);

      const login = await firstStop(browser, s.issuer, url);
      assert.equal(new URL(login.url).pathname, '/login');
      assert.deepEqual(resourcesOf(login), [seed.api, CALENDAR]);
      const afterLogin = await browser.submit(login, browser.forms(login.text, login.url)[0]!, {
        values: { username: seed.user.username, password: seed.user.password },
      });
      // prompt=login: the consent page is reached with the proof of this login, computed over both resources.
      assert.match(afterLogin.location ?? '', /\/consent\?.*login_proof=/);
      const consent = await browser.get(afterLogin.location!);
      assert.equal(consent.status, 200, consent.text.slice(0, 300));
      assert.deepEqual(resourcesOf(consent), [seed.api, CALENDAR]);
      const apis = parse(consent.text)
        .querySelectorAll('ul.apis li')
        .map((li) => [li.querySelector('.what')!.text, li.querySelector('code')!.text]);
      assert.deepEqual(apis, [
        ['Orders API', seed.api],
        ['Calendar', CALENDAR],
      ]);
      const back = await browser.submit(consent, browser.forms(consent.text, consent.url)[0]!, { button: { name: 'decision', value: 'allow' } });
      const token = await redeem(codeOf(new URL(back.location!), s.issuer), pkce.verifier);
      assert.equal(token.status, 200, token.text);
      assert.deepEqual(audienceOf(token.body.access_token).sort(), [seed.api, CALENDAR, userinfo()].sort());
    });

    test('a consent page without resource names the APIs that own the requested scopes', async () => {
      const { consentPage } = await authorizeCode({ scope: 'openid calendar:write', prompt: 'consent' });
      const apis = parse(consentPage!.text).querySelectorAll('ul.apis li code').map((c) => c.text);
      assert.deepEqual(apis, [CALENDAR]);
    });

    test('a code row keeps its resources, and a code without any has none', async () => {
      const { storage } = s.server.context;
      const now = Math.floor(Date.now() / 1000);
      const grant = (id: string) => ({ id, clientId: planner, userId: seed.user.id, scope: 'orders:read', createdAt: now, revokedAt: null });
      const code = (hash: string, grantId: string, resources?: string[]) => ({
        codeHash: hash,
        grantId,
        redirectUri: REDIRECT_URI,
        codeChallenge: pkcePair().challenge,
        nonce: null,
        authTime: now,
        amr: ['pwd' as const],
        scope: 'orders:read',
        ...(resources ? { resources } : {}),
        createdAt: now,
        expiresAt: now + 60,
      });
      await storage.grants.createWithCode(grant('g-with'), code('hash-with', 'g-with', [seed.api, CALENDAR]));
      await storage.grants.createWithCode(grant('g-without'), code('hash-without', 'g-without'));
      assert.deepEqual((await storage.grants.peek('hash-with'))?.resources, [seed.api, CALENDAR]);
      assert.equal((await storage.grants.peek('hash-without'))?.resources, undefined);
      const redeemed = await storage.grants.redeem('hash-with', now);
      assert.equal(redeemed.status, 'redeemed');
      assert.deepEqual(redeemed.status === 'redeemed' ? redeemed.code.resources : undefined, [seed.api, CALENDAR]);
    });
  });
}
