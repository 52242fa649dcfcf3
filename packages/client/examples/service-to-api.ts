/**
 * A service calling an API as itself (client credentials): one token, cached and shared by every call,
 * renewed a minute before it expires, retried on 5xx and network errors, and replaced once when the API
 * says it is no longer valid.
 *
 *   LATCHKEY_ISSUER=http://localhost:9000 CLIENT_ID=... CLIENT_SECRET=... ORDERS_API=http://127.0.0.1:3001 \
 *     node --import tsx packages/client/examples/service-to-api.ts
 */
import { pathToFileURL } from 'node:url';
import { ClientCredentials, LatchkeyClient, OAuthError } from '@latchkey/client';

export interface OrdersCallerOptions {
  issuer: string;
  clientId: string;
  clientSecret: string;
  /** The orders API's base URL. */
  apiUrl: string;
}

export function createOrdersCaller(options: OrdersCallerOptions) {
  const client = new LatchkeyClient({ issuer: options.issuer, clientId: options.clientId, clientSecret: options.clientSecret });
  const tokens = new ClientCredentials({ client, scope: 'orders:read' });
  return {
    async listOrders(): Promise<unknown> {
      const res = await tokens.authorizedFetch(`${options.apiUrl}/orders`, { headers: { accept: 'application/json' } });
      if (!res.ok) throw new Error(`the orders API answered ${res.status}`);
      return res.json();
    },
  };
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const env = (name: string) => {
    const value = process.env[name];
    if (!value) throw new Error(`set ${name}`);
    return value;
  };
  const caller = createOrdersCaller({
    issuer: process.env.LATCHKEY_ISSUER ?? 'http://localhost:9000',
    clientId: env('CLIENT_ID'),
    clientSecret: env('CLIENT_SECRET'),
    apiUrl: env('ORDERS_API'),
  });
  try {
    console.log(JSON.stringify(await caller.listOrders(), null, 2));
  } catch (err) {
    // OAuthError: the server refused (invalid_client: wrong id or secret; invalid_scope: not allowed orders:read).
    console.error(err instanceof OAuthError ? `${err.error}: ${err.error_description ?? ''}` : err);
    process.exitCode = 1;
  }
}
