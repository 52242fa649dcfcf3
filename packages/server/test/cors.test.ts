import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { type RunningServer, sqlite, startServer, type TestDatabase } from '@latchkey/testing';

/**
 * CORS for browser-based apps: public metadata and JWKS to anyone; token, revocation, userinfo and
 * device authorization only to the origins of registered redirect URIs, without credentials; never
 * on the authorization endpoint, the pages or introspection (docs/security.md A10). Not storage-dependent:
 * SQLite only.
 */
describe('CORS (sqlite)', () => {
  let db: TestDatabase;
  let s: RunningServer;
  const APP = 'https://spa.example';

  before(async () => {
    db = await sqlite.create();
    s = await startServer(db);
    await s.registry.createResource({ identifier: 'https://api.example.com', scopes: ['orders:read'] });
    await s.registry.createClient({
      name: 'SPA',
      type: 'public',
      grantTypes: ['authorization_code', 'refresh_token'],
      scopes: ['openid', 'orders:read'],
      redirectUris: [`${APP}/callback`],
    });
  });
  after(async () => {
    await s?.close();
    await db?.drop();
  });

  const preflight = (path: string, origin: string) =>
    fetch(`${s.issuer}${path}`, {
      method: 'OPTIONS',
      headers: { origin, 'access-control-request-method': 'POST', 'access-control-request-headers': 'content-type' },
    });

  test('a registered app origin may call the token endpoint: preflight and response', async () => {
    const pre = await preflight('/token', APP);
    assert.equal(pre.status, 204);
    assert.equal(pre.headers.get('access-control-allow-origin'), APP);
    assert.match(pre.headers.get('access-control-allow-methods') ?? '', /POST/);
    assert.match(pre.headers.get('access-control-allow-headers') ?? '', /Content-Type/i);
    assert.equal(pre.headers.get('access-control-allow-credentials'), null, 'never with credentials');
    const res = await fetch(`${s.issuer}/token`, {
      method: 'POST',
      headers: { origin: APP, 'content-type': 'application/x-www-form-urlencoded' },
      body: 'grant_type=authorization_code&code=x&client_id=nobody',
    });
    assert.equal(res.headers.get('access-control-allow-origin'), APP, 'errors are readable by the app too');
    assert.match(res.headers.get('vary') ?? '', /Origin/);
  });

  test('an unregistered origin gets no CORS grant', async () => {
    for (const origin of ['https://evil.example', 'https://spa.example.evil.example', 'null', 'https://spa.example:8443']) {
      const pre = await preflight('/token', origin);
      assert.equal(pre.headers.get('access-control-allow-origin'), null, origin);
      const res = await fetch(`${s.issuer}/userinfo`, { headers: { origin } });
      assert.equal(res.headers.get('access-control-allow-origin'), null, origin);
    }
  });

  test('a newly registered app is allowed at once, a deleted one no longer', async () => {
    const other = 'https://other-spa.example';
    assert.equal((await preflight('/token', other)).headers.get('access-control-allow-origin'), null);
    const created = await s.registry.createClient({
      name: 'Other',
      type: 'public',
      grantTypes: ['authorization_code'],
      scopes: ['openid'],
      redirectUris: [`${other}/cb`],
    });
    assert.equal((await preflight('/token', other)).headers.get('access-control-allow-origin'), other);
    await s.registry.deleteClient(created.client.clientId);
    assert.equal((await preflight('/token', other)).headers.get('access-control-allow-origin'), null);
  });

  test('metadata and JWKS are readable from any origin', async () => {
    for (const path of ['/jwks', '/.well-known/openid-configuration', '/.well-known/oauth-authorization-server']) {
      const res = await fetch(`${s.issuer}${path}`, { headers: { origin: 'https://anyone.example' } });
      assert.equal(res.headers.get('access-control-allow-origin'), '*', path);
    }
  });

  test('A10: never on /authorize, the pages or /introspect, even for a registered origin', async () => {
    for (const path of ['/authorize', '/login', '/consent', '/device', '/introspect', '/logout']) {
      const res = await fetch(`${s.issuer}${path}`, { headers: { origin: APP }, redirect: 'manual' });
      assert.equal(res.headers.get('access-control-allow-origin'), null, path);
      const pre = await preflight(path, APP);
      assert.equal(pre.headers.get('access-control-allow-origin'), null, `${path} preflight`);
    }
  });
});
