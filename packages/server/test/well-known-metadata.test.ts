import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { buildDiscoveryUrls, discoverAuthorizationServerMetadata } from '@modelcontextprotocol/sdk/client/auth.js';
import { backends, freePort, type RunningServer, startServer, type TestDatabase } from '@latchkey/testing';

/**
 * The metadata at every well-known URL the MCP TypeScript SDK tries (its buildDiscoveryUrls), for an
 * issuer without a path and one with a path: RFC 8414 §3.1 `/.well-known/oauth-authorization-server{path}`,
 * and OpenID Connect's document both at `{path}/.well-known/openid-configuration` (OIDC Discovery §4)
 * and at `/.well-known/openid-configuration{path}`. Every one names the same issuer (RFC 8414 §3.3) and
 * may be read from any origin.
 */

for (const backend of await backends()) {
  for (const path of ['', '/tenant-a']) {
    describe(`well-known metadata URLs, issuer ${path === '' ? 'without a path' : `with the path ${path}`} (${backend.name})`, { skip: backend.skip }, () => {
      let db: TestDatabase;
      let s: RunningServer;

      before(async () => {
        db = await backend.create();
        const port = await freePort();
        s = await startServer(db, { port, issuer: `http://127.0.0.1:${port}${path}` });
      });
      after(async () => {
        await s?.close();
        await db?.drop();
      });

      test('every URL the MCP SDK tries answers 200 with the configured issuer, readable from any origin', async () => {
        const urls = buildDiscoveryUrls(s.issuer);
        const expected =
          path === ''
            ? ['/.well-known/oauth-authorization-server', '/.well-known/openid-configuration']
            : [`/.well-known/oauth-authorization-server${path}`, `/.well-known/openid-configuration${path}`, `${path}/.well-known/openid-configuration`];
        assert.deepEqual(
          urls.map((u) => u.url.pathname),
          expected,
          'the SDK tries these URLs (an SDK upgrade that changes them must be looked at)',
        );
        for (const { url, type } of urls) {
          const res = await fetch(url, { headers: { origin: 'https://mcp-client.example', 'mcp-protocol-version': '2025-06-18' } });
          assert.equal(res.status, 200, url.href);
          assert.equal(res.headers.get('access-control-allow-origin'), '*', url.href);
          assert.equal(res.headers.get('cache-control'), 'public, max-age=300', url.href);
          const body = (await res.json()) as Record<string, unknown>;
          assert.equal(body.issuer, s.issuer, `${url.href}: RFC 8414 §3.3, the issuer identical to the configured one`);
          assert.equal(body.authorization_endpoint, `${s.issuer}/authorize`);
          assert.equal(body.token_endpoint, `${s.issuer}/token`);
          // The OpenID Connect documents carry its members; RFC 8414's does not.
          assert.equal(body.userinfo_endpoint, type === 'oidc' ? `${s.issuer}/userinfo` : undefined, url.href);
        }
      });

      test('a browser preflight for each URL is allowed from any origin, with the MCP-Protocol-Version header', async () => {
        for (const { url } of buildDiscoveryUrls(s.issuer)) {
          const res = await fetch(url, {
            method: 'OPTIONS',
            headers: { origin: 'https://mcp-client.example', 'access-control-request-method': 'GET', 'access-control-request-headers': 'mcp-protocol-version' },
          });
          assert.equal(res.status, 204, url.href);
          assert.equal(res.headers.get('access-control-allow-origin'), '*', url.href);
          assert.equal(res.headers.get('access-control-allow-methods'), 'GET', url.href);
          assert.equal(res.headers.get('access-control-allow-headers'), '*', url.href);
        }
      });

      test('the MCP SDK discovers the metadata with the issuer, its endpoints and S256', async () => {
        const metadata = await discoverAuthorizationServerMetadata(s.issuer);
        assert.ok(metadata, 'metadata found');
        assert.equal(metadata.issuer, s.issuer);
        assert.equal(metadata.token_endpoint, `${s.issuer}/token`);
        assert.deepEqual(metadata.code_challenge_methods_supported, ['S256']);
      });
    });
  }
}
