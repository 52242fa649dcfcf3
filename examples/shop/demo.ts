/**
 * The whole shop in one process: the demo's certificate authority and certificates (openssl), the
 * Latchkey authorization server (in process, SQLite in a fresh data directory, with its mutual-TLS
 * listener), seeded; the inventory, notifications and orders services; the gateway; and the web shop.
 * `main.ts` runs it for `npm run demo`; the test runs it on free ports.
 */
import { randomBytes } from 'node:crypto';
import { createWriteStream, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer as createNetServer } from 'node:net';
import { join } from 'node:path';
import { createServer, loadSettings, Registry, UserRegistry } from '@latchkey/server';
import { DEFAULT_DATA_DIR, DEFAULT_PORTS, type DemoFile, type Ports } from './config.ts';
import { startGateway } from './gateway.ts';
import { createDemoPki } from './pki.ts';
import { seed, type Seeded } from './seed.ts';
import type { EventLog } from './services/http.ts';
import { startInventory, type RunningInventory } from './services/inventory.ts';
import { startNotifications, type RunningNotifications } from './services/notifications.ts';
import { startOrders, type RunningOrders } from './services/orders.ts';
import { startShop } from './shop/app.ts';

/** Everything listens on loopback only. */
const HOST = '127.0.0.1';

export interface DemoOptions {
  /** Ports to listen on; 0 picks a free one. Default DEFAULT_PORTS. */
  ports?: Partial<Ports>;
  /** Emptied and used for the database, the logs, the gateway's configuration and the CLI's tokens. */
  dataDir?: string;
  /** Where the services report what they do (default: nowhere). */
  log?: EventLog;
}

export interface RunningDemo {
  urls: {
    issuer: string;
    /** Latchkey's mutual-TLS listener (its mtls_endpoint_aliases). */
    issuerMtls: string;
    gateway: string;
    shop: string;
    orders: string;
    inventory: string;
    inventoryMtls: string;
    notifications: string;
    notificationsMtls: string;
  };
  users: Seeded['users'];
  clients: Seeded;
  /** The keys that encrypt the shop's session cookies (base64url). */
  cookieKeys: { full: string; readOnly: string };
  dataDir: string;
  /** The CA certificate (PEM) and its file, which the mutual-TLS listeners' certificates chain to. */
  ca: { cert: string; file: string };
  inventory: RunningInventory;
  orders: RunningOrders;
  notifications: RunningNotifications;
  close(): Promise<void>;
}

export async function startDemo(options: DemoOptions = {}): Promise<RunningDemo> {
  const ports = await choosePorts({ ...DEFAULT_PORTS, ...options.ports });
  const dataDir = options.dataDir ?? DEFAULT_DATA_DIR;
  const log = options.log ?? (() => {});
  // Nothing is touched before it is sure the demo can start: a demo already running on this data
  // directory, or a port taken, leaves the directory (and a running demo) as they are.
  const running = runningDemo(dataDir);
  if (running !== undefined) throw new DemoAlreadyRunning(dataDir, running);
  await portsFree(ports);
  freshDataDir(dataDir);
  writeFileSync(join(dataDir, PID_FILE), `${process.pid}\n`);

  // Stopped in reverse order by close(), or when a later step fails to start.
  const closers: (() => Promise<void>)[] = [];
  const close = async () => {
    for (const closer of closers.splice(0).reverse()) await closer();
  };
  closers.push(async () => rmSync(join(dataDir, PID_FILE), { force: true }));
  try {
    const pki = createDemoPki(dataDir);
    const issuer = `http://localhost:${ports.issuer}`;
    const settings = loadSettings({
      env: {},
      overrides: {
        port: ports.issuer,
        host: HOST,
        issuer,
        dataDir,
        // A fresh database at every start: a fresh secret for its signing keys too.
        secret: randomBytes(32).toString('base64url'),
        logLevel: 'info',
        // RFC 8705: a second, https listener asking for client certificates, announced as
        // mtls_endpoint_aliases (https://localhost:<port>); tls_client_auth trusts the demo's CA.
        mtlsPort: ports.issuerMtls,
        mtlsCertFile: pki.server.certFile,
        mtlsKeyFile: pki.server.keyFile,
        mtlsClientCaFile: pki.caFile,
        // Back-channel logout to the shop, on this machine over http: development only.
        allowLoopbackBackchannelLogout: true,
      },
    });
    const serverLog = createWriteStream(join(dataDir, 'logs', 'latchkey.log'), { flags: 'a' });
    closers.push(() => new Promise<void>((resolve) => serverLog.end(resolve)));
    const server = await createServer(settings, { logDestination: serverLog });
    closers.push(() => server.close());
    await server.listen();

    const shopUrl = `http://${HOST}:${ports.shop}`;
    const clients = await seed(new Registry(server.context.storage), new UserRegistry(server.context.storage), shopUrl);

    const listener = { cert: pki.server.cert, key: pki.server.key };
    const inventory = await startInventory({ issuer, host: HOST, port: ports.inventory, mtls: { ...listener, port: ports.inventoryMtls }, log });
    closers.push(() => inventory.close());
    const notifications = await startNotifications({ issuer, host: HOST, port: ports.notifications, mtls: { ...listener, port: ports.notificationsMtls }, log });
    closers.push(() => notifications.close());
    const orders = await startOrders({
      issuer,
      host: HOST,
      port: ports.orders,
      inventoryUrl: inventory.mtlsUrl,
      notificationsUrl: notifications.mtlsUrl,
      clientId: clients.orders.clientId,
      mtls: { cert: pki.ordersService.cert, key: pki.ordersService.key, ca: pki.ca },
      log,
    });
    closers.push(() => orders.close());
    const gateway = await startGateway({ issuer, host: HOST, port: ports.gateway, ordersUrl: orders.url, inventoryUrl: inventory.url, dataDir });
    closers.push(() => gateway.close());
    const cookieKeys = { full: randomBytes(32).toString('base64url'), readOnly: randomBytes(32).toString('base64url') };
    const shop = await startShop({
      issuer,
      host: HOST,
      port: ports.shop,
      baseUrl: shopUrl,
      gatewayUrl: gateway.url,
      shopClient: clients.shop,
      readOnlyClient: clients.shopReadOnly,
      cookieKeys,
      log,
    });
    closers.push(() => shop.close());

    const demoFile: DemoFile = { issuer, gatewayUrl: gateway.url, shopUrl, cliClientId: clients.cliClientId };
    writeFileSync(join(dataDir, 'demo.json'), `${JSON.stringify(demoFile, null, 2)}\n`);
    // The confidential clients' secrets (and where the orders service's certificate is), for trying the
    // flows by hand (README): owner-only, and gone at the next start. A real deployment keeps each secret
    // and key with its own service only.
    const ordersService = { ...clients.orders, certFile: pki.ordersService.certFile, keyFile: pki.ordersService.keyFile, caFile: pki.caFile };
    const secrets = { shop: clients.shop, shopReadOnly: clients.shopReadOnly, orders: ordersService };
    writeFileSync(join(dataDir, 'clients.json'), `${JSON.stringify(secrets, null, 2)}\n`, { mode: 0o600 });
    return {
      urls: {
        issuer,
        issuerMtls: `https://localhost:${ports.issuerMtls}`,
        gateway: gateway.url,
        shop: shopUrl,
        orders: orders.url,
        inventory: inventory.url,
        inventoryMtls: inventory.mtlsUrl,
        notifications: notifications.url,
        notificationsMtls: notifications.mtlsUrl,
      },
      users: clients.users,
      clients,
      cookieKeys,
      dataDir,
      ca: { cert: pki.ca, file: pki.caFile },
      inventory,
      orders,
      notifications,
      close,
    };
  } catch (err) {
    await close();
    throw err;
  }
}

