import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import * as client from 'openid-client';
import { backends, FormBrowser, type RunningServer, seedUserFlow, startServer, type TestDatabase, type UserFlowSeed } from '@latchkey/testing';
import { driveAuthorization } from './drive-browser.ts';

/**
 * Interop: `openid-client` (v6, panva's certified OpenID Connect relying party library, pinned in
 * packages/server's devDependencies) drives Latchkey exactly as an application would: discovery, the
 * authorization code flow with PKCE, state, nonce and the RFC 9207 `iss` check (the login and consent
 * pages are driven by the FormBrowser from the URL the library built), ID tokens verified against the
 * JWKS (enableNonRepudiationChecks), refresh with rotation, userinfo, client credentials, introspection
 * and revocation. Nothing here is shaped by Latchkey's own code: the library's checks are the test.
 *
 * Runs on both storage backends (SQLite, and PostgreSQL when it is reachable; see helpers/backends.ts):
 * one server per backend, a few seconds each.
 *
 * The issuer is http://127.0.0.1:<port>, so every configuration gets `client.allowInsecureRequests`,
 * the library's documented switch for non-TLS development servers. The refresh grace window is 0 so
 * that a rotated refresh token fails at once (with the default 5 s a retry gets the same successor).
 */

/**
 * Awaits a rejection whose message or cause (openid-client wraps oauth4webapi's errors, which name the
 * failed check) matches `pattern`: a rejection for some other reason fails the test.
 */
async function rejectsWith(promise: Promise<unknown>, pattern: RegExp): Promise<void> {
  await assert.rejects(promise, (err: unknown) => {
    const e = err as Error & { cause?: { message?: string } };
    const text = `${e.message} | ${e.cause?.message ?? ''}`;
    assert.match(text, pattern);
    return true;
  });
}

/** Awaits an OAuth error response (RFC 6749 §5.2) with the given `error` code. */
async function rejectsWithOAuthError(promise: Promise<unknown>, code: string): Promise<void> {
  await assert.rejects(promise, (err: unknown) => {
    assert.ok(err instanceof client.ResponseBodyError, String(err));
    assert.equal(err.error, code);
    return true;
  });
}

