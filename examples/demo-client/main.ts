// Runs the demo shop and its orders API against a running Latchkey:
//   DEMO_CLIENT_ID=<client_id> node --import tsx examples/demo-client/main.ts
// See README.md for the registrations it needs.
import { startDemoClient } from './demo-client.ts';
import { startOrdersApi } from './orders-api.ts';

function port(name: string, fallback: number): number {
  const value = Number(process.env[name] ?? fallback);
  if (!Number.isInteger(value) || value < 0 || value > 65535) throw new Error(`${name} must be a port number`);
  return value;
}

const issuer = process.env.LATCHKEY_ISSUER ?? 'http://localhost:9000';
const clientId = process.env.DEMO_CLIENT_ID;
if (!clientId) {
  console.error('Set DEMO_CLIENT_ID to the client_id of the public client registered for the demo (see README.md).');
  process.exit(2);
}
const audience = process.env.ORDERS_AUDIENCE ?? 'https://orders.example';

const api = await startOrdersApi({ issuer, audience, port: port('ORDERS_API_PORT', 3001) });
const app = await startDemoClient({ issuer, clientId, apiUrl: `${api.url}/orders`, port: port('DEMO_PORT', 3000) });
console.log(`orders API: ${api.url}/orders (audience ${audience})`);
console.log(`demo shop:  ${app.url} (redirect URI ${app.url}/callback)`);

for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    void Promise.all([app.close(), api.close()]).then(() => process.exit(0));
  });
}
