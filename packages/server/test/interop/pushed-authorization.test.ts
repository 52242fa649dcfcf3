import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import * as oauth from 'oauth4webapi';
import * as client from 'openid-client';
import { backends, FormBrowser, type RunningServer, seedUserFlow, startServer, type TestDatabase, type UserFlowSeed } from '@latchkey/testing';
import { driveAuthorization } from './drive-browser.ts';

/**
 * Interop for pushed authorization requests (RFC 9126): `openid-client` (buildAuthorizationUrlWithPAR)
 * and `oauth4webapi` (pushedAuthorizationRequest, processPushedAuthorizationResponse) push the request
 * the way they do for any server, find the endpoint by discovery, build the authorization URL from the
 * request_uri, and complete the code flow with their own checks (iss, state, nonce, ID token
 * signature). Latchkey requires PAR of every client here, so a flow that did not really push would
 * fail. The issuer is http://127.0.0.1:<port>, hence the libraries' allowInsecureRequests switches.
 */
for (const backend of await backends()) {
  describe(`interop: pushed authorization requests with openid-client and oauth4webapi (${backend.name})`, { skip: backend.skip }, () => {
    let db: TestDatabase;
    let s: RunningServer;
    let seed: UserFlowSeed;

    before(async () => {
      db = await backend.create();
      s = await startServer(db, { requirePar: true });
      seed = await seedUserFlow(s);
    });
    after(async () => {
      await s?.close();
      await db?.drop();
    });

    test('openid-client: buildAuthorizationUrlWithPAR, login and consent, authorizationCodeGrant (confidential, client_secret_basic)', async () => {
      const config = await client.discovery(new URL(s.issuer), seed.confidential.clientId, undefined, client.ClientSecretBasic(seed.confidential.clientSecret), {
        execute: [client.allowInsecureRequests, client.enableNonRepudiationChecks],
      });
      assert.equal(config.serverMetadata().pushed_authorization_request_endpoint, `${s.issuer}/par`);
      assert.equal(config.serverMetadata().require_pushed_authorization_requests, true);
      const verifier = client.randomPKCECodeVerifier();
      const state = client.randomState();
      const nonce = client.randomNonce();
      const url = await client.buildAuthorizationUrlWithPAR(config, {
        redirect_uri: seed.redirectUri,
        scope: 'openid profile orders:read',
        state,
        nonce,
        code_challenge: await client.calculatePKCECodeChallenge(verifier),
        code_challenge_method: 'S256',
      });
      // RFC 9126 §4: the browser carries client_id and the request_uri only.
      assert.deepEqual([...url.searchParams.keys()].sort(), ['client_id', 'request_uri']);
      const callback = await driveAuthorization(new FormBrowser(), s.issuer, url);
      const tokens = await client.authorizationCodeGrant(config, callback, { pkceCodeVerifier: verifier, expectedState: state, expectedNonce: nonce });
      assert.ok(tokens.access_token);
      assert.equal(tokens.scope, 'openid profile orders:read');
      assert.equal(tokens.claims()?.nonce, nonce);
      // The request_uri was spent: the same URL again is an error page, not a second code.
      const again = await new FormBrowser().get(url.href);
      assert.equal(again.status, 400);
    });

    test('oauth4webapi: pushedAuthorizationRequest, login and consent, the code exchanged (public client, none)', async () => {
      const issuer = new URL(s.issuer);
      const as = await oauth.processDiscoveryResponse(issuer, await oauth.discoveryRequest(issuer, { [oauth.allowInsecureRequests]: true }));
      const publicClient: oauth.Client = { client_id: seed.publicClient, token_endpoint_auth_method: 'none' };
      const verifier = oauth.generateRandomCodeVerifier();
      const state = oauth.generateRandomState();
      const nonce = oauth.generateRandomNonce();
      const response = await oauth.pushedAuthorizationRequest(
        as,
        publicClient,
        oauth.None(),
        {
          response_type: 'code',
          redirect_uri: seed.redirectUri,
          scope: 'openid orders:read',
          state,
          nonce,
          code_challenge: await oauth.calculatePKCECodeChallenge(verifier),
          code_challenge_method: 'S256',
        },
        { [oauth.allowInsecureRequests]: true },
      );
      const pushed = await oauth.processPushedAuthorizationResponse(as, publicClient, response);
      assert.equal(pushed.expires_in, 60);
      const url = new URL(as.authorization_endpoint!);
      url.searchParams.set('client_id', publicClient.client_id);
      url.searchParams.set('request_uri', pushed.request_uri);
      const callback = await driveAuthorization(new FormBrowser(), s.issuer, url);
      const params = oauth.validateAuthResponse(as, publicClient, callback, state);
      const tokenResponse = await oauth.authorizationCodeGrantRequest(as, publicClient, oauth.None(), params, seed.redirectUri, verifier, {
        [oauth.allowInsecureRequests]: true,
      });
      const tokens = await oauth.processAuthorizationCodeResponse(as, publicClient, tokenResponse, { expectedNonce: nonce, requireIdToken: true });
      await oauth.validateApplicationLevelSignature(as, tokenResponse, { [oauth.allowInsecureRequests]: true });
      assert.equal(tokens.scope, 'openid orders:read');
      assert.equal(oauth.getValidatedIdTokenClaims(tokens)?.nonce, nonce);
    });

    test('oauth4webapi: a PAR error is an OAuth error response the library reads (RFC 9126 §2.3)', async () => {
      const issuer = new URL(s.issuer);
      const as = await oauth.processDiscoveryResponse(issuer, await oauth.discoveryRequest(issuer, { [oauth.allowInsecureRequests]: true }));
      const publicClient: oauth.Client = { client_id: seed.publicClient, token_endpoint_auth_method: 'none' };
      const response = await oauth.pushedAuthorizationRequest(
        as,
        publicClient,
        oauth.None(),
        { response_type: 'code', redirect_uri: 'https://evil.example/cb', scope: 'openid', code_challenge: 'x'.repeat(43), code_challenge_method: 'S256' },
        { [oauth.allowInsecureRequests]: true },
      );
      await assert.rejects(oauth.processPushedAuthorizationResponse(as, publicClient, response), (err: unknown) => {
        assert.ok(err instanceof oauth.ResponseBodyError, String(err));
        assert.equal(err.error, 'invalid_request');
        assert.equal(err.status, 400);
        return true;
      });
    });
  });
}
