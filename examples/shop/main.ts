/**
 * `npm run demo`: starts the whole shop on loopback, prints where everything is and the demo users,
 * then one line per step of each flow. Ctrl-C (SIGINT) or SIGTERM stops everything; nothing runs in
 * another process, so nothing is left behind.
 *
 * Ports can be changed with LATCHKEY_PORT, LATCHKEY_MTLS_PORT, GATEWAY_PORT, SHOP_PORT, ORDERS_PORT,
 * INVENTORY_PORT, INVENTORY_MTLS_PORT, NOTIFICATIONS_PORT and NOTIFICATIONS_MTLS_PORT (0: any free
 * port), and the data directory with SHOP_DEMO_DATA_DIR.
 */
import { relative } from 'node:path';
import { DEFAULT_DATA_DIR, DEFAULT_PORTS, type Ports } from './config.ts';
import { DemoAlreadyRunning, startDemo } from './demo.ts';

const PORT_VARIABLES: Record<keyof Ports, string> = {
  issuer: 'LATCHKEY_PORT',
  issuerMtls: 'LATCHKEY_MTLS_PORT',
  gateway: 'GATEWAY_PORT',
  shop: 'SHOP_PORT',
  orders: 'ORDERS_PORT',
  inventory: 'INVENTORY_PORT',
  notifications: 'NOTIFICATIONS_PORT',
  inventoryMtls: 'INVENTORY_MTLS_PORT',
  notificationsMtls: 'NOTIFICATIONS_MTLS_PORT',
};

function portsFromEnv(): Ports {
  const ports = { ...DEFAULT_PORTS } as Ports;
  for (const [key, variable] of Object.entries(PORT_VARIABLES) as [keyof Ports, string][]) {
    const value = process.env[variable];
    if (value === undefined || value === '') continue;
    const port = Number(value);
    if (!Number.isInteger(port) || port < 0 || port > 65_535) throw new Error(`${variable} must be a port number (0 for any free port)`);
    ports[key] = port;
  }
  return ports;
}

const dataDir = process.env.SHOP_DEMO_DATA_DIR || DEFAULT_DATA_DIR;
let demo: Awaited<ReturnType<typeof startDemo>>;
try {
  demo = await startDemo({
    ports: portsFromEnv(),
    dataDir,
    log: (service, message) => console.log(`[${service}] ${message}`),
  });
} catch (err) {
  const code = (err as NodeJS.ErrnoException).code;
  if (err instanceof DemoAlreadyRunning) console.error(`The demo is already running (process ${err.pid}): use it, or stop it (Ctrl-C in its terminal) before starting it again.`);
  else if (code === 'EADDRINUSE') console.error(`A port is taken (${(err as Error).message}). Stop what uses it, or choose other ports (see examples/shop/README.md). Nothing was changed.`);
  else console.error(err);
  process.exit(1);
}

const [alice, bob] = demo.users;
const shownDir = relative(process.cwd(), demo.dataDir).startsWith('..') ? demo.dataDir : relative(process.cwd(), demo.dataDir);
console.log(`
Latchkey Tea Shop is running.

  Open the shop:          ${demo.urls.shop}
  Sign in as              ${alice!.username} / ${alice!.password}   (full access: "Sign in")
                          ${bob!.username} / ${bob!.password}   (read-only: "Sign in read-only")

  Authorization server:   ${demo.urls.issuer}   (the issuer; login, consent and /device pages)
                          ${demo.urls.issuerMtls}   (mutual TLS, RFC 8705: the orders service gets its tokens here)
  Gateway:                ${demo.urls.gateway}   (/orders and /inventory)
  Orders service:         ${demo.urls.orders}
  Inventory service:      ${demo.urls.inventory}   (${demo.urls.inventoryMtls} with mutual TLS)
  Notifications service:  ${demo.urls.notifications}   (${demo.urls.notificationsMtls} with mutual TLS; GET /sent lists what it sent)

  Command line:           npm run demo:cli -- orders   (signs in with the device flow)
  Data, logs, gateway.yaml, certificates: ${shownDir} (emptied at every start)

Press Ctrl-C to stop. What the services do is printed below.
`);

let stoppingSinceMs: number | undefined;
async function stop(signal: NodeJS.Signals): Promise<void> {
  if (stoppingSinceMs !== undefined) {
    // npm forwards the terminal's Ctrl-C to this process, which has it already: one press arrives
    // twice. A second press, later, means "now".
    if (Date.now() - stoppingSinceMs < 1_000) return;
    console.log('Stopping at once.');
    process.exit(130);
  }
  stoppingSinceMs = Date.now();
  console.log(`\n${signal}: stopping...`);
  await demo.close();
  console.log('Stopped.');
  // Everything is closed; should a library still hold the event loop, do not hang on it.
  setTimeout(() => process.exit(0), 1_000).unref();
}
process.on('SIGINT', (signal) => void stop(signal));
process.on('SIGTERM', (signal) => void stop(signal));
