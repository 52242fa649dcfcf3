import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { decodeJwt } from 'jose';
import { UserRegistry } from '../../src/users/user-registry.ts';
import { authorizeUrl, backends, completeFlow, exchangeCode, FormBrowser, PASSWORD, pkcePair, postForm, runAuthorization, type RunningServer, seedUserFlow, startServer, type TestDatabase, type UserFlowSeed } from '@latchkey/testing';

/**
 * Findings of the security review of the browser flow, each pinned by a test: audiences never wider
 * than the consent, no skipping a forced login through /consent, a disabled user's tokens dead at
 * introspection, reuse detected before the scope is judged, control characters refused (PostgreSQL
 * cannot store NUL), and the admin's "sign out everywhere".
 */
for (const backend of await backends()) {
  describe(`browser flow hardening (${backend.name})`, { skip: backend.skip }, () => {
    let db: TestDatabase;
    let s: RunningServer;
    let seed: UserFlowSeed;
    let users: UserRegistry;

    before(async () => {
      db = await backend.create();
      s = await startServer(db, { refreshGraceSeconds: 0 });
      seed = await seedUserFlow(s);
      users = new UserRegistry(s.server.context.storage);
      // A second API the confidential client may use, which no consent below covers.
      await s.registry.createResource({ identifier: 'https://payroll.example.com', scopes: ['payroll:admin'] });
      await s.registry.createClient({
        clientId: 'wide-client',
        name: 'Wide',
        type: 'confidential',
        grantTypes: ['authorization_code', 'refresh_token'],
        scopes: ['openid', 'offline_access', 'orders:read', 'payroll:admin'],
        redirectUris: ['https://wide.example/cb'],
      });
    });
    after(async () => {
      await s?.close();
      await db?.drop();
    });

    /** Logs `username` in with the confidential client and redeems the code with its secret. */
    const confidentialFlow = async (browser: FormBrowser, username: string) => {
      const result = await runAuthorization(browser, s, { clientId: seed.confidential.clientId, username });
      const res = await exchangeCode(s, {
        clientId: seed.confidential.clientId,
        secret: seed.confidential.clientSecret,
        code: result.callback.searchParams.get('code')!,
        verifier: result.verifier,
      });
      assert.equal(res.status, 200, res.text);
      return res.body as { access_token: string; refresh_token?: string };
    };

    const introspect = (token: string) =>
      postForm(`${s.issuer}/introspect`, { token }, { basic: [seed.confidential.clientId, seed.confidential.clientSecret] });

    test('RFC 8707: resource at the token endpoint picks among the granted scopes, never widens the audience', async () => {
      const secret = (await s.registry.rotateSecret('wide-client'));
      const run = async (scope: string) => {
        const browser = new FormBrowser();
        const result = await runAuthorization(browser, s, { clientId: 'wide-client', scope, redirectUri: 'https://wide.example/cb' });
        return { code: result.callback.searchParams.get('code')!, verifier: result.verifier };
      };
      const token = (code: string, verifier: string, resource: string) =>
        postForm(
          `${s.issuer}/token`,
          { grant_type: 'authorization_code', code, code_verifier: verifier, redirect_uri: 'https://wide.example/cb', resource },
          { basic: ['wide-client', secret] },
        );
      // The user allowed openid only: no API may be named.
      const openidOnly = await run('openid');
      const refused = await token(openidOnly.code, openidOnly.verifier, 'https://payroll.example.com');
      assert.equal(refused.status, 400, refused.text);
      assert.equal(refused.body.error, 'invalid_target');
      // The user allowed orders:read: payroll is still refused; orders is accepted.
      const orders = await run('openid orders:read');
      assert.equal((await token(orders.code, orders.verifier, 'https://payroll.example.com')).body.error, 'invalid_target');
      const ok = await token(orders.code, orders.verifier, 'https://api.example.com');
      assert.equal(ok.status, 200, ok.text);
      const claims = decodeJwt(ok.body.access_token);
      assert.deepEqual(claims.aud, ['https://api.example.com', `${s.issuer}/userinfo`]);
      assert.equal(claims.scope, 'openid orders:read');
    });

    test('A16: going straight to /consent does not skip the login that prompt=login or max_age asks for', async (t) => {
      const browser = new FormBrowser();
      await completeFlow(browser, s, { clientId: seed.publicClient });
      t.mock.timers.enable({ apis: ['Date'], now: Date.now() + 5000 });
      const { challenge } = pkcePair();
      const cases: Record<string, string>[] = [{ prompt: 'login consent' }, { max_age: '2', prompt: 'consent' }];
      for (const extra of cases) {
        const consentUrl = authorizeUrl(s, { clientId: seed.publicClient, extra }, challenge).replace('/authorize?', '/consent?');
        const page = await browser.get(consentUrl);
        assert.equal(page.status, 303, `${JSON.stringify(extra)}: ${page.status}`);
        assert.match(page.location ?? '', /\/login\?/, `${JSON.stringify(extra)}: sent to the login page`);
        // The consent form cannot be posted around it either.
        const posted = await browser.post(`${s.issuer}/consent`, { ...Object.fromEntries(new URL(consentUrl).searchParams), decision: 'allow', csrf_token: 'x' });
        assert.equal(posted.status, 303);
        assert.match(posted.location ?? '', /\/login\?/);
      }
      t.mock.timers.reset();
      // Through the login form the flow completes, and auth_time is the new login's.
      const forced = await completeFlow(browser, s, { clientId: seed.publicClient, extra: { prompt: 'login consent' } });
      assert.equal(forced.sawLogin, true);
      assert.equal(forced.sawConsent, true);
    });

    test('a disabled user: access tokens inactive at introspection, refresh refused, sessions ended', async () => {
      await users.create({ username: 'dinah', password: PASSWORD, name: 'Dinah' });
      const browser = new FormBrowser();
      const tokens = await confidentialFlow(browser, 'dinah');
      assert.equal((await introspect(tokens.access_token)).body.active, true);
      await users.disable('dinah');
      assert.deepEqual((await introspect(tokens.access_token)).body, { active: false });
      const refresh = await postForm(
        `${s.issuer}/token`,
        { grant_type: 'refresh_token', refresh_token: tokens.refresh_token! },
        { basic: [seed.confidential.clientId, seed.confidential.clientSecret] },
      );
      assert.equal(refresh.body.error, 'invalid_grant');
    });

    test('users revoke (CLI: sign out everywhere): sessions end, grants revoked, tokens dead', async () => {
      await users.create({ username: 'hatter', password: PASSWORD, name: 'Hatter' });
      const browser = new FormBrowser();
      const tokens = await confidentialFlow(browser, 'hatter');
      const ended = await users.signOutEverywhere('hatter');
      assert.deepEqual(ended, { sessions: 1, grants: 1 });
      assert.deepEqual((await introspect(tokens.access_token)).body, { active: false });
      // The browser's session is gone: prompt=none now needs a login.
      const { challenge } = pkcePair();
      const page = await browser.get(authorizeUrl(s, { clientId: seed.confidential.clientId, extra: { prompt: 'none' } }, challenge));
      assert.equal(new URL(page.location!).searchParams.get('error'), 'login_required');
      // The user may log in again afterwards.
      const again = await confidentialFlow(browser, 'hatter');
      assert.equal((await introspect(again.access_token)).body.active, true);
    });

    test('F44: a rotated refresh token presented with a wider scope is still reuse and revokes the family', async () => {
      const browser = new FormBrowser();
      const { tokens } = await completeFlow(browser, s, { clientId: seed.publicClient, scope: 'openid offline_access orders:read' });
      const refresh = (token: string, scope?: string) =>
        postForm(`${s.issuer}/token`, { grant_type: 'refresh_token', refresh_token: token, client_id: seed.publicClient, ...(scope ? { scope } : {}) });
      const rotated = await refresh(tokens.refresh_token!);
      assert.equal(rotated.status, 200, rotated.text);
      const reuse = await refresh(tokens.refresh_token!, 'openid orders:write');
      assert.equal(reuse.body.error, 'invalid_grant', reuse.text);
      assert.equal((await refresh(rotated.body.refresh_token)).body.error, 'invalid_grant', 'the family is revoked');
    });

    test('control characters (NUL) in login and authorization parameters: 4xx, never a 500', async () => {
      // A NUL in the username is a wrong username, on PostgreSQL too.
      const browser = new FormBrowser();
      const { challenge } = pkcePair();
      let page = await browser.get(authorizeUrl(s, { clientId: seed.publicClient }, challenge), { followRedirects: true });
      const [form] = browser.forms(page.text, page.url);
      page = await browser.submit(page, form!, { values: { username: 'al\u0000ice', password: PASSWORD } });
      assert.equal(page.status, 400, page.text.slice(0, 200));
      // NUL in state, nonce or login_hint is invalid_request, sent back to the client.
      for (const name of ['state', 'nonce', 'login_hint']) {
        const url = new URL(authorizeUrl(s, { clientId: seed.publicClient }, challenge));
        url.searchParams.set(name, 'a\u0000b');
        const res = await fetch(url, { redirect: 'manual' });
        assert.equal(res.status, 303, name);
        const back = new URL(res.headers.get('location')!);
        assert.equal(back.searchParams.get('error'), 'invalid_request', name);
      }
      // The session cookie and CSRF values with NUL are just unknown.
      const res = await fetch(`${s.issuer}/consent?client_id=${seed.publicClient}`, { headers: { cookie: 'latchkey_session=a%00b' }, redirect: 'manual' });
      assert.ok(res.status < 500, `${res.status}`);
      const code = await exchangeCode(s, { clientId: seed.publicClient, code: 'a\u0000b', verifier: 'x'.repeat(43) });
      assert.equal(code.body.error, 'invalid_grant');
    });
  });
}
