import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { decodeJwt } from 'jose';
import { AUTHORIZATION_PARAMS } from '../../src/authorize/authorization-request.ts';
import { Janitor } from '../../src/janitor.ts';
import { sha256 } from '../../src/lib/random.ts';
import {
  backends,
  exchangeCode,
  FormBrowser,
  type HtmlForm,
  type Page,
  pkcePair,
  postForm,
  REDIRECT_URI,
  type RunningServer,
  seedUserFlow,
  sendJson,
  startServer,
  type TestDatabase,
  type UserFlowSeed,
  walkAuthorization,
} from '@latchkey/testing';

/**
 * RFC 9126 pushed authorization requests over real HTTP on both storage backends: the client pushes
 * its request to /par and sends the browser to /authorize with the request_uri and client_id alone;
 * the request_uri is single use, short-lived and bound to its client; the login and consent pages
 * carry the pushed request with a proof that it was pushed; PAR can be required per client or for all.
 */
for (const backend of await backends()) {
  describe(`pushed authorization requests (${backend.name})`, { skip: backend.skip }, () => {
    let db: TestDatabase;
    let s: RunningServer;
    let seed: UserFlowSeed;
    /** A confidential client that must push its requests (RFC 9126 §6). */
    let strict: { clientId: string; clientSecret: string };

    before(async () => {
      db = await backend.create();
      s = await startServer(db, { refreshGraceSeconds: 0 });
      seed = await seedUserFlow(s);
      const created = await s.registry.createClient({
        name: 'Strict Shop',
        type: 'confidential',
        grantTypes: ['authorization_code'],
        scopes: ['openid', 'profile', 'orders:read'],
        redirectUris: ['https://strict.example/cb'],
        requirePushedAuthorizationRequests: true,
      });
      strict = { clientId: created.client.clientId, clientSecret: created.clientSecret! };
    });
    after(async () => {
      await s?.close();
      await db?.drop();
    });

    const ctx = () => s.server.context;
    const rows = () => ctx().storage.db.kysely.selectFrom('pushed_authorization_requests').selectAll().execute();

    /** An authorization request's parameters, as a client would push them. */
    const request = (clientId: string, over: Record<string, string | string[]> = {}) => {
      const { verifier, challenge } = pkcePair();
      const params: Record<string, string | string[]> = {
        response_type: 'code',
        client_id: clientId,
        redirect_uri: REDIRECT_URI,
        scope: 'openid profile orders:read',
        state: 'state-par',
        nonce: 'nonce-par',
        code_challenge: challenge,
        code_challenge_method: 'S256',
        ...over,
      };
      return { params, verifier };
    };

    const push = (form: Record<string, string | string[]>, basic?: [string, string]) =>
      postForm(`${s.issuer}/par`, form, basic ? { basic } : {});

    /** Pushes and returns the request_uri (201 asserted). */
    const pushed = async (form: Record<string, string | string[]>, basic?: [string, string]) => {
      const res = await push(form, basic);
      assert.equal(res.status, 201, res.text);
      return res.body.request_uri as string;
    };

    const authorizeUrl = (query: Record<string, string>) => `${s.issuer}/authorize?${new URLSearchParams(query).toString()}`;

    const confidentialAuth = (): [string, string] => [seed.confidential.clientId, seed.confidential.clientSecret];

    /** A 400 error page without a redirect. */
    const expectErrorPage = (page: Page, text: RegExp) => {
      assert.equal(page.status, 400, `${page.status} ${page.location ?? page.text.slice(0, 200)}`);
      assert.equal(page.location, undefined);
      assert.match(page.text, text);
    };

    /** RFC 6749 §4.1.2.1: 303 back to the redirect URI with `error`. */
    const expectRedirectError = (page: Page, error: string, redirectUri = REDIRECT_URI) => {
      const why = `${page.status} ${page.location ?? page.text.slice(0, 300)}`;
      assert.equal(page.status, 303, why);
      const url = new URL(page.location!);
      assert.equal(`${url.origin}${url.pathname}`, redirectUri, why);
      assert.equal(url.searchParams.get('error'), error, `${why}: ${url.searchParams.get('error_description')}`);
      assert.equal(url.searchParams.get('iss'), s.issuer);
      return url;
    };

    /** Follows the server's own redirects until a page (login or consent) is shown. */
    const pageAt = async (browser: FormBrowser, url: string): Promise<Page> => {
      let page = await browser.get(url);
      while ((page.status === 302 || page.status === 303) && page.location?.startsWith(`${s.issuer}/`)) page = await browser.get(page.location);
      assert.equal(page.status, 200, `expected a page, got ${page.status} ${page.location ?? page.text.slice(0, 200)}`);
      return page;
    };

    const fieldsOf = (form: HtmlForm): Record<string, string> => Object.fromEntries(form.inputs.map((i) => [i.name, i.value]));

    test('RFC 9126 §2.2: 201 with a urn request_uri and expires_in 60, no-store; only its hash is stored, with every parameter', async () => {
      const { params } = request(seed.publicClient, {
        resource: ['https://api.example.com'],
        scope: 'openid orders:read',
        prompt: 'login',
        max_age: '300',
        login_hint: 'alice',
        ...(AUTHORIZATION_PARAMS.includes('dpop_jkt' as never) ? { dpop_jkt: 'A'.repeat(43) } : {}),
      });
      const res = await push(params);
      assert.equal(res.status, 201, res.text);
      assert.equal(res.headers.get('cache-control'), 'no-store');
      assert.match(res.headers.get('content-type') ?? '', /^application\/json/);
      assert.deepEqual(Object.keys(res.body).sort(), ['expires_in', 'request_uri']);
      assert.equal(res.body.expires_in, 60);
      const requestUri = res.body.request_uri as string;
      // RFC 6749 §10.10: at least 128 bits; 32 random bytes in base64url.
      assert.match(requestUri, /^urn:ietf:params:oauth:request_uri:[A-Za-z0-9_-]{43}$/);
      const row = (await rows()).find((r) => r.request_uri_hash === sha256(requestUri));
      assert.ok(row, 'stored under the hash of the request_uri');
      assert.ok(!JSON.stringify(row).includes(requestUri.split(':').at(-1)!), 'the request_uri itself is not stored');
      assert.equal(row.client_id, seed.publicClient);
      assert.equal(Number(row.expires_at) - Number(row.created_at), 60);
      // The whole validated parameter set, to be validated again at /authorize.
      assert.deepEqual(JSON.parse(row.params), params);
    });

    test('the whole flow: PAR with client_secret_basic, /authorize with request_uri and client_id, login, consent, code, tokens', async () => {
      const { params, verifier } = request(seed.confidential.clientId);
      const requestUri = await pushed(params, confidentialAuth());
      const browser = new FormBrowser();
      const walked = await walkAuthorization(browser, s.issuer, authorizeUrl({ client_id: seed.confidential.clientId, request_uri: requestUri }));
      assert.ok(walked.sawLogin && walked.sawConsent);
      // The consent page was for the pushed scopes.
      assert.match(walked.consentPage!.text, /Read your orders/);
      assert.equal(walked.callback.searchParams.get('state'), 'state-par');
      assert.equal(walked.callback.searchParams.get('iss'), s.issuer);
      const code = walked.callback.searchParams.get('code');
      assert.ok(code, walked.callback.href);
      const res = await exchangeCode(s, { clientId: seed.confidential.clientId, secret: seed.confidential.clientSecret, code, verifier });
      assert.equal(res.status, 200, res.text);
      assert.equal(res.body.scope, 'openid profile orders:read');
      assert.equal(decodeJwt(res.body.id_token).nonce, 'nonce-par');
      assert.ok([decodeJwt(res.body.access_token).aud].flat().includes(seed.api));
    });

    test('a public client pushes with its client_id (method none) and completes the flow', async () => {
      const { params, verifier } = request(seed.publicClient);
      const requestUri = await pushed(params);
      const walked = await walkAuthorization(new FormBrowser(), s.issuer, authorizeUrl({ client_id: seed.publicClient, request_uri: requestUri }));
      const res = await exchangeCode(s, { clientId: seed.publicClient, code: walked.callback.searchParams.get('code')!, verifier });
      assert.equal(res.status, 200, res.text);
    });

    test('RFC 9126 §4: a request_uri works once; a second use, even a simultaneous one, gets an error page', async () => {
      const requestUri = await pushed(request(seed.publicClient).params);
      const url = authorizeUrl({ client_id: seed.publicClient, request_uri: requestUri });
      const [a, b] = await Promise.all([new FormBrowser().get(url), new FormBrowser().get(url)]);
      const statuses = [a.status, b.status].sort();
      assert.deepEqual(statuses, [303, 400], 'exactly one use wins');
      const won = a.status === 303 ? a : b;
      assert.ok(new URL(won.location!).pathname.endsWith('/login'));
      expectErrorPage(a.status === 400 ? a : b, /unknown, has expired or was used already/);
      expectErrorPage(await new FormBrowser().get(url), /was used already/);
      assert.equal((await rows()).some((r) => r.request_uri_hash === sha256(requestUri)), false, 'spent: deleted');
    });

    test('RFC 9126 §2.2: bound to its client: another client_id gets an error page, and the request_uri still works for its own', async () => {
      const requestUri = await pushed(request(seed.confidential.clientId).params, confidentialAuth());
      expectErrorPage(await new FormBrowser().get(authorizeUrl({ client_id: seed.publicClient, request_uri: requestUri })), /another application pushed it/);
      expectErrorPage(await new FormBrowser().get(authorizeUrl({ request_uri: requestUri })), /no client_id/);
      const own = await new FormBrowser().get(authorizeUrl({ client_id: seed.confidential.clientId, request_uri: requestUri }));
      assert.equal(own.status, 303);
      assert.ok(new URL(own.location!).pathname.endsWith('/login'));
    });

    test('RFC 9126 §4: an expired request_uri is refused; the janitor purges it', async () => {
      const requestUri = await pushed(request(seed.publicClient).params);
      const realNow = ctx().now;
      const later = realNow() + 61;
      ctx().now = () => later;
      try {
        expectErrorPage(await new FormBrowser().get(authorizeUrl({ client_id: seed.publicClient, request_uri: requestUri })), /has expired/);
      } finally {
        ctx().now = realNow;
      }
      assert.ok((await rows()).some((r) => r.request_uri_hash === sha256(requestUri)), 'refused, not deleted');
      await new Janitor(ctx()).runOnce(later + 1);
      assert.equal((await rows()).some((r) => r.request_uri_hash === sha256(requestUri)), false, 'purged');
    });

    test('an unknown request_uri gets an error page; any other request_uri is still request_uri_not_supported', async () => {
      expectErrorPage(
        await new FormBrowser().get(authorizeUrl({ client_id: seed.publicClient, request_uri: 'urn:ietf:params:oauth:request_uri:nothing-pushed-here' })),
        /unknown/,
      );
      const { challenge } = pkcePair();
      const other = await new FormBrowser().get(
        authorizeUrl({
          client_id: seed.confidential.clientId,
          response_type: 'code',
          scope: 'openid',
          code_challenge: challenge,
          code_challenge_method: 'S256',
          request_uri: 'https://client.example/request.jwt',
        }),
      );
      expectRedirectError(other, 'request_uri_not_supported');
    });

    test('RFC 9126 §4: with an authorization parameter besides client_id the request is invalid_request, and the request_uri is not spent', async () => {
      const requestUri = await pushed(request(seed.confidential.clientId).params, confidentialAuth());
      const extras: Record<string, string>[] = [{ scope: 'openid profile orders:read orders:write' }, { state: 'other' }, { redirect_uri: REDIRECT_URI }, { prompt: 'none' }];
      for (const extra of extras) {
        const page = await new FormBrowser().get(authorizeUrl({ client_id: seed.confidential.clientId, request_uri: requestUri, ...extra }));
        expectRedirectError(page, 'invalid_request');
      }
      // Unknown parameters are ignored, as always (docs/security.md A8); the request_uri was not spent.
      const own = await new FormBrowser().get(authorizeUrl({ client_id: seed.confidential.clientId, request_uri: requestUri, utm_source: 'mail' }));
      assert.equal(own.status, 303);
      assert.ok(new URL(own.location!).pathname.endsWith('/login'));
    });

    test('RFC 9126 §2: client authentication as at /token: a confidential client without it, or with a wrong secret, is 401 invalid_client', async () => {
      const before = (await rows()).length;
      const { params } = request(seed.confidential.clientId);
      for (const res of [
        await push(params),
        await push(params, [seed.confidential.clientId, 'wrong-secret']),
        await push({ ...params, client_secret: seed.confidential.clientSecret }),
        await push(request('no-such-client').params),
      ]) {
        assert.equal(res.status, 401, res.text);
        assert.equal(res.body.error, 'invalid_client');
        assert.equal(res.headers.get('location'), null);
      }
      assert.equal((await rows()).length, before, 'nothing stored');
    });

    test('RFC 9126 §2.3: invalid requests are answered as JSON with the error /authorize would send, and store nothing', async () => {
      const before = (await rows()).length;
      const cases: [string, Record<string, string | string[]>, string][] = [
        ['unregistered redirect_uri', { redirect_uri: 'https://evil.example/cb' }, 'invalid_request'],
        ['no code_challenge', { code_challenge: '' }, 'invalid_request'],
        ['plain PKCE', { code_challenge_method: 'plain' }, 'invalid_request'],
        ['response_type token', { response_type: 'token' }, 'unsupported_response_type'],
        ['no response_type', { response_type: '' }, 'invalid_request'],
        ['a scope not allowed', { scope: 'openid admin' }, 'invalid_scope'],
        ['an unknown resource', { resource: 'https://unknown.example' }, 'invalid_target'],
        ['a repeated parameter', { scope: ['openid', 'profile'] }, 'invalid_request'],
        ['a bad prompt', { prompt: 'sometimes' }, 'invalid_request'],
        ['a request object', { request: 'eyJhbGciOiJub25lIn0.e30.' }, 'request_not_supported'],
        // RFC 9126 §2.1: "The request_uri authorization request parameter ... MUST NOT be provided."
        ['a request_uri', { request_uri: 'urn:ietf:params:oauth:request_uri:abc' }, 'invalid_request'],
        ['no client_id', { client_id: '' }, 'invalid_request'],
        ['another client_id', { client_id: seed.publicClient }, 'invalid_request'],
      ];
      for (const [what, over, error] of cases) {
        const { params } = request(seed.confidential.clientId, over);
        const res = await push(params, confidentialAuth());
        assert.equal(res.status, 400, `${what}: ${res.text}`);
        assert.equal(res.body.error, error, `${what}: ${res.text}`);
        assert.equal(typeof res.body.error_description, 'string');
        assert.equal(res.headers.get('cache-control'), 'no-store');
        assert.equal(res.headers.get('location'), null);
      }
      // A client without the authorization code grant.
      const service = await s.registry.createClient({ name: 'svc', type: 'confidential', grantTypes: ['client_credentials'], scopes: ['orders:read'] });
      const res = await push(request(service.client.clientId).params, [service.client.clientId, service.clientSecret!]);
      assert.equal(res.status, 400, res.text);
      assert.equal(res.body.error, 'unauthorized_client');
      assert.equal((await rows()).length, before, 'nothing stored');
    });

    test('RFC 9126 §2.3: POST only (405 with Allow: POST); a body that is not form-encoded is invalid_request', async () => {
      for (const method of ['GET', 'PUT', 'DELETE']) {
        const res = await fetch(`${s.issuer}/par`, { method });
        assert.equal(res.status, 405, method);
        assert.equal(res.headers.get('allow'), 'POST');
      }
      const json = await sendJson(`${s.issuer}/par`, 'POST', { client_id: seed.publicClient });
      assert.equal(json.status, 400, json.text);
      assert.equal(json.body.error, 'invalid_request');
    });

    test('discovery lists the endpoint (RFC 9126 §5); require_pushed_authorization_requests is false by default', async () => {
      for (const path of ['/.well-known/oauth-authorization-server', '/.well-known/openid-configuration']) {
        const metadata = (await (await fetch(`${s.issuer}${path}`)).json()) as Record<string, unknown>;
        assert.equal(metadata.pushed_authorization_request_endpoint, `${s.issuer}/par`, path);
        assert.equal(metadata.require_pushed_authorization_requests, false, path);
      }
    });

    test('RFC 9126 §6, per client: a plain /authorize is invalid_request; a pushed request passes login and consent', async () => {
      const plain = request(strict.clientId, { redirect_uri: 'https://strict.example/cb' });
      expectRedirectError(await new FormBrowser().get(authorizeUrl(plain.params as Record<string, string>)), 'invalid_request', 'https://strict.example/cb');
      const requestUri = await pushed(plain.params, [strict.clientId, strict.clientSecret]);
      const walked = await walkAuthorization(new FormBrowser(), s.issuer, authorizeUrl({ client_id: strict.clientId, request_uri: requestUri }));
      const res = await exchangeCode(s, {
        clientId: strict.clientId,
        secret: strict.clientSecret,
        code: walked.callback.searchParams.get('code')!,
        verifier: plain.verifier,
        redirectUri: 'https://strict.example/cb',
      });
      assert.equal(res.status, 200, res.text);
      // The operator lifts the requirement: a plain request works again.
      await s.registry.setRequirePushedAuthorizationRequests(strict.clientId, false);
      try {
        const page = await new FormBrowser().get(authorizeUrl(request(strict.clientId, { redirect_uri: 'https://strict.example/cb' }).params as Record<string, string>));
        assert.equal(page.status, 303);
        assert.ok(new URL(page.location!).pathname.endsWith('/login'));
      } finally {
        await s.registry.setRequirePushedAuthorizationRequests(strict.clientId, true);
      }
    });

    test('required PAR holds through the pages: the login form without its par_proof, or a forged one, is invalid_request', async () => {
      const { params } = request(strict.clientId, { redirect_uri: 'https://strict.example/cb', prompt: 'consent' });
      const requestUri = await pushed(params, [strict.clientId, strict.clientSecret]);
      const browser = new FormBrowser();
      const login = await pageAt(browser, authorizeUrl({ client_id: strict.clientId, request_uri: requestUri }));
      const [form] = browser.forms(login.text, login.url);
      const fields = fieldsOf(form!);
      assert.ok(fields.par_proof, 'the login form carries the proof');
      assert.equal(fields.scope, 'openid profile orders:read');
      const credentials = { username: 'alice', password: seed.user.password };
      // Straight to the login page with the request's parameters but no proof: not a pushed request.
      const { par_proof: _proof, ...unproven } = fields;
      expectRedirectError(await browser.post(form!.action, { ...unproven, ...credentials }), 'invalid_request', 'https://strict.example/cb');
      expectRedirectError(await browser.get(`${s.issuer}/login?${new URLSearchParams(unproven).toString()}`), 'invalid_request', 'https://strict.example/cb');
      expectRedirectError(await browser.post(form!.action, { ...fields, ...credentials, par_proof: `${Math.floor(Date.now() / 1000) + 600}.${'A'.repeat(43)}` }), 'invalid_request', 'https://strict.example/cb');
      // The form as served works.
      const next = await browser.post(form!.action, { ...fields, ...credentials });
      assert.equal(next.status, 303, next.text.slice(0, 300));
      assert.ok(new URL(next.location!).pathname.endsWith('/consent'));
    });

    test('tampered hidden fields after a pushed request are refused at login and consent', async () => {
      // prompt=consent: the consent page is shown although Alice allowed this client before.
      const { params } = request(seed.publicClient, { prompt: 'consent' });
      const requestUri = await pushed(params);
      const browser = new FormBrowser();
      const login = await pageAt(browser, authorizeUrl({ client_id: seed.publicClient, request_uri: requestUri }));
      const [form] = browser.forms(login.text, login.url);
      const credentials = { username: 'alice', password: seed.user.password };
      const { challenge } = pkcePair();
      const tamperings: Record<string, string>[] = [
        { scope: 'openid profile orders:read orders:write' },
        { code_challenge: challenge },
        { state: 'forged' },
        { prompt: 'none' },
        { redirect_uri: 'http://127.0.0.1/cb' },
        { par_proof: `${Math.floor(Date.now() / 1000) + 600}.${'B'.repeat(43)}` },
      ];
      for (const tampered of tamperings) {
        const page = await browser.submit(login, form!, { values: { ...credentials, ...tampered } });
        expectRedirectError(page, 'invalid_request', tampered.redirect_uri ?? REDIRECT_URI);
      }
      // Log in with the form as served, then tamper with the consent form.
      const consentRedirect = await browser.submit(login, form!, { values: credentials });
      assert.equal(consentRedirect.status, 303);
      const consent = await pageAt(browser, consentRedirect.location!);
      assert.ok(new URL(consent.url).pathname.endsWith('/consent'));
      const [consentForm] = browser.forms(consent.text, consent.url);
      assert.ok(fieldsOf(consentForm!).par_proof, 'the consent form carries the proof');
      const consentTamperings: Record<string, string>[] = [{ scope: 'openid profile orders:read orders:write' }, { nonce: 'other' }, { par_proof: 'garbage' }];
      for (const tampered of consentTamperings) {
        const page = await browser.submit(consent, consentForm!, { values: tampered, button: { name: 'decision', value: 'allow' } });
        expectRedirectError(page, 'invalid_request');
      }
      // The proof of a pushed request's pages lasts 30 minutes.
      const realNow = ctx().now;
      const later = realNow() + 31 * 60;
      ctx().now = () => later;
      try {
        const page = await browser.submit(consent, consentForm!, { button: { name: 'decision', value: 'allow' } });
        expectRedirectError(page, 'invalid_request');
      } finally {
        ctx().now = realNow;
      }
      const allowed = await browser.submit(consent, consentForm!, { button: { name: 'decision', value: 'allow' } });
      assert.equal(allowed.status, 303);
      const callback = new URL(allowed.location!);
      assert.ok(callback.searchParams.get('code'), callback.href);
      assert.equal(callback.searchParams.get('state'), 'state-par');
    });
  });

  describe(`pushed authorization requests required for every client (${backend.name})`, { skip: backend.skip }, () => {
    let db: TestDatabase;
    let s: RunningServer;
    let seed: UserFlowSeed;

    before(async () => {
      db = await backend.create();
      s = await startServer(db, { requirePar: true, registration: 'open' });
      seed = await seedUserFlow(s);
    });
    after(async () => {
      await s?.close();
      await db?.drop();
    });

    test('RFC 9126 §5: discovery says require_pushed_authorization_requests; a plain /authorize is invalid_request; a pushed one works', async () => {
      const metadata = (await (await fetch(`${s.issuer}/.well-known/openid-configuration`)).json()) as Record<string, unknown>;
      assert.equal(metadata.require_pushed_authorization_requests, true);
      assert.equal(metadata.request_uri_parameter_supported, false, 'only request_uri values from /par (RFC 9126 §5)');
      const { verifier, challenge } = pkcePair();
      const params = {
        response_type: 'code',
        client_id: seed.publicClient,
        redirect_uri: REDIRECT_URI,
        scope: 'openid orders:read',
        state: 'st',
        code_challenge: challenge,
        code_challenge_method: 'S256',
      };
      const plain = await new FormBrowser().get(`${s.issuer}/authorize?${new URLSearchParams(params).toString()}`);
      assert.equal(plain.status, 303);
      const error = new URL(plain.location!);
      assert.equal(error.searchParams.get('error'), 'invalid_request');
      assert.equal(error.searchParams.get('state'), 'st');
      const res = await postForm(`${s.issuer}/par`, params);
      assert.equal(res.status, 201, res.text);
      const walked = await walkAuthorization(
        new FormBrowser(),
        s.issuer,
        `${s.issuer}/authorize?${new URLSearchParams({ client_id: seed.publicClient, request_uri: res.body.request_uri }).toString()}`,
      );
      const tokens = await exchangeCode(s, { clientId: seed.publicClient, code: walked.callback.searchParams.get('code')!, verifier });
      assert.equal(tokens.status, 200, tokens.text);
    });

    test('RFC 9126 §6: require_pushed_authorization_requests in dynamic registration is stored and echoed; not a Boolean is invalid_client_metadata', async () => {
      const metadata = {
        client_name: 'Registered',
        redirect_uris: ['https://registered.example/cb'],
        token_endpoint_auth_method: 'none',
        grant_types: ['authorization_code'],
        response_types: ['code'],
      };
      const registered = await sendJson(`${s.issuer}/register`, 'POST', { ...metadata, require_pushed_authorization_requests: true });
      assert.equal(registered.status, 201, registered.text);
      assert.equal(registered.body.require_pushed_authorization_requests, true);
      assert.equal((await s.registry.getClient(registered.body.client_id)).requirePushedAuthorizationRequests, true);
      const omitted = await sendJson(`${s.issuer}/register`, 'POST', metadata);
      assert.equal(omitted.status, 201, omitted.text);
      assert.equal(omitted.body.require_pushed_authorization_requests, false, 'RFC 9126 §6: "If omitted, the default value is false."');
      const wrong = await sendJson(`${s.issuer}/register`, 'POST', { ...metadata, require_pushed_authorization_requests: 'yes' });
      assert.equal(wrong.status, 400, wrong.text);
      assert.equal(wrong.body.error, 'invalid_client_metadata');
    });
  });
}
