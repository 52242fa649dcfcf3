/**
 * The inventory service: products and their stock. It trusts no caller: every request carries a
 * Latchkey access token for this API, which it validates itself with @latchkey/resource-server.
 *
 * - `GET /products` (`inventory:read`): the catalog with stock. The shop reads it through the gateway.
 * - `POST /reservations` (`inventory:reserve`): takes stock for an order. Only the orders service calls
 *   it, directly, with its own client-credentials token (pattern 3); the gateway does not expose it.
 *   That token is bound to the orders service's certificate (RFC 8705 §3), so the orders service calls
 *   the mutual-TLS listener, and the token is refused on any connection without that certificate.
 * - `POST /reservations/{id}/release` (`inventory:reserve`): puts a cancelled order's stock back.
 *
 * Two listeners serve the same routes: http for the gateway (which reaches upstreams over http here),
 * and https asking for client certificates, for the orders service.
 */
import type { ServerResponse } from 'node:http';
import { createValidator } from '@latchkey/resource-server';
import { bearerAuth, requireScopes } from '@latchkey/resource-server/express';
import { INVENTORY_API } from '../config.ts';
import { boundTo, guard, HttpError, listen, readJson, sendJson, type EventLog, type MtlsListener, type Request, type RunningMtlsService } from './http.ts';

export interface Product {
  sku: string;
  name: string;
  priceCents: number;
  stock: number;
}

export interface Reservation {
  id: string;
  sku: string;
  name: string;
  quantity: number;
  priceCents: number;
  /** The caller's reference (the orders service's order id). */
  reference: string;
  /** The client that reserved: only it may release. */
  clientId: string;
  released: boolean;
}

export const INITIAL_PRODUCTS: readonly Product[] = [
  { sku: 'teapot', name: 'Porcelain teapot', priceCents: 3400, stock: 5 },
  { sku: 'cups', name: 'Four tea cups', priceCents: 2200, stock: 12 },
  { sku: 'cozy', name: 'Knitted tea cozy', priceCents: 1500, stock: 3 },
  { sku: 'earl-grey', name: 'Earl Grey, 250 g', priceCents: 900, stock: 20 },
];

export interface InventoryOptions {
  issuer: string;
  host: string;
  port: number;
  mtls: MtlsListener;
  log: EventLog;
}

export interface RunningInventory extends RunningMtlsService {
  products(): Product[];
}

export async function startInventory(options: InventoryOptions): Promise<RunningInventory> {
  const auth = bearerAuth(createValidator({ issuer: options.issuer, audience: INVENTORY_API }), { realm: 'inventory' });
  const products = new Map(INITIAL_PRODUCTS.map((p) => [p.sku, { ...p }]));
  const reservations = new Map<string, Reservation>();
  let nextReservation = 1;

  async function reserve(req: Request, res: ServerResponse): Promise<void> {
    const claims = await guard(req, res, auth, requireScopes('inventory:reserve'));
    if (!claims) return;
    const body = await readJson(req);
    const { sku, quantity, reference } = body;
    if (typeof sku !== 'string' || typeof reference !== 'string' || !Number.isInteger(quantity) || (quantity as number) < 1) {
      throw new HttpError(400, 'invalid_request', 'sku, quantity (a positive integer) and reference are required');
    }
    const product = products.get(sku);
    if (!product) throw new HttpError(404, 'unknown_product', `no product ${sku}`);
    // One event loop: the check and the decrement cannot interleave with another reservation.
    if (product.stock < (quantity as number)) {
      return sendJson(res, 409, { error: 'out_of_stock', error_description: `only ${product.stock} left`, available: product.stock });
    }
    product.stock -= quantity as number;
    const reservation: Reservation = {
      id: `R${nextReservation++}`,
      sku,
      name: product.name,
      quantity: quantity as number,
      priceCents: product.priceCents,
      reference,
      clientId: claims.client_id,
      released: false,
    };
    reservations.set(reservation.id, reservation);
    options.log('inventory', `reserved ${quantity} x ${sku} for ${reference} (caller ${claims.client_id}, its own client-credentials token${boundTo(claims)}; ${product.stock} left)`);
    sendJson(res, 201, { reservation });
  }

  async function release(req: Request, res: ServerResponse, id: string): Promise<void> {
    const claims = await guard(req, res, auth, requireScopes('inventory:reserve'));
    if (!claims) return;
    const reservation = reservations.get(id);
    if (!reservation || reservation.clientId !== claims.client_id) throw new HttpError(404, 'not_found', `no reservation ${id}`);
    if (!reservation.released) {
      reservation.released = true;
      products.get(reservation.sku)!.stock += reservation.quantity;
      options.log('inventory', `released ${reservation.quantity} x ${reservation.sku} of ${reservation.reference}`);
    }
    sendJson(res, 200, { reservation });
  }

  const service = await listen('inventory', options.host, options.port, async (req, res, path) => {
    if (path === '/products' && req.method === 'GET') {
      if (!(await guard(req, res, auth, requireScopes('inventory:read')))) return;
      return sendJson(res, 200, { products: [...products.values()] });
    }
    if (path === '/reservations' && req.method === 'POST') return reserve(req, res);
    const match = /^\/reservations\/([A-Za-z0-9]+)\/release$/.exec(path);
    if (match && req.method === 'POST') return release(req, res, match[1]!);
    throw new HttpError(404, 'not_found', 'no such endpoint');
  }, options.mtls);
  return { ...service, products: () => [...products.values()].map((p) => ({ ...p })) };
}
