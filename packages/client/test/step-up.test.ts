import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { createRemoteJWKSet, jwtVerify, type JWTPayload } from 'jose';
import { checkDpopProof, createMemoryReplayCache, DpopProofError } from '@latchkey/resource-server/dpop';
import { API, authorizeInBrowser, FormBrowser, type Latchkey, parseSetCookie, startLatchkey, walkAuthorization } from '@latchkey/testing';
import {
  createBff,
  IdTokenValidationError,
  LatchkeyClient,
  sendBffResponse,
  stepUpChallenge,
  StepUpRequiredError,
  type Bff,
  type FetchLike,
  type TokenSet,
} from '../src/index.ts';
import { listen, readBody } from './helpers/http-servers.ts';

/**
 * Step-up (RFC 9470) through the SDK, against a real Latchkey and an API on its own origin that answers
 * the RFC 9470 §3 challenge, as Bearer (RFC 6750) or DPoP (RFC 9449): authorizedFetch throws
 * StepUpRequiredError with the challenge's acr_values and max_age; the step-up's authorization request
 * carries them (in the URL, or pushed); the ID token's auth_time is checked against max_age, its acr and
 * amr are exposed, and requireAcr refuses an acr that was not asked for. Latchkey signs users in with a
 * password only (acr `urn:latchkey:acr:password`, amr `pwd`), so an API demanding multi-factor can never
 * be satisfied here: that is what the requireAcr tests use.
 */

const SCOPE = 'openid offline_access orders:read';
const PASSWORD_ACR = 'urn:latchkey:acr:password';
const MFA_ACR = 'urn:latchkey:acr:mfa';
/** The API's rule for /transfer: the user signed in at most this long ago. */
const TRANSFER_MAX_AGE = 30;

/**
 * The orders API: verifies Latchkey's JWT access tokens (and with `cnf.jkt` the DPoP proof, with
 * @latchkey/resource-server's checkDpopProof), then applies its rules, answering RFC 9470 §3 challenges
 * in the scheme the token came in: /admin wants multi-factor (`acr_values`), /transfer a sign-in of the
 * last 30 s (`max_age`), /forbidden wants a scope the token lacks (a 403 that is not a step-up), and
 * /misfit sends the step-up error with a 403, which RFC 9470 does not (§3: 401).
 */
async function startApi(issuer: string) {
  const jwks = createRemoteJWKSet(new URL(`${issuer}/jwks`));
  const replay = createMemoryReplayCache();
  const answers: { path: string; status: number; challenge?: string }[] = [];
  const api = await listen(async (req, res) => {
    const path = new URL(req.url ?? '/', 'http://api').pathname;
    const [, scheme, token] = /^(Bearer|DPoP) (\S+)$/.exec(req.headers.authorization ?? '') ?? [];
    const answer = (status: number, params?: string) => {
      const challenge = params === undefined ? undefined : scheme === 'DPoP' ? `DPoP ${params}, algs="ES256"` : `Bearer ${params}`;
      answers.push({ path, status, ...(challenge ? { challenge } : {}) });
      res.writeHead(status, { 'content-type': 'application/json', ...(challenge ? { 'www-authenticate': challenge } : {}) });
      res.end(JSON.stringify(status === 200 ? { path } : { error: 'see WWW-Authenticate' }));
    };
    if (token === undefined) return answer(401, 'realm="orders"');
    let claims: JWTPayload;
    try {
      claims = (await jwtVerify(token, jwks, { issuer, audience: API, typ: 'at+jwt' })).payload;
      const jkt = (claims.cnf as { jkt?: string } | undefined)?.jkt;
      if (jkt !== undefined) {
        if (scheme !== 'DPoP') throw new Error('a DPoP-bound token sent as Bearer');
        await checkDpopProof({ proof: req.headers.dpop, method: req.method ?? 'GET', url: `http://${req.headers.host}${req.url}`, accessToken: token, jkt, replay });
      }
    } catch (err) {
      if (err instanceof DpopProofError) return answer(401, `error="${err.error}"`);
      return answer(401, 'error="invalid_token"');
    }
    const now = Math.floor(Date.now() / 1000);
    if (path === '/admin' && claims.acr !== MFA_ACR) {
      return answer(401, `error="insufficient_user_authentication", error_description="A different authentication level is required", acr_values="${MFA_ACR} phr"`);
    }
    if (path === '/transfer' && !(typeof claims.auth_time === 'number' && now - claims.auth_time <= TRANSFER_MAX_AGE)) {
      // Unquoted, as RFC 9470 §3's example writes it.
      return answer(401, `error="insufficient_user_authentication", error_description="More recent authentication is required", max_age=${TRANSFER_MAX_AGE}`);
    }
    if (path === '/forbidden') return answer(403, 'error="insufficient_scope", scope="orders:write"');
    // Not RFC 9470: its challenge comes with a 401.
    if (path === '/misfit') return answer(403, 'error="insufficient_user_authentication", max_age=0');
    return answer(200);
  });
  return { ...api, answers };
}

