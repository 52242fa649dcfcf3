import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { authorizeInBrowser, backends, FormBrowser, type Latchkey, startLatchkey } from '@latchkey/testing';
import {
  AuthorizationResponseError,
  IdTokenValidationError,
  IssuerMismatchError,
  LatchkeyClient,
  OAuthError,
  StateMismatchError,
} from '../src/index.ts';

/**
 * The authorization code flow with PKCE through the SDK, against a running Latchkey: the request the SDK
 * builds, the browser's login and consent on the server's pages, and handleCallback's checks (RFC 9207
 * iss, state, error responses, the code exchange, the ID token), on SQLite and PostgreSQL.
 */

const SCOPE = 'openid profile email offline_access orders:read';

for (const backend of await backends()) {
  describe(`authorization code + PKCE with the SDK (${backend.name})`, { skip: backend.skip }, () => {
    let lk: Latchkey;
    let client: LatchkeyClient;
    /** Alice's browser: logged in once, her consent remembered. */
    let browser: FormBrowser;

    before(async () => {
      lk = await startLatchkey({ backend });
      client = new LatchkeyClient({ issuer: lk.issuer, clientId: lk.seed.publicClient });
      browser = new FormBrowser();
    });
    after(async () => lk?.close());

    const start = (extra: Record<string, string> = {}) => client.createAuthorizationRequest({ redirectUri: lk.seed.redirectUri, scope: SCOPE, ...extra });

    test('the request carries response_type=code, the client, the redirect URI, the scope, 256-bit state and nonce, and an S256 challenge', async () => {
      const pending = await start({ login_hint: 'alice' });
      const url = new URL(pending.url);
      assert.equal(`${url.origin}${url.pathname}`, `${lk.issuer}/authorize`);
      const p = url.searchParams;
      assert.equal(p.get('response_type'), 'code');
      assert.equal(p.get('client_id'), lk.seed.publicClient);
      assert.equal(p.get('redirect_uri'), lk.seed.redirectUri);
      assert.equal(p.get('scope'), SCOPE);
      assert.equal(p.get('state'), pending.state);
      assert.equal(p.get('nonce'), pending.nonce);
      assert.equal(p.get('login_hint'), 'alice');
      assert.equal(p.get('code_challenge_method'), 'S256');
      assert.equal(p.get('code_challenge'), createHash('sha256').update(pending.codeVerifier).digest('base64url'));
      for (const value of [pending.state, pending.nonce, pending.codeVerifier]) {
        assert.match(value, /^[A-Za-z0-9_-]{43}$/, '32 random bytes, base64url');
      }
      const other = await start();
      assert.notEqual(other.state, pending.state);
      assert.notEqual(other.codeVerifier, pending.codeVerifier);
      await assert.rejects(start({ state: 'mine' }), TypeError, 'the SDK sets state itself');
    });

    test('a public client logs the user in: tokens, a refresh token, and the validated ID token claims', async () => {
      const pending = await start();
      const callback = await authorizeInBrowser(browser, lk.issuer, pending.url);
      const tokens = await client.handleCallback(callback, pending);
      assert.equal(tokens.tokenType, 'Bearer');
      assert.equal(tokens.scope, SCOPE);
      assert.ok(tokens.refreshToken, 'offline_access gives a refresh token');
      assert.ok(tokens.expiresAt! > Date.now() / 1000);
      const claims = tokens.idTokenClaims!;
      assert.equal(claims.sub, lk.seed.user.id);
      assert.equal(claims.aud, lk.seed.publicClient);
      assert.equal(claims.nonce, pending.nonce);
      assert.equal(claims.email, 'alice@example.com');
      // A code works once (OAuth 2.1 §4.1.3).
      await assert.rejects(client.handleCallback(callback, pending), (err: unknown) => err instanceof OAuthError && err.error === 'invalid_grant' && err.status === 400);
    });

    test('a confidential client (client_secret_basic) completes the flow; the callback may be a relative URL', async () => {
      const confidential = new LatchkeyClient({ issuer: lk.issuer, clientId: lk.seed.confidential.clientId, clientSecret: lk.seed.confidential.clientSecret });
      const pending = await confidential.createAuthorizationRequest({ redirectUri: lk.seed.redirectUri, scope: 'openid orders:read' });
      const callback = new URL(await authorizeInBrowser(browser, lk.issuer, pending.url));
      const tokens = await confidential.handleCallback(`${callback.pathname}${callback.search}`, pending);
      assert.equal(tokens.idTokenClaims?.aud, lk.seed.confidential.clientId);
      assert.equal(tokens.refreshToken, undefined, 'no offline_access, no refresh token');
    });

    test('max_age is sent and the ID token auth_time checked', async () => {
      const pending = await start({ max_age: '600' });
      assert.equal(pending.maxAge, 600);
      const tokens = await client.handleCallback(await authorizeInBrowser(browser, lk.issuer, pending.url), pending);
      assert.equal(typeof tokens.idTokenClaims?.auth_time, 'number');
    });

    test('a state that is not this login\'s, or none, is refused before the code is used', async () => {
      const pending = await start();
      const callback = await authorizeInBrowser(browser, lk.issuer, pending.url);
      await assert.rejects(client.handleCallback(callback, { ...pending, state: 'x'.repeat(43) }), StateMismatchError);
      const noState = new URL(callback);
      noState.searchParams.delete('state');
      await assert.rejects(client.handleCallback(noState, pending), (err: unknown) => err instanceof StateMismatchError && err.code === 'ERR_STATE_MISMATCH');
      // The code was not spent: the genuine callback still works.
      await client.handleCallback(callback, pending);
    });

    test('RFC 9207: an iss of another server, or no iss from a server that promises it, is refused', async () => {
      const pending = await start();
      const callback = new URL(await authorizeInBrowser(browser, lk.issuer, pending.url));
      assert.equal(callback.searchParams.get('iss'), lk.issuer);
      const mixedUp = new URL(callback);
      mixedUp.searchParams.set('iss', 'https://evil.example.com');
      await assert.rejects(client.handleCallback(mixedUp, pending), (err: unknown) => {
        assert.ok(err instanceof IssuerMismatchError);
        assert.equal(err.received, 'https://evil.example.com');
        assert.equal(err.expected, lk.issuer);
        return true;
      });
      const trailingSlash = new URL(callback);
      trailingSlash.searchParams.set('iss', `${lk.issuer}/`);
      await assert.rejects(client.handleCallback(trailingSlash, pending), IssuerMismatchError, 'compared as strings, not as URLs');
      const missing = new URL(callback);
      missing.searchParams.delete('iss');
      await assert.rejects(client.handleCallback(missing, pending), (err: unknown) => err instanceof IssuerMismatchError && err.received === null);
    });

    test('the user pressing Deny gives an AuthorizationResponseError access_denied', async () => {
      const pending = await start({ prompt: 'consent' });
      const callback = await authorizeInBrowser(browser, lk.issuer, pending.url, { decision: 'deny' });
      await assert.rejects(client.handleCallback(callback, pending), (err: unknown) => {
        assert.ok(err instanceof AuthorizationResponseError);
        assert.ok(err instanceof OAuthError);
        assert.equal(err.error, 'access_denied');
        assert.equal(err.status, undefined);
        assert.equal(typeof err.error_description, 'string');
        return true;
      });
    });

    test('an ID token whose nonce is not the stored one is refused (IdTokenValidationError nonce)', async () => {
      const pending = await start();
      const callback = await authorizeInBrowser(browser, lk.issuer, pending.url);
      await assert.rejects(client.handleCallback(callback, { ...pending, nonce: 'tampered-nonce' }), (err: unknown) => {
        assert.ok(err instanceof IdTokenValidationError);
        assert.equal(err.check, 'nonce');
        return true;
      });
    });

    test('refresh after the code flow rotates the refresh token and keeps the user', async () => {
      const pending = await start();
      const tokens = await client.handleCallback(await authorizeInBrowser(browser, lk.issuer, pending.url), pending);
      const next = await client.refresh(tokens.refreshToken!, { previous: tokens });
      assert.notEqual(next.refreshToken, tokens.refreshToken);
      assert.notEqual(next.accessToken, tokens.accessToken);
      assert.equal(next.idTokenClaims?.sub, tokens.idTokenClaims?.sub);
      assert.equal(next.idTokenClaims?.nonce, undefined, 'a refreshed ID token carries no nonce');
    });
  });
}
