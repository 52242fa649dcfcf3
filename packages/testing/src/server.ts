import { createHash } from 'node:crypto';
import { createServer as createNetServer } from 'node:net';
import { Writable } from 'node:stream';
import { createServer, loadSettings, Registry, type LatchkeyServer, type Settings, type TokenEndpointAuthMethod } from '@latchkey/server';
import type { TestDatabase } from './backends.ts';

/** A fixed secret so suites that restart a server can decrypt the keys again. */
export const TEST_SECRET = 'test-secret-for-latchkey-suites-0123456789';

export interface RunningServer {
  url: string;
  issuer: string;
  server: LatchkeyServer;
  registry: Registry;
  settings: Settings;
  /** Every log line the server wrote, as text. */
  logs: () => string;
  close(): Promise<void>;
}

/** A free TCP port on 127.0.0.1 (the issuer must name the port before the server listens). */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createNetServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as { port: number };
      srv.close(() => resolve(port));
    });
  });
}

/** Starts a real server on a real socket, on the given database, with logs captured. */
export async function startServer(db: TestDatabase, overrides: Partial<Settings> = {}): Promise<RunningServer> {
  const port = overrides.port ?? (await freePort());
  const settings = loadSettings({
    env: {},
    overrides: {
      port,
      host: '127.0.0.1',
      issuer: `http://127.0.0.1:${port}`,
      dataDir: db.dataDir,
      databaseUrl: db.databaseUrl,
      secret: TEST_SECRET,
      logLevel: 'info',
      keyCacheSeconds: 0,
      janitorIntervalSeconds: 0,
      ...overrides,
    },
  });
  const chunks: string[] = [];
  const destination = new Writable({
    write(chunk, _enc, done) {
      chunks.push(String(chunk));
      done();
    },
  });
  const server = await createServer(settings, { logDestination: destination });
  await server.listen();
  return {
    url: `http://127.0.0.1:${port}`,
    issuer: settings.issuer,
    server,
    registry: new Registry(server.context.storage),
    settings,
    logs: () => chunks.join(''),
    close: () => server.close(),
  };
}

/** POSTs a form to the server. `basic` adds RFC 6749 §2.3.1 HTTP Basic client authentication. */
export async function postForm(
  url: string,
  form: Record<string, string | string[]>,
  options: { basic?: [string, string]; headers?: Record<string, string> } = {},
): Promise<JsonReply> {
  const body = new URLSearchParams();
  for (const [k, v] of Object.entries(form)) for (const value of Array.isArray(v) ? v : [v]) body.append(k, value);
  const headers: Record<string, string> = { 'content-type': 'application/x-www-form-urlencoded', ...options.headers };
  if (options.basic) headers.authorization = basicAuth(...options.basic);
  return readReply(await fetch(url, { method: 'POST', headers, body: body.toString() }));
}

/** An HTTP answer read whole: the body parsed as JSON when it is JSON, and its text. */
export interface JsonReply {
  status: number;
  headers: Headers;
  body: any;
  text: string;
}

async function readReply(res: Response): Promise<JsonReply> {
  const text = await res.text();
  let parsed: any;
  try {
    parsed = text ? JSON.parse(text) : undefined;
  } catch {
    parsed = undefined;
  }
  return { status: res.status, headers: res.headers, body: parsed, text };
}

/** Sends `body` as JSON (or as given when it is a string) with `method`, and reads the answer. */
export async function sendJson(url: string, method: string, body?: unknown, headers: Record<string, string> = {}): Promise<JsonReply> {
  const init: RequestInit = { method, headers: { ...headers } };
  if (body !== undefined) {
    init.body = typeof body === 'string' ? body : JSON.stringify(body);
    (init.headers as Record<string, string>)['content-type'] ??= 'application/json';
  }
  return readReply(await fetch(url, init));
}

export function basicAuth(id: string, secret: string): string {
  const enc = (s: string) => encodeURIComponent(s).replace(/%20/g, '+');
  return `Basic ${Buffer.from(`${enc(id)}:${enc(secret)}`).toString('base64')}`;
}

/**
 * Stores a client straight through the storage, for the kinds the Registry cannot register yet (public
 * clients, clients without a grant, chosen secrets), allowed `orders:read` on the quick-start API.
 */
export async function storeClient(
  running: RunningServer,
  client: { clientId: string; type: 'confidential' | 'public'; method: TokenEndpointAuthMethod; secret?: string; grantTypes: string[] },
): Promise<void> {
  const api = await running.server.context.storage.resources.findByIdentifier('https://api.example.com');
  if (!api) throw new Error('seed the orders API first');
  await running.server.context.storage.clients.create({
    clientId: client.clientId,
    name: client.clientId,
    type: client.type,
    tokenEndpointAuthMethod: client.method,
    secretHash: client.secret === undefined ? null : createHash('sha256').update(client.secret).digest('base64url'),
    grantTypes: client.grantTypes,
    scopes: ['orders:read'],
    audienceResourceIds: [api.id],
    createdAt: Math.floor(Date.now() / 1000),
  });
}

/** Registers the quick-start API and a client-credentials client allowed `orders:read`. */
export async function seedOrdersApi(running: RunningServer, scopes = ['orders:read']) {
  await running.registry.createResource({ identifier: 'https://api.example.com', scopes: ['orders:read', 'orders:write'] });
  const created = await running.registry.createClient({
    name: 'svc-a',
    type: 'confidential',
    grantTypes: ['client_credentials'],
    scopes,
  });
  return { clientId: created.client.clientId, clientSecret: created.clientSecret! };
}
