/**
 * The web shop's pages: server-rendered HTML, no script at all. Nothing on a page comes from a token
 * except the user's name (from the validated ID token, kept by the BFF in its encrypted cookie).
 */
import type { Order } from '../services/orders.ts';
import type { Product } from '../services/inventory.ts';

export interface SessionView {
  name: string;
  username: string;
  mode: 'full' | 'read-only';
  /** What this sign-in asked Latchkey for. */
  scope: string;
}

export interface Notice {
  kind: 'ok' | 'error';
  /** The notice, as HTML (escape what you put in). */
  html: string;
}

export function escapeHtml(value: string): string {
  return value.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

function money(cents: number): string {
  return `€${(cents / 100).toFixed(2)}`;
}

export function layout(title: string, session: SessionView | undefined, body: string): string {
  const user = session
    ? `<div class="user">
        <span>Signed in as <strong id="user-name">${escapeHtml(session.name)}</strong></span>
        <span id="session-mode" class="badge ${session.mode === 'full' ? 'full' : 'read-only'}">${session.mode === 'full' ? 'full access' : 'read-only'}</span>
        <form method="post" action="/logout"><button type="submit" id="sign-out" class="link">Sign out</button></form>
      </div>`
    : `<div class="user">
        <a class="button" id="sign-in" href="/login">Sign in</a>
        <a class="button secondary" id="sign-in-read-only" href="/login/read-only">Sign in read-only</a>
      </div>`;
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(title)} · Latchkey Tea Shop</title>
<link rel="stylesheet" href="/style.css">
</head>
<body>
<header>
  <a class="brand" href="/">Latchkey Tea Shop</a>
  <nav><a href="/">Products</a>${session ? ' <a href="/orders" id="my-orders">My orders</a>' : ''}</nav>
  ${user}
</header>
<main>
${body}
</main>
<footer>A demo of Latchkey: the shop is a backend-for-frontend; your browser holds only an encrypted HttpOnly cookie, never a token.</footer>
</body>
</html>`;
}

export function productsPage(products: Product[] | undefined, session: SessionView | undefined, notice?: Notice): string {
  const rows = (products ?? [])
    .map((p) => {
      const order = session
        ? `<form method="post" action="/order" class="order">
            <input type="hidden" name="sku" value="${escapeHtml(p.sku)}">
            <label>Qty <input type="number" name="quantity" value="1" min="1" max="10"></label>
            <button type="submit" id="order-${escapeHtml(p.sku)}"${p.stock === 0 ? ' disabled' : ''}>Order</button>
          </form>`
        : '';
      return `<tr class="product" data-sku="${escapeHtml(p.sku)}">
        <td>${escapeHtml(p.name)}</td><td class="price">${money(p.priceCents)}</td>
        <td class="stock">${p.stock}</td><td>${order}</td></tr>`;
    })
    .join('\n');
  const table = products
    ? `<table id="products"><thead><tr><th>Product</th><th>Price</th><th>In stock</th><th></th></tr></thead><tbody>${rows}</tbody></table>`
    : '<p class="notice error">The catalog is unavailable right now.</p>';
  const hint = !session
    ? '<p>Sign in to order. <em>Sign in read-only</em> asks only for <code>orders:read</code>: you can browse and see your orders, and the gateway refuses any order.</p>'
    : session.mode === 'read-only'
      ? '<p class="notice warn">This sign-in is read-only (<code>orders:read</code> only): the gateway will refuse orders with <code>403 insufficient_scope</code>. Try it.</p>'
      : '';
  return layout(
    'Products',
    session,
    `${noticeHtml(notice)}<h1>Products</h1>
${hint}
${table}
<p class="how">Stock comes from the inventory service, through the gateway, with the shop's own client-credentials token (<code>inventory:read</code>).</p>`,
  );
}