for (const backend of await backends()) {
  describe(`interop: openid-client drives Latchkey (${backend.name})`, { skip: backend.skip }, () => {
    let db: TestDatabase;
    let s: RunningServer;
    let seed: UserFlowSeed;
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
    });
    after(async () => {
      await s?.close();
      await db?.drop();
    });

    /** Requests the library made, for checking how it authenticated. */
    interface Seen {
      url: string;
      headers: Headers;
      body: string;
    }

    /** `discovery` as an application would call it, plus the switches these tests need. */
    const discover = async (clientId: string, auth: client.ClientAuth, seen?: Seen[]) => {
      const config = await client.discovery(new URL(s.issuer), clientId, undefined, auth, {
        execute: [client.allowInsecureRequests, client.enableNonRepudiationChecks],
      });
      if (seen) {
        config[client.customFetch] = async (url, options) => {
          seen.push({ url, headers: new Headers(options.headers), body: String(options.body ?? '') });
          return fetch(url, options as RequestInit);
        };
      }
      return config;
    };
    const publicConfig = () => discover(seed.publicClient, client.None());
    const confidentialConfig = (seen?: Seen[]) =>
      discover(seed.confidential.clientId, client.ClientSecretBasic(seed.confidential.clientSecret), seen);
    const serviceConfig = () => discover(service.clientId, client.ClientSecretBasic(service.clientSecret));

    /** The browser half of a code flow: the library builds the URL, the user logs in and allows. */
    const authorize = async (config: client.Configuration, extra: Record<string, string> = {}) => {
      const verifier = client.randomPKCECodeVerifier();
      const state = client.randomState();
      const nonce = client.randomNonce();
      const url = client.buildAuthorizationUrl(config, {
        redirect_uri: seed.redirectUri,
        scope: 'openid profile email offline_access orders:read',
        state,
        nonce,
        code_challenge: await client.calculatePKCECodeChallenge(verifier),
        code_challenge_method: 'S256',
        ...extra,
      });
      const callback = await driveAuthorization(browser, s.issuer, url);
      return { callback, verifier, state, nonce };
    };

    /** A complete code flow through the library's callback handling, with every check it offers. */
    const signIn = async (config: client.Configuration) => {
      const { callback, verifier, state, nonce } = await authorize(config);
      return client.authorizationCodeGrant(config, callback, { pkceCodeVerifier: verifier, expectedState: state, expectedNonce: nonce });
    };

    test('discovery: the OpenID configuration is accepted and names this issuer and its endpoints', async () => {
      const config = await publicConfig();
      const metadata = config.serverMetadata();
      assert.equal(metadata.issuer, s.issuer);
      assert.equal(metadata.authorization_endpoint, `${s.issuer}/authorize`);
      assert.equal(metadata.token_endpoint, `${s.issuer}/token`);
      assert.equal(metadata.jwks_uri, `${s.issuer}/jwks`);
      assert.equal(metadata.authorization_response_iss_parameter_supported, true);
      assert.ok(metadata.supportsPKCE('S256'));
      // Without the switch the library refuses the http issuer: the switch is what these tests rely on.
      await assert.rejects(client.discovery(new URL(s.issuer), seed.publicClient), /https/i);
    });

    test('code flow, public client (none + PKCE): iss, state, nonce and the ID token signature are checked', async () => {
      const config = await publicConfig();
      const { callback, verifier, state, nonce } = await authorize(config);
      const checks = { pkceCodeVerifier: verifier, expectedState: state, expectedNonce: nonce };
      // RFC 9207 §2: the authorization response carries the issuer.
      assert.equal(callback.searchParams.get('iss'), s.issuer);
      assert.equal(callback.searchParams.get('state'), state);

      // The library's own checks reject a tampered response before the code is spent.
      const wrongIss = new URL(callback);
      wrongIss.searchParams.set('iss', 'https://evil.example');
      await rejectsWith(client.authorizationCodeGrant(config, wrongIss, checks), /unexpected "iss"/);
      // The metadata says every response has `iss`, so one without it is refused (RFC 9207 §2.4).
      const noIss = new URL(callback);
      noIss.searchParams.delete('iss');
      await rejectsWith(client.authorizationCodeGrant(config, noIss, checks), /"iss" \(issuer\) missing/);
      const otherState = { ...checks, expectedState: 'another-state' };
      await rejectsWith(client.authorizationCodeGrant(config, callback, otherState), /unexpected "state"/);

      const tokens = await client.authorizationCodeGrant(config, callback, checks);
      assert.equal(tokens.token_type.toLowerCase(), 'bearer');
      assert.ok(tokens.access_token);
      assert.ok(tokens.refresh_token, 'offline_access was granted');
      const claims = tokens.claims();
      assert.ok(claims);
      assert.equal(claims.iss, s.issuer);
      assert.equal(claims.sub, seed.user.id);
      assert.equal(claims.aud, seed.publicClient);
      assert.equal(claims.nonce, nonce);
      assert.equal(tokens.scope, 'openid profile email offline_access orders:read');
    });

    test('code flow: a wrong PKCE verifier is refused by Latchkey (invalid_grant)', async () => {
      const config = await publicConfig();
      const { callback, state, nonce } = await authorize(config);
      const wrongVerifier = { pkceCodeVerifier: client.randomPKCECodeVerifier(), expectedState: state, expectedNonce: nonce };
      await rejectsWithOAuthError(client.authorizationCodeGrant(config, callback, wrongVerifier), 'invalid_grant');
    });

    test('code flow: the ID token carries the nonce of the request, and no other', async () => {
      const config = await publicConfig();
      const { callback, verifier, state } = await authorize(config);
      const otherNonce = { pkceCodeVerifier: verifier, expectedState: state, expectedNonce: 'another-nonce' };
      await rejectsWith(client.authorizationCodeGrant(config, callback, otherNonce), /"nonce"/);
    });

    test('code flow with max_age: the ID token has the auth_time the library then requires (OIDC Core §3.1.2.1)', async () => {
      const config = await publicConfig();
      const { callback, verifier, state, nonce } = await authorize(config, { max_age: '600' });
      const checks = { pkceCodeVerifier: verifier, expectedState: state, expectedNonce: nonce, maxAge: 600 };
      const tokens = await client.authorizationCodeGrant(config, callback, checks);
      const authTime = tokens.claims()?.auth_time;
      assert.equal(typeof authTime, 'number');
      assert.ok(Math.abs(Date.now() / 1000 - authTime!) < 600);
    });

    test('acr and amr (OIDC Core §2, RFC 8176): the ID token says how the user signed in, the access token and introspection say the same, a refresh keeps it', async () => {
      const metadata = (await publicConfig()).serverMetadata();
      assert.deepEqual(metadata.acr_values_supported, ['urn:latchkey:acr:password', 'urn:latchkey:acr:mfa', 'phr']);
      assert.ok(metadata.claims_supported?.includes('acr') && metadata.claims_supported.includes('amr'));
      const config = await confidentialConfig();
      // acr_values is voluntary (OIDC Core §3.1.2.1): the answer says what the sign-in was.
      const { callback, verifier, state, nonce } = await authorize(config, { acr_values: 'phr urn:latchkey:acr:password' });
      const tokens = await client.authorizationCodeGrant(config, callback, { pkceCodeVerifier: verifier, expectedState: state, expectedNonce: nonce });
      const idClaims = tokens.claims()!;
      assert.equal(idClaims.acr, 'urn:latchkey:acr:password');
      assert.deepEqual(idClaims.amr, ['pwd']);
      assert.equal(typeof idClaims.auth_time, 'number');
      // RFC 9068 §2.2.1: the JWT access token carries auth_time, acr and amr of the same sign-in.
      const accessClaims = JSON.parse(Buffer.from(tokens.access_token.split('.')[1]!, 'base64url').toString()) as Record<string, unknown>;
      assert.deepEqual([accessClaims.auth_time, accessClaims.acr, accessClaims.amr], [idClaims.auth_time, idClaims.acr, idClaims.amr]);
      // RFC 9470 §6.2: introspection gives them to a resource server that cannot read the token.
      const active = await client.tokenIntrospection(config, tokens.access_token);
      assert.deepEqual([active.auth_time, active.acr, active.amr], [idClaims.auth_time, idClaims.acr, idClaims.amr]);
      // OIDC Core §12.2: a refreshed ID token keeps auth_time; acr and amr stay those of the sign-in.
      const refreshed = await client.refreshTokenGrant(config, tokens.refresh_token!);
      assert.deepEqual([refreshed.claims()?.auth_time, refreshed.claims()?.acr, refreshed.claims()?.amr], [idClaims.auth_time, idClaims.acr, idClaims.amr]);
      // No user signed in for a client-credentials token: none of the three.
      const service = await client.clientCredentialsGrant(await serviceConfig(), { scope: 'orders:read' });
      const serviceInfo = await client.tokenIntrospection(await serviceConfig(), service.access_token);
      assert.equal(serviceInfo.active, true);
      assert.deepEqual([serviceInfo.auth_time, serviceInfo.acr, serviceInfo.amr], [undefined, undefined, undefined]);
    });

    test('code flow: an ID token whose signature does not verify with the JWKS is rejected', async () => {
      const config = await publicConfig();
      // Flip one signature character of the ID token on its way back from the token endpoint.
      config[client.customFetch] = async (url, options) => {
        const res = await fetch(url, options as RequestInit);
        if (!url.endsWith('/token')) return res;
        const body = (await res.json()) as Record<string, string>;
        const idToken = body.id_token!;
        const last = idToken.at(-2) === 'A' ? 'B' : 'A';
        body.id_token = `${idToken.slice(0, -2)}${last}${idToken.at(-1)}`;
        return new Response(JSON.stringify(body), { status: res.status, headers: res.headers });
      };
      const { callback, verifier, state, nonce } = await authorize(config);
      const checks = { pkceCodeVerifier: verifier, expectedState: state, expectedNonce: nonce };
      await rejectsWith(client.authorizationCodeGrant(config, callback, checks), /JWT signature verification failed/);
    });

    test('code flow, confidential client (client_secret_basic): the secret goes in the Authorization header', async () => {
      const seen: Seen[] = [];
      const config = await confidentialConfig(seen);
      const tokens = await signIn(config);
      assert.equal(tokens.claims()?.aud, seed.confidential.clientId);
      assert.equal(tokens.claims()?.sub, seed.user.id);
      const tokenRequest = seen.find((r) => r.url === `${s.issuer}/token`);
      assert.ok(tokenRequest);
      assert.match(tokenRequest.headers.get('authorization') ?? '', /^Basic /);
      assert.doesNotMatch(tokenRequest.body, /client_secret=/);
    });

    test('refresh: the refresh token rotates, and the spent one is then refused', async () => {
      const config = await publicConfig();
      const first = await signIn(config);
      const sub = first.claims()!.sub;
      const refreshed = await client.refreshTokenGrant(config, first.refresh_token!);
      assert.ok(refreshed.refresh_token);
      assert.notEqual(refreshed.refresh_token, first.refresh_token);
      assert.notEqual(refreshed.access_token, first.access_token);
      // The library validates the refreshed ID token too (same issuer, audience and subject).
      assert.equal(refreshed.claims()?.sub, sub);

      await rejectsWithOAuthError(client.refreshTokenGrant(config, first.refresh_token!), 'invalid_grant');
    });

    test('revocation by a public client (none, RFC 7009 §2.1): its refresh token then fails', async () => {
      const config = await publicConfig();
      const tokens = await signIn(config);
      await client.tokenRevocation(config, tokens.refresh_token!, { token_type_hint: 'refresh_token' });
      await rejectsWithOAuthError(client.refreshTokenGrant(config, tokens.refresh_token!), 'invalid_grant');
    });

    test('userinfo: the claims of the signed-in user, for the expected subject', async () => {
      const config = await publicConfig();
      const tokens = await signIn(config);
      const info = await client.fetchUserInfo(config, tokens.access_token, seed.user.id);
      assert.equal(info.sub, seed.user.id);
      assert.equal(info.email, 'alice@example.com');
      assert.equal(info.name, 'Alice Liddell');
      assert.equal(info.preferred_username, 'alice');
      // The library refuses an answer about another subject (OIDC Core §5.3.2).
      await rejectsWith(client.fetchUserInfo(config, tokens.access_token, 'someone-else'), /"sub"/);
    });

    test('client credentials, then introspection and revocation by the same client', async () => {
      const config = await serviceConfig();
      const tokens = await client.clientCredentialsGrant(config, { scope: 'orders:read' });
      assert.equal(tokens.token_type.toLowerCase(), 'bearer');
      assert.equal(tokens.scope, 'orders:read');
      assert.equal(tokens.refresh_token, undefined);

      const active = await client.tokenIntrospection(config, tokens.access_token);
      assert.equal(active.active, true);
      assert.equal(active.client_id, service.clientId);
      assert.equal(active.scope, 'orders:read');
      assert.equal(active.aud, seed.api);
      assert.equal(active.iss, s.issuer);

      await client.tokenRevocation(config, tokens.access_token, { token_type_hint: 'access_token' });
      const revoked = await client.tokenIntrospection(config, tokens.access_token);
      assert.deepEqual(revoked, { active: false });
    });

    test("a confidential code-flow client introspects its user's access token and revokes its refresh token", async () => {
      const config = await confidentialConfig();
      const tokens = await signIn(config);
      const active = await client.tokenIntrospection(config, tokens.access_token);
      assert.equal(active.active, true);
      assert.equal(active.sub, seed.user.id);
      assert.equal(active.client_id, seed.confidential.clientId);

      await client.tokenRevocation(config, tokens.refresh_token!, { token_type_hint: 'refresh_token' });
      await rejectsWithOAuthError(client.refreshTokenGrant(config, tokens.refresh_token!), 'invalid_grant');
    });
  });
}
