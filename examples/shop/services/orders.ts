/**
 * The orders service, reached through the gateway with the user's access token. It validates that
 * token itself (@latchkey/resource-server) and enforces a scope per operation:
 *
 * - `GET /orders` (`orders:read`): the caller's orders;
 * - `POST /orders` (`orders:write`): `{ sku, quantity }`: reserves the stock at the inventory service
 *   with the service's own client-credentials token (pattern 3), records the order, and asks the
 *   notifications service to confirm it with a token exchanged from the user's (pattern 2, RFC 8693);
 * - `DELETE /orders/{id}` (`orders:cancel`): cancels one of the caller's orders and releases its stock.
 *
 * The service is one OAuth client at Latchkey (`orders-service`): `inventory:reserve` by client
 * credentials, and a token exchange policy for `notifications:send` at the notifications API. It has
 * no secret: it authenticates with its TLS client certificate (RFC 8705 §2.1 `tls_client_auth`) at
 * Latchkey's mutual-TLS listener, every token it gets is bound to that certificate (§3, `cnf.x5t#S256`),
 * and it presents the certificate to the inventory and notifications services, which check the binding.
 */
import type { ServerResponse } from 'node:http';
import { ClientCredentials, LatchkeyClient, TOKEN_TYPES, type MtlsOptions } from '@latchkey/client';
import { createValidator } from '@latchkey/resource-server';
import { bearerAuth, requireScopes } from '@latchkey/resource-server/express';
import { NOTIFICATIONS_API, ORDERS_API } from '../config.ts';
import { bearerToken, guard, HttpError, listen, readJson, sendJson, type EventLog, type Request, type RunningService } from './http.ts';
import type { Reservation } from './inventory.ts';
import type { SentNotification } from './notifications.ts';

export interface Order {
  id: string;
  /** The user who placed it (the token's `sub`). */
  sub: string;
  sku: string;
  name: string;
  quantity: number;
  totalCents: number;
  status: 'placed' | 'cancelled';
  placedAt: string;
  reservationId: string;
  /** The confirmation: sent (with what the notifications service recorded), or why not. */
  confirmation: { status: 'sent'; notification: SentNotification } | { status: 'failed'; reason: string };
}

export interface OrdersOptions {
  issuer: string;
  host: string;
  port: number;
  /** The inventory's and the notifications' mutual-TLS (https) URLs. */
  inventoryUrl: string;
  notificationsUrl: string;
  /** The service's own client at Latchkey. */
  clientId: string;
  /** Its certificate and key, and the authority of the servers it calls (PEM). */
  mtls: MtlsOptions;
  log: EventLog;
}

export interface RunningOrders extends RunningService {
  orders(): Order[];
}

