import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { createRemoteJWKSet, decodeJwt, decodeProtectedHeader, generateKeyPair, jwtVerify, SignJWT } from 'jose';
import type { TokenResponse } from '../../src/grants/token-response.ts';
import { UserRegistry } from '../../src/users/user-registry.ts';
import { type AuthorizeOptions, authorizeUrl, backends, exchangeCode, FormBrowser, freePort, type Page, PASSWORD, pkcePair, postForm, REDIRECT_URI, runAuthorization, type RunningServer, seedUserFlow, startServer, type TestDatabase, type UserFlowSeed } from '@latchkey/testing';

/**
 * docs/security.md J 66-69 and RP-initiated logout: discovery, the JWKS, ID tokens verified as a relying party
 * would (jose with the remote JWKS), the UserInfo endpoint's RFC 6750 behaviour, and /logout.
 */

/** The token endpoint's success response, as the server types it. */
type Tokens = TokenResponse;

const BYE = 'https://app.example/bye';
const SESSION_COOKIE = 'latchkey_session';

/** OIDC Core §3.1.3.6 at_hash for RS256/ES256, computed here rather than with the server's helper. */
function expectedAtHash(accessToken: string): string {
  const digest = createHash('sha256').update(Buffer.from(accessToken, 'ascii')).digest();
  return digest.subarray(0, digest.length / 2).toString('base64url');
}

