import assert from 'node:assert/strict';
import { createServer as createHttpsServer } from 'node:https';
import { createServer as createNetServer } from 'node:net';
import { after, before, describe, test } from 'node:test';
import type { Browser } from 'playwright-core';
import { chromiumSkip, completeFlow, FormBrowser, type Latchkey, launchChromium, PASSWORD, selfSignedCertificate, startLatchkey, type TestCertificate, walkAuthorization } from '@latchkey/testing';
import { connect, MemoryOAuthProvider } from '../oauth-client.ts';
import { startMcpServer } from '../server.ts';

/**
 * The official MCP TypeScript SDK against Latchkey: the client meets a 401 at the MCP server, reads
 * its protected resource metadata (RFC 9728) and Latchkey's metadata (RFC 8414), registers or is
 * known, runs the code flow with PKCE and `resource` (RFC 8707) through the login and consent pages,
 * calls tools with a token bound to the MCP server, and refreshes.
 */
async function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const probe = createNetServer().listen(0, '127.0.0.1', () => {
      const { port } = probe.address() as { port: number };
      probe.close(() => resolve(port));
    });
  });
}

/** The user's side: sign in as Alice and allow, in the form browser; returns the code. */
async function signInAndAllow(issuer: string, url: URL): Promise<string> {
  const walked = await walkAuthorization(new FormBrowser(), issuer, url.href);
  const code = walked.callback.searchParams.get('code');
  assert.ok(code, `no code in ${walked.callback.href}`);
  assert.equal(walked.callback.searchParams.get('iss'), issuer);
  return code;
}

