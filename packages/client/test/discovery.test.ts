import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { countingFetch, freePort, type Latchkey, startLatchkey } from '@latchkey/testing';
import { DiscoveryError, LatchkeyClient, metadataUrls, type FetchLike } from '../src/index.ts';

/**
 * Discovery (OpenID Connect Discovery 1.0 §4, RFC 8414 §3): the OpenID Connect location first, RFC
 * 8414's as the fallback, the issuer compared as an exact string, the result cached.
 */

/** A fetch that answers 404 for URLs whose path ends with one of `paths`, as a server without them would. */
const without =
  (...paths: string[]): FetchLike =>
  (input, init) => {
    const url = new URL(input instanceof Request ? input.url : input.toString());
    if (paths.some((p) => url.pathname.endsWith(p))) return Promise.resolve(new Response('not found', { status: 404 }));
    return fetch(input, init);
  };

describe('discovery', () => {
  let lk: Latchkey;
  let svc: { id: string; secret: string };

  before(async () => {
    lk = await startLatchkey();
    const created = await lk.running.registry.createClient({ name: 'svc', type: 'confidential', grantTypes: ['client_credentials'], scopes: ['orders:read'] });
    svc = { id: created.client.clientId, secret: created.clientSecret! };
  });
  after(async () => lk?.close());

  test('the metadata is fetched once from /.well-known/openid-configuration and cached', async () => {
    const counter = countingFetch();
    const client = new LatchkeyClient({ issuer: lk.issuer, clientId: svc.id, clientSecret: svc.secret, fetch: counter.fetch });
    await Promise.all([client.metadata(), client.metadata(), client.clientCredentialsGrant()]);
    await client.createAuthorizationRequest({ redirectUri: lk.seed.redirectUri, scope: 'openid' });
    await client.clientCredentialsGrant();
    const metadata = await client.metadata();
    assert.equal(metadata.issuer, lk.issuer);
    assert.equal(metadata.token_endpoint, `${lk.issuer}/token`);
    assert.equal(metadata.authorization_response_iss_parameter_supported, true);
    assert.equal(counter.count('/.well-known/openid-configuration'), 1);
    assert.equal(counter.count('/.well-known/oauth-authorization-server'), 0);
  });

  test('without the OpenID Connect document, the RFC 8414 document is used', async () => {
    const counter = countingFetch(without('/.well-known/openid-configuration'));
    const client = new LatchkeyClient({ issuer: lk.issuer, clientId: svc.id, clientSecret: svc.secret, fetch: counter.fetch });
    const metadata = await client.metadata();
    assert.equal(metadata.issuer, lk.issuer);
    assert.equal(metadata.end_session_endpoint, undefined, 'the RFC 8414 document has no OpenID Connect members');
    await client.clientCredentialsGrant();
    assert.equal(counter.count('/.well-known/oauth-authorization-server'), 1);
  });

  test('with neither document, DiscoveryError says what each location answered', async () => {
    const client = new LatchkeyClient({ issuer: lk.issuer, clientId: svc.id, clientSecret: svc.secret, fetch: without('/openid-configuration', '/oauth-authorization-server') });
    await assert.rejects(client.metadata(), (err: unknown) => {
      assert.ok(err instanceof DiscoveryError);
      assert.equal(err.code, 'ERR_DISCOVERY');
      assert.match(err.message, /openid-configuration answered HTTP 404/);
      assert.match(err.message, /oauth-authorization-server answered HTTP 404/);
      return true;
    });
  });

  test('the issuer must be identical: another spelling of the same server is refused (OIDC Discovery §4.3, RFC 8414 §3.3)', async () => {
    const port = new URL(lk.issuer).port;
    for (const issuer of [`http://localhost:${port}`, `${lk.issuer}/`]) {
      const client = new LatchkeyClient({ issuer, clientId: svc.id, clientSecret: svc.secret });
      await assert.rejects(client.metadata(), (err: unknown) => err instanceof DiscoveryError && /names the issuer/.test(err.message), issuer);
    }
  });

  test('a failed discovery is not cached: the next call tries again', async () => {
    let failures = 1;
    const client = new LatchkeyClient({
      issuer: lk.issuer,
      clientId: svc.id,
      clientSecret: svc.secret,
      fetch: (input, init) => (failures-- > 0 ? Promise.reject(new TypeError('fetch failed')) : fetch(input, init)),
    });
    await assert.rejects(client.metadata(), DiscoveryError);
    assert.equal((await client.metadata()).issuer, lk.issuer);
  });

  test('an endpoint that is not https (outside loopback) is refused unless allowInsecureRequests', async () => {
    const tampered: FetchLike = async (input, init) => {
      const res = await fetch(input, init);
      if (!new URL(input.toString()).pathname.endsWith('/openid-configuration')) return res;
      const body = (await res.json()) as Record<string, unknown>;
      return Response.json({ ...body, token_endpoint: 'http://tokens.example.com/token' });
    };
    const client = new LatchkeyClient({ issuer: lk.issuer, clientId: svc.id, clientSecret: svc.secret, fetch: tampered });
    await assert.rejects(client.metadata(), (err: unknown) => err instanceof DiscoveryError && /token_endpoint/.test(err.message));
    const insecure = new LatchkeyClient({ issuer: lk.issuer, clientId: svc.id, clientSecret: svc.secret, fetch: tampered, allowInsecureRequests: true });
    assert.equal((await insecure.metadata()).token_endpoint, 'http://tokens.example.com/token');
  });
});