for (const backend of await backends()) {
  describe(`OpenID Connect: discovery, ID tokens, userinfo, logout (${backend.name})`, { skip: backend.skip }, () => {
    let db: TestDatabase;
    let s: RunningServer;
    let seed: UserFlowSeed;
    let users: UserRegistry;
    /** A first-party public client whose ID tokens are ES256. */
    let esClient: string;
    /** A client-credentials client of the orders API, as seedOrdersApi registers it. */
    let service: [string, string];
    /** Alice's browser: logged in once, her consents remembered. */
    let browser: FormBrowser;

    before(async () => {
      db = await backend.create();
      s = await startServer(db);
      seed = await seedUserFlow(s);
      users = new UserRegistry(s.server.context.storage);
      const es = await s.registry.createClient({
        name: 'EC Shop',
        type: 'public',
        grantTypes: ['authorization_code'],
        scopes: ['openid', 'profile', 'orders:read'],
        redirectUris: [REDIRECT_URI],
        firstParty: true,
        idTokenSignedResponseAlg: 'ES256',
      });
      esClient = es.client.clientId;
      // seedOrdersApi's client; the orders API itself was registered by seedUserFlow.
      const svc = await s.registry.createClient({ name: 'svc-a', type: 'confidential', grantTypes: ['client_credentials'], scopes: ['orders:read'] });
      service = [svc.client.clientId, svc.clientSecret!];
      browser = new FormBrowser();
    });
    after(async () => {
      await s?.close();
      await db?.drop();
    });

    const jwks = () => createRemoteJWKSet(new URL(`${s.issuer}/jwks`));

    /** A complete code flow in `b` (Alice's browser by default); the confidential client uses its secret. */
    const flow = async (options: Partial<AuthorizeOptions> & { clientId?: string; secret?: string } = {}, b = browser): Promise<Tokens> => {
      const clientId = options.clientId ?? seed.publicClient;
      const result = await runAuthorization(b, s, { ...options, clientId });
      const code = result.callback.searchParams.get('code');
      assert.ok(code, `no code in ${result.callback}`);
      const res = await exchangeCode(s, { clientId, code, verifier: result.verifier, ...(options.secret ? { secret: options.secret } : {}) });
      assert.equal(res.status, 200, res.text);
      return res.body as Tokens;
    };

    /**
     * The code flow from an authorization URL built here (authorizeUrl always sends a nonce), through
     * the login and consent pages when they are shown. The public client's tokens.
     */
    const flowWithParams = async (params: Record<string, string>, b = browser): Promise<Tokens> => {
      const { verifier, challenge } = pkcePair();
      const query = new URLSearchParams({
        response_type: 'code',
        client_id: seed.publicClient,
        redirect_uri: REDIRECT_URI,
        code_challenge: challenge,
        code_challenge_method: 'S256',
        ...params,
      });
      let page: Page = await b.get(`${s.issuer}/authorize?${query}`);
      for (let step = 0; step < 10; step++) {
        if (page.status === 303 && page.location?.startsWith(REDIRECT_URI)) {
          const code = new URL(page.location).searchParams.get('code');
          assert.ok(code, page.location);
          const res = await exchangeCode(s, { clientId: seed.publicClient, code, verifier });
          assert.equal(res.status, 200, res.text);
          return res.body as Tokens;
        }
        if (page.status === 303 && page.location) {
          page = await b.get(page.location);
          continue;
        }
        assert.equal(page.status, 200, `${page.url}: ${page.text.slice(0, 300)}`);
        const [form] = b.forms(page.text, page.url);
        assert.ok(form, `no form at ${page.url}`);
        page = new URL(page.url).pathname.endsWith('/login')
          ? await b.submit(page, form, { values: { username: seed.user.username, password: PASSWORD } })
          : await b.submit(page, form, { button: { name: 'decision', value: 'allow' } });
      }
      throw new Error('the authorization did not end at the client');
    };

    /** `prompt=none` for the public client: the callback URL (a code while the session lives, else an error). */
    const silentAuthorize = async (b: FormBrowser): Promise<URL> => {
      const { challenge } = pkcePair();
      const page = await b.get(authorizeUrl(s, { clientId: seed.publicClient, extra: { prompt: 'none' }, state: 'silent' }, challenge));
      assert.equal(page.status, 303, page.text.slice(0, 300));
      assert.ok(page.location?.startsWith(REDIRECT_URI), page.location);
      return new URL(page.location!);
    };

    const assertSessionAlive = async (b: FormBrowser, message: string) => {
      const callback = await silentAuthorize(b);
      assert.ok(callback.searchParams.get('code'), `${message}: ${callback}`);
    };

    const assertSessionEnded = async (b: FormBrowser, message: string) => {
      const callback = await silentAuthorize(b);
      assert.equal(callback.searchParams.get('error'), 'login_required', `${message}: ${callback}`);
      assert.equal(callback.searchParams.get('code'), null);
    };

    const getUserinfo = async (init: { headers?: Record<string, string>; method?: 'GET' | 'POST'; body?: string; query?: string } = {}) => {
      const res = await fetch(`${s.issuer}/userinfo${init.query ?? ''}`, {
        method: init.method ?? 'GET',
        headers: { ...init.headers, ...(init.body !== undefined ? { 'content-type': 'application/x-www-form-urlencoded' } : {}) },
        ...(init.body !== undefined ? { body: init.body } : {}),
      });
      const text = await res.text();
      let body: any;
      try {
        body = text ? JSON.parse(text) : undefined;
      } catch {
        body = undefined;
      }
      return { status: res.status, headers: res.headers, body, text };
    };

    const assertInvalidToken = (res: { status: number; headers: Headers; body: any; text: string }, message: string) => {
      assert.equal(res.status, 401, `${message}: ${res.text}`);
      assert.match(res.headers.get('www-authenticate') ?? '', /^Bearer realm="latchkey", error="invalid_token"/, message);
      assert.equal(res.body?.error, 'invalid_token', message);
    };

    // --- J66, J67: discovery and the JWKS ---

    test('J66: both discovery documents name as issuer the URL they are fetched from; the OIDC one lists its members', async () => {
      // RFC 8414 §3.3: "The issuer value returned MUST be identical to the authorization server's issuer
      // identifier value into which the well-known URI string was inserted".
      const oauth = (await (await fetch(`${s.url}/.well-known/oauth-authorization-server`)).json()) as any;
      assert.equal(oauth.issuer, s.url);
      // OIDC Discovery §4.3: "The issuer value returned MUST be identical to the Issuer URL that was used
      // as the prefix to /.well-known/openid-configuration".
      const oidc = (await (await fetch(`${s.url}/.well-known/openid-configuration`)).json()) as any;
      assert.equal(oidc.issuer, s.url);
      assert.equal(oidc.userinfo_endpoint, `${s.url}/userinfo`);
      assert.equal(oidc.end_session_endpoint, `${s.url}/logout`);
      assert.deepEqual(oidc.id_token_signing_alg_values_supported, ['RS256', 'ES256']);
      assert.deepEqual(oidc.subject_types_supported, ['public']);
    });

    test('J66: with a path in the issuer, each document is fetched where its spec puts it and names that issuer', async () => {
      const otherDb = await backend.create();
      const port = await freePort();
      const origin = `http://127.0.0.1:${port}`;
      const tenant = await startServer(otherDb, { port, issuer: `${origin}/tenant-a` });
      try {
        // RFC 8414 §3.1: the well-known segment goes between the host and the issuer's path.
        const oauth = await fetch(`${origin}/.well-known/oauth-authorization-server/tenant-a`);
        assert.equal(oauth.status, 200);
        assert.equal(((await oauth.json()) as any).issuer, `${origin}/tenant-a`);
        // OIDC Discovery §4.1: the issuer followed by /.well-known/openid-configuration.
        const oidc = await fetch(`${origin}/tenant-a/.well-known/openid-configuration`);
        assert.equal(oidc.status, 200);
        const doc = (await oidc.json()) as any;
        assert.equal(doc.issuer, `${origin}/tenant-a`);
        assert.equal(doc.jwks_uri, `${origin}/tenant-a/jwks`);
        assert.equal(doc.userinfo_endpoint, `${origin}/tenant-a/userinfo`);
        assert.equal(doc.end_session_endpoint, `${origin}/tenant-a/logout`);
        assert.equal((await fetch(`${origin}/.well-known/openid-configuration`)).status, 404, 'not at the root for a path issuer');
      } finally {
        await tenant.close();
        await otherDb.drop();
      }
    });

    test("J67: the ID token's kid is published in the JWKS (public keys only) and verifies with createRemoteJWKSet", async () => {
      const tokens = await flow();
      assert.ok(tokens.id_token);
      const header = decodeProtectedHeader(tokens.id_token);
      const set = (await (await fetch(`${s.issuer}/jwks`)).json()) as { keys: Record<string, unknown>[] };
      assert.ok(set.keys.some((k) => k.kid === header.kid && k.alg === 'RS256'), `kid ${header.kid} in the JWKS`);
      for (const key of set.keys) for (const secret of ['d', 'p', 'q', 'dp', 'dq', 'qi', 'k']) assert.equal(secret in key, false, `${key.kid}: ${secret}`);
      const { protectedHeader } = await jwtVerify(tokens.id_token, jwks(), { issuer: s.issuer, audience: seed.publicClient, algorithms: ['RS256'] });
      assert.equal(protectedHeader.kid, header.kid);
    });

    // --- J68: ID tokens ---

    test('J68: the ID token has iss, sub, aud, exp, iat, auth_time, azp and an at_hash of the access token', async () => {
      const loginStarted = Math.floor(Date.now() / 1000);
      const tokens = await flow({ nonce: 'nonce-j68' }, new FormBrowser());
      const issued = Math.floor(Date.now() / 1000);
      assert.ok(tokens.id_token);
      const { payload, protectedHeader } = await jwtVerify(tokens.id_token, jwks(), {
        issuer: s.issuer,
        audience: seed.publicClient,
        algorithms: ['RS256'],
      });
      assert.equal(protectedHeader.alg, 'RS256');
      assert.equal(payload.iss, s.issuer);
      assert.equal(payload.sub, seed.user.id);
      // OIDC Core §2: aud "MUST contain the OAuth 2.0 client_id of the Relying Party".
      assert.equal(payload.aud, seed.publicClient);
      assert.equal(payload.azp, seed.publicClient);
      assert.ok(Number.isInteger(payload.iat) && payload.iat! >= loginStarted && payload.iat! <= issued, `iat ${payload.iat}`);
      assert.equal(payload.exp! - payload.iat!, s.settings.idTokenTtlSeconds);
      const authTime = payload.auth_time as number;
      assert.ok(Number.isInteger(authTime) && authTime >= loginStarted && authTime <= payload.iat!, `auth_time ${authTime}`);
      assert.equal(payload.nonce, 'nonce-j68');
      // OIDC Core §3.1.3.6: "the base64url encoding of the left-most half of the hash of the octets of the
      // ASCII representation of the access_token value".
      assert.equal(payload.at_hash, expectedAtHash(tokens.access_token));
    });

    test('J68: the nonce comes back exactly as sent, unicode and spaces included, through the login and consent pages', async () => {
      const nonce = 'nonce with  spaces, ünïcödé ✓ 🔑 & <"quotes">';
      const tokens = await flow({ nonce }, new FormBrowser());
      const { payload } = await jwtVerify(tokens.id_token!, jwks(), { issuer: s.issuer, audience: seed.publicClient, algorithms: ['RS256'] });
      // OIDC Core §3.1.2.1: "The value is passed through unmodified from the Authentication Request to the ID Token."
      assert.equal(payload.nonce, nonce);
    });

    test('J68: no nonce in the request, no nonce claim', async () => {
      const tokens = await flowWithParams({ scope: 'openid profile email offline_access orders:read', state: 'no-nonce' });
      assert.ok(tokens.id_token);
      const { payload } = await jwtVerify(tokens.id_token, jwks(), { issuer: s.issuer, audience: seed.publicClient, algorithms: ['RS256'] });
      assert.equal('nonce' in payload, false);
      assert.equal(payload.sub, seed.user.id);
    });

    test('J68: profile gives name and preferred_username, email gives email and email_verified; absent without those scopes', async () => {
      const profile = decodeJwt((await flow({ scope: 'openid profile orders:read' })).id_token!);
      assert.equal(profile.name, 'Alice Liddell');
      assert.equal(profile.preferred_username, 'alice');
      assert.equal('email' in profile, false);
      assert.equal('email_verified' in profile, false);

      const email = decodeJwt((await flow({ scope: 'openid email orders:read' })).id_token!);
      assert.equal(email.email, 'alice@example.com');
      // Latchkey does not verify addresses, and says so.
      assert.equal(email.email_verified, false);
      assert.equal('name' in email, false);
      assert.equal('preferred_username' in email, false);

      const bare = await flow({ scope: 'openid orders:read' });
      const claims = decodeJwt(bare.id_token!);
      for (const claim of ['name', 'preferred_username', 'email', 'email_verified']) assert.equal(claim in claims, false, claim);
      const info = await getUserinfo({ headers: { authorization: `Bearer ${bare.access_token}` } });
      assert.equal(info.status, 200, info.text);
      assert.deepEqual(info.body, { sub: seed.user.id });
    });

    test('J68: a client registered with idTokenSignedResponseAlg ES256 gets ES256 ID tokens', async () => {
      const tokens = await flow({ clientId: esClient, scope: 'openid profile orders:read' });
      assert.ok(tokens.id_token);
      assert.equal(decodeProtectedHeader(tokens.id_token).alg, 'ES256');
      const { payload } = await jwtVerify(tokens.id_token, jwks(), { issuer: s.issuer, audience: esClient, algorithms: ['ES256'] });
      assert.equal(payload.sub, seed.user.id);
      assert.equal(payload.at_hash, expectedAtHash(tokens.access_token));
      await assert.rejects(jwtVerify(tokens.id_token, jwks(), { issuer: s.issuer, audience: esClient, algorithms: ['RS256'] }));
    });

    test('J68: an ID token never passes as an access token (typ JWT, inactive at /introspect, refused by /userinfo)', async () => {
      const { clientId, clientSecret } = seed.confidential;
      const tokens = await flow({ clientId, secret: clientSecret });
      assert.ok(tokens.id_token);
      // RFC 9068 §4: access tokens are typ at+jwt; an ID token must not be.
      assert.equal(decodeProtectedHeader(tokens.id_token).typ, 'JWT');
      assert.equal(decodeProtectedHeader(tokens.access_token).typ, 'at+jwt');
      const control = await postForm(`${s.issuer}/introspect`, { token: tokens.access_token }, { basic: [clientId, clientSecret] });
      assert.equal(control.body.active, true, control.text);
      const res = await postForm(`${s.issuer}/introspect`, { token: tokens.id_token }, { basic: [clientId, clientSecret] });
      assert.equal(res.status, 200);
      assert.equal(res.text, '{"active":false}');
      assertInvalidToken(await getUserinfo({ headers: { authorization: `Bearer ${tokens.id_token}` } }), 'an ID token at /userinfo');
    });

    // --- J69: userinfo ---

    test("J69: userinfo answers GET and POST with a Bearer header (scheme in any case) and a form-body token; its sub is the ID token's", async () => {
      const tokens = await flow();
      const { payload } = await jwtVerify(tokens.id_token!, jwks(), { issuer: s.issuer, audience: seed.publicClient, algorithms: ['RS256'] });
      const expected = { sub: payload.sub, name: 'Alice Liddell', preferred_username: 'alice', email: 'alice@example.com', email_verified: false };
      const attempts = {
        'GET, Bearer header': await getUserinfo({ headers: { authorization: `Bearer ${tokens.access_token}` } }),
        'POST, Bearer header': await getUserinfo({ method: 'POST', headers: { authorization: `Bearer ${tokens.access_token}` } }),
        // RFC 6750 §2.1 via RFC 9110 §11.1: the auth scheme is case-insensitive.
        'GET, bearer in lower case': await getUserinfo({ headers: { authorization: `bearer ${tokens.access_token}` } }),
        // RFC 6750 §2.2: the form-encoded body parameter.
        'POST, access_token in the form body': await getUserinfo({ method: 'POST', body: new URLSearchParams({ access_token: tokens.access_token }).toString() }),
      };
      for (const [how, res] of Object.entries(attempts)) {
        assert.equal(res.status, 200, `${how}: ${res.text}`);
        assert.equal(res.headers.get('cache-control'), 'no-store', how);
        assert.deepEqual(res.body, expected, how);
      }
      // OIDC Core §5.3.2: "The sub Claim in the UserInfo Response MUST be verified to exactly match the sub Claim in the ID Token".
      assert.equal(attempts['GET, Bearer header'].body.sub, seed.user.id);
    });

    test('J69: no token is a bare 401 challenge; a token in the query string is ignored', async () => {
      // RFC 6750 §3.1: "If the request lacks any authentication information ... the resource server
      // SHOULD NOT include an error code or other error information."
      for (const res of [await getUserinfo(), await getUserinfo({ method: 'POST' })]) {
        assert.equal(res.status, 401);
        assert.equal(res.headers.get('www-authenticate'), 'Bearer realm="latchkey", DPoP algs="ES256 ES384 PS256 RS256 EdDSA"');
      }
      const tokens = await flow();
      const res = await getUserinfo({ query: `?access_token=${encodeURIComponent(tokens.access_token)}` });
      assert.equal(res.status, 401, res.text);
      assert.equal(res.headers.get('www-authenticate'), 'Bearer realm="latchkey", DPoP algs="ES256 ES384 PS256 RS256 EdDSA"');
    });

    test('J69: a garbage or expired token is 401 invalid_token', async (t) => {
      assertInvalidToken(await getUserinfo({ headers: { authorization: 'Bearer not-a-token' } }), 'garbage');
      assertInvalidToken(await getUserinfo({ headers: { authorization: 'Bearer a.b.c' } }), 'garbage JWT');
      const tokens = await flow();
      const { exp } = decodeJwt(tokens.access_token);
      try {
        t.mock.timers.enable({ apis: ['Date'], now: (exp! + 1) * 1000 });
        assertInvalidToken(await getUserinfo({ headers: { authorization: `Bearer ${tokens.access_token}` } }), 'expired');
      } finally {
        t.mock.timers.reset();
      }
      assert.equal((await getUserinfo({ headers: { authorization: `Bearer ${tokens.access_token}` } })).status, 200, 'the same token before exp');
    });

    test('J69: tokens not meant for userinfo are 401 invalid_token: a client-credentials token, a token without openid', async () => {
      const cc = await postForm(`${s.issuer}/token`, { grant_type: 'client_credentials' }, { basic: service });
      assert.equal(cc.status, 200, cc.text);
      assertInvalidToken(await getUserinfo({ headers: { authorization: `Bearer ${cc.body.access_token}` } }), 'a client-credentials token');

      const apiOnly = await flow({ scope: 'orders:read' });
      assert.equal(apiOnly.scope, 'orders:read');
      assert.equal('id_token' in apiOnly, false);
      assertInvalidToken(await getUserinfo({ headers: { authorization: `Bearer ${apiOnly.access_token}` } }), 'a token without openid');
    });

    test('J69: another authentication scheme (Basic) is no token: a bare challenge, no error code (RFC 6750 §3.1)', async () => {
      const res = await fetch(`${s.issuer}/userinfo`, { headers: { authorization: 'Basic YWxpY2U6c2VjcmV0' } });
      assert.equal(res.status, 401);
      assert.equal(res.headers.get('www-authenticate'), 'Bearer realm="latchkey", DPoP algs="ES256 ES384 PS256 RS256 EdDSA"');
    });

    test('J69: a token in both the header and the body is 400 invalid_request', async () => {
      const tokens = await flow();
      // RFC 6750 §2: "Clients MUST NOT use more than one method to transmit the token in each request."
      const res = await getUserinfo({
        method: 'POST',
        headers: { authorization: `Bearer ${tokens.access_token}` },
        body: new URLSearchParams({ access_token: tokens.access_token }).toString(),
      });
      assert.equal(res.status, 400, res.text);
      assert.equal(res.body.error, 'invalid_request');
    });

    test("J69: a disabled user's token is 401 invalid_token", async () => {
      await users.create({ username: 'carol', password: PASSWORD, email: 'carol@example.com', name: 'Carol' });
      const tokens = await flow({ username: 'carol' }, new FormBrowser());
      const before = await getUserinfo({ headers: { authorization: `Bearer ${tokens.access_token}` } });
      assert.equal(before.status, 200, before.text);
      assert.equal(before.body.preferred_username, 'carol');
      await users.disable('carol');
      assertInvalidToken(await getUserinfo({ headers: { authorization: `Bearer ${tokens.access_token}` } }), 'a disabled user');
    });

    // --- RP-initiated logout ---

    test('logout with id_token_hint and a registered post_logout_redirect_uri: 303 with state, cookie cleared, session ended', async () => {
      const b = new FormBrowser();
      const tokens = await flow({}, b);
      await assertSessionAlive(b, 'before the logout');
      const sessionValue = b.cookies(s.issuer)[SESSION_COOKIE];
      assert.ok(sessionValue);
      const query = new URLSearchParams({ id_token_hint: tokens.id_token!, post_logout_redirect_uri: BYE, state: 'xyz' });
      const res = await b.get(`${s.issuer}/logout?${query}`);
      // RP-Initiated Logout §3: the OP redirects to the post_logout_redirect_uri with state.
      assert.equal(res.status, 303, res.text.slice(0, 300));
      assert.equal(res.location, `${BYE}?state=xyz`);
      const cleared = res.headers.getSetCookie().find((c) => c.startsWith(`${SESSION_COOKIE}=`));
      assert.ok(cleared, 'the session cookie is cleared');
      assert.match(cleared, new RegExp(`^${SESSION_COOKIE}=;.*Max-Age=0`));
      assert.equal(b.cookies(s.issuer)[SESSION_COOKIE], undefined);
      await assertSessionEnded(b, 'after the logout');
      // The session is gone on the server too: the old cookie no longer works.
      b.setCookie(s.issuer, SESSION_COOKIE, sessionValue);
      await assertSessionEnded(b, 'with the old cookie put back');
    });

    test('logout to an unregistered post_logout_redirect_uri is a 400 page and the session survives', async () => {
      const b = new FormBrowser();
      const tokens = await flow({}, b);
      for (const uri of ['https://evil.example/bye', `${BYE}/more`, `${BYE}?x=1`, REDIRECT_URI]) {
        const query = new URLSearchParams({ id_token_hint: tokens.id_token!, post_logout_redirect_uri: uri, state: 'xyz' });
        const res = await b.get(`${s.issuer}/logout?${query}`);
        assert.equal(res.status, 400, uri);
        assert.equal(res.location, undefined, uri);
        assert.match(res.headers.get('content-type') ?? '', /^text\/html/);
        assert.deepEqual(res.headers.getSetCookie(), [], uri);
      }
      await assertSessionAlive(b, 'after the refused logouts');
    });

    test('logout with a bad id_token_hint is a 400 page and the session survives', async () => {
      const b = new FormBrowser();
      const tokens = await flow({}, b);
      const { privateKey } = await generateKeyPair('RS256');
      const forged = await new SignJWT({})
        .setProtectedHeader({ alg: 'RS256', typ: 'JWT', kid: decodeProtectedHeader(tokens.id_token!).kid! })
        .setIssuer(s.issuer)
        .setSubject(seed.user.id)
        .setAudience(seed.publicClient)
        .setIssuedAt()
        .setExpirationTime('5m')
        .sign(privateKey);
      // The genuine header and signature around a payload naming someone else.
      const [h, , sig] = tokens.id_token!.split('.');
      const tampered = `${h}.${Buffer.from(JSON.stringify({ ...decodeJwt(tokens.id_token!), sub: 'someone-else' })).toString('base64url')}.${sig}`;
      const hints = { garbage: 'not-a-jwt', 'three garbage parts': 'a.b.c', forged, tampered, 'an access token': tokens.access_token };
      for (const [what, hint] of Object.entries(hints)) {
        const query = new URLSearchParams({ id_token_hint: hint, post_logout_redirect_uri: BYE, state: 'xyz' });
        const res = await b.get(`${s.issuer}/logout?${query}`);
        assert.equal(res.status, 400, what);
        assert.equal(res.location, undefined, what);
        assert.deepEqual(res.headers.getSetCookie(), [], what);
      }
      await assertSessionAlive(b, 'after the refused logouts');
    });

    test('logout without id_token_hint asks for confirmation; only the POST of that CSRF-protected form ends the session', async () => {
      const b = new FormBrowser();
      await flow({}, b);
      const query = new URLSearchParams({ client_id: seed.publicClient, post_logout_redirect_uri: BYE, state: 'abc' });
      const confirm = await b.get(`${s.issuer}/logout?${query}`);
      assert.equal(confirm.status, 200, confirm.text.slice(0, 300));
      assert.match(confirm.headers.get('content-type') ?? '', /^text\/html/);
      const [form] = b.forms(confirm.text, confirm.url);
      assert.ok(form, 'a confirmation form');
      assert.equal(form.method, 'post');
      assert.equal(form.action, `${s.issuer}/logout`);
      const csrf = form.inputs.find((i) => i.name === 'csrf_token');
      assert.ok(csrf?.value, 'the form carries a CSRF token');
      await assertSessionAlive(b, 'after the GET');

      // A cross-site POST without the token, or with a wrong one, only shows the confirmation again.
      const carried = { client_id: seed.publicClient, post_logout_redirect_uri: BYE, state: 'abc' };
      for (const forged of [carried, { ...carried, csrf_token: `${csrf.value.slice(0, -2)}xx` }]) {
        const res = await b.post(`${s.issuer}/logout`, forged);
        assert.equal(res.status, 200);
        assert.equal(res.location, undefined);
        assert.deepEqual(res.headers.getSetCookie(), []);
      }
      await assertSessionAlive(b, 'after the forged POSTs');

      const done = await b.submit(confirm, form);
      assert.equal(done.status, 303, done.text.slice(0, 300));
      assert.equal(done.location, `${BYE}?state=abc`);
      assert.equal(b.cookies(s.issuer)[SESSION_COOKIE], undefined);
      await assertSessionEnded(b, 'after the confirmed logout');
    });
  });
}
