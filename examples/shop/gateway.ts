/**
 * The edge: @latchkey/gateway in front of the orders and inventory services. The demo writes its
 * configuration file (the gateway's own YAML format) into the data directory and starts the gateway
 * from it, as `latchkey-gateway --config gateway.yaml` would.
 */
import { createWriteStream, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createGateway, loadConfigFile } from '@latchkey/gateway';
import { INVENTORY_API, ORDERS_API } from './config.ts';

export interface GatewaySetup {
  issuer: string;
  host: string;
  port: number;
  ordersUrl: string;
  inventoryUrl: string;
  dataDir: string;
}

/**
 * The routes, and why each forwards the caller's own token (passthrough):
 * - /orders: the orders service exchanges the user's token for a notifications token, and Latchkey
 *   exchanges only for scopes the subject token carries. The gateway's exchange mode would narrow the
 *   token to the orders API and drop `notifications:send`.
 * - /inventory: the shop's client-credentials token is for the inventory API alone already.
 * The gateway still validates every token at the edge and enforces the scopes per method; only GET
 * reaches the inventory from outside (reservations are internal, orders service to inventory).
 */
export function gatewayConfigYaml(setup: GatewaySetup): string {
  return `# Written by examples/shop at every start. The format: packages/gateway.
listen:
  host: ${setup.host}
  port: ${setup.port}
issuer: ${setup.issuer}
realm: shop-gateway
routes:
  - name: orders
    prefix: /orders
    upstream: ${setup.ordersUrl}
    audience: ${ORDERS_API}
    methods:
      GET: [orders:read]
      POST: [orders:write]
      DELETE: [orders:cancel]
    forward:
      mode: passthrough
  - name: inventory
    prefix: /inventory
    stripPrefix: true
    upstream: ${setup.inventoryUrl}
    audience: ${INVENTORY_API}
    methods:
      GET: [inventory:read]
    forward:
      mode: passthrough
`;
}

export async function startGateway(setup: GatewaySetup): Promise<{ url: string; close(): Promise<void> }> {
  const file = join(setup.dataDir, 'gateway.yaml');
  writeFileSync(file, gatewayConfigYaml(setup));
  const log = createWriteStream(join(setup.dataDir, 'logs', 'gateway.log'), { flags: 'a' });
  const gateway = await createGateway(loadConfigFile(file).config, { configFile: file, logDestination: log });
  const url = await gateway.listen();
  return {
    url,
    async close() {
      await gateway.close();
      await new Promise<void>((resolve) => log.end(resolve));
    },
  };
}
