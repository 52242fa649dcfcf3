import { fileURLToPath } from 'node:url';

/**
 * What the demo registers at Latchkey, in one place: the APIs with their scopes (named
 * `resource:action`, in the style the project follows for API scopes), the clients (one per application and one per
 * service), and the two demo users.
 */

export const ORDERS_API = 'https://orders.shop.example';
export const INVENTORY_API = 'https://inventory.shop.example';
export const NOTIFICATIONS_API = 'https://notifications.shop.example';
export const ACCOUNTS_API = 'https://accounts.shop.example';

/** The resources (APIs), each with its scopes and the words the consent page shows for them. */
export const RESOURCES = [
  {
    identifier: ORDERS_API,
    name: 'Orders',
    scopes: [
      { scope: 'orders:read', description: 'See your orders' },
      { scope: 'orders:write', description: 'Place orders for you' },
      { scope: 'orders:cancel', description: 'Cancel your orders' },
    ],
  },
  {
    identifier: INVENTORY_API,
    name: 'Inventory',
    scopes: [
      { scope: 'inventory:read', description: 'See products and stock' },
      { scope: 'inventory:reserve', description: 'Reserve stock for orders' },
    ],
  },
  {
    identifier: NOTIFICATIONS_API,
    name: 'Notifications',
    scopes: [{ scope: 'notifications:send', description: 'Send you notifications about your orders' }],
  },
  {
    // The article's profile scope. No service of the demo serves it (the shop shows the name from the
    // ID token, OpenID Connect's `profile`); it is registered so that the scope set is the whole design.
    identifier: ACCOUNTS_API,
    name: 'Accounts',
    scopes: [{ scope: 'profile:read', description: 'See your shop profile' }],
  },
] as const;

export const CLIENT_IDS = {
  /** The web shop (a backend-for-frontend, confidential): users sign in to it. */
  shop: 'shop',
  /** The same web shop's read-only sign-in: a client that may never get orders:write. */
  shopReadOnly: 'shop-read-only',
  /** The command-line client (public, device flow). */
  cli: 'shop-cli',
  /**
   * The orders service: client credentials for inventory, token exchange for notifications; it
   * authenticates with its TLS client certificate (RFC 8705 tls_client_auth), and its tokens are bound to it.
   */
  orders: 'orders-service',
} as const;

/** What the shop asks for at a full sign-in: the orders API, and notifications the orders service may send for the user. */
export const SHOP_SCOPE = 'openid profile email offline_access orders:read orders:write orders:cancel notifications:send';
/** The read-only sign-in. */
export const SHOP_READ_ONLY_SCOPE = 'openid profile offline_access orders:read';
/** The CLI lists orders. */
export const CLI_SCOPE = 'openid profile offline_access orders:read';

/** The demo's users. Alice may do everything; Bob is the read-only shopper (see README: "Bob, read-only"). */
export const DEMO_USERS = [
  { username: 'alice', password: 'wonderland', name: 'Alice Liddell', email: 'alice@shop.example' },
  { username: 'bob', password: 'canwefixit', name: 'Bob Builder', email: 'bob@shop.example' },
] as const;

/** Where everything listens by default (`npm run demo`). */
export const DEFAULT_PORTS = {
  issuer: 9000,
  /** Latchkey's mutual-TLS listener (https), announced in its metadata as mtls_endpoint_aliases. */
  issuerMtls: 9443,
  gateway: 8000,
  shop: 3000,
  orders: 8101,
  inventory: 8102,
  notifications: 8103,
  /** The inventory's and the notifications' https listeners that ask for client certificates. */
  inventoryMtls: 8112,
  notificationsMtls: 8113,
} as const;

export type Ports = { -readonly [K in keyof typeof DEFAULT_PORTS]: number };

/** `examples/shop/.data`: emptied at every start (gitignored). */
export const DEFAULT_DATA_DIR = fileURLToPath(new URL('./.data/', import.meta.url));

/** What the CLI needs to find the running demo (written to `<dataDir>/demo.json`). */
export interface DemoFile {
  issuer: string;
  gatewayUrl: string;
  shopUrl: string;
  cliClientId: string;
}