export function ordersPage(orders: Order[], session: SessionView, notice?: Notice): string {
  const rows = orders
    .map((o) => {
      const confirmation =
        o.confirmation.status === 'sent'
          ? `sent to <code class="recipient">${escapeHtml(o.confirmation.notification.to)}</code> by ${escapeHtml(o.confirmation.notification.actors.join(', ') || 'the user')} (<code>${escapeHtml(o.confirmation.notification.scope.join(' '))}</code>)`
          : `not sent: ${escapeHtml(o.confirmation.reason)}`;
      const cancel =
        o.status === 'placed' && session.mode === 'full'
          ? `<form method="post" action="/orders/${escapeHtml(o.id)}/cancel"><button type="submit" class="link" id="cancel-${escapeHtml(o.id)}">Cancel</button></form>`
          : '';
      return `<tr class="order-row" data-order="${escapeHtml(o.id)}">
        <td>${escapeHtml(o.id)}</td><td>${escapeHtml(o.name)}</td><td>${o.quantity}</td><td>${money(o.totalCents)}</td>
        <td class="status">${o.status}</td><td class="confirmation">${confirmation}</td><td>${cancel}</td></tr>`;
    })
    .join('\n');
  const table = orders.length
    ? `<table id="orders"><thead><tr><th>Order</th><th>Product</th><th>Qty</th><th>Total</th><th>Status</th><th>Confirmation</th><th></th></tr></thead><tbody>${rows}</tbody></table>`
    : '<p id="no-orders">No orders yet.</p>';
  return layout(
    'My orders',
    session,
    `${noticeHtml(notice)}<h1>My orders</h1>
${table}
<p class="how">Read from the orders service through the gateway with your access token (<code>orders:read</code>), which stays on the shop's server.
Each confirmation was sent by the orders service with a token exchanged from yours (RFC 8693): you as <code>sub</code>, only <code>notifications:send</code>, the orders service in <code>act</code>.</p>`,
  );
}

/** A page that explains a refusal or a failure. */
export function messagePage(title: string, session: SessionView | undefined, html: string): string {
  return layout(title, session, `<h1>${escapeHtml(title)}</h1>\n<div id="message">${html}</div>\n<p><a href="/">Back to the products</a></p>`);
}

function noticeHtml(notice: Notice | undefined): string {
  return notice ? `<p id="notice" class="notice ${notice.kind}">${notice.html}</p>` : '';
}

export const STYLE_CSS = `
* { box-sizing: border-box; }
body { margin: 0; font: 16px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: #1f2328; background: #f6f5f1; }
header { display: flex; align-items: center; gap: 24px; padding: 14px 32px; background: #2f4f3a; color: #fff; }
header a { color: #fff; text-decoration: none; }
.brand { font-weight: 700; font-size: 20px; }
nav { display: flex; gap: 16px; flex: 1; }
.user { display: flex; align-items: center; gap: 12px; }
.user form { margin: 0; }
main { max-width: 960px; margin: 24px auto; padding: 0 24px; }
h1 { font-size: 26px; margin: 8px 0 16px; }
table { width: 100%; border-collapse: collapse; background: #fff; border-radius: 8px; overflow: hidden; box-shadow: 0 1px 3px rgba(0,0,0,.08); }
th, td { text-align: left; padding: 10px 14px; border-bottom: 1px solid #eee; vertical-align: middle; }
th { background: #eef1ec; font-weight: 600; font-size: 14px; }
td.stock, td.price { font-variant-numeric: tabular-nums; }
form.order { display: flex; gap: 8px; align-items: center; margin: 0; }
form.order input { width: 56px; padding: 4px; }
button, .button { background: #2f7a4f; color: #fff; border: 0; border-radius: 6px; padding: 6px 14px; font: inherit; cursor: pointer; text-decoration: none; display: inline-block; }
.button.secondary { background: transparent; border: 1px solid #cfe3d4; }
button[disabled] { background: #aaa; cursor: default; }
button.link { background: none; color: inherit; text-decoration: underline; padding: 0; }
td button.link { color: #8a1c1c; }
.badge { font-size: 12px; padding: 2px 8px; border-radius: 10px; text-transform: uppercase; letter-spacing: .04em; }
.badge.full { background: #cfe3d4; color: #1d3b27; }
.badge.read-only { background: #f3d9a4; color: #5a3d00; }
.notice { padding: 10px 14px; border-radius: 6px; }
.notice.ok { background: #dcefe1; }
.notice.error { background: #f7d7d7; }
.notice.warn { background: #fbefd2; }
.how { color: #57606a; font-size: 14px; margin-top: 18px; }
code { font-size: 13px; background: #eef0f2; padding: 1px 4px; border-radius: 4px; }
#message code { overflow-wrap: anywhere; }
footer { max-width: 960px; margin: 40px auto; padding: 0 24px; color: #57606a; font-size: 13px; }
`;
