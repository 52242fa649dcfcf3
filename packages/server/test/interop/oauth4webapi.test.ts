import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import * as oauth from 'oauth4webapi';
import { backends, FormBrowser, type RunningServer, seedUserFlow, startServer, type TestDatabase, type UserFlowSeed } from '@latchkey/testing';
import { driveAuthorization } from './drive-browser.ts';

/**
 * Interop: `oauth4webapi` (v3, panva's certified low-level OAuth 2 / OpenID Connect library, pinned in
 * packages/server's devDependencies) as client and as resource server: discovery by both the OpenID
 * Connect and the RFC 8414 well-known URLs, the authorization code flow with PKCE, state, nonce and the
 * RFC 9207 `iss` check (the login and consent pages are driven by the FormBrowser from the URL built
 * from the discovered metadata), the ID token's signature checked against the JWKS
 * (validateApplicationLevelSignature), refresh with rotation, userinfo, client credentials,
 * introspection and revocation; and `validateJwtAccessToken`, the library's RFC 9068 resource-server
 * check, accepting Latchkey's access tokens for the API and refusing its ID tokens.
 *
 * Runs on both storage backends (SQLite, and PostgreSQL when it is reachable; see helpers/backends.ts):
 * one server per backend, a few seconds each.
 *
 * The issuer is http://127.0.0.1:<port>, so every request passes `[oauth.allowInsecureRequests]: true`,
 * the library's documented switch for non-TLS development servers. The refresh grace window is 0 so
 * that a rotated refresh token fails at once (with the default 5 s a retry gets the same successor).
 */

const INSECURE = { [oauth.allowInsecureRequests]: true } as const;

