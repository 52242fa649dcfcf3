import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { RegistryError } from '../src/errors.ts';
import { checkRedirectUriForRegistration, matchRedirectUri, redirectUriRules } from '../src/registry/redirect-uri.ts';
import {
  backends,
  dbEnv,
  FormBrowser,
  killLatchkeyProcesses,
  pkcePair,
  postForm,
  runLatchkey,
  type RunningServer,
  seedUserFlow,
  startServer,
  type TestDatabase,
  type UserFlowSeed,
  walkAuthorization,
} from '@latchkey/testing';
import { authorizationUrl, codeOf } from './flows/authorize-requests.ts';

/**
 * `http://localhost:PORT/path` redirect URIs for public (native) clients: RFC 8252 §8.3 says localhost
 * "is NOT RECOMMENDED" but works "similarly to loopback IP redirects", and the MCP authorization
 * specification has native clients register it. Only public clients may; the port may then vary as it
 * does for 127.0.0.1 and [::1] (RFC 8252 §7.3); every other rule stays.
 */

describe('localhost redirect URIs: registration and matching rules', () => {
  const publicRules = redirectUriRules('public');
  const confidentialRules = redirectUriRules('confidential');

  test('a public client may register http://localhost with or without a port; a confidential client, and the default rules, may not', () => {
    for (const uri of ['http://localhost/callback', 'http://localhost:3000/callback', 'http://localhost:8080/cb?x=1']) {
      assert.equal(checkRedirectUriForRegistration(uri, publicRules).ok, true, uri);
      for (const rules of [confidentialRules, {}]) {
        const check = checkRedirectUriForRegistration(uri, rules);
        assert.equal(check.ok, false, uri);
        assert.match(check.ok ? '' : check.reason, /instead of localhost \(RFC 8252 §8\.3; localhost is for public clients only\)/);
      }
    }
  });

  test('every other rule holds for localhost: canonical form, no userinfo, no fragment, no dot segments, no look-alike host', () => {
    for (const uri of [
      'http://LOCALHOST:3000/cb',
      'http://localhost:80/cb',
      'http://localhost:3000/cb#x',
      'http://user@localhost:3000/cb',
      'http://localhost:3000/a/../cb',
      'http://localhost.:3000/cb',
      'http://localhost.evil.example/cb',
      'http://evil.example/localhost',
      'http://localhost:3000\\@evil.example/cb',
    ]) {
      assert.equal(checkRedirectUriForRegistration(uri, publicRules).ok, false, uri);
    }
  });

  test('for a public client, the port of a registered localhost URI may vary; path and query may not, nor the host', () => {
    const registered = ['http://localhost/callback', 'http://localhost:8080/cb?x=1'];
    assert.equal(matchRedirectUri(registered, 'http://localhost:53123/callback', publicRules), 'http://localhost:53123/callback');
    assert.equal(matchRedirectUri(registered, 'http://localhost/callback', publicRules), 'http://localhost/callback');
    assert.equal(matchRedirectUri(registered, 'http://localhost:9/cb?x=1', publicRules), 'http://localhost:9/cb?x=1');
    for (const presented of [
      'http://localhost:53123/callback/',
      'http://localhost:53123/Callback',
      'http://localhost:53123/cb',
      'http://localhost:53123/cb?x=2',
      'http://127.0.0.1:53123/callback', // another host than the registered one
      'http://[::1]:53123/callback',
      'https://localhost:53123/callback',
      'http://LOCALHOST:53123/callback',
    ]) {
      assert.equal(matchRedirectUri(registered, presented, publicRules), undefined, presented);
    }
    // A registered 127.0.0.1 URI is not matched by localhost either.
    assert.equal(matchRedirectUri(['http://127.0.0.1/cb'], 'http://localhost:5000/cb', publicRules), undefined);
    // Without the public client's rules, only the exact string.
    assert.equal(matchRedirectUri(registered, 'http://localhost:53123/callback', confidentialRules), undefined);
    assert.equal(matchRedirectUri(registered, 'http://localhost/callback', confidentialRules), 'http://localhost/callback');
  });
});

