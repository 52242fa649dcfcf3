import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { authorizeInBrowser, countingFetch, FormBrowser, type Latchkey, startLatchkey } from '@latchkey/testing';
import { LatchkeyClient, OAuthError, SessionExpiredError, type TokenSet } from '../src/index.ts';

/**
 * Refresh (RFC 6749 §6) with Latchkey's rotation: the SDK keeps the new refresh token, the old one is
 * spent, and a TokenSession makes one refresh however many callers want a token at once (a second
 * refresh with the spent token would be taken for theft and revoke the family).
 */
describe('refresh and token sessions', () => {
  let lk: Latchkey;
  let browser: FormBrowser;

  before(async () => {
    // No grace window: a spent refresh token fails at once (the server's default retry window is 5 s).
    lk = await startLatchkey({ settings: { refreshGraceSeconds: 0 } });
    browser = new FormBrowser();
  });
  after(async () => lk?.close());

  /** A client with a request counter, and Alice's tokens from a complete code flow. */
  const signIn = async (scope = 'openid profile offline_access orders:read') => {
    const counter = countingFetch();
    const client = new LatchkeyClient({ issuer: lk.issuer, clientId: lk.seed.publicClient, fetch: counter.fetch });
    const pending = await client.createAuthorizationRequest({ redirectUri: lk.seed.redirectUri, scope });
    const tokens = await client.handleCallback(await authorizeInBrowser(browser, lk.issuer, pending.url), pending);
    return { client, counter, tokens };
  };

  test('rotation: refresh returns a new refresh token, and the old one fails afterwards', async () => {
    const { client, tokens } = await signIn();
    const next = await client.refresh(tokens.refreshToken!, { previous: tokens });
    assert.ok(next.refreshToken);
    assert.notEqual(next.refreshToken, tokens.refreshToken);
    await assert.rejects(client.refresh(tokens.refreshToken!), (err: unknown) => {
      assert.ok(err instanceof OAuthError);
      assert.equal(err.error, 'invalid_grant');
      assert.equal(err.status, 400);
      return true;
    });
    // Reuse revoked the whole family (RFC 9700 §4.14.2), the new token included.
    await assert.rejects(client.refresh(next.refreshToken!), (err: unknown) => err instanceof OAuthError && err.error === 'invalid_grant');
  });

  test('a fresh access token is answered from the session without any request', async () => {
    const { client, counter, tokens } = await signIn();
    const session = client.session(tokens);
    const before = counter.calls.length;
    const got = await Promise.all(Array.from({ length: 100 }, () => session.getAccessToken()));
    assert.ok(got.every((t) => t === tokens.accessToken));
    assert.equal(counter.calls.length, before);
  });

  test('100 concurrent getAccessToken() on an expired access token make exactly one refresh request, and keep the rotated token', async (t) => {
    const { client, counter, tokens } = await signIn();
    const saved: TokenSet[] = [];
    const session = client.session(tokens, { onTokens: (next) => void saved.push(next) });
    const tokenRequests = counter.count('/token');
    // Eleven minutes later (for the SDK and the server alike): the 10-minute access token has expired.
    t.mock.timers.enable({ apis: ['Date'], now: Date.now() + 11 * 60_000 });
    const got = await Promise.all(Array.from({ length: 100 }, () => session.getAccessToken()));
    assert.equal(counter.count('/token') - tokenRequests, 1, 'one refresh request');
    assert.equal(new Set(got).size, 1, 'every caller got the same new token');
    assert.notEqual(got[0], tokens.accessToken);
    assert.equal(saved.length, 1, 'onTokens saw the new set once');
    assert.equal(saved[0]!.refreshToken, session.tokens.refreshToken);
    assert.notEqual(session.tokens.refreshToken, tokens.refreshToken, 'the rotated refresh token is kept');
    assert.equal(session.tokens.idTokenClaims?.sub, lk.seed.user.id, 'the new ID token was validated against the first');
    // The session goes on with the rotated token: a second expiry refreshes again, successfully.
    t.mock.timers.setTime(Date.now() + 11 * 60_000);
    assert.notEqual(await session.getAccessToken(), got[0]);
    assert.equal(counter.count('/token') - tokenRequests, 2);
  });

  test('a refresh may narrow the scope (RFC 6749 §6)', async () => {
    const { client, tokens } = await signIn();
    const narrow = await client.refresh(tokens.refreshToken!, { scope: 'openid orders:read', previous: tokens });
    assert.equal(narrow.scope, 'openid orders:read');
    await assert.rejects(client.refresh(narrow.refreshToken!, { scope: 'openid orders:write' }), (err: unknown) => err instanceof OAuthError && err.error === 'invalid_scope');
  });

  test('without a refresh token, an expired session asks for a new login (SessionExpiredError)', async (t) => {
    const { client, tokens } = await signIn('openid orders:read');
    assert.equal(tokens.refreshToken, undefined);
    const session = client.session(tokens);
    assert.equal(await session.getAccessToken(), tokens.accessToken);
    t.mock.timers.enable({ apis: ['Date'], now: Date.now() + 11 * 60_000 });
    await assert.rejects(session.getAccessToken(), SessionExpiredError);
  });

  test('a revoked refresh token fails the session with invalid_grant, and the next call tries again', async () => {
    const { client, counter, tokens } = await signIn();
    const session = client.session(tokens);
    await client.revoke(tokens.refreshToken!, { tokenTypeHint: 'refresh_token' });
    const before = counter.count('/token');
    await assert.rejects(session.refresh(), (err: unknown) => err instanceof OAuthError && err.error === 'invalid_grant');
    await assert.rejects(session.refresh(), (err: unknown) => err instanceof OAuthError && err.error === 'invalid_grant');
    assert.equal(counter.count('/token') - before, 2, 'a failed refresh is not cached');
  });
});