for (const backend of await backends()) {
  describe(`interop: oauth4webapi drives Latchkey (${backend.name})`, { skip: backend.skip }, () => {
    let db: TestDatabase;
    let s: RunningServer;
    let seed: UserFlowSeed;
    let as: oauth.AuthorizationServer;
    /** A confidential client-credentials client of the orders API. */
    let service: { clientId: string; clientSecret: string };
    /** Alice's browser: logged in once, her consents remembered. */
    let browser: FormBrowser;

    before(async () => {
      db = await backend.create();
      s = await startServer(db, { refreshGraceSeconds: 0 });
      seed = await seedUserFlow(s);
      const svc = await s.registry.createClient({
        name: 'svc-a',
        type: 'confidential',
        grantTypes: ['client_credentials'],
        scopes: ['orders:read'],
      });
      service = { clientId: svc.client.clientId, clientSecret: svc.clientSecret! };
      browser = new FormBrowser();
      const issuer = new URL(s.issuer);
      as = await oauth.processDiscoveryResponse(issuer, await oauth.discoveryRequest(issuer, INSECURE));
    });
    after(async () => {
      await s?.close();
      await db?.drop();
    });

    const publicClient = (): oauth.Client => ({ client_id: seed.publicClient, token_endpoint_auth_method: 'none' });
    const confidentialClient = (): oauth.Client => ({
      client_id: seed.confidential.clientId,
      token_endpoint_auth_method: 'client_secret_basic',
    });

    /** A request to the API carrying the token as RFC 6750 §2.1 says. */
    const apiRequest = (token: string) => new Request(`${seed.api}/orders`, { headers: { authorization: `Bearer ${token}` } });

    /**
     * A complete code flow: the authorization URL built from the discovered metadata, the browser half,
     * validateAuthResponse (iss and state), the code exchange with the PKCE verifier, and the token
     * response processed with the expected nonce and the ID token's signature checked with the JWKS.
     */
    const signIn = async (client: oauth.Client, auth: oauth.ClientAuth) => {
      const verifier = oauth.generateRandomCodeVerifier();
      const state = oauth.generateRandomState();
      const nonce = oauth.generateRandomNonce();
      const url = new URL(as.authorization_endpoint!);
      url.search = new URLSearchParams({
        response_type: 'code',
        client_id: client.client_id,
        redirect_uri: seed.redirectUri,
        scope: 'openid profile email offline_access orders:read',
        state,
        nonce,
        code_challenge: await oauth.calculatePKCECodeChallenge(verifier),
        code_challenge_method: 'S256',
      }).toString();
      const callback = await driveAuthorization(browser, s.issuer, url);
      const params = oauth.validateAuthResponse(as, client, callback, state);
      const response = await oauth.authorizationCodeGrantRequest(as, client, auth, params, seed.redirectUri, verifier, INSECURE);
      const tokens = await oauth.processAuthorizationCodeResponse(as, client, response, { expectedNonce: nonce, requireIdToken: true });
      await oauth.validateApplicationLevelSignature(as, response, INSECURE);
      const claims = oauth.getValidatedIdTokenClaims(tokens);
      assert.ok(claims);
      return { tokens, claims, callback, state, nonce };
    };

    test('discovery: the OpenID configuration and the RFC 8414 metadata are accepted for this issuer', async () => {
      assert.equal(as.issuer, s.issuer);
      assert.equal(as.authorization_response_iss_parameter_supported, true);
      assert.ok(as.code_challenge_methods_supported?.includes('S256'));
      const issuer = new URL(s.issuer);
      const rfc8414 = await oauth.processDiscoveryResponse(issuer, await oauth.discoveryRequest(issuer, { ...INSECURE, algorithm: 'oauth2' }));
      assert.equal(rfc8414.issuer, s.issuer);
      assert.equal(rfc8414.token_endpoint, as.token_endpoint);
      // A document for another issuer is refused (RFC 8414 §3.3), so the check is live.
      await assert.rejects(
        oauth.processDiscoveryResponse(new URL('http://127.0.0.1:1'), await oauth.discoveryRequest(issuer, INSECURE)),
        /"issuer"/,
      );
    });

    test('code flow, public client (none + PKCE): iss and state validated, nonce and ID token signature checked', async () => {
      const { tokens, claims, callback, nonce } = await signIn(publicClient(), oauth.None());
      // RFC 9207 §2: the authorization response carries the issuer.
      assert.equal(callback.searchParams.get('iss'), s.issuer);
      assert.equal(claims.iss, s.issuer);
      assert.equal(claims.sub, seed.user.id);
      assert.equal(claims.aud, seed.publicClient);
      assert.equal(claims.nonce, nonce);
      assert.equal(tokens.token_type, 'bearer');
      assert.ok(tokens.refresh_token, 'offline_access was granted');
      assert.equal(tokens.scope, 'openid profile email offline_access orders:read');
    });

    test('validateAuthResponse refuses a callback with a wrong or missing iss (RFC 9207) or a wrong state', async () => {
      const client = publicClient();
      const callback = new URL(`${seed.redirectUri}?code=abc&state=s1&iss=${encodeURIComponent(s.issuer)}`);
      assert.equal(oauth.validateAuthResponse(as, client, callback, 's1').get('code'), 'abc');
      const wrongIss = new URL(callback);
      wrongIss.searchParams.set('iss', 'https://evil.example');
      assert.throws(() => oauth.validateAuthResponse(as, client, wrongIss, 's1'), /unexpected "iss"/);
      const noIss = new URL(callback);
      noIss.searchParams.delete('iss');
      assert.throws(() => oauth.validateAuthResponse(as, client, noIss, 's1'), /"iss" \(issuer\) missing/);
      assert.throws(() => oauth.validateAuthResponse(as, client, callback, 's2'), /unexpected "state"/);
    });

    test('code flow, confidential client (client_secret_basic)', async () => {
      const { claims, tokens } = await signIn(confidentialClient(), oauth.ClientSecretBasic(seed.confidential.clientSecret));
      assert.equal(claims.aud, seed.confidential.clientId);
      assert.equal(claims.sub, seed.user.id);
      assert.ok(tokens.refresh_token);
    });

    test('refresh: the refresh token rotates, and the spent one is then refused', async () => {
      const client = publicClient();
      const { tokens, claims } = await signIn(client, oauth.None());
      const response = await oauth.refreshTokenGrantRequest(as, client, oauth.None(), tokens.refresh_token!, INSECURE);
      const refreshed = await oauth.processRefreshTokenResponse(as, client, response);
      await oauth.validateApplicationLevelSignature(as, response, INSECURE);
      assert.ok(refreshed.refresh_token);
      assert.notEqual(refreshed.refresh_token, tokens.refresh_token);
      assert.notEqual(refreshed.access_token, tokens.access_token);
      assert.equal(oauth.getValidatedIdTokenClaims(refreshed)?.sub, claims.sub);

      const again = await oauth.refreshTokenGrantRequest(as, client, oauth.None(), tokens.refresh_token!, INSECURE);
      const err = await oauth.processRefreshTokenResponse(as, client, again).then(
        () => assert.fail('a spent refresh token was accepted'),
        (e: unknown) => e,
      );
      assert.ok(err instanceof oauth.ResponseBodyError, String(err));
      assert.equal(err.error, 'invalid_grant');
    });

    test('userinfo: the claims of the signed-in user, for the expected subject', async () => {
      const client = publicClient();
      const { tokens } = await signIn(client, oauth.None());
      const response = await oauth.userInfoRequest(as, client, tokens.access_token, INSECURE);
      const info = await oauth.processUserInfoResponse(as, client, seed.user.id, response);
      assert.equal(info.sub, seed.user.id);
      assert.equal(info.email, 'alice@example.com');
      assert.equal(info.name, 'Alice Liddell');
    });

    test('a public client revokes its access token (none, RFC 7009 §2.1); userinfo then answers an RFC 6750 challenge', async () => {
      const client = publicClient();
      const { tokens } = await signIn(client, oauth.None());
      await oauth.processRevocationResponse(await oauth.revocationRequest(as, client, oauth.None(), tokens.access_token, INSECURE));
      const response = await oauth.userInfoRequest(as, client, tokens.access_token, INSECURE);
      const err = await oauth.processUserInfoResponse(as, client, seed.user.id, response).then(
        () => assert.fail('a revoked access token was accepted at userinfo'),
        (e: unknown) => e,
      );
      // RFC 6750 §3: the library parses Latchkey's WWW-Authenticate header into a Bearer challenge.
      assert.ok(err instanceof oauth.WWWAuthenticateChallengeError, String(err));
      assert.equal(err.status, 401);
      const [challenge] = err.cause;
      assert.equal(challenge?.scheme, 'bearer');
      assert.equal(challenge?.parameters.error, 'invalid_token');
    });

    test('client credentials, then introspection and revocation by the same client', async () => {
      const client: oauth.Client = { client_id: service.clientId };
      const auth = oauth.ClientSecretBasic(service.clientSecret);
      const tokens = await oauth.processClientCredentialsResponse(
        as,
        client,
        await oauth.clientCredentialsGrantRequest(as, client, auth, { scope: 'orders:read' }, INSECURE),
      );
      assert.equal(tokens.token_type, 'bearer');
      assert.equal(tokens.scope, 'orders:read');

      const introspect = async () =>
        oauth.processIntrospectionResponse(as, client, await oauth.introspectionRequest(as, client, auth, tokens.access_token, INSECURE));
      const active = await introspect();
      assert.equal(active.active, true);
      assert.equal(active.client_id, service.clientId);
      assert.equal(active.aud, seed.api);
      assert.equal(active.iss, s.issuer);

      const hint = { ...INSECURE, additionalParameters: { token_type_hint: 'access_token' } };
      await oauth.processRevocationResponse(await oauth.revocationRequest(as, client, auth, tokens.access_token, hint));
      assert.deepEqual(await introspect(), { active: false });
    });

    test('validateJwtAccessToken (RFC 9068) accepts a client-credentials access token for the API', async () => {
      const client: oauth.Client = { client_id: service.clientId };
      const tokens = await oauth.processClientCredentialsResponse(
        as,
        client,
        await oauth.clientCredentialsGrantRequest(as, client, oauth.ClientSecretBasic(service.clientSecret), { scope: 'orders:read' }, INSECURE),
      );
      const claims = await oauth.validateJwtAccessToken(as, apiRequest(tokens.access_token), seed.api, INSECURE);
      assert.equal(claims.iss, s.issuer);
      assert.equal(claims.client_id, service.clientId);
      assert.equal(claims.sub, service.clientId);
      assert.equal(claims.scope, 'orders:read');
    });

    test("validateJwtAccessToken accepts a user's access token for the API, and refuses the ID token and other audiences", async () => {
      const { tokens, claims: idClaims } = await signIn(publicClient(), oauth.None());
      const claims = await oauth.validateJwtAccessToken(as, apiRequest(tokens.access_token), seed.api, INSECURE);
      assert.equal(claims.sub, seed.user.id);
      assert.equal(claims.client_id, seed.publicClient);
      assert.ok(claims.scope?.split(' ').includes('orders:read'));

      // RFC 9068 §4: "Resource servers MUST verify that the typ header value is "at+jwt" or
      // "application/at+jwt" and reject tokens carrying any other type value." The ID token is
      // refused even for its own audience.
      await assert.rejects(validateAs(tokens.id_token!, seed.api), /"typ"/);
      await assert.rejects(validateAs(tokens.id_token!, idClaims.aud as string), /"typ"/);
      // RFC 9068 §4: the audience must name this resource server.
      await assert.rejects(validateAs(tokens.access_token, 'https://other-api.example.com'), /"aud"/);
    });

    const validateAs = (token: string, audience: string) => oauth.validateJwtAccessToken(as, apiRequest(token), audience, INSECURE);
  });
}