/** A fetch that keeps the form of every pushed authorization request (RFC 9126 §2.1) on its way to Latchkey. */
function parRecorder() {
  const pushed: URLSearchParams[] = [];
  const fetchImpl: FetchLike = async (input, init) => {
    const request = new Request(input, init);
    if (new URL(request.url).pathname === '/par') pushed.push(new URLSearchParams(await request.clone().text()));
    return fetch(request);
  };
  return { fetch: fetchImpl, pushed };
}

describe('step-up (RFC 9470) with the SDK', () => {
  let lk: Latchkey;
  let api: Awaited<ReturnType<typeof startApi>>;

  before(async () => {
    lk = await startLatchkey();
    api = await startApi(lk.issuer);
  });
  after(async () => {
    await api?.close();
    await lk?.close();
  });

  /** Alice signs in with `client` in `browser`; the tokens of that login. */
  const signIn = async (client: LatchkeyClient, browser: FormBrowser): Promise<TokenSet> => {
    const pending = await client.createAuthorizationRequest({ redirectUri: lk.seed.redirectUri, scope: SCOPE });
    return client.handleCallback(await authorizeInBrowser(browser, lk.issuer, pending.url), pending);
  };

  test('Bearer: a 401 insufficient_user_authentication throws StepUpRequiredError with the challenge\'s acr_values and max_age', async () => {
    const client = new LatchkeyClient({ issuer: lk.issuer, clientId: lk.seed.publicClient });
    const session = client.session(await signIn(client, new FormBrowser()));
    const ok = await session.authorizedFetch(`${api.url}/orders`);
    assert.equal(ok.status, 200);

    await assert.rejects(session.authorizedFetch(`${api.url}/admin`), (err: unknown) => {
      assert.ok(err instanceof StepUpRequiredError, String(err));
      assert.equal(err.code, 'ERR_STEP_UP_REQUIRED');
      assert.equal(err.scheme, 'bearer');
      assert.deepEqual(err.acrValues, [MFA_ACR, 'phr']);
      assert.equal(err.maxAge, undefined);
      assert.equal(err.error_description, 'A different authentication level is required');
      assert.equal(err.response.status, 401);
      assert.deepEqual(err.authorizationOptions(), { acrValues: [MFA_ACR, 'phr'] });
      return true;
    });
    assert.equal((await session.authorizedFetch(`${api.url}/transfer`, { method: 'POST', body: 'amount=10' })).status, 200, 'signed in just now');
    // Answers that are not a step-up are returned as they are: a 403 insufficient_scope, a 401 invalid_token.
    const forbidden = await session.authorizedFetch(`${api.url}/forbidden`);
    assert.equal(forbidden.status, 403);
    assert.equal((await session.authorizedFetch(`${api.url}/misfit`)).status, 403, 'the challenge of RFC 9470 §3 comes with a 401');
    const broken = client.session({ ...session.tokens, accessToken: 'not-a-token' });
    const invalid = await broken.authorizedFetch(`${api.url}/orders`);
    assert.equal(invalid.status, 401);
    assert.match(invalid.headers.get('www-authenticate')!, /invalid_token/);
    assert.deepEqual(
      api.answers.filter((a) => a.path === '/admin').map((a) => a.challenge),
      [`Bearer error="insufficient_user_authentication", error_description="A different authentication level is required", acr_values="${MFA_ACR} phr"`],
    );
  });

  test('DPoP: the same challenge in the DPoP scheme (a proof-checked API) throws StepUpRequiredError; max_age is read', async (t) => {
    const client = new LatchkeyClient({ issuer: lk.issuer, clientId: lk.seed.publicClient, dpop: true });
    const tokens = await signIn(client, new FormBrowser());
    assert.equal(tokens.tokenType, 'DPoP');
    const session = client.session(tokens);
    assert.equal((await session.authorizedFetch(`${api.url}/transfer`, { method: 'POST' })).status, 200, 'signed in just now');

    // A minute later (for the API's clock too), the sign-in is too old for /transfer.
    t.mock.timers.enable({ apis: ['Date'], now: Date.now() + 60_000 });
    await assert.rejects(session.authorizedFetch(`${api.url}/transfer`, { method: 'POST' }), (err: unknown) => {
      assert.ok(err instanceof StepUpRequiredError, String(err));
      assert.equal(err.scheme, 'dpop');
      assert.equal(err.maxAge, TRANSFER_MAX_AGE);
      assert.equal(err.acrValues, undefined);
      assert.deepEqual(err.authorizationOptions(), { maxAge: TRANSFER_MAX_AGE });
      return true;
    });
    await assert.rejects(session.authorizedFetch(`${api.url}/admin`), (err: unknown) => err instanceof StepUpRequiredError && err.scheme === 'dpop' && err.acrValues?.[0] === MFA_ACR);
    const last = api.answers.at(-1)!;
    assert.match(last.challenge!, /^DPoP error="insufficient_user_authentication", .*algs="ES256"$/);
  });

  test('the step-up: max_age from the challenge reaches the server, which asks Alice to sign in again; the new auth_time passes the API', async (t) => {
    const client = new LatchkeyClient({ issuer: lk.issuer, clientId: lk.seed.publicClient });
    const browser = new FormBrowser();
    const first = await signIn(client, browser);
    t.mock.timers.enable({ apis: ['Date'], now: Date.now() + 60_000 });
    const stepUp = await client
      .session(first)
      .authorizedFetch(`${api.url}/transfer`, { method: 'POST' })
      .then(
        () => assert.fail('the API should have asked for a step-up'),
        (err: unknown) => err as StepUpRequiredError,
      );
    assert.ok(stepUp instanceof StepUpRequiredError);

    const pending = await client.createAuthorizationRequest({ redirectUri: lk.seed.redirectUri, scope: SCOPE, ...stepUp.authorizationOptions() });
    assert.equal(new URL(pending.url).searchParams.get('max_age'), String(TRANSFER_MAX_AGE));
    assert.equal(new URL(pending.url).searchParams.get('acr_values'), null);
    assert.equal(pending.maxAge, TRANSFER_MAX_AGE);
    const walked = await walkAuthorization(browser, lk.issuer, pending.url);
    assert.ok(walked.sawLogin, 'the SSO session is older than max_age: Latchkey shows the login form again');
    const tokens = await client.handleCallback(walked.callback, pending);
    assert.ok(tokens.idTokenClaims!.auth_time! > first.idTokenClaims!.auth_time!, 'a new authentication');
    assert.equal((await client.session(tokens).authorizedFetch(`${api.url}/transfer`, { method: 'POST' })).status, 200);
  });

  test("max_age: the ID token's auth_time must be recent enough (a real token older than the max_age expected)", async (t) => {
    const client = new LatchkeyClient({ issuer: lk.issuer, clientId: lk.seed.publicClient });
    const browser = new FormBrowser();
    const first = await signIn(client, browser);
    // Two minutes later Alice's SSO session still satisfies max_age=600, so Latchkey does not ask again and
    // the ID token keeps her first auth_time. Checked against a max_age of 30 s it is too old (beyond the
    // 30 s of clock tolerance too).
    t.mock.timers.enable({ apis: ['Date'], now: Date.now() + 120_000 });
    const pending = await client.createAuthorizationRequest({ redirectUri: lk.seed.redirectUri, scope: SCOPE, maxAge: 600 });
    const walked = await walkAuthorization(browser, lk.issuer, pending.url);
    assert.equal(walked.sawLogin, false);
    await assert.rejects(client.handleCallback(walked.callback, { ...pending, maxAge: 30 }), (err: unknown) => {
      assert.ok(err instanceof IdTokenValidationError, String(err));
      assert.equal(err.check, 'auth_time');
      return true;
    });
    const again = await client.createAuthorizationRequest({ redirectUri: lk.seed.redirectUri, scope: SCOPE, maxAge: 600 });
    const tokens = await client.handleCallback(await authorizeInBrowser(browser, lk.issuer, again.url), again);
    assert.equal(tokens.idTokenClaims?.auth_time, first.idTokenClaims?.auth_time, 'within 600 s: the same sign-in');
  });

  test('acr_values are sent; the ID token acr and amr are exposed; requireAcr refuses an acr that was not asked for', async () => {
    const client = new LatchkeyClient({ issuer: lk.issuer, clientId: lk.seed.publicClient });
    const browser = new FormBrowser();
    // acr_values is a request the server may not satisfy (OIDC Core §3.1.2.1, "Voluntary Claim"): Latchkey
    // does not know these classes, so without requireAcr the login succeeds, and says what the user did.
    // (A request for MFA_ACR has the user set up an authenticator app, one for `phr` a passkey:
    // packages/server/test/totp.test.ts, passkeys.test.ts.)
    const asked = await client.createAuthorizationRequest({ redirectUri: lk.seed.redirectUri, scope: SCOPE, acrValues: ['urn:example:silver', 'urn:example:gold'] });
    assert.equal(new URL(asked.url).searchParams.get('acr_values'), 'urn:example:silver urn:example:gold');
    assert.deepEqual(asked.acrValues, ['urn:example:silver', 'urn:example:gold']);
    const tokens = await client.handleCallback(await authorizeInBrowser(browser, lk.issuer, asked.url), asked);
    assert.equal(tokens.acr, PASSWORD_ACR);
    assert.deepEqual(tokens.amr, ['pwd']);
    assert.equal(tokens.idTokenClaims?.acr, PASSWORD_ACR);
    const refreshed = await client.refresh(tokens.refreshToken!, { previous: tokens });
    assert.equal(refreshed.acr, PASSWORD_ACR, 'a refresh keeps the sign-in (OIDC Core §12.2)');

    const strict = await client.createAuthorizationRequest({ redirectUri: lk.seed.redirectUri, scope: SCOPE, acrValues: 'urn:example:gold', requireAcr: true });
    await assert.rejects(client.handleCallback(await authorizeInBrowser(browser, lk.issuer, strict.url), strict), (err: unknown) => {
      assert.ok(err instanceof IdTokenValidationError, String(err));
      assert.equal(err.check, 'acr');
      assert.match(err.message, /acr "urn:latchkey:acr:password", not one of the acr_values required \(urn:example:gold\)/);
      return true;
    });
    const satisfied = await client.createAuthorizationRequest({ redirectUri: lk.seed.redirectUri, scope: SCOPE, acr_values: `${MFA_ACR} ${PASSWORD_ACR}`, requireAcr: true });
    const accepted = await client.handleCallback(await authorizeInBrowser(browser, lk.issuer, satisfied.url), satisfied);
    assert.equal(accepted.acr, PASSWORD_ACR);

    await assert.rejects(client.createAuthorizationRequest({ redirectUri: lk.seed.redirectUri, scope: SCOPE, requireAcr: true }), /requireAcr needs acrValues/);
    await assert.rejects(client.createAuthorizationRequest({ redirectUri: lk.seed.redirectUri, scope: SCOPE, maxAge: 60, max_age: '60' }), TypeError);
    await assert.rejects(client.createAuthorizationRequest({ redirectUri: lk.seed.redirectUri, scope: SCOPE, maxAge: -1 }), TypeError);
    await assert.rejects(client.createAuthorizationRequest({ redirectUri: lk.seed.redirectUri, scope: SCOPE, max_age: 'soon' }), TypeError);
  });

  test('with PAR, acr_values and max_age are in the pushed request, and Latchkey acts on the pushed max_age', async (t) => {
    const recorder = parRecorder();
    const client = new LatchkeyClient({ issuer: lk.issuer, clientId: lk.seed.publicClient, par: 'always', fetch: recorder.fetch });
    const browser = new FormBrowser();
    await signIn(client, browser);
    t.mock.timers.enable({ apis: ['Date'], now: Date.now() + 60_000 });
    const pending = await client.createAuthorizationRequest({ redirectUri: lk.seed.redirectUri, scope: SCOPE, acrValues: [PASSWORD_ACR], maxAge: 30, requireAcr: true });
    assert.deepEqual([...new URL(pending.url).searchParams.keys()].sort(), ['client_id', 'request_uri']);
    const pushed = recorder.pushed.at(-1)!;
    assert.equal(pushed.get('acr_values'), PASSWORD_ACR);
    assert.equal(pushed.get('max_age'), '30');
    const walked = await walkAuthorization(browser, lk.issuer, pending.url);
    assert.ok(walked.sawLogin, 'the pushed max_age made Latchkey ask for the password again');
    const tokens = await client.handleCallback(walked.callback, pending);
    assert.equal(tokens.acr, PASSWORD_ACR);
    assert.ok(Date.now() / 1000 - tokens.idTokenClaims!.auth_time! <= 2);
  });

  test('stepUpChallenge reads the challenge of a response fetched without the SDK', async () => {
    const client = new LatchkeyClient({ issuer: lk.issuer, clientId: lk.seed.publicClient });
    const { accessToken } = await signIn(client, new FormBrowser());
    const headers = { authorization: `Bearer ${accessToken}` };
    const admin = await stepUpChallenge(await fetch(`${api.url}/admin`, { headers }));
    assert.ok(admin instanceof StepUpRequiredError);
    assert.deepEqual(admin.acrValues, [MFA_ACR, 'phr']);
    assert.equal(await stepUpChallenge(await fetch(`${api.url}/orders`, { headers })), undefined);
    assert.equal(await stepUpChallenge(await fetch(`${api.url}/orders`, { headers: { authorization: 'Bearer nope' } })), undefined, 'invalid_token is no step-up');
    assert.equal(await stepUpChallenge(await fetch(`${api.url}/forbidden`, { headers })), undefined);
    // Challenges of other schemes, and several in one header (RFC 9110 §11.6.1), parsed by oauth4webapi.
    const several = new Response(null, {
      status: 401,
      headers: { 'www-authenticate': 'Basic realm="x", Bearer error="insufficient_user_authentication", max_age="0", acr_values=phr' },
    });
    const parsed = await stepUpChallenge(several);
    assert.equal(parsed?.maxAge, 0);
    assert.deepEqual(parsed?.acrValues, ['phr']);
    const basic = new Response(null, { status: 401, headers: { 'www-authenticate': 'Basic error="insufficient_user_authentication"' } });
    assert.equal(await stepUpChallenge(basic), undefined, 'only the Bearer and DPoP schemes');
    const notANumber = new Response(null, { status: 401, headers: { 'www-authenticate': 'Bearer error="insufficient_user_authentication", max_age="soon"' } });
    assert.equal((await stepUpChallenge(notANumber))?.maxAge, undefined);
  });
});

