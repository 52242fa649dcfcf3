import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { decodeJwt } from 'jose';
import { authorizeInBrowser, countingFetch, FormBrowser, type Latchkey, startLatchkey } from '@latchkey/testing';
import { LatchkeyClient, OAuthError, UnsupportedFeatureError, type FetchLike } from '../src/index.ts';

/**
 * Pushed authorization requests (RFC 9126) through the SDK, against a real Latchkey: pushed when the
 * server requires it (`par: 'auto'`, the default) or when the client says `always`; the authorization URL
 * then carries only `client_id` and `request_uri` (§4), and the login completes through it.
 */

const SCOPE = 'openid offline_access orders:read';

/** The parameter names of an authorization URL. */
const parameterNames = (url: string) => [...new URL(url).searchParams.keys()].sort();

describe('PAR required by the server', () => {
  let lk: Latchkey;
  let browser: FormBrowser;

  before(async () => {
    lk = await startLatchkey({ settings: { requirePar: true } });
    browser = new FormBrowser();
  });
  after(async () => lk?.close());

  test('the metadata says so; the SDK pushes the request, and the URL has only client_id and request_uri', async () => {
    const counter = countingFetch();
    const client = new LatchkeyClient({ issuer: lk.issuer, clientId: lk.seed.publicClient, fetch: counter.fetch });
    const metadata = await client.metadata();
    assert.equal(metadata.require_pushed_authorization_requests, true);
    assert.equal(metadata.pushed_authorization_request_endpoint, `${lk.issuer}/par`);
    const pending = await client.createAuthorizationRequest({ redirectUri: lk.seed.redirectUri, scope: SCOPE, login_hint: 'alice' });
    assert.equal(counter.count('/par'), 1);
    const url = new URL(pending.url);
    assert.equal(`${url.origin}${url.pathname}`, `${lk.issuer}/authorize`);
    assert.deepEqual(parameterNames(pending.url), ['client_id', 'request_uri']);
    assert.equal(url.searchParams.get('client_id'), lk.seed.publicClient);
    assert.match(url.searchParams.get('request_uri')!, /^urn:ietf:params:oauth:request_uri:/);

    const tokens = await client.handleCallback(await authorizeInBrowser(browser, lk.issuer, pending.url), pending);
    assert.equal(tokens.idTokenClaims?.sub, lk.seed.user.id);
    assert.equal(tokens.idTokenClaims?.nonce, pending.nonce, 'the pushed nonce came back in the ID token');
    assert.ok(tokens.refreshToken);
  });

  test('a confidential client pushes with its client authentication', async () => {
    const client = new LatchkeyClient({ issuer: lk.issuer, clientId: lk.seed.confidential.clientId, clientSecret: lk.seed.confidential.clientSecret });
    const pending = await client.createAuthorizationRequest({ redirectUri: lk.seed.redirectUri, scope: 'openid orders:read' });
    assert.deepEqual(parameterNames(pending.url), ['client_id', 'request_uri']);
    const tokens = await client.handleCallback(await authorizeInBrowser(browser, lk.issuer, pending.url), pending);
    assert.equal(tokens.idTokenClaims?.aud, lk.seed.confidential.clientId);
    const wrongSecret = new LatchkeyClient({ issuer: lk.issuer, clientId: lk.seed.confidential.clientId, clientSecret: 'wrong' });
    await assert.rejects(wrongSecret.createAuthorizationRequest({ redirectUri: lk.seed.redirectUri, scope: 'openid' }), (err: unknown) => err instanceof OAuthError && err.error === 'invalid_client');
  });

  test('the server refusing the pushed request is an OAuthError (an unregistered redirect URI)', async () => {
    const client = new LatchkeyClient({ issuer: lk.issuer, clientId: lk.seed.publicClient });
    await assert.rejects(client.createAuthorizationRequest({ redirectUri: 'https://evil.example/callback', scope: SCOPE }), (err: unknown) => {
      assert.ok(err instanceof OAuthError, String(err));
      assert.equal(err.status, 400);
      return true;
    });
  });

  test("with par: 'never' the SDK sends the request through the browser, and the server refuses it", async () => {
    const client = new LatchkeyClient({ issuer: lk.issuer, clientId: lk.seed.publicClient, par: 'never' });
    const pending = await client.createAuthorizationRequest({ redirectUri: lk.seed.redirectUri, scope: SCOPE });
    assert.ok(parameterNames(pending.url).includes('code_challenge'));
    const page = await browser.get(pending.url);
    assert.notEqual(page.status, 200);
    const location = page.location ? new URL(page.location) : undefined;
    assert.ok(page.status === 400 || location?.searchParams.get('error') === 'invalid_request', `status ${page.status} ${page.location ?? ''}`);
  });

  test('PAR with DPoP: dpop_jkt is pushed, and the tokens are bound to the key', async () => {
    const client = new LatchkeyClient({ issuer: lk.issuer, clientId: lk.seed.publicClient, dpop: true });
    const pending = await client.createAuthorizationRequest({ redirectUri: lk.seed.redirectUri, scope: SCOPE });
    assert.deepEqual(parameterNames(pending.url), ['client_id', 'request_uri']);
    const tokens = await client.handleCallback(await authorizeInBrowser(browser, lk.issuer, pending.url), pending);
    assert.equal(tokens.tokenType, 'DPoP');
    assert.equal((decodeJwt(tokens.accessToken).cnf as { jkt: string }).jkt, await client.dpopThumbprint());
    const other = new LatchkeyClient({ issuer: lk.issuer, clientId: lk.seed.publicClient, dpop: true });
    const second = await client.createAuthorizationRequest({ redirectUri: lk.seed.redirectUri, scope: SCOPE });
    const callback = await authorizeInBrowser(browser, lk.issuer, second.url);
    await assert.rejects(other.handleCallback(callback, second), (err: unknown) => err instanceof OAuthError, 'the pushed dpop_jkt bound the code to the first key');
  });
});

