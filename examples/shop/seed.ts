/**
 * Registers the demo at Latchkey through the same Registry and UserRegistry the `latchkey` CLI uses:
 * the APIs and their scopes, one client per application and per service, the orders service's token
 * exchange policy, and the users.
 */
import type { Registry, UserRegistry } from '@latchkey/server';
import { ORDERS_SERVICE_SAN_DNS } from './pki.ts';
import {
  CLI_SCOPE,
  CLIENT_IDS,
  DEMO_USERS,
  NOTIFICATIONS_API,
  ORDERS_API,
  RESOURCES,
  SHOP_READ_ONLY_SCOPE,
  SHOP_SCOPE,
} from './config.ts';

/** RFC 8693 §2.1. */
const TOKEN_EXCHANGE = 'urn:ietf:params:oauth:grant-type:token-exchange';

export interface Credentials {
  clientId: string;
  clientSecret: string;
}

export interface Seeded {
  shop: Credentials;
  shopReadOnly: Credentials;
  /** No secret: the orders service authenticates with its certificate. */
  orders: { clientId: string };
  cliClientId: string;
  users: { username: string; password: string; name: string; sub: string }[];
}

export async function seed(registry: Registry, users: UserRegistry, shopUrl: string): Promise<Seeded> {
  for (const resource of RESOURCES) {
    await registry.createResource({ identifier: resource.identifier, name: resource.name, scopes: resource.scopes.map((s) => ({ ...s })) });
  }
  const postLogoutRedirectUris = [`${shopUrl}/`];
  // OpenID Connect Back-Channel Logout: Latchkey tells the shop when a user's session there ends. Plain
  // http goes only to a loopback IP literal (and only with LATCHKEY_ALLOW_LOOPBACK_BACKCHANNEL_LOGOUT).
  const backchannelBase = shopUrl.replace('://localhost', '://127.0.0.1');

  // The web shop: users sign in to it (code + PKCE), and it reads the catalog as itself (client credentials).
  const shop = await registry.createClient({
    clientId: CLIENT_IDS.shop,
    name: 'Latchkey Tea Shop',
    type: 'confidential',
    grantTypes: ['authorization_code', 'refresh_token', 'client_credentials'],
    scopes: [...SHOP_SCOPE.split(' '), 'inventory:read'],
    redirectUris: [`${shopUrl}/callback`],
    postLogoutRedirectUris,
    backchannelLogoutUri: `${backchannelBase}/backchannel-logout`,
  });
  // The shop's read-only sign-in: registered with orders:read only, so no request can get orders:write.
  const shopReadOnly = await registry.createClient({
    clientId: CLIENT_IDS.shopReadOnly,
    name: 'Latchkey Tea Shop (read-only)',
    type: 'confidential',
    grantTypes: ['authorization_code', 'refresh_token'],
    scopes: SHOP_READ_ONLY_SCOPE.split(' '),
    redirectUris: [`${shopUrl}/callback/read-only`],
    postLogoutRedirectUris,
    backchannelLogoutUri: `${backchannelBase}/backchannel-logout/read-only`,
  });
  // The CLI: a public client on the device flow.
  await registry.createClient({
    clientId: CLIENT_IDS.cli,
    name: 'Tea Shop CLI',
    type: 'public',
    grantTypes: ['device_code', 'refresh_token'],
    scopes: CLI_SCOPE.split(' '),
  });
  // The orders service (pattern 3: its own client): inventory:reserve by client credentials; it acts
  // for the orders API, so it may exchange the tokens users send there (pattern 2) for
  // notifications:send at the notifications API, and nothing else. Service to service, it proves who
  // it is with the certificate of the demo's CA that names it (RFC 8705 §2.1 tls_client_auth, by
  // subjectAltName), not a secret, and its access tokens are bound to that certificate (§3).
  await registry.createClient({
    clientId: CLIENT_IDS.orders,
    name: 'Orders service',
    type: 'confidential',
    grantTypes: ['client_credentials', TOKEN_EXCHANGE],
    scopes: ['inventory:reserve'],
    introspectFor: [ORDERS_API],
    tokenEndpointAuthMethod: 'tls_client_auth',
    tlsClientAuth: { sanDns: ORDERS_SERVICE_SAN_DNS },
    tlsClientCertificateBoundAccessTokens: true,
  });
  await registry.allowTokenExchange(CLIENT_IDS.orders, NOTIFICATIONS_API, ['notifications:send']);

  const created = [];
  for (const user of DEMO_USERS) {
    const view = await users.create({ ...user });
    created.push({ username: user.username, password: user.password, name: user.name, sub: view.id });
  }
  return {
    shop: { clientId: CLIENT_IDS.shop, clientSecret: shop.clientSecret! },
    shopReadOnly: { clientId: CLIENT_IDS.shopReadOnly, clientSecret: shopReadOnly.clientSecret! },
    orders: { clientId: CLIENT_IDS.orders },
    cliClientId: CLIENT_IDS.cli,
    users: created,
  };
}