export async function startOrders(options: OrdersOptions): Promise<RunningOrders> {
  const auth = bearerAuth(createValidator({ issuer: options.issuer, audience: ORDERS_API }), { realm: 'orders' });
  // tls_client_auth: discovery names Latchkey's mutual-TLS listener in mtls_endpoint_aliases, where the
  // SDK sends every token request, presenting the certificate.
  const client = new LatchkeyClient({ issuer: options.issuer, clientId: options.clientId, mtls: options.mtls });
  // Pattern 3: the service's own token for the inventory, cached until shortly before it expires.
  const inventoryTokens = new ClientCredentials({ client, scope: 'inventory:reserve' });
  const orders: Order[] = [];
  let nextOrder = 1001;

  async function place(req: Request, res: ServerResponse): Promise<void> {
    const claims = await guard(req, res, auth, requireScopes('orders:write'));
    if (!claims) return;
    const { sku, quantity } = await readJson(req);
    if (typeof sku !== 'string' || !Number.isInteger(quantity) || (quantity as number) < 1 || (quantity as number) > 10) {
      throw new HttpError(400, 'invalid_request', 'sku and quantity (1 to 10) are required');
    }
    const id = String(nextOrder++);
    options.log('orders', `placing order ${id}: ${quantity} x ${sku} for sub ${claims.sub} (the user's token, through the gateway; client ${claims.client_id})`);
    const reserved = await inventoryTokens.authorizedFetch(`${options.inventoryUrl}/reservations`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ sku, quantity, reference: `order ${id}` }),
    });
    if (reserved.status === 409) return sendJson(res, 409, await reserved.json());
    if (reserved.status === 404) throw new HttpError(400, 'unknown_product', `no product ${sku}`);
    if (reserved.status !== 201) throw new HttpError(502, 'inventory_unavailable', `the inventory answered ${reserved.status}`);
    const { reservation } = (await reserved.json()) as { reservation: Reservation };
    const order: Omit<Order, 'confirmation'> = {
      id,
      sub: claims.sub,
      sku,
      name: reservation.name,
      quantity: reservation.quantity,
      totalCents: reservation.quantity * reservation.priceCents,
      status: 'placed',
      placedAt: new Date().toISOString(),
      reservationId: reservation.id,
    };
    const placed: Order = { ...order, confirmation: await confirm(order, bearerToken(req)) };
    orders.push(placed);
    sendJson(res, 201, { order: placed });
  }

  /**
   * Pattern 2: the user's token is exchanged for one only for the notifications API, with only
   * `notifications:send`; the user stays its `sub` and this service is named in `act`. The user's own
   * token, which also works here at the orders API, never leaves this service.
   */
  async function confirm(order: Omit<Order, 'confirmation'>, userToken: string): Promise<Order['confirmation']> {
    try {
      const exchanged = await client.exchangeToken({
        subjectToken: userToken,
        subjectTokenType: TOKEN_TYPES.accessToken,
        audience: NOTIFICATIONS_API,
        scope: 'notifications:send',
      });
      // The exchanged token is bound to the certificate too: the client's fetch presents it.
      const response = await client.fetch(`${options.notificationsUrl}/notifications`, {
        method: 'POST',
        headers: { authorization: `Bearer ${exchanged.accessToken}`, 'content-type': 'application/json' },
        body: JSON.stringify({
          subject: `Order ${order.id} confirmed`,
          text: `Thank you for your order of ${order.quantity} x ${order.name}.`,
        }),
      });
      if (response.status !== 201) return { status: 'failed', reason: `the notifications service answered ${response.status}` };
      const { notification } = (await response.json()) as { notification: SentNotification };
      return { status: 'sent', notification };
    } catch (err) {
      // The order stands; only its confirmation failed.
      options.log('orders', `order ${order.id}: the confirmation failed: ${(err as Error).message}`);
      return { status: 'failed', reason: (err as Error).message };
    }
  }

  async function cancel(req: Request, res: ServerResponse, id: string): Promise<void> {
    const claims = await guard(req, res, auth, requireScopes('orders:cancel'));
    if (!claims) return;
    const order = orders.find((o) => o.id === id && o.sub === claims.sub);
    if (!order) throw new HttpError(404, 'not_found', `no order ${id}`);
    if (order.status === 'placed') {
      const released = await inventoryTokens.authorizedFetch(`${options.inventoryUrl}/reservations/${order.reservationId}/release`, { method: 'POST' });
      if (released.status !== 200) throw new HttpError(502, 'inventory_unavailable', `the inventory answered ${released.status}`);
      order.status = 'cancelled';
      options.log('orders', `order ${id} cancelled by sub ${claims.sub}`);
    }
    sendJson(res, 200, { order });
  }

  const service = await listen('orders', options.host, options.port, async (req, res, path) => {
    if (path === '/orders' && req.method === 'GET') {
      const claims = await guard(req, res, auth, requireScopes('orders:read'));
      if (!claims) return;
      // Only the caller's own orders: the token's sub decides, never a parameter.
      return sendJson(res, 200, { orders: orders.filter((o) => o.sub === claims.sub) });
    }
    if (path === '/orders' && req.method === 'POST') return place(req, res);
    const match = /^\/orders\/(\d+)$/.exec(path);
    if (match && req.method === 'DELETE') return cancel(req, res, match[1]!);
    throw new HttpError(404, 'not_found', 'no such endpoint');
  });
  return { ...service, orders: () => orders.map((o) => ({ ...o })) };
}