/** The process running the demo on a data directory, while it runs. */
const PID_FILE = 'demo.pid';

/** A demo already runs on this data directory; starting another would empty it under the first. */
export class DemoAlreadyRunning extends Error {
  readonly pid: number;
  constructor(dataDir: string, pid: number) {
    super(`the demo is already running (process ${pid}) with its data in ${dataDir}: stop it first (Ctrl-C in its terminal)`);
    this.pid = pid;
  }
}

/** The process of a demo running on `dataDir`: its pid file names a live process other than this one. */
function runningDemo(dataDir: string): number | undefined {
  let pid: number;
  try {
    pid = Number(readFileSync(join(dataDir, PID_FILE), 'utf8').trim());
  } catch {
    return undefined;
  }
  if (!Number.isSafeInteger(pid) || pid <= 0 || pid === process.pid) return undefined;
  try {
    process.kill(pid, 0);
    return pid;
  } catch (err) {
    // EPERM: it exists but is someone else's; ESRCH: gone (a demo that was killed), the file is stale.
    return (err as NodeJS.ErrnoException).code === 'EPERM' ? pid : undefined;
  }
}

/** Every fixed port can be listened on now, else an EADDRINUSE error naming the taken ones. */
async function portsFree(ports: Ports): Promise<void> {
  const taken: string[] = [];
  for (const [name, port] of Object.entries(ports)) {
    const free = await new Promise<boolean>((resolve) => {
      const probe = createNetServer();
      probe.once('error', () => resolve(false));
      probe.listen(port, HOST, () => probe.close(() => resolve(true)));
    });
    if (!free) taken.push(`${port} (${name})`);
  }
  if (taken.length > 0) {
    throw Object.assign(new Error(`port ${taken.join(', ')} on ${HOST} is taken`), { code: 'EADDRINUSE' });
  }
}

/** Marks a directory as the demo's, so that emptying it at the next start cannot remove anything else. */
const MARKER = '.latchkey-shop-demo';

/** Empties the data directory: only one the demo made (with its marker), or an empty or missing one. */
function freshDataDir(dataDir: string): void {
  if (existsSync(dataDir) && readdirSync(dataDir).length > 0 && !existsSync(join(dataDir, MARKER))) {
    throw new Error(`refusing to empty ${dataDir}: it is not empty and not a data directory of the shop demo`);
  }
  rmSync(dataDir, { recursive: true, force: true });
  mkdirSync(join(dataDir, 'logs'), { recursive: true, mode: 0o700 });
  writeFileSync(join(dataDir, MARKER), 'The shop demo empties this directory at every start.\n');
}

/** The issuer and the shop's redirect URIs name their ports before anything listens: 0 is resolved here. */
async function choosePorts(wanted: Ports): Promise<Ports> {
  const chosen = { ...wanted };
  const taken = new Set(Object.values(wanted));
  for (const key of Object.keys(chosen) as (keyof Ports)[]) {
    if (chosen[key] !== 0) continue;
    let port: number;
    do port = await freePort();
    while (taken.has(port));
    taken.add(port);
    chosen[key] = port;
  }
  return chosen;
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createNetServer();
    probe.once('error', reject);
    probe.listen(0, HOST, () => {
      const { port } = probe.address() as { port: number };
      probe.close(() => resolve(port));
    });
  });
}
