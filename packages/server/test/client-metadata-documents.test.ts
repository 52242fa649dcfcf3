import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { createServer as createHttpServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import { fileURLToPath } from 'node:url';
import { after, before, describe, test } from 'node:test';
import { decodeJwt, exportJWK, generateKeyPair, SignJWT, type CryptoKey, type JWK } from 'jose';
import { cacheLifetimeSeconds } from '../src/client-metadata/cache-lifetime.ts';
import { checkClientIdUrl, isClientIdUrl } from '../src/client-metadata/client-id-url.ts';
import { fetchMetadataDocument } from '../src/client-metadata/fetch-document.ts';
import { loadSettings } from '../src/config/load.ts';
import { Janitor } from '../src/janitor.ts';
import { UserRegistry } from '../src/users/user-registry.ts';
import {
  authorizeUrl,
  backends,
  exchangeCode,
  FormBrowser,
  type Page,
  PASSWORD,
  pkcePair,
  postForm,
  type RunningServer,
  selfSignedCertificate,
  startServer,
  type TestDatabase,
  walkAuthorization,
} from '@latchkey/testing';

/**
 * Client ID metadata documents (draft-ietf-oauth-client-id-metadata-document; MCP authorization
 * 2025-11-25, "Client ID Metadata Documents") over real HTTP: a client whose client_id is the URL of
 * its own metadata document, served here by a local document server on 127.0.0.1 (with
 * LATCHKEY_ALLOW_LOOPBACK_CLIENT_METADATA, the development setting). Checklist L78 and L79.
 */

const API = 'https://api.example.com';
const CALLBACK = 'https://app.example/callback';
const ASSERTION_TYPE = 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer';

type Handler = (req: IncomingMessage, res: ServerResponse) => void;

/** A document server on 127.0.0.1: routes set by the tests, requests counted per path. */
async function startDocumentServer() {
  const routes = new Map<string, Handler>();
  const hits = new Map<string, number>();
  const server: Server = createHttpServer((req, res) => {
    const path = new URL(req.url ?? '/', 'http://x').pathname;
    hits.set(path, (hits.get(path) ?? 0) + 1);
    const route = routes.get(path);
    if (route) route(req, res);
    else res.writeHead(404).end();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  const base = `http://127.0.0.1:${port}`;
  return {
    port,
    url: (path: string) => `${base}${path}`,
    hits: (path: string) => hits.get(path) ?? 0,
    route(path: string, handler: Handler) {
      routes.set(path, handler);
      return `${base}${path}`;
    },
    /** Serves a JSON document at `path` (its client_id defaults to its own URL), with `headers`. */
    document(path: string, members: Record<string, unknown>, headers: Record<string, string> = {}) {
      const url = `${base}${path}`;
      routes.set(path, (_req, res) => {
        res.writeHead(200, { 'content-type': 'application/json', ...headers }).end(JSON.stringify({ client_id: url, ...members }));
      });
      return url;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

type DocumentServer = Awaited<ReturnType<typeof startDocumentServer>>;

/** A public MCP-style client's document (the MCP specification's example, with our callback). */
const publicClient = (extra: Record<string, unknown> = {}) => ({
  client_name: 'Example MCP Client',
  client_uri: 'https://app.example',
  logo_uri: 'https://app.example/logo.png',
  redirect_uris: [CALLBACK, 'http://127.0.0.1/callback'],
  grant_types: ['authorization_code', 'refresh_token'],
  response_types: ['code'],
  token_endpoint_auth_method: 'none',
  ...extra,
});

/** Registers the API (orders:read open to registered clients, orders:write not) and Alice. */
async function seed(s: RunningServer): Promise<void> {
  await s.registry.createResource({
    identifier: API,
    name: 'Orders API',
    scopes: [
      { scope: 'orders:read', description: 'Read your orders' },
      { scope: 'orders:write', description: 'Place orders for you' },
    ],
    openScopes: ['orders:read'],
  });
  await new UserRegistry(s.server.context.storage).create({ username: 'alice', password: PASSWORD, email: 'alice@example.com', name: 'Alice' });
}

/** GET /authorize for `clientId` (no session): the page it answers with. */
async function authorizePage(s: RunningServer, clientId: string, over: { scope?: string; redirectUri?: string } = {}): Promise<Page> {
  const { challenge } = pkcePair();
  return new FormBrowser().get(authorizeUrl(s, { clientId, redirectUri: CALLBACK, scope: 'openid orders:read', ...over }, challenge));
}

/** The answer to an accepted client without a session: on to the login page. */
function assertAccepted(s: RunningServer, page: Page, label: string): void {
  assert.equal(page.status, 303, `${label}: ${page.status} ${page.text.slice(0, 200)}`);
  assert.ok(page.location?.startsWith(`${s.issuer}/login`), `${label}: ${page.location}`);
}

/** The error page of a refused client: 400, no redirect anywhere. */
function assertRefusedPage(page: Page, title: RegExp, label: string): void {
  assert.equal(page.status, 400, `${label}: ${page.status} ${page.location ?? ''} ${page.text.slice(0, 200)}`);
  assert.equal(page.location, undefined, `${label}: never a redirect`);
  assert.match(page.text, title, label);
}

/** The token endpoint's answer to a public client_id URL: 401 invalid_client when refused. */
async function assertInvalidClientAtToken(s: RunningServer, clientId: string, label: string): Promise<void> {
  const res = await postForm(`${s.issuer}/token`, { grant_type: 'authorization_code', code: 'x', code_verifier: 'y'.repeat(43), client_id: clientId });
  assert.equal(res.status, 401, `${label}: ${res.status} ${res.text}`);
  assert.equal(res.body?.error, 'invalid_client', label);
}

/** Runs the browser side of the code flow for a client_id URL; returns the code and the verifier. */
async function authorize(s: RunningServer, clientId: string, options: { scope?: string; browser?: FormBrowser } = {}) {
  const { verifier, challenge } = pkcePair();
  const url = authorizeUrl(s, { clientId, redirectUri: CALLBACK, scope: options.scope ?? 'openid offline_access orders:read' }, challenge);
  const walked = await walkAuthorization(options.browser ?? new FormBrowser(), s.issuer, url);
  const code = walked.callback.searchParams.get('code');
  assert.ok(code, `no code in ${walked.callback}`);
  return { ...walked, code, verifier };
}

describe('client ID metadata documents: units', () => {
  test('a client_id is a URL when it starts with https:// or http://; registered ids never do', () => {
    assert.equal(isClientIdUrl('https://app.example/client.json'), true);
    assert.equal(isClientIdUrl('HTTPS://app.example/client.json'), true);
    assert.equal(isClientIdUrl('http://127.0.0.1:8080/client.json'), true);
    assert.equal(isClientIdUrl('0f3c9a2b7d1e4c5f8a6b9c0d1e2f3a4b'), false);
    assert.equal(isClientIdUrl('https-client'), false);
  });

  test('draft §3: https, a path, no userinfo, fragment or dot segments, at most 128 characters; a query and a port are allowed', () => {
    for (const ok of ['https://app.example/client.json', 'https://app.example:8443/oauth/client', 'https://app.example/', 'https://app.example/c?v=1']) {
      assert.equal(checkClientIdUrl(ok, false), undefined, ok);
    }
    for (const [bad, why] of [
      ['https://app.example', /path/],
      ['https://app.example?x=1', /path/],
      ['https://app.example/a#b', /fragment/],
      ['https://user@app.example/c', /userinfo/],
      ['https://user:pw@app.example/c', /userinfo/],
      ['https://app.example/./c', /\. or \.\./],
      ['https://app.example/a/../c', /\. or \.\./],
      ['https://app.example/a/%2E%2e/c', /\. or \.\./],
      ['https://app.example/a/..', /\. or \.\./],
      ['HTTPS://app.example/c', /https scheme/],
      ['http://app.example/c', /https/],
      ['http://127.0.0.1:8080/c', /https scheme/],
      ['https://app.example/caf\u00e9', /ASCII/],
      ['https://app.example/c d', /spaces/],
      [`https://app.example/${'x'.repeat(110)}`, /1-128 characters/],
      ['ftp://app.example/c', /https/],
    ] as const) {
      assert.match(checkClientIdUrl(bad, false) ?? 'accepted', why, bad);
    }
    assert.equal(checkClientIdUrl('http://127.0.0.1:8080/c', true), undefined, 'http to loopback in development');
    assert.match(checkClientIdUrl('http://app.example/c', true) ?? 'accepted', /https/, 'http elsewhere, never');
  });

  test('the settings are checked at startup: the policy, the allowlist and the cache bounds', () => {
    const load = (env: Record<string, string>) => loadSettings({ env });
    assert.equal(load({}).clientMetadataDocuments, 'all', 'on by default');
    assert.equal(load({}).clientMetadataCacheMinSeconds, 60);
    assert.equal(load({}).clientMetadataCacheMaxSeconds, 86400);
    assert.throws(() => load({ LATCHKEY_CLIENT_METADATA_DOCUMENTS: 'some' }), /must be one of off, allowlist, all/);
    assert.throws(() => load({ LATCHKEY_CLIENT_METADATA_DOCUMENTS: 'allowlist' }), /needs LATCHKEY_CLIENT_METADATA_HOSTS/);
    for (const hosts of ['https://app.example.com', 'app.example.com:443', 'app.example.com/path', '*.example.com', 'a b']) {
      assert.throws(() => load({ LATCHKEY_CLIENT_METADATA_DOCUMENTS: 'allowlist', LATCHKEY_CLIENT_METADATA_HOSTS: hosts }), /host names/, hosts);
    }
    const listed = load({ LATCHKEY_CLIENT_METADATA_DOCUMENTS: 'allowlist', LATCHKEY_CLIENT_METADATA_HOSTS: 'App.Example.com, claude.ai,[::1]' });
    assert.equal(listed.clientMetadataHosts, 'App.Example.com, claude.ai,[::1]');
    assert.throws(() => load({ LATCHKEY_CLIENT_METADATA_CACHE_MIN_SECONDS: '600', LATCHKEY_CLIENT_METADATA_CACHE_MAX_SECONDS: '300' }), /must not be longer/);
    assert.throws(() => load({ LATCHKEY_CLIENT_METADATA_CACHE_MAX_SECONDS: String(8 * 86400) }), /at most 604800/);
    assert.throws(() => load({ LATCHKEY_OUTBOUND_CA_FILE: '/nonexistent/ca.pem' }), /LATCHKEY_OUTBOUND_CA_FILE cannot be read/);
    assert.throws(() => load({ LATCHKEY_OUTBOUND_CA_FILE: fileURLToPath(import.meta.url) }), /holds no PEM certificate/);
  });

  test('draft §5.2: the cache lifetime follows max-age or Expires, clamped into the configured bounds', () => {
    const bounds = { minSeconds: 60, maxSeconds: 3600 };
    const url = 'https://app.example/c';
    // A Date a little ahead: the answer's apparent age is then 0 (RFC 9111 §4.2.3), whatever the clock's milliseconds.
    const date = new Date(Date.now() + 5000).toUTCString();
    assert.equal(cacheLifetimeSeconds(url, { 'cache-control': 'max-age=600' }, bounds), 600);
    assert.equal(cacheLifetimeSeconds(url, { 'cache-control': 'public, max-age=900' }, bounds), 900);
    assert.equal(cacheLifetimeSeconds(url, { 'cache-control': 'max-age=10' }, bounds), 60, 'raised to the minimum');
    assert.equal(cacheLifetimeSeconds(url, { 'cache-control': 'max-age=100000' }, bounds), 3600, 'lowered to the maximum');
    assert.equal(cacheLifetimeSeconds(url, { 'cache-control': 'max-age=600', age: '100' }, bounds), 500, 'less its age');
    assert.equal(cacheLifetimeSeconds(url, {}, bounds), 60, 'no lifetime: the minimum');
    assert.equal(cacheLifetimeSeconds(url, { 'cache-control': 'no-store' }, bounds), 60);
    assert.equal(cacheLifetimeSeconds(url, { 'cache-control': 'no-cache, max-age=600' }, bounds), 60);
    assert.equal(cacheLifetimeSeconds(url, { 'cache-control': 's-maxage=900' }, bounds), 60, 's-maxage is for shared caches');
    const expires = new Date(Date.parse(date) + 300_000).toUTCString();
    assert.equal(cacheLifetimeSeconds(url, { date, expires }, bounds), 300, 'Expires less Date');
    assert.equal(cacheLifetimeSeconds(url, { date, expires, 'cache-control': 'max-age=120' }, bounds), 120, 'max-age wins over Expires');
    assert.equal(cacheLifetimeSeconds(url, { date, expires: 'not a date' }, bounds), 60);
  });

  test('draft §8.6, §8.7: the fetch goes through the SSRF guard, within the size and time limits, without redirects', async () => {
    const docs = await startDocumentServer();
    const dev = { allowLoopbackClientMetadata: true, clientMetadataCacheMinSeconds: 60, clientMetadataCacheMaxSeconds: 3600 };
    try {
      const url = docs.document('/ok', { redirect_uris: [CALLBACK] }, { 'cache-control': 'max-age=120' });
      assert.deepEqual(await fetchMetadataDocument(url, dev), { document: { client_id: url, redirect_uris: [CALLBACK] }, lifetimeSeconds: 120 });
      const slow = docs.route('/slow', () => {}); // never answers
      await assert.rejects(fetchMetadataDocument(slow, dev, { timeoutMs: 300 }), /client_id did not answer within 300 ms/);
      const big = docs.document('/big', { padding: 'x'.repeat(6 * 1024) });
      await assert.rejects(fetchMetadataDocument(big, dev), /larger than 5120 bytes/);
      const redirect = docs.route('/moved', (_req, res) => res.writeHead(302, { location: '/ok' }).end());
      const before = docs.hits('/ok');
      await assert.rejects(fetchMetadataDocument(redirect, dev), /302.*no redirects/);
      assert.equal(docs.hits('/ok'), before, 'the redirect is not followed');
      const html = docs.route('/html', (_req, res) => res.writeHead(200, { 'content-type': 'text/html' }).end('<html>'));
      await assert.rejects(fetchMetadataDocument(html, dev), /not JSON/);
      // Without the development setting: http is refused before anything is resolved, and an https
      // URL on loopback by its address, before any connection.
      const production = { ...dev, allowLoopbackClientMetadata: false };
      const hits = docs.hits('/ok');
      await assert.rejects(fetchMetadataDocument(url, production), /LATCHKEY_ALLOW_LOOPBACK_CLIENT_METADATA/);
      await assert.rejects(fetchMetadataDocument(url.replace('http:', 'https:'), production), /loopback address/);
      await assert.rejects(fetchMetadataDocument(`https://localhost:${docs.port}/ok`, production), /loopback address/);
      await assert.rejects(fetchMetadataDocument('https://169.254.169.254/latest/meta-data', production), /not a public address/);
      await assert.rejects(fetchMetadataDocument('https://10.0.0.1/client.json', dev), /not a public address/);
      assert.equal(docs.hits('/ok'), hits, 'nothing reached the document server');
    } finally {
      await docs.close();
    }
  });
});

for (const backend of await backends()) {
  describe(`client ID metadata documents (${backend.name})`, { skip: backend.skip }, () => {
    let db: TestDatabase;
    let s: RunningServer;
    let docs: DocumentServer;

    before(async () => {
      db = await backend.create();
      s = await startServer(db, { allowLoopbackClientMetadata: true });
      await seed(s);
      docs = await startDocumentServer();
    });
    after(async () => {
      await docs?.close();
      await s?.close();
      await db?.drop();
    });

    test('discovery says client_id_metadata_document_supported (draft §6)', async () => {
      const metadata = (await (await fetch(`${s.issuer}/.well-known/oauth-authorization-server`)).json()) as Record<string, unknown>;
      assert.equal(metadata.client_id_metadata_document_supported, true);
      const oidc = (await (await fetch(`${s.issuer}/.well-known/openid-configuration`)).json()) as Record<string, unknown>;
      assert.equal(oidc.client_id_metadata_document_supported, true);
    });

    test('a public client with a metadata document: login, consent, code with PKCE, tokens and a refresh, fetching the document once', async () => {
      const clientId = docs.document('/mcp-client.json', publicClient(), { 'cache-control': 'max-age=300' });
      const flow = await authorize(s, clientId);
      assert.equal(flow.sawLogin, true);
      assert.equal(flow.sawConsent, true, 'never first-party: the user is asked');
      assert.match(flow.consentPage!.text, /Example MCP Client/);
      // Who publishes the description: the client_id URL's host, beside the redirect host.
      assert.match(flow.consentPage!.text, new RegExp(`published at <strong class="publisher">127\\.0\\.0\\.1:${docs.port}</strong>`));
      const res = await exchangeCode(s, { clientId, code: flow.code, verifier: flow.verifier, redirectUri: CALLBACK });
      assert.equal(res.status, 200, res.text);
      assert.equal(res.body.scope, 'openid offline_access orders:read');
      const claims = decodeJwt(res.body.access_token);
      assert.equal(claims.client_id, clientId);
      assert.ok([claims.aud].flat().includes(API), `aud ${JSON.stringify(claims.aud)}`);
      assert.equal(decodeJwt(res.body.id_token).aud, clientId);
      const refreshed = await postForm(`${s.issuer}/token`, { grant_type: 'refresh_token', refresh_token: res.body.refresh_token, client_id: clientId });
      assert.equal(refreshed.status, 200, refreshed.text);
      assert.ok(refreshed.body.refresh_token && refreshed.body.refresh_token !== res.body.refresh_token, 'rotated');
      assert.equal(docs.hits('/mcp-client.json'), 1, 'authorize, login, consent, token and refresh used the one fetch');

      // The client is a row of its own, never first-party, allowed what is open to registered clients.
      const client = await s.registry.getClient(clientId);
      assert.equal(client.source, 'metadata-document');
      assert.equal(client.firstParty, false);
      assert.equal(client.type, 'public');
      assert.equal(client.name, 'Example MCP Client');
      assert.deepEqual(client.redirectUris, [CALLBACK, 'http://127.0.0.1/callback']);
      assert.deepEqual(client.scopes, [{ scope: 'orders:read', resource: API }]);
      assert.deepEqual(client.audiences.map((a) => a.identifier), [API]);
      const kept = await s.server.context.storage.clientMetadata.find(clientId);
      assert.equal(kept?.document.logo_uri, 'https://app.example/logo.png', 'display members kept as text');
    });

    test('a scope the operator did not open to registered clients is invalid_scope, sent back to the listed redirect URI', async () => {
      const clientId = docs.document('/scoped.json', publicClient());
      const page = await authorizePage(s, clientId, { scope: 'openid orders:write' });
      assert.ok(page.status === 302 || page.status === 303, `${page.status} ${page.text.slice(0, 200)}`);
      const back = new URL(page.location!);
      assert.equal(`${back.origin}${back.pathname}`, CALLBACK);
      assert.equal(back.searchParams.get('error'), 'invalid_scope');
    });

    test('a loopback redirect URI listed by a public client matches on any port (RFC 8252 §7.3)', async () => {
      const clientId = docs.document('/loopback.json', publicClient());
      assertAccepted(s, await authorizePage(s, clientId, { redirectUri: 'http://127.0.0.1:53123/callback' }), 'any port');
    });

    test('refused documents: an error page at /authorize, invalid_client at /token, and nothing kept', async () => {
      const other = docs.url('/someone-else.json');
      const cases: { why: string; path: string; serve: (url: string) => void }[] = [
        { why: 'client_id differs from the URL', path: '/mismatch.json', serve: () => docs.document('/mismatch.json', publicClient({ client_id: other })) },
        {
          why: 'client_id differs by a trailing slash',
          path: '/slash.json',
          serve: (url) => docs.document('/slash.json', publicClient({ client_id: `${url}/` })),
        },
        { why: 'no client_id', path: '/no-id.json', serve: () => docs.route('/no-id.json', (_q, r) => r.writeHead(200).end(JSON.stringify(publicClient()))) },
        { why: 'client_secret', path: '/secret.json', serve: () => docs.document('/secret.json', publicClient({ client_secret: 'shh' })) },
        { why: 'client_secret_expires_at', path: '/secret-exp.json', serve: () => docs.document('/secret-exp.json', publicClient({ client_secret_expires_at: 0 })) },
        {
          why: 'a shared-secret auth method',
          path: '/basic.json',
          serve: () => docs.document('/basic.json', publicClient({ token_endpoint_auth_method: 'client_secret_basic' })),
        },
        { why: 'a grant other than the code grant', path: '/cc.json', serve: () => docs.document('/cc.json', publicClient({ grant_types: ['client_credentials'] })) },
        { why: 'no redirect_uris', path: '/no-redirect.json', serve: () => docs.document('/no-redirect.json', publicClient({ redirect_uris: [] })) },
        {
          why: 'a javascript: redirect URI',
          path: '/js.json',
          serve: () => docs.document('/js.json', publicClient({ redirect_uris: [CALLBACK, 'javascript:alert(1)'] })),
        },
        { why: 'a redirect from the document server', path: '/moved.json', serve: () => docs.route('/moved.json', (_q, r) => r.writeHead(302, { location: '/mcp-client.json' }).end()) },
        { why: 'a 404', path: '/missing.json', serve: () => {} },
        { why: 'a document over 5 KiB', path: '/big.json', serve: () => docs.document('/big.json', publicClient({ padding: 'x'.repeat(6 * 1024) })) },
        { why: 'not JSON', path: '/html.json', serve: () => docs.route('/html.json', (_q, r) => r.writeHead(200, { 'content-type': 'text/html' }).end('<h1>hi</h1>')) },
        { why: 'a JSON array', path: '/array.json', serve: () => docs.route('/array.json', (_q, r) => r.writeHead(200).end('[]')) },
      ];
      for (const { why, path, serve } of cases) {
        const clientId = docs.url(path);
        serve(clientId);
        assertRefusedPage(await authorizePage(s, clientId), /Application not available/, why);
        await assertInvalidClientAtToken(s, clientId, why);
        assert.equal(await s.server.context.storage.clientMetadata.find(clientId), undefined, `${why}: nothing kept`);
        assert.equal(await s.server.context.storage.clients.find(clientId), undefined, `${why}: no client`);
      }
      assert.match(s.logs(), /client metadata document refused/);
      assert.match(s.logs(), /client_id is not exactly the URL/);
    });

    test('a redirect_uri the document does not list gets a page, never a redirect', async () => {
      const clientId = docs.document('/listed.json', publicClient());
      for (const redirect of ['https://evil.example/callback', `${CALLBACK}/more`, 'https://app.example/Callback']) {
        assertRefusedPage(await authorizePage(s, clientId, { redirectUri: redirect }), /Invalid redirect/, redirect);
      }
    });

    test('client_id URLs that break draft §3 are refused before anything is fetched', async () => {
      const before = docs.hits('/mcp-client.json');
      for (const clientId of [
        `${docs.url('/mcp-client.json')}#x`,
        docs.url('/./mcp-client.json'),
        docs.url('').replace('http://', 'http://user@') + '/mcp-client.json',
        docs.url('/mcp-client.json').replace('http:', 'ftp:'),
        `${docs.url('/')}${'a'.repeat(130)}`,
      ]) {
        assertRefusedPage(await authorizePage(s, clientId), /Application not available|Unknown application/, clientId);
      }
      assert.equal(docs.hits('/mcp-client.json'), before);
    });

    test('a refused document is not cached: once fixed it works at the next request', async () => {
      const url = docs.url('/fixed-later.json');
      docs.document('/fixed-later.json', publicClient({ client_id: other(url) }));
      assertRefusedPage(await authorizePage(s, url), /Application not available/, 'mismatch');
      docs.document('/fixed-later.json', publicClient());
      assertAccepted(s, await authorizePage(s, url), 'fixed');
      assert.equal(docs.hits('/fixed-later.json'), 2);
    });

    test('concurrent first requests for one URL share one fetch', async () => {
      const clientId = docs.document('/busy.json', publicClient());
      const pages = await Promise.all([1, 2, 3, 4, 5].map(() => authorizePage(s, clientId)));
      for (const page of pages) assertAccepted(s, page, 'concurrent');
      assert.equal(docs.hits('/busy.json'), 1);
    });

    test('draft §5.2: the document is used for its max-age, within the configured minimum and maximum (a settable clock)', async () => {
      const ctx = s.server.context;
      const realNow = ctx.now;
      let clock = realNow();
      ctx.now = () => clock;
      try {
        const expect = async (path: string, hits: number, label: string) => {
          assertAccepted(s, await authorizePage(s, docs.url(path)), label);
          assert.equal(docs.hits(path), hits, label);
        };
        // max-age=600 within the bounds (60 s to 24 h).
        docs.document('/ttl-600.json', publicClient(), { 'cache-control': 'max-age=600' });
        await expect('/ttl-600.json', 1, 'first use fetches');
        clock += 599;
        await expect('/ttl-600.json', 1, 'fresh for 600 s');
        clock += 2;
        await expect('/ttl-600.json', 2, 'fetched again after 600 s');
        // max-age=10 is raised to the 60 s minimum.
        docs.document('/ttl-10.json', publicClient(), { 'cache-control': 'max-age=10' });
        await expect('/ttl-10.json', 1, 'first use');
        clock += 30;
        await expect('/ttl-10.json', 1, 'still fresh after 30 s: the minimum is 60 s');
        clock += 31;
        await expect('/ttl-10.json', 2, 'fetched again after 60 s');
        // no-store and no cache headers at all: the minimum too.
        docs.document('/no-store.json', publicClient(), { 'cache-control': 'no-store' });
        await expect('/no-store.json', 1, 'first use');
        clock += 59;
        await expect('/no-store.json', 1, 'kept for the minimum');
        clock += 2;
        await expect('/no-store.json', 2, 'then fetched again');
        // max-age of a week is lowered to the 24 h maximum.
        docs.document('/ttl-week.json', publicClient(), { 'cache-control': `max-age=${7 * 86400}` });
        await expect('/ttl-week.json', 1, 'first use');
        clock += 86400 - 1;
        await expect('/ttl-week.json', 1, 'fresh for a day');
        clock += 2;
        await expect('/ttl-week.json', 2, 'fetched again after the 24 h maximum');
        // The janitor purges documents past their lifetime, and their clients that were never granted
        // anything (anyone can make one by naming a new URL); a client with a grant stays.
        const purgedUrl = docs.url('/ttl-week.json');
        const used = docs.document('/used.json', publicClient(), { 'cache-control': 'max-age=60' });
        clock = realNow();
        const flow = await authorize(s, used);
        const tokens = await exchangeCode(s, { clientId: used, code: flow.code, verifier: flow.verifier, redirectUri: CALLBACK });
        assert.ok(tokens.body.refresh_token, tokens.text);
        clock += 7 * 86400;
        await new Janitor(ctx).runOnce(clock);
        assert.equal(await ctx.storage.clientMetadata.find(purgedUrl), undefined, 'purged');
        assert.equal(await ctx.storage.clients.find(purgedUrl), undefined, 'an unused client goes with its document');
        assert.equal(await ctx.storage.clientMetadata.find(used), undefined, 'purged');
        assert.ok(await ctx.storage.clients.find(used), 'a client with a grant stays');
        await expect('/ttl-week.json', 3, 'fetched again when next used');
        assert.ok(await ctx.storage.clients.find(purgedUrl), 'and the same client again');
      } finally {
        ctx.now = realNow;
      }
    });

    test('the private_key_jwt variant: inline jwks, the assertion at the token endpoint, no assertion is invalid_client', async () => {
      const { privateKey, publicKey } = await generateKeyPair('ES256', { extractable: true });
      const jwk: JWK = { ...(await exportJWK(publicKey)), kid: 'mcp-1', alg: 'ES256', use: 'sig' };
      const clientId = docs.document('/confidential.json', publicClient({ token_endpoint_auth_method: 'private_key_jwt', jwks: { keys: [jwk] } }));
      const flow = await authorize(s, clientId, { scope: 'openid orders:read' });
      const client = await s.registry.getClient(clientId);
      assert.equal(client.type, 'confidential');
      assert.equal(client.tokenEndpointAuthMethod, 'private_key_jwt');
      const form = { grant_type: 'authorization_code', code: flow.code, code_verifier: flow.verifier, redirect_uri: CALLBACK };
      const without = await postForm(`${s.issuer}/token`, { ...form, client_id: clientId });
      assert.equal(without.status, 401, 'a private_key_jwt client must authenticate');
      assert.equal(without.body.error, 'invalid_client');
      const res = await postForm(`${s.issuer}/token`, {
        ...form,
        client_assertion_type: ASSERTION_TYPE,
        client_assertion: await assertion(clientId, `${s.issuer}/token`, privateKey),
      });
      assert.equal(res.status, 200, res.text);
      assert.equal(decodeJwt(res.body.access_token).client_id, clientId);
    });

    test('the private_key_jwt variant with a jwks_uri, and a document holding private key material is refused', async () => {
      const dev = await startServer(db, { allowLoopbackClientMetadata: true, allowLoopbackJwksUri: true });
      try {
        const { privateKey, publicKey } = await generateKeyPair('ES256', { extractable: true });
        const jwk: JWK = { ...(await exportJWK(publicKey)), kid: 'mcp-2', alg: 'ES256', use: 'sig' };
        docs.route('/keys.json', (_q, r) => r.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ keys: [jwk] })));
        const clientId = docs.document('/by-uri.json', publicClient({ token_endpoint_auth_method: 'private_key_jwt', jwks_uri: docs.url('/keys.json') }));
        const flow = await authorize(dev, clientId, { scope: 'openid orders:read' });
        const res = await postForm(`${dev.issuer}/token`, {
          grant_type: 'authorization_code',
          code: flow.code,
          code_verifier: flow.verifier,
          redirect_uri: CALLBACK,
          client_assertion_type: ASSERTION_TYPE,
          client_assertion: await assertion(clientId, `${dev.issuer}/token`, privateKey),
        });
        assert.equal(res.status, 200, res.text);
        assert.equal(docs.hits('/keys.json'), 1);

        const { privateKey: leaked } = await generateKeyPair('ES256', { extractable: true });
        const privateJwk = { ...(await exportJWK(leaked)), kid: 'oops' };
        const leaking = docs.document('/leaks.json', publicClient({ token_endpoint_auth_method: 'private_key_jwt', jwks: { keys: [privateJwk] } }));
        assertRefusedPage(await authorizePage(dev, leaking), /Application not available/, 'private key material');
      } finally {
        await dev.close();
      }
    });

    test('a changed document takes effect at its next fetch, updates the client and forgets its consents; an unchanged one leaves it as it is', async () => {
      // Minimum 0 and max-age=0: every use fetches the document again.
      const fresh = await startServer(db, { allowLoopbackClientMetadata: true, clientMetadataCacheMinSeconds: 0 });
      try {
        const clientId = docs.document('/changing.json', publicClient(), { 'cache-control': 'max-age=0' });
        const browser = new FormBrowser();
        const first = await authorize(fresh, clientId, { browser });
        assert.equal(first.sawConsent, true);
        assert.match(first.consentPage!.text, /Example MCP Client/);
        assert.equal((await authorize(fresh, clientId, { browser })).sawConsent, false, 'one consent per client and user');
        const fetches = docs.hits('/changing.json');
        assert.ok(fetches >= 2, 'fetched at every use');
        assert.doesNotMatch(fresh.logs(), /client metadata document changed/, 'the same document rewrites nothing');
        docs.document('/changing.json', publicClient({ client_name: 'Renamed Client' }), { 'cache-control': 'max-age=0' });
        const again = await authorize(fresh, clientId, { browser });
        assert.equal(again.sawConsent, true, 'a changed document forgets the consent given to it as it was');
        assert.match(again.consentPage!.text, /Renamed Client/);
        assert.equal((await fresh.registry.getClient(clientId)).name, 'Renamed Client');
        assert.equal(fresh.logs().match(/client metadata document changed/g)?.length, 1);
      } finally {
        await fresh.close();
      }
    });

    test('an operator who deletes a metadata-document client retires its URL', async () => {
      const clientId = docs.document('/deleted.json', publicClient());
      assertAccepted(s, await authorizePage(s, clientId), 'before');
      await s.registry.deleteClient(clientId);
      assertRefusedPage(await authorizePage(s, clientId), /Application not available/, 'retired');
      await assertInvalidClientAtToken(s, clientId, 'retired');
    });
  });

  describe(`client ID metadata documents: settings (${backend.name})`, { skip: backend.skip }, () => {
    let db: TestDatabase;
    let docs: DocumentServer;
    let clientId: string;

    before(async () => {
      db = await backend.create();
      docs = await startDocumentServer();
      clientId = docs.document('/client.json', publicClient());
    });
    after(async () => {
      await docs?.close();
      await db?.drop();
    });

    /** A server with `overrides`, seeded once per database. */
    const withServer = async (overrides: Parameters<typeof startServer>[1], run: (s: RunningServer) => Promise<void>) => {
      const s = await startServer(db, overrides);
      try {
        if (!(await s.server.context.storage.resources.findByIdentifier(API))) await seed(s);
        await run(s);
      } finally {
        await s.close();
      }
    };

    test('without LATCHKEY_ALLOW_LOOPBACK_CLIENT_METADATA, loopback, private and link-local URLs are refused without a connection', async () => {
      await withServer({}, async (s) => {
        const before = docs.hits('/client.json');
        for (const url of [
          clientId,
          clientId.replace('http:', 'https:'),
          `https://localhost:${docs.port}/client.json`,
          'https://10.0.0.1/client.json',
          'https://169.254.169.254/latest/meta-data',
          'https://[::1]/client.json',
        ]) {
          assertRefusedPage(await authorizePage(s, url), /Application not available/, url);
          await assertInvalidClientAtToken(s, url, url);
        }
        assert.equal(docs.hits('/client.json'), before, 'nothing reached the document server');
      });
    });

    test('allowlist: only the listed hosts are fetched', async () => {
      await withServer({ allowLoopbackClientMetadata: true, clientMetadataDocuments: 'allowlist', clientMetadataHosts: 'client.example.com' }, async (s) => {
        const before = docs.hits('/client.json');
        assertRefusedPage(await authorizePage(s, clientId), /Application not available/, 'not listed');
        await assertInvalidClientAtToken(s, clientId, 'not listed');
        assert.equal(docs.hits('/client.json'), before, 'no fetch');
        assert.match(s.logs(), /not in LATCHKEY_CLIENT_METADATA_HOSTS/);
      });
      await withServer({ allowLoopbackClientMetadata: true, clientMetadataDocuments: 'allowlist', clientMetadataHosts: 'client.example.com, 127.0.0.1' }, async (s) => {
        assertAccepted(s, await authorizePage(s, clientId), 'listed');
      });
    });

    test('https: a document server with a private certificate is refused, and used once LATCHKEY_OUTBOUND_CA_FILE names its authority', async () => {
      const certificate = selfSignedCertificate();
      const server = createHttpsServer({ cert: certificate.cert, key: certificate.key }, (req, res) => {
        const self = `https://127.0.0.1:${(server.address() as { port: number }).port}/client.json`;
        if (req.url === '/client.json') res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ client_id: self, ...publicClient() }));
        else res.writeHead(404).end();
      });
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
      const httpsId = `https://127.0.0.1:${(server.address() as { port: number }).port}/client.json`;
      try {
        await withServer({ allowLoopbackClientMetadata: true }, async (s) => {
          assertRefusedPage(await authorizePage(s, httpsId), /Application not available/, 'an unknown authority');
          assert.match(s.logs(), /self[- ]signed certificate/);
        });
        await withServer({ allowLoopbackClientMetadata: true, outboundCaFile: certificate.certFile }, async (s) => {
          assertAccepted(s, await authorizePage(s, httpsId), 'a trusted authority');
        });
      } finally {
        server.closeAllConnections();
        await new Promise<void>((resolve) => server.close(() => resolve()));
        certificate.remove();
      }
    });

    test('off: a client_id URL is an unknown client, nothing is fetched, discovery does not offer it', async () => {
      await withServer({ allowLoopbackClientMetadata: true, clientMetadataDocuments: 'off' }, async (s) => {
        const before = docs.hits('/client.json');
        assertRefusedPage(await authorizePage(s, clientId), /Unknown application/, 'off');
        await assertInvalidClientAtToken(s, clientId, 'off');
        assert.equal(docs.hits('/client.json'), before);
        const metadata = (await (await fetch(`${s.issuer}/.well-known/oauth-authorization-server`)).json()) as Record<string, unknown>;
        assert.equal('client_id_metadata_document_supported' in metadata, false);
      });
    });
  });
}

/** Another URL than `url`: the document then names someone else. */
function other(url: string): string {
  return url.replace('.json', '-other.json');
}

/** A client assertion (RFC 7523 §3) for `clientId`, signed with `key`. */
function assertion(clientId: string, audience: string, key: CryptoKey): Promise<string> {
  return new SignJWT({ jti: randomBytes(16).toString('base64url') })
    .setProtectedHeader({ alg: 'ES256' })
    .setIssuer(clientId)
    .setSubject(clientId)
    .setAudience(audience)
    .setIssuedAt()
    .setExpirationTime('60s')
    .sign(key);
}
