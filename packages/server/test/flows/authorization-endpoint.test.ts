import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { parse } from 'node-html-parser';
import { UserRegistry } from '../../src/users/user-registry.ts';
import { backends, exchangeCode, FormBrowser, type Page, PASSWORD, pkcePair, postForm, REDIRECT_URI, type RunningServer, seedUserFlow, startServer, type TestDatabase, type UserFlowSeed } from '@latchkey/testing';

/**
 * The authorization endpoint and its pages over real HTTP (checklist section A, B18-B19): redirect URI
 * matching, which errors are a page and which go back to the client, prompt and max_age, consent, the
 * login form (rate limits, disabled users, CSRF) and the protections of the pages themselves.
 */

type ParamValue = string | string[] | undefined;

interface Driven {
  /** The redirect back to the client. */
  callback: URL;
  /** The redirect response that carried it. */
  last: Page;
  sawLogin: boolean;
  sawConsent: boolean;
}

const SESSION_COOKIE = 'latchkey_session';

for (const backend of await backends()) {
  describe(`authorization endpoint and its pages (${backend.name})`, { skip: backend.skip }, () => {
    let db: TestDatabase;
    let s: RunningServer;
    let seed: UserFlowSeed;
    let users: UserRegistry;
    const pkce = pkcePair();

    before(async () => {
      db = await backend.create();
      s = await startServer(db);
      seed = await seedUserFlow(s);
      users = new UserRegistry(s.server.context.storage);
    });
    after(async () => {
      await s?.close();
      await db?.drop();
    });

    // ---- helpers ----

    /** The authorization request's parameters: a valid public-client request, with `over` applied (undefined removes, an array repeats). */
    const authParams = (over: Record<string, ParamValue> = {}): URLSearchParams => {
      const all: Record<string, ParamValue> = {
        response_type: 'code',
        client_id: seed.publicClient,
        redirect_uri: REDIRECT_URI,
        scope: 'openid orders:read',
        state: 'state-1',
        code_challenge: pkce.challenge,
        code_challenge_method: 'S256',
        ...over,
      };
      const params = new URLSearchParams();
      for (const [name, value] of Object.entries(all)) {
        if (value === undefined) continue;
        for (const v of Array.isArray(value) ? value : [value]) params.append(name, v);
      }
      return params;
    };
    const authorizeUrl = (over: Record<string, ParamValue> = {}) => `${s.issuer}/authorize?${authParams(over).toString()}`;
    const ours = (url: string | undefined) => url !== undefined && url.startsWith(`${s.issuer}/`);
    const pathOf = (url: string | undefined) => (url === undefined ? undefined : new URL(url).pathname);

    /** Follows the pages (login, consent) from `first` until the redirect back to the client. */
    const drive = async (
      browser: FormBrowser,
      first: Page,
      options: { username?: string; password?: string; decision?: 'allow' | 'deny' } = {},
    ): Promise<Driven> => {
      let page = first;
      let sawLogin = false;
      let sawConsent = false;
      for (let step = 0; step < 10; step++) {
        if (page.location !== undefined && !ours(page.location)) {
          // A11: every redirect here is 303, never 307.
          assert.equal(page.status, 303, `redirect to the client with ${page.status}`);
          return { callback: new URL(page.location), last: page, sawLogin, sawConsent };
        }
        if (page.location !== undefined) {
          assert.equal(page.status, 303, `internal redirect with ${page.status}`);
          page = await browser.get(page.location);
          continue;
        }
        assert.equal(page.status, 200, `unexpected ${page.status} at ${page.url}: ${page.text.slice(0, 300)}`);
        const [form] = browser.forms(page.text, page.url);
        assert.ok(form, `no form at ${page.url}`);
        const path = pathOf(page.url);
        if (path === '/login') {
          sawLogin = true;
          page = await browser.submit(page, form, {
            values: { username: options.username ?? seed.user.username, password: options.password ?? PASSWORD },
          });
        } else if (path === '/consent') {
          sawConsent = true;
          page = await browser.submit(page, form, { button: { name: 'decision', value: options.decision ?? 'allow' } });
        } else {
          assert.fail(`unexpected page ${page.url}`);
        }
      }
      throw new Error('the authorization did not end in a redirect to the client');
    };

    const authorize = async (
      browser: FormBrowser,
      over: Record<string, ParamValue> = {},
      options: { username?: string; password?: string; decision?: 'allow' | 'deny' } = {},
    ) => drive(browser, await browser.get(authorizeUrl(over)), options);

    /** Follows internal redirects from /authorize until a page (login or consent) is shown. */
    const pageFor = async (browser: FormBrowser, over: Record<string, ParamValue> = {}): Promise<Page> => {
      let page = await browser.get(authorizeUrl(over));
      while (page.status === 303 && ours(page.location)) page = await browser.get(page.location!);
      assert.equal(page.status, 200, `expected a page, got ${page.status} ${page.location ?? page.text.slice(0, 200)}`);
      return page;
    };

    /** The code of a successful redirect back to the client, after checking iss. */
    const codeOf = (callback: URL, redirectUri = REDIRECT_URI): string => {
      assert.equal(`${callback.origin}${callback.pathname}`, redirectUri);
      assert.equal(callback.searchParams.get('error'), null, `error ${callback.searchParams.get('error')}: ${callback.searchParams.get('error_description')}`);
      assert.deepEqual(callback.searchParams.getAll('iss'), [s.issuer]);
      const code = callback.searchParams.get('code');
      assert.ok(code, `no code in ${callback}`);
      return code;
    };

    /** RFC 6749 §4.1.2.1 error response: 303 to the redirect URI with error, state as sent and iss (RFC 9207). */
    /** `state` null: none may be sent back. */
    const expectRedirectError = (page: Page, error: string, state: string | null = 'state-1', redirectUri = REDIRECT_URI) => {
      const why = `${page.status} ${page.location ?? page.text.slice(0, 200)}`;
      assert.equal(page.status, 303, why);
      assert.ok(page.location, why);
      const url = new URL(page.location);
      assert.equal(`${url.origin}${url.pathname}`, redirectUri, why);
      assert.equal(url.searchParams.get('error'), error, why);
      assert.equal(url.searchParams.get('code'), null);
      assert.deepEqual(url.searchParams.getAll('state'), state === null ? [] : [state], why);
      assert.deepEqual(url.searchParams.getAll('iss'), [s.issuer], why);
    };

    /** RFC 6749 §4.1.2.1: "the authorization server SHOULD inform the resource owner of the error and MUST NOT automatically redirect". */
    const expectErrorPage = (page: Page, title: string, why: string) => {
      assert.equal(page.status, 400, `${why}: ${page.status} ${page.location ?? ''}`);
      assert.equal(page.headers.get('location'), null, why);
      assert.match(page.headers.get('content-type') ?? '', /^text\/html/, why);
      assert.equal(parse(page.text).querySelector('h1')?.text, title, why);
    };

    const newUser = async (username: string) => {
      const user = await users.create({ username, password: PASSWORD, email: `${username}@example.com`, name: username });
      return { id: user.id, username };
    };

    const sessionCookieOf = (page: Page): string | undefined =>
      page.headers.getSetCookie().find((c) => c.startsWith(`${SESSION_COOKIE}=`));

    const idTokenClaims = (idToken: string | undefined): Record<string, any> => {
      assert.ok(idToken, 'no id_token');
      return JSON.parse(Buffer.from(idToken.split('.')[1]!, 'base64url').toString('utf8'));
    };

    const exchange = async (code: string, redirectUri = REDIRECT_URI) => {
      const res = await exchangeCode(s, { clientId: seed.publicClient, code, verifier: pkce.verifier, redirectUri });
      assert.equal(res.status, 200, res.text);
      return res.body as { access_token: string; id_token?: string; scope: string };
    };

    /** A fresh browser with a live session for `username` (and consent to the default request). */
    const loggedIn = async (username: string) => {
      const browser = new FormBrowser();
      const run = await authorize(browser, {}, { username });
      codeOf(run.callback);
      return browser;
    };

    // ---- A1, A2, A3, A4: client and redirect URI ----

    test('A1: redirect_uri must equal a registered one exactly: prefix, suffix, case, trailing slash, extra query are refused with a page', async () => {
      const browser = new FormBrowser();
      // The registered URI itself is accepted (the request goes on to the login page).
      const ok = await browser.get(authorizeUrl());
      assert.equal(ok.status, 303);
      assert.equal(pathOf(ok.location), '/login');
      // RFC 9700 §4.1.3: "exact string matching" of redirect URIs.
      const variants = [
        'https://app.example/call', // a prefix
        'https://app.example/', // a shorter prefix
        'https://app.example/callback/extra', // a suffix
        'https://app.example/callbackx',
        'https://app.example.evil.example/callback', // a host suffix
        'https://APP.example/callback', // another case
        'https://app.example/Callback',
        'HTTPS://app.example/callback',
        'https://app.example/callback/', // a trailing slash
        'https://app.example/callback?x=1', // an extra query
        'https://app.example/callback?', // an empty query
        'https://app.example/callback#frag',
        'https://app.example:443/callback', // the default port written out
        'https://app.example/%63allback', // an escaped character
        'http://app.example/callback', // another scheme
        'https://user@app.example/callback',
        'https://evil.example/?https://app.example/callback',
      ];
      for (const redirectUri of variants) {
        // Even with response_type=token the answer is a page, never a redirect (A3).
        expectErrorPage(await browser.get(authorizeUrl({ redirect_uri: redirectUri })), 'Invalid redirect', redirectUri);
        expectErrorPage(
          await browser.get(authorizeUrl({ redirect_uri: redirectUri, response_type: 'token' })),
          'Invalid redirect',
          `${redirectUri} with response_type=token`,
        );
      }
    });

    test('A1: a loopback redirect URI matches the registered http://127.0.0.1/cb with any port, and nothing else about it varies', async () => {
      const browser = new FormBrowser();
      // RFC 8252 §7.3: "The authorization server MUST allow any port to be specified at the time of the
      // request for loopback IP redirect URIs".
      const loopback = 'http://127.0.0.1:51234/cb';
      const run = await authorize(browser, { redirect_uri: loopback });
      const code = codeOf(run.callback, loopback);
      assert.equal(run.callback.port, '51234');
      // The code is bound to the URI as presented, port included.
      await exchange(code, loopback);

      const withoutPort = await authorize(browser, { redirect_uri: 'http://127.0.0.1/cb', prompt: 'none' });
      codeOf(withoutPort.callback, 'http://127.0.0.1/cb');

      for (const refused of [
        'http://127.0.0.1:51234/cb/',
        'http://127.0.0.1:51234/CB',
        'http://127.0.0.1:51234/cb?x=1',
        'http://127.0.0.1:51234/cbx',
        'http://127.0.0.1:51234/',
        'http://localhost:51234/cb',
        'http://[::1]:51234/cb', // another loopback literal than the registered one
        'https://127.0.0.1:51234/cb',
        'http://127.0.0.2:51234/cb',
        'http://127.0.0.1.evil.example:51234/cb',
      ]) {
        expectErrorPage(await browser.get(authorizeUrl({ redirect_uri: refused })), 'Invalid redirect', refused);
      }
    });

    test('A2/A3: unknown, missing or repeated client_id and an unregistered redirect_uri get a 400 page without Location, even when other parameters are wrong too', async () => {
      const browser = new FormBrowser();
      const serviceOnly = await s.registry.createClient({
        name: 'batch job',
        type: 'confidential',
        grantTypes: ['client_credentials'],
        scopes: ['orders:read'],
      });
      const other = await s.registry.createClient({
        name: 'Other App',
        type: 'public',
        grantTypes: ['authorization_code'],
        scopes: ['openid', 'orders:read'],
        redirectUris: ['https://other.example/cb'],
      });
      // Every one of these is also wrong in other ways (response_type=token, no PKCE, a bad scope,
      // prompt=none without a session): docs/security.md A3 says client and redirect URI are checked first.
      const alsoWrong: Record<string, ParamValue>[] = [
        {},
        { response_type: 'token' },
        { response_type: undefined },
        { code_challenge: undefined, scope: 'nonsense', prompt: 'none' },
        { request: 'eyJhbGciOiJub25lIn0.e30.' },
        { state: ['a', 'b'], scope: ['openid', 'openid'] },
      ];
      const cases: { why: string; over: Record<string, ParamValue>; title: string }[] = [
        { why: 'unknown client_id', over: { client_id: 'no-such-client' }, title: 'Unknown application' },
        { why: 'missing client_id', over: { client_id: undefined }, title: 'Invalid request' },
        { why: 'empty client_id', over: { client_id: '' }, title: 'Invalid request' },
        { why: 'repeated client_id', over: { client_id: [seed.publicClient, seed.publicClient] }, title: 'Invalid request' },
        { why: 'two different client_ids', over: { client_id: [seed.publicClient, other.client.clientId] }, title: 'Invalid request' },
        { why: 'client without authorization_code', over: { client_id: serviceOnly.client.clientId }, title: 'Unknown application' },
        { why: "another client's redirect_uri", over: { redirect_uri: 'https://other.example/cb' }, title: 'Invalid redirect' },
        { why: 'unregistered redirect_uri', over: { redirect_uri: 'https://evil.example/callback' }, title: 'Invalid redirect' },
        { why: 'javascript: redirect_uri', over: { redirect_uri: 'javascript:alert(1)' }, title: 'Invalid redirect' },
        { why: 'repeated redirect_uri', over: { redirect_uri: [REDIRECT_URI, REDIRECT_URI] }, title: 'Invalid request' },
        // The public client has two redirect URIs, so leaving it out is not allowed (A4).
        { why: 'missing redirect_uri with two registered', over: { redirect_uri: undefined }, title: 'Invalid redirect' },
      ];
      for (const c of cases) {
        for (const extra of alsoWrong) {
          const page = await browser.get(authorizeUrl({ ...c.over, ...extra }));
          expectErrorPage(page, c.title, `${c.why} + ${JSON.stringify(extra)}`);
          // The page carries the page protections too.
          assert.equal(page.headers.get('x-frame-options'), 'DENY');
          assert.equal(page.headers.get('cache-control'), 'no-store');
        }
      }
    });

    test('A4: redirect_uri may be left out only when exactly one is registered', async () => {
      const browser = new FormBrowser();
      // OAuth 2.1 §4.1.1: redirect_uri is optional "if only one redirect URI was registered".
      expectErrorPage(await browser.get(authorizeUrl({ redirect_uri: undefined })), 'Invalid redirect', 'public client, two URIs');

      const confidential = { client_id: seed.confidential.clientId, redirect_uri: undefined };
      const first = await browser.get(authorizeUrl(confidential));
      assert.equal(first.status, 303);
      assert.equal(pathOf(first.location), '/login');
      // Errors go to the sole registered URI...
      expectRedirectError(await browser.get(authorizeUrl({ ...confidential, response_type: 'token' })), 'unsupported_response_type');
      // ...and so does the code.
      const run = await drive(browser, first);
      const code = codeOf(run.callback);
      // The code was issued for the sole URI: it redeems without redirect_uri, as the request left it out.
      const res = await postForm(
        `${s.issuer}/token`,
        { grant_type: 'authorization_code', code, code_verifier: pkce.verifier },
        { basic: [seed.confidential.clientId, seed.confidential.clientSecret] },
      );
      assert.equal(res.status, 200, res.text);
    });

    // ---- A7, A8, A9, A10 ----

    test('A7: only response_type=code; token, id_token and others are unsupported_response_type, a missing one invalid_request', async () => {
      const browser = new FormBrowser();
      // OAuth 2.1 §10.1: the implicit grant is omitted.
      for (const responseType of ['token', 'id_token', 'code id_token', 'code token', 'id_token token', 'CODE', 'none', 'code ']) {
        expectRedirectError(await browser.get(authorizeUrl({ response_type: responseType })), 'unsupported_response_type');
      }
      expectRedirectError(await browser.get(authorizeUrl({ response_type: undefined })), 'invalid_request');
      expectRedirectError(await browser.get(authorizeUrl({ response_type: '' })), 'invalid_request');
    });

    test('A8: unknown parameters are ignored; a repeated parameter is invalid_request', async () => {
      const browser = new FormBrowser();
      // OAuth 2.1 §3.1: "The authorization server MUST ignore unrecognized request parameters."
      const unknown = await browser.get(authorizeUrl({ foo: 'bar', ui_locales: 'de', claims_locales: 'fr', acr_values: 'x', display: 'popup' }));
      assert.equal(unknown.status, 303);
      assert.equal(pathOf(unknown.location), '/login');
      const login = await browser.get(unknown.location!);
      assert.equal(login.status, 200);
      const names = browser.forms(login.text, login.url)[0]!.inputs.map((i) => i.name);
      assert.ok(!names.includes('foo'), 'an unknown parameter is not carried through the pages');

      // OAuth 2.1 §3.1: "Request and response parameters defined by this specification MUST NOT be included more than once."
      for (const name of ['scope', 'response_type', 'code_challenge', 'code_challenge_method', 'nonce', 'prompt', 'max_age', 'login_hint']) {
        const value = authParams().get(name) ?? (name === 'max_age' ? '60' : name === 'prompt' ? 'login' : 'x');
        expectRedirectError(await browser.get(authorizeUrl({ [name]: [value, value] })), 'invalid_request', 'state-1');
      }
      // A repeated state: there is no single value to echo, so none is.
      expectRedirectError(await browser.get(authorizeUrl({ state: ['one', 'two'] })), 'invalid_request', null);
    });

    test('A9: POST to /authorize with a form body works like GET', async () => {
      const browser = new FormBrowser();
      const form = Object.fromEntries(authParams({ state: 'posted state' }));
      const first = await browser.post(`${s.issuer}/authorize`, form);
      assert.equal(first.status, 303);
      assert.equal(pathOf(first.location), '/login');
      const run = await drive(browser, first);
      assert.equal(run.callback.searchParams.get('state'), 'posted state');
      await exchange(codeOf(run.callback));

      expectRedirectError(
        await browser.post(`${s.issuer}/authorize`, Object.fromEntries(authParams({ response_type: 'token' }))),
        'unsupported_response_type',
      );
      expectErrorPage(
        await browser.post(`${s.issuer}/authorize`, Object.fromEntries(authParams({ client_id: 'no-such-client' }))),
        'Unknown application',
        'POST with an unknown client',
      );
    });

    test('A10: no CORS headers on /authorize, its error page or the login page, even with an Origin header', async () => {
      const browser = new FormBrowser();
      const headers = { origin: 'https://evil.example' };
      const pages = [
        await browser.get(authorizeUrl(), { headers }),
        await browser.get(authorizeUrl({ client_id: 'no-such-client' }), { headers }),
        await browser.get(authorizeUrl({ response_type: 'token' }), { headers }),
        await browser.post(`${s.issuer}/authorize`, Object.fromEntries(authParams()), { headers }),
        await browser.get(`${s.issuer}/login?${authParams().toString()}`, { headers }),
      ];
      const preflight = await fetch(`${s.issuer}/authorize`, {
        method: 'OPTIONS',
        headers: { ...headers, 'access-control-request-method': 'POST' },
      });
      for (const page of [...pages, { url: 'OPTIONS /authorize', headers: preflight.headers }]) {
        for (const name of ['access-control-allow-origin', 'access-control-allow-credentials', 'access-control-allow-methods']) {
          assert.equal(page.headers.get(name), null, `${name} on ${page.url}`);
        }
      }
    });

    // ---- A11, A12, A13, A14 ----

    test('A11: the login POST and the consent POST answer 303, never 307', async () => {
      const browser = new FormBrowser();
      const user = await newUser('a11-user');
      const login = await pageFor(browser);
      assert.equal(pathOf(login.url), '/login');
      // RFC 9700 §4.12: "the AS MUST NOT use HTTP 307" after a POST with credentials; 303 is used.
      const afterLogin = await browser.submit(login, browser.forms(login.text, login.url)[0]!, {
        values: { username: user.username, password: PASSWORD },
      });
      assert.equal(afterLogin.status, 303);
      assert.equal(pathOf(afterLogin.location), '/consent');
      const consent = await browser.get(afterLogin.location!);
      assert.equal(consent.status, 200);
      const afterConsent = await browser.submit(consent, browser.forms(consent.text, consent.url)[0]!, {
        button: { name: 'decision', value: 'allow' },
      });
      assert.equal(afterConsent.status, 303);
      codeOf(new URL(afterConsent.location!));
    });

    test('A12: every authorization response, success or error, carries iss; the metadata says so', async () => {
      const browser = new FormBrowser();
      // RFC 9207 §2: "the iss parameter value MUST be the issuer identifier of the authorization server".
      const run = await authorize(browser, {}, { username: (await newUser('a12-user')).username });
      codeOf(run.callback);
      const errors: [Record<string, ParamValue>, string][] = [
        [{ response_type: 'token' }, 'unsupported_response_type'],
        [{ scope: 'openid nope' }, 'invalid_scope'],
        [{ code_challenge: undefined }, 'invalid_request'],
        [{ request: 'x' }, 'request_not_supported'],
      ];
      for (const [over, error] of errors) expectRedirectError(await browser.get(authorizeUrl(over)), error);
      expectRedirectError(await new FormBrowser().get(authorizeUrl({ prompt: 'none' })), 'login_required');
      // A state that tries to smuggle in another iss changes nothing.
      const smuggled = await new FormBrowser().get(authorizeUrl({ prompt: 'none', state: 'x&iss=https://evil.example' }));
      expectRedirectError(smuggled, 'login_required', 'x&iss=https://evil.example');

      for (const path of ['/.well-known/openid-configuration', '/.well-known/oauth-authorization-server']) {
        const res = await fetch(`${s.issuer}${path}`);
        assert.equal(res.status, 200, path);
        const metadata = (await res.json()) as Record<string, unknown>;
        assert.equal(metadata.authorization_response_iss_parameter_supported, true, path);
        assert.equal(metadata.issuer, s.issuer);
      }
    });

    test('A13: state is echoed exactly (spaces, unicode, & and =), on success and on error, and absent when not sent', async () => {
      // RFC 6749 §4.1.2: state is "REQUIRED if the "state" parameter was present in the client
      // authorization request. The exact value received from the client."
      const states = ['a b  c', 'ünïcødé ✓ 日本 🎉', 'a&b=c', '=&?#%+/;', ' leading and trailing ', '"><script>x</script>'];
      for (const state of states) {
        expectRedirectError(await new FormBrowser().get(authorizeUrl({ state, prompt: 'none' })), 'login_required', state);
      }
      // Through the login and consent pages (hidden fields) to a code.
      const browser = new FormBrowser();
      const user = await newUser('a13-user');
      const state = 'ünï & = spaced ✓ "quote" <tag>';
      const run = await authorize(browser, { state }, { username: user.username });
      assert.ok(run.sawLogin && run.sawConsent);
      codeOf(run.callback);
      assert.deepEqual(run.callback.searchParams.getAll('state'), [state]);

      // Not sent: absent from the success and from the error response.
      const noState = await authorize(browser, { state: undefined });
      codeOf(noState.callback);
      assert.equal(noState.callback.searchParams.has('state'), false);
      expectRedirectError(await browser.get(authorizeUrl({ state: undefined, response_type: 'token' })), 'unsupported_response_type', null);
      expectRedirectError(await new FormBrowser().get(authorizeUrl({ state: undefined, prompt: 'none' })), 'login_required', null);
    });

    test('A14: a user who denies consent is sent back with access_denied; the denial is not remembered', async () => {
      const browser = new FormBrowser();
      const user = await newUser('a14-user');
      const run = await authorize(browser, { state: 'deny-state' }, { username: user.username, decision: 'deny' });
      assert.ok(run.sawConsent);
      // RFC 6749 §4.1.2.1: "access_denied: The resource owner or authorization server denied the request."
      expectRedirectError(run.last, 'access_denied', 'deny-state');
      // Nothing was consented: a silent request still needs consent.
      expectRedirectError(await browser.get(authorizeUrl({ prompt: 'none' })), 'consent_required');
    });

    // ---- A15, A16 ----

    test('A15: prompt=none: login_required without a session, consent_required without consent, a code without UI with both', async () => {
      // OIDC Core §3.1.2.1: "The Authorization Server MUST NOT display any authentication or consent
      // user interface pages."
      const browser = new FormBrowser();
      const none = await browser.get(authorizeUrl({ prompt: 'none' }));
      expectRedirectError(none, 'login_required');
      assert.equal(none.headers.getSetCookie().length, 0, 'no page, no cookies');

      const user = await newUser('a15-user');
      // Log in through the confidential client: a session, but no consent for the public client.
      const other = await authorize(browser, { client_id: seed.confidential.clientId }, { username: user.username });
      codeOf(other.callback);
      expectRedirectError(await browser.get(authorizeUrl({ prompt: 'none', state: 's2' })), 'consent_required', 's2');

      const consented = await authorize(browser);
      assert.equal(consented.sawLogin, false);
      assert.equal(consented.sawConsent, true);
      const silent = await browser.get(authorizeUrl({ prompt: 'none', state: 's3' }));
      assert.equal(silent.status, 303);
      const callback = new URL(silent.location!);
      assert.equal(callback.searchParams.get('state'), 's3');
      await exchange(codeOf(callback));
      // prompt=none with anything else is invalid_request (OIDC Core §3.1.2.1).
      expectRedirectError(await browser.get(authorizeUrl({ prompt: 'none login' })), 'invalid_request');
    });

    test('A16: prompt=login with a live session shows the login page again, and the new auth_time is later', async (t) => {
      const browser = new FormBrowser();
      const user = await newUser('a16-login');
      const first = await authorize(browser, { nonce: 'n1' }, { username: user.username });
      const firstClaims = idTokenClaims((await exchange(codeOf(first.callback))).id_token);
      assert.equal(typeof firstClaims.auth_time, 'number');

      const later = Date.now() + 5000;
      t.mock.timers.enable({ apis: ['Date'], now: later });
      try {
        // OIDC Core §3.1.2.1 prompt=login: "The Authorization Server SHOULD prompt the End-User for reauthentication."
        const again = await browser.get(authorizeUrl({ prompt: 'login', nonce: 'n2' }));
        assert.equal(again.status, 303);
        assert.equal(pathOf(again.location), '/login');
        const run = await drive(browser, again, { username: user.username });
        assert.equal(run.sawLogin, true);
        assert.equal(run.sawConsent, false, 'consent was remembered');
        const claims = idTokenClaims((await exchange(codeOf(run.callback))).id_token);
        assert.equal(claims.auth_time, Math.floor(later / 1000));
        assert.ok(claims.auth_time > firstClaims.auth_time);
        assert.equal(claims.nonce, 'n2');
      } finally {
        t.mock.timers.reset();
      }
    });

    test('A16: an exceeded max_age forces a new login, one not exceeded does not', async (t) => {
      const browser = new FormBrowser();
      const user = await newUser('a16-maxage');
      const first = await authorize(browser, {}, { username: user.username });
      const firstClaims = idTokenClaims((await exchange(codeOf(first.callback))).id_token);

      // Not exceeded: straight back with a code, the original auth_time in the ID token.
      const fresh = await authorize(browser, { max_age: '3600' });
      assert.equal(fresh.sawLogin, false);
      assert.equal(idTokenClaims((await exchange(codeOf(fresh.callback))).id_token).auth_time, firstClaims.auth_time);

      const later = (firstClaims.auth_time + 120) * 1000;
      t.mock.timers.enable({ apis: ['Date'], now: later });
      try {
        // Still within max_age=3600: no login.
        const within = await authorize(browser, { max_age: '3600' });
        assert.equal(within.sawLogin, false);
        codeOf(within.callback);
        // OIDC Core §3.1.2.1 max_age: "If the elapsed time is greater than this value, the OP MUST attempt to actively re-authenticate the End-User."
        const stale = await browser.get(authorizeUrl({ max_age: '60' }));
        assert.equal(stale.status, 303);
        assert.equal(pathOf(stale.location), '/login');
        // prompt=none with an exceeded max_age cannot log in silently.
        expectRedirectError(await browser.get(authorizeUrl({ max_age: '60', prompt: 'none' })), 'login_required');
        const run = await drive(browser, stale, { username: user.username });
        assert.equal(run.sawLogin, true);
        const claims = idTokenClaims((await exchange(codeOf(run.callback))).id_token);
        assert.equal(claims.auth_time, Math.floor(later / 1000));
      } finally {
        t.mock.timers.reset();
      }
    });

    // ---- A17: the pages ----

    test('A17: the login and consent pages forbid framing, run no script, are not cached, and every form has a csrf_token', async () => {
      const browser = new FormBrowser();
      const user = await newUser('a17-pages');
      const login = await pageFor(browser);
      assert.equal(pathOf(login.url), '/login');
      const afterLogin = await browser.submit(login, browser.forms(login.text, login.url)[0]!, {
        values: { username: user.username, password: PASSWORD },
      });
      const consent = await browser.get(afterLogin.location!);
      assert.equal(pathOf(consent.url), '/consent');
      const error = await browser.get(authorizeUrl({ client_id: 'no-such-client' }));
      for (const page of [login, consent, error]) {
        const why = page.url;
        const csp = page.headers.get('content-security-policy') ?? '';
        const directives = csp.split(';').map((d) => d.trim());
        // RFC 9700 §4.16 / RFC 6749 §10.13: clickjacking.
        assert.ok(directives.includes("frame-ancestors 'none'"), `${why}: ${csp}`);
        assert.ok(directives.includes("default-src 'none'"), `${why}: ${csp}`);
        assert.doesNotMatch(csp, /unsafe-inline|unsafe-eval|'self'[^;]*script|script-src[^;]*(https?:|\*)/, why);
        assert.equal(page.headers.get('x-frame-options'), 'DENY', why);
        assert.equal(page.headers.get('cache-control'), 'no-store', why);
        assert.match(page.headers.get('content-type') ?? '', /^text\/html; charset=utf-8/, why);
        // One script at most: Latchkey's page script from its own origin, under this response's nonce
        // (the login page's "Show password", and "Sign in with a passkey" where the issuer can have
        // passkeys); none on the other pages.
        const scripts = page.text.match(/<script[^>]*>/gi) ?? [];
        const nonce = /script-src 'nonce-([A-Za-z0-9_-]{22,})'/.exec(csp)?.[1];
        if (nonce) {
          assert.equal(page, login, why);
          assert.deepEqual(scripts, [`<script src="/assets/passkey.js" nonce="${nonce}" defer>`], why);
        } else {
          assert.doesNotMatch(csp, /script-src/, why);
          assert.deepEqual(scripts, [], why);
        }
        assert.doesNotMatch(page.text, /\son[a-z]+\s*=/i, `${why}: an inline event handler`);
      }
      for (const page of [login, consent]) {
        const forms = browser.forms(page.text, page.url);
        assert.ok(forms.length >= 1, page.url);
        for (const form of forms) {
          assert.equal(form.method, 'post', page.url);
          const csrf = form.inputs.filter((i) => i.name === 'csrf_token');
          assert.equal(csrf.length, 1, page.url);
          assert.equal(csrf[0]!.type, 'hidden');
          assert.match(csrf[0]!.value, /^[A-Za-z0-9_-]{43}$/, page.url);
        }
      }
    });

    test('A17: a login POST with a missing, wrong or foreign csrf_token gets 403 and no session', async () => {
      const user = await newUser('a17-csrf');
      const browser = new FormBrowser();
      const login = await pageFor(browser);
      const form = browser.forms(login.text, login.url)[0]!;
      const fields = Object.fromEntries(form.inputs.map((i) => [i.name, i.value]));
      const credentials = { username: user.username, password: PASSWORD };

      const withoutToken = Object.fromEntries(Object.entries(fields).filter(([name]) => name !== 'csrf_token'));
      const foreign = new FormBrowser();
      const foreignLogin = await pageFor(foreign);
      const foreignToken = foreign.forms(foreignLogin.text, foreignLogin.url)[0]!.inputs.find((i) => i.name === 'csrf_token')!.value;
      const attempts: [string, Record<string, string>][] = [
        ['missing', { ...withoutToken, ...credentials }],
        ['wrong', { ...fields, ...credentials, csrf_token: 'A'.repeat(43) }],
        ['empty', { ...fields, ...credentials, csrf_token: '' }],
        ["another browser's", { ...fields, ...credentials, csrf_token: foreignToken }],
      ];
      for (const [why, body] of attempts) {
        const res = await browser.post(form.action, body);
        assert.equal(res.status, 403, why);
        assert.equal(res.headers.get('location'), null, why);
        assert.equal(sessionCookieOf(res), undefined, `${why}: a session cookie was set`);
        assert.match(res.text, /The sign-in form expired/, why);
      }
      // Without its binding cookie, the page's own token fails too.
      const cookieless = await fetch(form.action, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ ...fields, ...credentials }).toString(),
        redirect: 'manual',
      });
      assert.equal(cookieless.status, 403);
      assert.equal(cookieless.headers.getSetCookie().some((c) => c.startsWith(`${SESSION_COOKIE}=`)), false);
      // Still no session: a silent request needs a login.
      expectRedirectError(await browser.get(authorizeUrl({ prompt: 'none' })), 'login_required');
    });

    test('A17: a consent POST with a wrong or foreign csrf_token issues no code', async () => {
      const user = await newUser('a17-consent');
      const browser = new FormBrowser();
      const login = await pageFor(browser);
      const afterLogin = await browser.submit(login, browser.forms(login.text, login.url)[0]!, {
        values: { username: user.username, password: PASSWORD },
      });
      const consent = await browser.get(afterLogin.location!);
      assert.equal(pathOf(consent.url), '/consent');
      const form = browser.forms(consent.text, consent.url)[0]!;
      const fields = Object.fromEntries(form.inputs.map((i) => [i.name, i.value]));

      // Another user's consent token, valid for their session only.
      const other = await newUser('a17-consent-other');
      const otherBrowser = new FormBrowser();
      const otherLogin = await pageFor(otherBrowser);
      const otherConsent = await otherBrowser.get(
        (await otherBrowser.submit(otherLogin, otherBrowser.forms(otherLogin.text, otherLogin.url)[0]!, {
          values: { username: other.username, password: PASSWORD },
        })).location!,
      );
      const otherToken = otherBrowser.forms(otherConsent.text, otherConsent.url)[0]!.inputs.find((i) => i.name === 'csrf_token')!.value;

      const withoutToken = Object.fromEntries(Object.entries(fields).filter(([name]) => name !== 'csrf_token'));
      for (const [why, body] of [
        ['wrong', { ...fields, csrf_token: 'B'.repeat(43), decision: 'allow' }],
        ['missing', { ...withoutToken, decision: 'allow' }],
        ["another session's", { ...fields, csrf_token: otherToken, decision: 'allow' }],
      ] as const) {
        const res = await browser.post(form.action, body);
        assert.equal(res.status, 303, why);
        assert.ok(ours(res.location), `${why}: went to ${res.location}`);
        assert.equal(pathOf(res.location), '/consent', why);
        assert.equal(new URL(res.location!).searchParams.get('code'), null, why);
      }
      // Nothing was consented.
      expectRedirectError(await browser.get(authorizeUrl({ prompt: 'none' })), 'consent_required');
    });

    // ---- the login form ----

    test('login: a wrong password and an unknown user get the same 400 page (a form has no WWW-Authenticate challenge for a 401), with no hint whether the user exists', async () => {
      const user = await newUser('login-same');
      const browser = new FormBrowser();
      const login = await pageFor(browser);
      const form = browser.forms(login.text, login.url)[0]!;
      const wrongPassword = await browser.submit(login, form, { values: { username: user.username, password: 'not the password' } });
      const unknownUser = await browser.submit(login, form, { values: { username: 'nobody-here', password: 'not the password' } });
      for (const res of [wrongPassword, unknownUser]) {
        assert.equal(res.status, 400);
        assert.equal(sessionCookieOf(res), undefined);
        assert.equal(parse(res.text).querySelector('[role=alert]')?.text, 'Wrong username or password.');
      }
      // The passkey form's challenge and the script's nonce are new on every page: set aside too.
      const neutral = (text: string, username: string) =>
        text.replace(`value="${username}"`, 'value="USERNAME"').replace(/data-options="[^"]*"/, 'data-options=""').replace(/nonce="[^"]*"/, 'nonce=""');
      assert.equal(neutral(wrongPassword.text, user.username), neutral(unknownUser.text, 'nobody-here'));
      assert.deepEqual(
        [...wrongPassword.headers.keys()].filter((k) => k !== 'date' && k !== 'content-length'),
        [...unknownUser.headers.keys()].filter((k) => k !== 'date' && k !== 'content-length'),
      );
    });

    test('login: after 5 failures for one account a new browser waits, the right password too: 429 with Retry-After, try again in 30 seconds', async (t) => {
      const user = await newUser('login-delayed');
      const base = Date.now();
      t.mock.timers.enable({ apis: ['Date'], now: base });
      try {
        const browser = new FormBrowser();
        const login = await pageFor(browser);
        const form = browser.forms(login.text, login.url)[0]!;
        for (let i = 1; i <= 5; i++) {
          const res = await browser.submit(login, form, { values: { username: user.username, password: `wrong password ${i}` } });
          assert.equal(res.status, 400, `attempt ${i}`);
        }
        const sixth = await browser.submit(login, form, { values: { username: user.username, password: PASSWORD } });
        assert.equal(sixth.status, 429);
        assert.equal(sixth.headers.get('retry-after'), '30');
        assert.equal(parse(sixth.text).querySelector('[role=alert]')?.text, 'Too many failed sign-in attempts. Try again in 30 seconds.');
        assert.equal(sessionCookieOf(sixth), undefined);
        assert.equal(sixth.headers.get('location'), null);
        // Another account from the same address is not delayed by this one's failures.
        const other = await newUser('login-undelayed');
        const ok = await browser.submit(login, form, { values: { username: other.username, password: PASSWORD } });
        assert.equal(ok.status, 303);
        assert.ok(sessionCookieOf(ok));
        // Once the delay has passed, the right password gets in.
        t.mock.timers.setTime(base + 31_000);
        const later = new FormBrowser();
        const again = await pageFor(later);
        const res = await later.submit(again, later.forms(again.text, again.url)[0]!, { values: { username: user.username, password: PASSWORD } });
        assert.equal(res.status, 303);
      } finally {
        t.mock.timers.reset();
      }
    });

    test('login: the owner\'s browser (device cookie from an earlier sign-in) gets in while an attack delays the account', async () => {
      const user = await newUser('login-owner');
      // The owner signed in on this browser before: it carries a device cookie.
      const owner = await loggedIn(user.username);
      const deviceCookie = Object.keys(owner.cookies(s.issuer)).find((name) => name.endsWith('latchkey_device'));
      assert.ok(deviceCookie, 'a device cookie was set at sign-in');
      const set = (await (async () => {
        const b = new FormBrowser();
        const page = await pageFor(b);
        return b.submit(page, b.forms(page.text, page.url)[0]!, { values: { username: user.username, password: PASSWORD } });
      })()).headers.getSetCookie().find((c) => c.startsWith(`${deviceCookie}=`))!;
      assert.match(set, /HttpOnly/);
      assert.match(set, /SameSite=Strict/);
      assert.match(set, /Max-Age=15552000/);
      // The attack: many wrong passwords from elsewhere.
      const attacker = new FormBrowser();
      const attack = await pageFor(attacker);
      const form = attacker.forms(attack.text, attack.url)[0]!;
      for (let i = 1; i <= 6; i++) await attacker.submit(attack, form, { values: { username: user.username, password: `guess ${i}` } });
      const stranger = new FormBrowser();
      const strangerPage = await pageFor(stranger);
      const refused = await stranger.submit(strangerPage, stranger.forms(strangerPage.text, strangerPage.url)[0]!, {
        values: { username: user.username, password: PASSWORD },
      });
      assert.equal(refused.status, 429, 'a new browser with the right password waits');
      // The owner's browser, its session ended, signs in again at once.
      owner.setCookie(s.issuer, SESSION_COOKIE, '');
      const ownerPage = await pageFor(owner, { prompt: 'login' });
      const ok = await owner.submit(ownerPage, owner.forms(ownerPage.text, ownerPage.url)[0]!, { values: { username: user.username, password: PASSWORD } });
      assert.equal(ok.status, 303, ok.text.slice(0, 300));
      assert.ok(sessionCookieOf(ok));
    });

    test('login: a disabled user cannot log in, and a live session ends when the user is disabled', async () => {
      const user = await newUser('login-disabled');
      const browser = await loggedIn(user.username);
      await users.disable(user.username);
      // The live session no longer counts.
      expectRedirectError(await browser.get(authorizeUrl({ prompt: 'none' })), 'login_required');
      const login = await pageFor(browser);
      assert.equal(pathOf(login.url), '/login');
      const res = await browser.submit(login, browser.forms(login.text, login.url)[0]!, {
        values: { username: user.username, password: PASSWORD },
      });
      assert.equal(res.status, 400);
      assert.equal(res.headers.get('location'), null);
      assert.equal(sessionCookieOf(res), undefined);
      assert.equal(parse(res.text).querySelector('[role=alert]')?.text, 'This account is disabled.');
    });

    test('login: login_hint pre-fills the username field, escaped', async () => {
      const browser = new FormBrowser();
      const login = await pageFor(browser, { login_hint: 'alice' });
      const username = browser.forms(login.text, login.url)[0]!.inputs.find((i) => i.name === 'username');
      assert.equal(username?.value, 'alice');

      const hint = '"><img src=x onerror=alert(1)>';
      const hostile = await pageFor(new FormBrowser(), { login_hint: hint });
      assert.equal(browser.forms(hostile.text, hostile.url)[0]!.inputs.find((i) => i.name === 'username')?.value, hint);
      assert.doesNotMatch(hostile.text, /<img/i);
      assert.equal(parse(hostile.text).querySelectorAll('img').length, 0);
    });

    test('login and consent pages escape HTML in the client name and the scope descriptions', async () => {
      await s.registry.createResource({
        identifier: 'https://xss.example',
        name: 'XSS <b>API</b>',
        scopes: [{ scope: 'xss:read', description: '<script>alert(2)</script><b onmouseover=alert(3)>read</b>' }],
      });
      const hostileName = '<img src=x onerror=alert(1)>';
      const created = await s.registry.createClient({
        name: hostileName,
        type: 'public',
        grantTypes: ['authorization_code'],
        scopes: ['openid', 'xss:read'],
        redirectUris: [REDIRECT_URI],
      });
      const user = await newUser('xss-user');
      const browser = new FormBrowser();
      const over = { client_id: created.client.clientId, scope: 'openid xss:read' };
      const login = await pageFor(browser, over);
      assert.equal(pathOf(login.url), '/login');
      const afterLogin = await browser.submit(login, browser.forms(login.text, login.url)[0]!, {
        values: { username: user.username, password: PASSWORD },
      });
      const consent = await browser.get(afterLogin.location!);
      assert.equal(pathOf(consent.url), '/consent');
      for (const page of [login, consent]) {
        assert.match(page.text, /&#60;img src=x onerror=alert\(1\)&#62;/, `${page.url}: the name is shown, escaped`);
        // Latchkey's own passkey script aside (its one script, under the page's nonce).
        const withoutOwnScript = page.text.replace(/<script src="\/assets\/passkey\.js" nonce="[A-Za-z0-9_-]+" defer><\/script>/, '');
        assert.doesNotMatch(withoutOwnScript, /<img|<script|<b /i, page.url);
        const root = parse(withoutOwnScript);
        assert.equal(root.querySelectorAll('img, script, b').length, 0, page.url);
        assert.equal(root.querySelector('strong')?.text, hostileName, page.url);
      }
      assert.match(consent.text, /&#60;script&#62;alert\(2\)&#60;\/script&#62;/);
      const listed = parse(consent.text).querySelectorAll('ul.scopes li .what').map((e) => e.text);
      assert.ok(listed.includes('<script>alert(2)</script><b onmouseover=alert(3)>read</b>'), JSON.stringify(listed));
    });

    // ---- the session cookie ----

    test('session cookie: HttpOnly, SameSite=Lax, Path=/, no Secure on an http issuer, and a new session id at every login', async () => {
      const user = await newUser('session-user');
      const browser = new FormBrowser();
      // A value planted before login (session fixation) is not adopted.
      browser.setCookie(s.issuer, SESSION_COOKIE, 'planted-by-an-attacker-0123456789abcdefghijk');
      const first = await authorize(browser, {}, { username: user.username });
      codeOf(first.callback);
      const v1 = browser.cookies(s.issuer)[SESSION_COOKIE];
      assert.ok(v1);
      assert.notEqual(v1, 'planted-by-an-attacker-0123456789abcdefghijk');

      const login = await pageFor(browser, { prompt: 'login' });
      const res = await browser.submit(login, browser.forms(login.text, login.url)[0]!, {
        values: { username: user.username, password: PASSWORD },
      });
      assert.equal(res.status, 303);
      const header = sessionCookieOf(res);
      assert.ok(header, 'the login sets the session cookie');
      const attributes = header.split(';').map((a) => a.trim().toLowerCase());
      assert.ok(attributes.includes('httponly'), header);
      assert.ok(attributes.includes('samesite=lax'), header);
      assert.ok(attributes.includes('path=/'), header);
      assert.ok(!attributes.includes('secure'), header);
      assert.ok(!attributes.some((a) => a.startsWith('domain=')), header);
      assert.match(header, /^latchkey_session=[A-Za-z0-9_-]{43};/);

      const v2 = browser.cookies(s.issuer)[SESSION_COOKIE];
      assert.ok(v2);
      assert.notEqual(v2, v1, 'a new session id after the second login');
      codeOf(new URL(res.location!));
      // The old session ended with the new login.
      const stale = new FormBrowser();
      stale.setCookie(s.issuer, SESSION_COOKIE, v1);
      expectRedirectError(await stale.get(authorizeUrl({ prompt: 'none' })), 'login_required');
      const current = new FormBrowser();
      current.setCookie(s.issuer, SESSION_COOKIE, v2);
      codeOf(new URL((await current.get(authorizeUrl({ prompt: 'none' }))).location!));
    });

    // ---- consent ----

    test('consent: remembered per user, client and scopes; a new scope or prompt=consent asks again', async () => {
      const user = await newUser('consent-user');
      const browser = new FormBrowser();
      const first = await authorize(browser, { scope: 'openid orders:read' }, { username: user.username });
      assert.deepEqual([first.sawLogin, first.sawConsent], [true, true]);
      codeOf(first.callback);

      const same = await authorize(browser, { scope: 'openid orders:read' });
      assert.deepEqual([same.sawLogin, same.sawConsent], [false, false], 'same scopes: no page');
      codeOf(same.callback);
      const subset = await authorize(browser, { scope: 'openid' });
      assert.equal(subset.sawConsent, false, 'fewer scopes: no page');
      codeOf(subset.callback);

      // A new scope asks again, listing it.
      const consentPage = await pageFor(browser, { scope: 'openid orders:read orders:write' });
      assert.equal(pathOf(consentPage.url), '/consent');
      assert.match(consentPage.text, /Place orders for you/);
      const wider = await drive(browser, consentPage);
      codeOf(wider.callback);
      assert.equal((await authorize(browser, { scope: 'openid orders:write' })).sawConsent, false, 'now remembered');

      // OIDC Core §3.1.2.1 prompt=consent: "The Authorization Server SHOULD prompt the End-User for consent".
      const forced = await authorize(browser, { prompt: 'consent' });
      assert.deepEqual([forced.sawLogin, forced.sawConsent], [false, true]);
      codeOf(forced.callback);

      // Per client: the confidential client has not been allowed anything by this user.
      const otherClient = await authorize(browser, { client_id: seed.confidential.clientId });
      assert.equal(otherClient.sawConsent, true);
      codeOf(otherClient.callback);
      // Per user: another user on a fresh browser is asked.
      const otherUser = await newUser('consent-user-2');
      const theirs = await authorize(new FormBrowser(), {}, { username: otherUser.username });
      assert.deepEqual([theirs.sawLogin, theirs.sawConsent], [true, true]);
    });

    test('consent: a first-party client never shows the consent page', async () => {
      const firstParty = await s.registry.createClient({
        name: 'Operator Console',
        type: 'public',
        grantTypes: ['authorization_code'],
        scopes: ['openid', 'profile', 'orders:read', 'orders:write'],
        redirectUris: [REDIRECT_URI],
        firstParty: true,
      });
      const user = await newUser('first-party-user');
      const browser = new FormBrowser();
      const client_id = firstParty.client.clientId;
      const run = await authorize(browser, { client_id }, { username: user.username });
      assert.deepEqual([run.sawLogin, run.sawConsent], [true, false]);
      codeOf(run.callback);
      const wider = await authorize(browser, { client_id, scope: 'openid profile orders:read orders:write' });
      assert.equal(wider.sawConsent, false);
      codeOf(wider.callback);
      const forced = await authorize(browser, { client_id, prompt: 'consent' });
      assert.equal(forced.sawConsent, false);
      codeOf(forced.callback);
      codeOf(new URL((await browser.get(authorizeUrl({ client_id, prompt: 'none', scope: 'openid orders:write' }))).location!));
    });

    // ---- B18, B19, scope, request objects ----

    test('B18: no code_challenge is invalid_request, for public and confidential clients', async () => {
      const browser = new FormBrowser();
      // RFC 9700 §2.1.1: "Authorization servers MUST support PKCE"; OAuth 2.1 §4.1.2.1 invalid_request.
      expectRedirectError(await browser.get(authorizeUrl({ code_challenge: undefined })), 'invalid_request');
      expectRedirectError(await browser.get(authorizeUrl({ code_challenge: undefined, code_challenge_method: undefined })), 'invalid_request');
      expectRedirectError(
        await browser.get(authorizeUrl({ client_id: seed.confidential.clientId, code_challenge: undefined })),
        'invalid_request',
      );
    });

    test('B19: code_challenge_method plain, missing or unknown is invalid_request', async () => {
      const browser = new FormBrowser();
      // RFC 7636 §4.3: a missing method defaults to plain, which Latchkey refuses.
      for (const method of ['plain', undefined, 's256', 'S512', 'SHA256']) {
        expectRedirectError(await browser.get(authorizeUrl({ code_challenge_method: method })), 'invalid_request', 'state-1');
      }
      // A plain-style challenge (the verifier itself) with plain.
      expectRedirectError(
        await browser.get(authorizeUrl({ code_challenge: pkce.verifier + 'abc', code_challenge_method: 'plain' })),
        'invalid_request',
      );
      // S256 with something that is not a SHA-256.
      expectRedirectError(await browser.get(authorizeUrl({ code_challenge: 'too-short' })), 'invalid_request');
    });

    test('scope: a scope not allowed to the client, an unknown one or none is invalid_scope', async () => {
      await s.registry.createResource({ identifier: 'https://billing.example', scopes: ['billing:read'] });
      const browser = new FormBrowser();
      for (const scope of ['openid billing:read', 'openid admin', 'openid address', 'openid phone', 'profile', 'openid orders:read\u00e9', undefined]) {
        expectRedirectError(await browser.get(authorizeUrl({ scope })), 'invalid_scope', 'state-1');
      }
    });

    test('request and request_uri are request_not_supported and request_uri_not_supported', async () => {
      const browser = new FormBrowser();
      // OIDC Core §3.1.2.6.
      expectRedirectError(await browser.get(authorizeUrl({ request: 'eyJhbGciOiJub25lIn0.eyJzY29wZSI6Im9wZW5pZCJ9.' })), 'request_not_supported');
      expectRedirectError(await browser.get(authorizeUrl({ request_uri: 'https://evil.example/request.jwt' })), 'request_uri_not_supported');
      expectRedirectError(
        await browser.get(authorizeUrl({ request_uri: 'urn:example:request_uri:abc', prompt: 'none' })),
        'request_uri_not_supported',
      );
      // A pushed request's request_uri (RFC 9126) comes with client_id alone (test/flows/pushed-authorization.test.ts).
      expectRedirectError(
        await browser.get(authorizeUrl({ request_uri: 'urn:ietf:params:oauth:request_uri:abc', prompt: 'none' })),
        'invalid_request',
      );
    });
  });
}