describe('MCP: the official SDK client through Latchkey to an MCP server', () => {
  let latchkey: Latchkey;
  let mcp: { url: string; close(): Promise<void> };
  let mcpUrl: string;
  let certificate: TestCertificate;

  before(async () => {
    certificate = selfSignedCertificate();
    // Open registration (RFC 7591) and client ID metadata documents served on this machine over https
    // by a certificate Latchkey is told to trust: what a deployment facing MCP clients turns on.
    latchkey = await startLatchkey({
      settings: { registration: 'open', allowLoopbackClientMetadata: true, outboundCaFile: certificate.certFile },
    });
    const port = await freePort();
    mcpUrl = `http://127.0.0.1:${port}/mcp`;
    await latchkey.running.registry.createResource({
      identifier: mcpUrl,
      name: 'Orders MCP server',
      scopes: [
        { scope: 'mcp:orders:read', description: 'See your orders' },
        { scope: 'mcp:orders:write', description: 'Place orders for you' },
      ],
      defaultScopes: ['mcp:orders:read'],
      openScopes: ['mcp:orders:read', 'mcp:orders:write'],
    });
    mcp = await startMcpServer({ issuer: latchkey.issuer, url: mcpUrl, port, toolScopes: { list_orders: 'mcp:orders:read', place_order: 'mcp:orders:write' } });
  });

  after(async () => {
    await mcp?.close();
    await latchkey?.close();
    certificate?.remove();
  });

  test('a pre-registered public client: 401, metadata, login and consent, tools, refresh', async () => {
    const created = await latchkey.running.registry.createClient({
      name: 'Claude-like desktop app',
      type: 'public',
      grantTypes: ['authorization_code', 'refresh_token'],
      scopes: ['mcp:orders:read', 'mcp:orders:write'],
      redirectUris: ['http://127.0.0.1/callback'],
    });
    const provider = new MemoryOAuthProvider({
      redirectUrl: 'http://127.0.0.1:8976/callback',
      clientInformation: { client_id: created.client.clientId },
    });
    let authorizationUrl: URL | undefined;
    const client = await connect(mcp.url, provider, async (url) => {
      authorizationUrl = url;
      return signInAndAllow(latchkey.issuer, url);
    });
    try {
      // RFC 8707: the SDK names the MCP server as the resource; the token is bound to it.
      assert.equal(authorizationUrl?.searchParams.get('resource'), mcpUrl);
      const tokens = provider.tokens();
      assert.ok(tokens?.access_token && tokens.refresh_token);
      const claims = JSON.parse(Buffer.from(tokens.access_token.split('.')[1]!, 'base64url').toString());
      assert.deepEqual([claims.aud].flat(), [mcpUrl]);

      const { tools } = await client.listTools();
      assert.deepEqual(tools.map((t) => t.name).sort(), ['list_orders', 'place_order']);
      const placed = await client.callTool({ name: 'place_order', arguments: { item: 'tea', quantity: 3 } });
      assert.match(JSON.stringify(placed.content), /order 1: 3 × tea/);
      const listed = await client.callTool({ name: 'list_orders', arguments: {} });
      assert.match(JSON.stringify(listed.content), /"item\\":\\"tea\\"/);

      // The access token is no longer accepted: the SDK refreshes (rotation) and retries.
      const before = provider.tokens()!;
      provider.saveTokens({ ...before, access_token: 'no-longer-valid' });
      const again = await client.callTool({ name: 'list_orders', arguments: {} });
      assert.match(JSON.stringify(again.content), /tea/);
      assert.notEqual(provider.tokens()!.refresh_token, before.refresh_token, 'the refresh token was rotated');
    } finally {
      await client.close();
    }
  });

  test('a token for another resource is refused, with a challenge that points at the metadata', async () => {
    const token = await latchkey.token();
    const res = await fetch(mcp.url, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json', accept: 'application/json, text/event-stream' },
      body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/list' }),
    });
    assert.equal(res.status, 401);
    const challenge = res.headers.get('www-authenticate') ?? '';
    assert.match(challenge, /error="invalid_token"/);
    assert.match(challenge, new RegExp(`resource_metadata="${new URL(mcpUrl).origin}/.well-known/oauth-protected-resource/mcp"`));
  });

  test('a token without the tool\'s scope: 403 insufficient_scope naming the scope to ask for', async () => {
    const created = await latchkey.running.registry.createClient({
      name: 'read-only',
      type: 'public',
      grantTypes: ['authorization_code'],
      scopes: ['mcp:orders:read'],
      redirectUris: ['http://127.0.0.1/callback'],
    });
    const { tokens } = await completeFlow(new FormBrowser(), latchkey.running, {
      clientId: created.client.clientId,
      scope: 'mcp:orders:read',
      redirectUri: 'http://127.0.0.1:8977/callback',
      extra: { resource: mcpUrl },
    });
    const call = (name: string, args: Record<string, unknown>) =>
      fetch(mcp.url, {
        method: 'POST',
        headers: { authorization: `Bearer ${tokens.access_token}`, 'content-type': 'application/json', accept: 'application/json, text/event-stream' },
        body: JSON.stringify({ jsonrpc: '2.0', id: 2, method: 'tools/call', params: { name, arguments: args } }),
      });
    const refused = await call('place_order', { item: 'x', quantity: 1 });
    assert.equal(refused.status, 403);
    const challenge = refused.headers.get('www-authenticate') ?? '';
    assert.match(challenge, /error="insufficient_scope"/);
    assert.match(challenge, /scope="mcp:orders:write"/);
    assert.match(challenge, /resource_metadata="/);
    // The tool its scope allows runs.
    assert.equal((await call('list_orders', {})).status, 200);
  });

  test('a client ID metadata document: the SDK uses its URL as client_id, Latchkey fetches it; login, consent, tools', async () => {
    const callback = 'http://127.0.0.1:8979/callback';
    const documents = createHttpsServer({ cert: certificate.cert, key: certificate.key }, (req, res) => {
      if (req.url !== '/mcp-client.json') return void res.writeHead(404).end();
      res.writeHead(200, { 'content-type': 'application/json', 'cache-control': 'max-age=3600' }).end(
        JSON.stringify({
          client_id: documentUrl,
          client_name: 'Metadata Document Agent',
          redirect_uris: [callback],
          grant_types: ['authorization_code', 'refresh_token'],
          response_types: ['code'],
          token_endpoint_auth_method: 'none',
        }),
      );
    });
    await new Promise<void>((resolve) => documents.listen(0, '127.0.0.1', resolve));
    const documentUrl = `https://127.0.0.1:${(documents.address() as { port: number }).port}/mcp-client.json`;
    try {
      const provider = new MemoryOAuthProvider({ redirectUrl: callback, clientMetadataUrl: documentUrl });
      let consentText = '';
      const client = await connect(mcp.url, provider, async (url) => {
        assert.equal(url.searchParams.get('client_id'), documentUrl, 'the document URL is the client_id');
        const walked = await walkAuthorization(new FormBrowser(), latchkey.issuer, url.href);
        consentText = walked.consentPage?.text ?? '';
        const code = walked.callback.searchParams.get('code');
        assert.ok(code, `no code in ${walked.callback.href}`);
        return code;
      });
      try {
        assert.equal(provider.registered?.client_id, documentUrl, 'the SDK keeps the URL as its client_id: nothing registered at the endpoint');
        assert.match(consentText, /Metadata Document Agent/);
        const listed = await client.callTool({ name: 'list_orders', arguments: {} });
        assert.equal(listed.isError ?? false, false);
        const stored = await latchkey.running.registry.getClient(documentUrl);
        assert.equal(stored.source, 'metadata-document');
      } finally {
        await client.close();
      }
    } finally {
      documents.closeAllConnections();
      await new Promise<void>((resolve) => documents.close(() => resolve()));
    }
  });

  test('in Chromium: the SDK client registers itself, the consent page says the app is unverified', { skip: chromiumSkip(), timeout: 90_000 }, async () => {
    const provider = new MemoryOAuthProvider({ redirectUrl: 'http://127.0.0.1:8978/callback', clientName: 'Unverified Agent' });
    const browser: Browser = await launchChromium();
    try {
      const client = await connect(mcp.url, provider, async (url) => {
        const page = await (await browser.newContext()).newPage();
        page.setDefaultTimeout(15_000);
        let callback: URL | undefined;
        await page.route('http://127.0.0.1:8978/**', async (route) => {
          callback = new URL(route.request().url());
          await route.fulfill({ status: 200, contentType: 'text/plain', body: 'back at the client' });
        });
        await page.goto(url.href);
        await page.fill('input[name=username]', 'alice');
        await page.fill('input[name=password]', PASSWORD);
        await page.locator('form:has(input[name=password]) [type=submit]').click();
        await page.waitForURL((u) => u.pathname.endsWith('/consent'));
        const text = await page.locator('body').innerText();
        assert.match(text, /Unverified Agent/);
        assert.match(text, /unverified/i);
        assert.match(text, /127\.0\.0\.1/, 'the redirect URI host is shown');
        assert.match(text, /Orders MCP server/, 'the API is named');
        await page.click('button[name=decision][value=allow]');
        await page.waitForURL((u) => u.port === '8978');
        assert.ok(callback, 'the browser came back to the client');
        return callback.searchParams.get('code')!;
      });
      try {
        assert.ok(provider.registered?.client_id, 'the SDK registered the client (RFC 7591)');
        const listed = await client.callTool({ name: 'list_orders', arguments: {} });
        assert.equal(listed.isError ?? false, false);
      } finally {
        await client.close();
      }
    } finally {
      await browser.close();
    }
  });
});