for (const backend of await backends()) {
  describe(`localhost redirect URIs for public clients (${backend.name})`, { skip: backend.skip }, () => {
    let db: TestDatabase;
    let s: RunningServer;
    let seed: UserFlowSeed;
    let native: string;

    before(async () => {
      db = await backend.create();
      s = await startServer(db);
      seed = await seedUserFlow(s);
      native = (
        await s.registry.createClient({
          name: 'Desktop App',
          type: 'public',
          grantTypes: ['authorization_code'],
          scopes: ['openid', 'orders:read'],
          redirectUris: ['http://localhost/callback'],
        })
      ).client.clientId;
    });
    after(async () => {
      killLatchkeyProcesses();
      await s?.close();
      await db?.drop();
    });

    test('the registry accepts http://localhost for a public client and refuses it for a confidential one', async () => {
      assert.deepEqual((await s.registry.getClient(native)).redirectUris, ['http://localhost/callback']);
      await assert.rejects(
        s.registry.createClient({
          name: 'Server App',
          type: 'confidential',
          grantTypes: ['authorization_code'],
          scopes: ['openid'],
          redirectUris: ['http://localhost:3000/callback'],
        }),
        (err: unknown) => err instanceof RegistryError && /instead of localhost/.test(err.message),
      );
    });

    test('the code goes to the localhost port the request named, and redeems with that URI', async () => {
      const pkce = pkcePair();
      const presented = 'http://localhost:53123/callback';
      const walked = await walkAuthorization(
        new FormBrowser(),
        s.issuer,
        authorizationUrl(s.issuer, native, pkce.challenge, { redirect_uri: presented }),
      );
      assert.equal(walked.callback.port, '53123');
      const code = codeOf(walked.callback, s.issuer, presented);
      const redeemWith = (redirectUri: string) =>
        postForm(`${s.issuer}/token`, { grant_type: 'authorization_code', client_id: native, code, code_verifier: pkce.verifier, redirect_uri: redirectUri });
      // RFC 6749 §4.1.3: the redirect_uri of the token request is the one of the authorization request, port included.
      const otherPort = await redeemWith('http://localhost:53124/callback');
      assert.equal(otherPort.status, 400);
      assert.equal(otherPort.body.error, 'invalid_grant');
      const ok = await redeemWith(presented);
      assert.equal(ok.status, 200, ok.text);
    });

    test('another path, or localhost for a URI registered on 127.0.0.1, is an error page, never a redirect', async () => {
      const browser = new FormBrowser();
      for (const [clientId, presented] of [
        [native, 'http://localhost:53123/other'],
        [native, 'http://127.0.0.1:53123/callback'],
        // The seed's public client registered http://127.0.0.1/cb, not localhost.
        [seed.publicClient, 'http://localhost:53123/cb'],
      ] as const) {
        const page = await browser.get(authorizationUrl(s.issuer, clientId, pkcePair().challenge, { redirect_uri: presented }));
        assert.equal(page.status, 400, presented);
        assert.equal(page.location, undefined, presented);
      }
    });

    test('CLI: clients create --redirect-uris http://localhost accepts a public client and refuses a confidential one', async () => {
      const env = dbEnv(db);
      const create = (type: string, uri: string) =>
        runLatchkey(['clients', 'create', '--name', `cli-${type}`, '--type', type, '--grant-types', 'authorization_code', '--scopes', 'openid', '--redirect-uris', uri, '--json'], env);
      const [accepted, refused] = await Promise.all([create('public', 'http://localhost:8080/callback'), create('confidential', 'http://localhost:8080/callback')]);
      assert.equal(accepted.code, 0, accepted.stderr);
      assert.deepEqual((await s.registry.getClient(JSON.parse(accepted.stdout).client_id)).redirectUris, ['http://localhost:8080/callback']);
      assert.equal(refused.code, 1, refused.stdout);
      assert.match(JSON.parse(refused.stdout).message, /redirect URI "http:\/\/localhost:8080\/callback": use http:\/\/127\.0\.0\.1 or http:\/\/\[::1\] instead of localhost/);
    });
  });
}