describe('PAR not required', () => {
  let lk: Latchkey;

  before(async () => {
    lk = await startLatchkey();
  });
  after(async () => lk?.close());

  test("'auto' does not push; 'always' pushes; the login works either way", async () => {
    const counter = countingFetch();
    const auto = new LatchkeyClient({ issuer: lk.issuer, clientId: lk.seed.publicClient, fetch: counter.fetch });
    const plain = await auto.createAuthorizationRequest({ redirectUri: lk.seed.redirectUri, scope: SCOPE });
    assert.equal(counter.count('/par'), 0);
    assert.ok(parameterNames(plain.url).includes('code_challenge'));

    const always = new LatchkeyClient({ issuer: lk.issuer, clientId: lk.seed.publicClient, par: 'always', fetch: counter.fetch });
    const pushed = await always.createAuthorizationRequest({ redirectUri: lk.seed.redirectUri, scope: SCOPE });
    assert.equal(counter.count('/par'), 1);
    assert.deepEqual(parameterNames(pushed.url), ['client_id', 'request_uri']);
    const browser = new FormBrowser();
    const tokens = await always.handleCallback(await authorizeInBrowser(browser, lk.issuer, pushed.url), pushed);
    assert.equal(tokens.idTokenClaims?.sub, lk.seed.user.id);
  });

  test("a client the server requires PAR of (per client) uses par: 'always'", async () => {
    const created = await lk.running.registry.createClient({
      name: 'PAR app',
      type: 'public',
      grantTypes: ['authorization_code'],
      scopes: ['openid', 'orders:read'],
      redirectUris: [lk.seed.redirectUri],
      requirePushedAuthorizationRequests: true,
    });
    const client = new LatchkeyClient({ issuer: lk.issuer, clientId: created.client.clientId, par: 'always' });
    const pending = await client.createAuthorizationRequest({ redirectUri: lk.seed.redirectUri, scope: 'openid orders:read' });
    const tokens = await client.handleCallback(await authorizeInBrowser(new FormBrowser(), lk.issuer, pending.url), pending);
    assert.equal(tokens.idTokenClaims?.aud, created.client.clientId);
  });

  test("par: 'always' with a server that has no PAR endpoint gives UnsupportedFeatureError before any request", async () => {
    const counter = countingFetch();
    const olderServer: FetchLike = async (input, init) => {
      const res = await counter.fetch(input, init);
      if (!input.toString().endsWith('/openid-configuration')) return res;
      const { pushed_authorization_request_endpoint: _, ...rest } = (await res.json()) as Record<string, unknown>;
      return Response.json(rest);
    };
    const client = new LatchkeyClient({ issuer: lk.issuer, clientId: lk.seed.publicClient, par: 'always', fetch: olderServer });
    await assert.rejects(client.createAuthorizationRequest({ redirectUri: lk.seed.redirectUri, scope: SCOPE }), (err: unknown) => {
      assert.ok(err instanceof UnsupportedFeatureError);
      assert.equal(err.feature, 'par');
      assert.equal(err.reason, 'metadata');
      return true;
    });
    assert.equal(counter.count('/par'), 0);
    assert.throws(() => new LatchkeyClient({ issuer: lk.issuer, clientId: 'a', par: 'sometimes' as 'auto' }), TypeError);
  });
});
