/**
 * The web shop: a backend-for-frontend on @latchkey/client. The browser signs in with the
 * authorization code flow and PKCE; the refresh token lives in the BFF's encrypted HttpOnly cookie and
 * the access token in this process's memory. Pages are rendered here, so no token ever reaches the
 * browser's scripts (there are none).
 *
 * Two sign-ins, two clients at Latchkey: "Sign in" (client `shop`, the orders scopes and
 * notifications:send) and "Sign in read-only" (client `shop-read-only`, registered with orders:read
 * only, so no request can get it more).
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import {
  appendSetCookie,
  AuthorizationResponseError,
  ClientCredentials,
  createBff,
  LatchkeyClient,
  LatchkeyClientError,
  sendBffResponse,
  type Bff,
} from '@latchkey/client';
import { SHOP_READ_ONLY_SCOPE, SHOP_SCOPE } from '../config.ts';
import { closeServer, type EventLog } from '../services/http.ts';
import type { Product } from '../services/inventory.ts';
import type { Order } from '../services/orders.ts';
import { escapeHtml, messagePage, ordersPage, productsPage, STYLE_CSS, type Notice, type SessionView } from './pages.ts';

export interface ShopOptions {
  issuer: string;
  host: string;
  port: number;
  /** Where browsers reach the shop, e.g. http://127.0.0.1:3000 (its callbacks are registered under it). */
  baseUrl: string;
  gatewayUrl: string;
  shopClient: { clientId: string; clientSecret: string };
  readOnlyClient: { clientId: string; clientSecret: string };
  /** 32 random bytes each, base64url: they encrypt the cookies of the two sign-ins. */
  cookieKeys: { full: string; readOnly: string };
  log: EventLog;
}

interface SignIn {
  mode: SessionView['mode'];
  scope: string;
  bff: Bff;
}

const MAX_FORM_BYTES = 16 * 1024; // 16 KiB