describe('an issuer with a path', () => {
  test('the RFC 8414 document is found between the host and the path', async () => {
    assert.deepEqual(metadataUrls('https://login.example.com/tenant/'), [
      'https://login.example.com/tenant/.well-known/openid-configuration',
      'https://login.example.com/.well-known/oauth-authorization-server/tenant',
    ]);
    const port = await freePort();
    const lk = await startLatchkey({ settings: { port, issuer: `http://127.0.0.1:${port}/tenant` } });
    try {
      const counter = countingFetch(without('/openid-configuration'));
      const client = new LatchkeyClient({ issuer: lk.issuer, clientId: lk.seed.confidential.clientId, clientSecret: lk.seed.confidential.clientSecret, fetch: counter.fetch });
      const metadata = await client.metadata();
      assert.equal(metadata.issuer, `http://127.0.0.1:${port}/tenant`);
      assert.equal(counter.calls.at(-1)?.url, `http://127.0.0.1:${port}/.well-known/oauth-authorization-server/tenant`);
    } finally {
      await lk.close();
    }
  });
});

describe('LatchkeyClient options are checked when it is created', () => {
  test('an http issuer outside loopback needs allowInsecureRequests; query and fragment are refused', () => {
    assert.throws(() => new LatchkeyClient({ issuer: 'http://login.example.com', clientId: 'a' }), /not https/);
    new LatchkeyClient({ issuer: 'http://login.example.com', clientId: 'a', allowInsecureRequests: true });
    new LatchkeyClient({ issuer: 'http://127.0.0.1:9000', clientId: 'a' });
    assert.throws(() => new LatchkeyClient({ issuer: 'https://login.example.com?x=1', clientId: 'a' }), TypeError);
    assert.throws(() => new LatchkeyClient({ issuer: 'not a url', clientId: 'a' }), TypeError);
  });

  test('the authentication method must fit the secret', () => {
    const issuer = 'https://login.example.com';
    assert.throws(() => new LatchkeyClient({ issuer, clientId: '' }), /clientId/);
    assert.throws(() => new LatchkeyClient({ issuer, clientId: 'a', tokenEndpointAuthMethod: 'client_secret_basic' }), /needs a clientSecret/);
    assert.throws(() => new LatchkeyClient({ issuer, clientId: 'a', clientSecret: 's', tokenEndpointAuthMethod: 'none' }), /none/);
    assert.throws(() => new LatchkeyClient({ issuer, clientId: 'a', idTokenSigningAlgorithms: ['HS256' as 'RS256'] }), /HS256/);
  });
});
