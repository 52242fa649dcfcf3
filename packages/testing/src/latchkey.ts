import assert from 'node:assert/strict';
import type { Settings } from '@latchkey/server';
import { sqlite, type Backend, type TestDatabase } from './backends.ts';
import { FormBrowser } from './form-browser.ts';
import { postForm, startServer, type RunningServer } from './server.ts';
import { completeFlow, REDIRECT_URI, seedUserFlow, type UserFlowSeed } from './user-flow.ts';

/** The API every suite protects (the seed's orders API): scopes orders:read and orders:write. */
export const API = 'https://api.example.com';
/** Another API at the same issuer: its tokens must be refused where the orders API is expected. */
export const OTHER_API = 'https://other.example.com';
/** An API reached by token exchange (RFC 8693): scopes inventory:read and inventory:write. */
export const INVENTORY = 'https://inventory.internal';
/** RFC 8693 §2.1: the grant type of a token exchange. */
export const TOKEN_EXCHANGE = 'urn:ietf:params:oauth:grant-type:token-exchange';

export type Credentials = [clientId: string, clientSecret: string];

export interface LatchkeyOptions {
  /** Where the fresh database comes from (default SQLite); close() drops it. */
  backend?: Backend;
  /** Settings over the test defaults (port, issuer, lifetimes...). */
  settings?: Partial<Settings>;
  /** The orders API's access-token format (default: the server's, JWT). */
  accessTokenFormat?: 'jwt' | 'opaque';
}

/**
 * A real Latchkey server on a real socket and a fresh database, with the one set of fixtures every
 * package's suites use: the orders API and two more, Alice, her applications, and service clients.
 */
export interface Latchkey {
  running: RunningServer;
  issuer: string;
  db: TestDatabase;
  /** The orders API, Alice, a public and a confidential application (see seedUserFlow). */
  seed: UserFlowSeed;
  /** client_credentials, may have orders:read. */
  reader: Credentials;
  /** client_credentials, may have orders:read and orders:write. */
  writer: Credentials;
  /** client_credentials, may have other:read on OTHER_API only. */
  stranger: Credentials;
  /** client_credentials, may have orders:read and inventory:read (a token for both APIs). */
  stocker: Credentials;
  /** The orders API's own client: introspects tokens for API (RFC 7662), requests no tokens. */
  apiClient: Credentials;
  /** A gateway's client: introspects for API, exchanges tokens of API for INVENTORY (inventory:read). */
  gatewayClient: Credentials;
  /** A first-party public client (no consent page) for Alice's tokens with orders:read and inventory:read. */
  shop: string;
  /** A client_credentials access token (default: the reader's, for orders:read). */
  token(as?: Credentials, scope?: string): Promise<string>;
  /** Alice's access token for the shop, through the authorization code flow with PKCE. */
  userToken(scope?: string): Promise<string>;
  close(): Promise<void>;
}

export async function startLatchkey(options: LatchkeyOptions = {}): Promise<Latchkey> {
  const db = await (options.backend ?? sqlite).create();
  const running = await startServer(db, options.settings);
  const registry = running.registry;
  const seed = await seedUserFlow(running, options.accessTokenFormat ? { accessTokenFormat: options.accessTokenFormat } : {});
  await registry.createResource({ identifier: OTHER_API, scopes: ['other:read'] });
  await registry.createResource({ identifier: INVENTORY, scopes: ['inventory:read', 'inventory:write'] });
  const client = async (name: string, scopes: string[]): Promise<Credentials> => {
    const created = await registry.createClient({ name, type: 'confidential', grantTypes: ['client_credentials'], scopes });
    return [created.client.clientId, created.clientSecret!];
  };
  const reader = await client('reader', ['orders:read']);
  const writer = await client('writer', ['orders:read', 'orders:write']);
  const stranger = await client('stranger', ['other:read']);
  const stocker = await client('stocker', ['orders:read', 'inventory:read']);
  const api = await registry.createClient({ name: 'orders-api', type: 'confidential', grantTypes: [], scopes: [], introspectFor: [API] });
  const gateway = await registry.createClient({
    name: 'gateway',
    type: 'confidential',
    grantTypes: [TOKEN_EXCHANGE],
    scopes: [],
    introspectFor: [API],
  });
  const gatewayClient: Credentials = [gateway.client.clientId, gateway.clientSecret!];
  await registry.allowTokenExchange(gatewayClient[0], INVENTORY, ['inventory:read']);
  const shop = await registry.createClient({
    name: 'Shop',
    type: 'public',
    grantTypes: ['authorization_code'],
    scopes: ['openid', 'orders:read', 'inventory:read'],
    redirectUris: [REDIRECT_URI],
    firstParty: true,
  });
  const browser = new FormBrowser();
  return {
    running,
    issuer: running.issuer,
    db,
    seed,
    reader,
    writer,
    stranger,
    stocker,
    apiClient: [api.client.clientId, api.clientSecret!],
    gatewayClient,
    shop: shop.client.clientId,
    async token(as = reader, scope = 'orders:read') {
      const res = await postForm(`${running.issuer}/token`, { grant_type: 'client_credentials', scope }, { basic: as });
      assert.equal(res.status, 200, res.text);
      return res.body.access_token as string;
    },
    async userToken(scope = 'openid orders:read inventory:read') {
      const { tokens } = await completeFlow(browser, running, { clientId: shop.client.clientId, scope });
      return tokens.access_token;
    },
    async close() {
      await running.close().catch(() => {});
      await db.drop();
    },
  };
}

type Fetch = (input: string | URL | Request, init?: RequestInit) => Promise<Response>;

/** A fetch that records every request (method and URL) before passing it on (default: the real fetch). */
export function countingFetch(inner: Fetch = (input, init) => fetch(input, init)) {
  const calls: { method: string; url: string }[] = [];
  const wrapped: Fetch = (input, init) => {
    const url = input instanceof Request ? input.url : input.toString();
    const method = init?.method ?? (input instanceof Request ? input.method : 'GET');
    calls.push({ method, url });
    return inner(input, init);
  };
  return {
    fetch: wrapped,
    calls,
    /** Requests whose path ends with `path`. */
    count: (path: string) => calls.filter((c) => new URL(c.url).pathname.endsWith(path)).length,
  };
}