describe('step-up through the BFF', () => {
  let lk: Latchkey;
  let api: Awaited<ReturnType<typeof startApi>>;
  let app: { url: string; close(): Promise<void> };
  let bff: Bff;
  const SESSION = '__Host-latchkey';

  before(async () => {
    lk = await startLatchkey();
    api = await startApi(lk.issuer);
    app = await listen(async (req, res) => {
      const path = new URL(req.url ?? '/', 'http://app').pathname;
      if (path === '/login') return sendBffResponse(res, await bff.login(bff.loginOptions(req)));
      if (path === '/callback') return sendBffResponse(res, await bff.callback(req));
      if (path.startsWith('/api/')) {
        const { authorizedFetch, setCookie } = await bff.getAccessToken(req);
        for (const cookie of setCookie) res.appendHeader('set-cookie', cookie);
        if (!authorizedFetch) return void res.writeHead(401).end();
        try {
          const body = await readBody(req);
          const upstream = await authorizedFetch(`${api.url}${path.slice('/api'.length)}`, { method: req.method ?? 'GET', ...(body ? { body } : {}) });
          res.writeHead(upstream.status, { 'content-type': 'application/json' });
          return res.end(await upstream.text());
        } catch (err) {
          if (err instanceof StepUpRequiredError) return sendBffResponse(res, bff.stepUpResponse(err, { returnTo: path.slice('/api'.length) }));
          throw err;
        }
      }
      res.writeHead(404).end();
    });
    const registered = await lk.running.registry.createClient({
      name: 'Shop BFF',
      type: 'confidential',
      grantTypes: ['authorization_code', 'refresh_token'],
      scopes: ['openid', 'offline_access', 'orders:read'],
      redirectUris: ['http://127.0.0.1/callback'],
    });
    bff = createBff({
      client: new LatchkeyClient({ issuer: lk.issuer, clientId: registered.client.clientId, clientSecret: registered.clientSecret! }),
      redirectUri: `${app.url}/callback`,
      scope: SCOPE,
      cookieKey: randomBytes(32),
    });
  });
  after(async () => {
    await app?.close();
    await api?.close();
    await lk?.close();
  });

  /** The browser's login through the app: /login (with a query), Latchkey's pages, the callback. */
  const login = async (browser: FormBrowser, loginUrl: string) => {
    const started = await browser.get(loginUrl);
    assert.equal(started.status, 303, started.text);
    const walked = await walkAuthorization(browser, lk.issuer, started.location!);
    const callback = await browser.get(walked.callback.href);
    assert.equal(callback.status, 200, callback.text);
    const session = callback.headers.getSetCookie().map((c) => parseSetCookie(c)).find((c) => c?.name === SESSION)?.value;
    assert.ok(session);
    browser.setCookie(app.url, SESSION, session);
    return { authorize: new URL(started.location!), walked, callback };
  };

  test('the API asks for a step-up: the browser gets a 401 with the login link, and that login asks Latchkey for it', async (t) => {
    const browser = new FormBrowser();
    const first = await login(browser, `${app.url}/login`);
    assert.equal(first.authorize.searchParams.get('max_age'), null);
    assert.equal((await browser.get(`${app.url}/api/transfer`)).status, 200, 'signed in just now');

    t.mock.timers.enable({ apis: ['Date'], now: Date.now() + 60_000 });
    const refused = await browser.get(`${app.url}/api/transfer`);
    assert.equal(refused.status, 401);
    assert.equal(refused.headers.get('cache-control'), 'no-store');
    const body = JSON.parse(refused.text) as { error: string; login: string; max_age?: number; acr_values?: string };
    assert.deepEqual(body, {
      error: 'insufficient_user_authentication',
      error_description: 'More recent authentication is required',
      max_age: TRANSFER_MAX_AGE,
      login: `/login?returnTo=%2Ftransfer&max_age=${TRANSFER_MAX_AGE}`,
    });

    // The front end sends the user to body.login: the BFF's login asks Latchkey for max_age, and Latchkey
    // asks for the password again.
    const stepped = await login(browser, `${app.url}${body.login}`);
    assert.equal(stepped.authorize.searchParams.get('max_age'), String(TRANSFER_MAX_AGE));
    assert.ok(stepped.walked.sawLogin);
    assert.match(stepped.callback.text, /content="0;url=\/transfer"/);
    assert.equal((await browser.get(`${app.url}/api/transfer`)).status, 200, 'the new session satisfies the API');

    const admin = JSON.parse((await browser.get(`${app.url}/api/admin`)).text) as { login: string; acr_values: string };
    assert.equal(admin.acr_values, `${MFA_ACR} phr`);
    assert.equal(admin.login, `/login?${new URLSearchParams({ returnTo: '/admin', acr_values: `${MFA_ACR} phr` }).toString()}`);
    const start = await browser.get(`${app.url}${admin.login}`);
    assert.equal(new URL(start.location!).searchParams.get('acr_values'), `${MFA_ACR} phr`);
  });

  test('requireAcr through the BFF: the login cookie carries acr_values, and the callback refuses another acr', async () => {
    const browser = new FormBrowser();
    // A class Latchkey does not know, so the sign-in comes back with a password's acr.
    const started = await bff.login({ acrValues: ['urn:example:gold'], requireAcr: true, returnTo: '/admin' });
    assert.equal(new URL(String(started.headers.location)).searchParams.get('acr_values'), 'urn:example:gold');
    const loginCookie = parseSetCookie(String(started.headers['set-cookie']))!;
    const walked = await walkAuthorization(browser, lk.issuer, String(started.headers.location));
    const request = { url: `${walked.callback.pathname}${walked.callback.search}`, headers: { cookie: `${loginCookie.name}=${loginCookie.value}` } };
    await assert.rejects(bff.callback(request), (err: unknown) => err instanceof IdTokenValidationError && err.check === 'acr');
  });

  test("a step-up's max_age and acr_values replace those the BFF sends with every login", async () => {
    const strict = createBff({ client: new LatchkeyClient({ issuer: lk.issuer, clientId: lk.seed.publicClient }), redirectUri: lk.seed.redirectUri, cookieKey: randomBytes(32), authorizationParams: { max_age: '3600', acr_values: PASSWORD_ACR } });
    const every = new URL(String((await strict.login()).headers.location)).searchParams;
    assert.equal(every.get('max_age'), '3600');
    assert.equal(every.get('acr_values'), PASSWORD_ACR);
    const stepUp = new URL(String((await strict.login({ maxAge: 30, acrValues: MFA_ACR })).headers.location)).searchParams;
    assert.equal(stepUp.get('max_age'), '30');
    assert.equal(stepUp.get('acr_values'), MFA_ACR);
  });

  test('loginOptions reads returnTo, acr_values and max_age from the login route, and refuses what is off the site', () => {
    assert.deepEqual(bff.loginOptions({ url: `/login?returnTo=%2Forders&acr_values=${encodeURIComponent(MFA_ACR)}&max_age=0`, headers: {} }), {
      returnTo: '/orders',
      acrValues: MFA_ACR,
      maxAge: 0,
    });
    assert.deepEqual(bff.loginOptions({ url: '/login', headers: {} }), {});
    assert.throws(() => bff.loginOptions({ url: '/login?returnTo=https://evil.example', headers: {} }), TypeError);
    assert.throws(() => bff.loginOptions({ url: '/login?max_age=soon', headers: {} }), TypeError);
  });
});