export async function startShop(options: ShopOptions): Promise<{ url: string; close(): Promise<void> }> {
  const shop = new Shop(options);
  const server: Server = createServer((req, res) => {
    shop.handle(req, res).catch((err: unknown) => shop.failed(res, err));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  return { url: options.baseUrl, close: () => closeServer(server) };
}

/** The shop's pages: signing in (two BFFs), the catalog, placing, listing and cancelling orders. */
class Shop {
  private readonly full: SignIn;
  private readonly readOnly: SignIn;
  /** The shop's own token for the catalog, so products show before anyone signs in. */
  private readonly catalogTokens: ClientCredentials;
  private readonly origin: string;
  private readonly issuerOrigin: string;

  private readonly options: ShopOptions;

  constructor(options: ShopOptions) {
    this.options = options;
    const shopClient = new LatchkeyClient({ issuer: options.issuer, ...options.shopClient });
    const readOnlyClient = new LatchkeyClient({ issuer: options.issuer, ...options.readOnlyClient });
    const common = {
      // Cookies without Secure: the demo runs on http://127.0.0.1. Never in production.
      secure: false,
      postLogoutRedirectUri: `${options.baseUrl}/`,
    };
    this.full = {
      mode: 'full',
      scope: SHOP_SCOPE,
      bff: createBff({ ...common, client: shopClient, redirectUri: `${options.baseUrl}/callback`, scope: SHOP_SCOPE, cookieKey: options.cookieKeys.full, cookieName: 'shop' }),
    };
    this.readOnly = {
      mode: 'read-only',
      scope: SHOP_READ_ONLY_SCOPE,
      bff: createBff({
        ...common,
        client: readOnlyClient,
        redirectUri: `${options.baseUrl}/callback/read-only`,
        scope: SHOP_READ_ONLY_SCOPE,
        cookieKey: options.cookieKeys.readOnly,
        cookieName: 'shop-read-only',
      }),
    };
    // Pattern 3 for the catalog: the shop's own client-credentials token.
    this.catalogTokens = new ClientCredentials({ client: shopClient, scope: 'inventory:read' });
    this.origin = new URL(options.baseUrl).origin;
    this.issuerOrigin = new URL(options.issuer).origin;
  }

  async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', this.options.baseUrl);
    const path = url.pathname;
    // OpenID Connect Back-Channel Logout: Latchkey (server to server, no Origin) says a user's session
    // there ended; the BFF checks the logout token and ends the shop's sessions of it.
    if (req.method === 'POST' && (path === '/backchannel-logout' || path === '/backchannel-logout/read-only')) {
      return sendBffResponse(res, await (path === '/backchannel-logout' ? this.full : this.readOnly).bff.backchannelLogout(req));
    }
    if (req.method === 'POST' && req.headers.origin !== this.origin) {
      // CSRF: the session cookies are SameSite=Strict already; a form from another origin is refused too.
      return this.page(res, 403, messagePage('Forbidden', undefined, '<p>This form did not come from the shop.</p>'));
    }
    if (req.method === 'GET' && path === '/style.css') {
      res.writeHead(200, { 'content-type': 'text/css; charset=utf-8', 'cache-control': 'max-age=300' });
      return void res.end(STYLE_CSS);
    }
    if (await this.signInStep(req, res, path)) return;
    const session = await this.current(req);
    if (req.method === 'POST' && path === '/logout') {
      if (!session) return redirect(res, '/');
      return sendBffResponse(res, await session.signIn.bff.logout(req));
    }
    if (req.method === 'GET' && path === '/') return this.page(res, 200, productsPage(await this.catalog(), session?.view));
    if (!session) return redirect(res, '/');
    if (await this.ordersStep(req, res, url, session)) return;
    this.page(res, 404, messagePage('Not found', session.view, '<p>There is no such page.</p>'));
  }

  /** An error no page handled: the sign-in's own errors explained, anything else a 500 page. */
  failed(res: ServerResponse, err: unknown): void {
    if (res.headersSent) return void res.destroy();
    if (err instanceof AuthorizationResponseError) {
      return this.page(res, 400, messagePage('Not signed in', undefined, `<p>Latchkey answered <code>${escapeHtml(err.error)}</code>: you did not sign in.</p>`));
    }
    if (err instanceof LatchkeyClientError) {
      return this.page(res, 400, messagePage('Sign-in failed', undefined, `<p>The sign-in could not be completed (<code>${escapeHtml(err.code)}</code>). Please try again.</p>`));
    }
    console.error('[shop] unexpected error', err);
    this.page(res, 500, messagePage('Something went wrong', undefined, '<p>Please try again.</p>'));
  }

  /** /login, /login/read-only and their callbacks; false for any other path. */
  private async signInStep(req: IncomingMessage, res: ServerResponse, path: string): Promise<boolean> {
    if (req.method !== 'GET') return false;
    if (path === '/login' || path === '/login/read-only') {
      sendBffResponse(res, await (path === '/login' ? this.full : this.readOnly).bff.login({ returnTo: '/' }));
      return true;
    }
    if (path !== '/callback' && path !== '/callback/read-only') return false;
    const signIn = path === '/callback' ? this.full : this.readOnly;
    const done = await signIn.bff.callback(req);
    this.options.log('shop', `${done.claims?.preferred_username ?? done.claims?.sub} signed in (${signIn.mode === 'full' ? 'full access' : 'read-only'}: authorization code + PKCE; the tokens stay in the shop)`);
    sendBffResponse(res, done);
    return true;
  }

  /** Placing, listing and cancelling orders through the gateway; false for any other path. */
  private async ordersStep(req: IncomingMessage, res: ServerResponse, url: URL, session: { signIn: SignIn; view: SessionView }): Promise<boolean> {
    const path = url.pathname;
    const cancel = /^\/orders\/(\d+)\/cancel$/.exec(path);
    if (req.method === 'POST' && path === '/order') {
      const form = await readForm(req);
      const quantity = Number(form.get('quantity'));
      const response = await this.callGateway(req, res, session.signIn, 'POST', '/orders', { sku: form.get('sku'), quantity });
      if (!response) redirect(res, '/');
      else if (response.status === 201) {
        const { order } = (await response.json()) as { order: Order };
        redirect(res, `/orders?placed=${encodeURIComponent(order.id)}`);
      } else if (response.status === 409) {
        const body = (await response.json()) as { available?: number };
        this.page(res, 409, productsPage(await this.catalog(), session.view, { kind: 'error', html: `Not enough stock: only ${Number(body.available ?? 0)} left.` }));
      } else await this.refusal(res, response, 'Order', session.view);
      return true;
    }
    if (req.method === 'GET' && path === '/orders') {
      const response = await this.callGateway(req, res, session.signIn, 'GET', '/orders');
      if (!response) redirect(res, '/');
      else if (response.status !== 200) await this.refusal(res, response, 'Reading your orders', session.view);
      else {
        const { orders } = (await response.json()) as { orders: Order[] };
        const placed = orders.find((o) => o.id === url.searchParams.get('placed'));
        let notice: Notice | undefined;
        if (placed) {
          const confirmation = placed.confirmation.status === 'sent' ? 'A confirmation was sent to you.' : 'The confirmation could not be sent.';
          notice = { kind: 'ok', html: `Order ${escapeHtml(placed.id)} placed: ${placed.quantity} x ${escapeHtml(placed.name)}. ${confirmation}` };
        }
        this.page(res, 200, ordersPage(orders.reverse(), session.view, notice));
      }
      return true;
    }
    if (req.method === 'POST' && cancel) {
      const response = await this.callGateway(req, res, session.signIn, 'DELETE', `/orders/${cancel[1]}`);
      if (!response) redirect(res, '/');
      else if (response.status !== 200) await this.refusal(res, response, 'Cancelling', session.view);
      else redirect(res, '/orders');
      return true;
    }
    return false;
  }

  /** The sign-in this browser has, with the user's name from the ID token. */
  private async current(req: IncomingMessage): Promise<{ signIn: SignIn; view: SessionView } | undefined> {
    for (const signIn of [this.full, this.readOnly]) {
      const user = await signIn.bff.getUser(req);
      if (!user) continue;
      const username = typeof user.preferred_username === 'string' ? user.preferred_username : user.sub;
      const name = typeof user.name === 'string' ? user.name : username;
      return { signIn, view: { name, username, mode: signIn.mode, scope: signIn.scope } };
    }
    return undefined;
  }

  /** Calls the gateway with the user's access token (from this process's memory, refreshed when due). */
  private async callGateway(req: IncomingMessage, res: ServerResponse, signIn: SignIn, method: string, path: string, body?: unknown): Promise<Response | undefined> {
    const { accessToken, setCookie } = await signIn.bff.getAccessToken(req);
    appendSetCookie(res, setCookie);
    if (!accessToken) return undefined;
    return fetch(`${this.options.gatewayUrl}${path}`, {
      method,
      headers: { authorization: `Bearer ${accessToken}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  }

  private async catalog(): Promise<Product[] | undefined> {
    try {
      const response = await this.catalogTokens.authorizedFetch(`${this.options.gatewayUrl}/inventory/products`);
      if (response.status !== 200) return undefined;
      return ((await response.json()) as { products: Product[] }).products;
    } catch {
      return undefined;
    }
  }

  private page(res: ServerResponse, status: number, html: string): void {
    res.writeHead(status, {
      'content-type': 'text/html; charset=utf-8',
      'cache-control': 'no-store',
      // No script anywhere; forms post here, and sign-out continues to Latchkey's logout.
      'content-security-policy': `default-src 'none'; style-src 'self'; form-action 'self' ${this.issuerOrigin}; frame-ancestors 'none'; base-uri 'none'`,
      // Not no-referrer: with it, browsers send `Origin: null` with the shop's own forms.
      'referrer-policy': 'same-origin',
      'x-content-type-options': 'nosniff',
    });
    res.end(html);
  }

  /** A refusal from the gateway or a service, explained. */
  private async refusal(res: ServerResponse, response: Response, what: string, view: SessionView): Promise<void> {
    const challenge = response.headers.get('www-authenticate');
    const body = (await response.json().catch(() => ({}))) as { error?: string; error_description?: string };
    const code = body.error ?? /error="([^"]+)"/.exec(challenge ?? '')?.[1] ?? 'error';
    const needed = /scope="([^"]+)"/.exec(challenge ?? '')?.[1];
    const explanation =
      code === 'insufficient_scope'
        ? `<p>Your sign-in (${escapeHtml(view.mode)}, <code>${escapeHtml(view.scope)}</code>) does not include <code>${escapeHtml(needed ?? 'the scope this needs')}</code>.</p>`
        : `<p>${escapeHtml(body.error_description ?? '')}</p>`;
    this.page(
      res,
      response.status,
      messagePage(
        `${what} refused`,
        view,
        `<p id="refusal" class="notice error">The gateway answered <strong>${response.status} ${escapeHtml(code)}</strong>.</p>${explanation}${
          challenge ? `<p>WWW-Authenticate: <code>${escapeHtml(challenge)}</code></p>` : ''
        }`,
      ),
    );
  }
}

function redirect(res: ServerResponse, location: string): void {
  res.writeHead(303, { location, 'cache-control': 'no-store' });
  res.end();
}

async function readForm(req: IncomingMessage): Promise<URLSearchParams> {
  let text = '';
  for await (const chunk of req) {
    text += String(chunk);
    if (text.length > MAX_FORM_BYTES) throw new Error('form too large');
  }
  return new URLSearchParams(text);
}
