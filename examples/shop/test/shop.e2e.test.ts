import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { decodeJwt, decodeProtectedHeader, jwtDecrypt } from 'jose';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { chromiumSkip, freePort, launchChromium, REPO_ROOT } from '@latchkey/testing';
import { runCli } from '../cli.ts';
import { startDemo, type RunningDemo } from '../demo.ts';

/**
 * The shop demo end to end in headless Chromium, on free ports: Alice signs in (code + PKCE through
 * the BFF), orders two teapots through the gateway, the stock goes down, and the notifications service
 * has recorded a confirmation addressed to her `sub`, sent by the orders service with an exchanged
 * token; Bob's read-only sign-in is refused by the gateway (403 insufficient_scope); the CLI lists
 * Alice's orders after a device-flow sign-in; no response the browser can read carries a token.
 */

const ARTIFACTS = fileURLToPath(new URL('../../../test-artifacts/', import.meta.url));
/** A compact JWS or JWE: what no page may contain. */
const JWT_SHAPE = /eyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]*\.[A-Za-z0-9_-]{5,}/;

interface Seen {
  url: string;
  status: number;
  body: string;
  headers: Record<string, string>;
}

describe('the shop demo, end to end in Chromium', { skip: chromiumSkip() }, () => {
  let demo: RunningDemo;
  let dataDir: string;
  let browser: Browser;
  let alice: BrowserContext;
  let alicePage: Page;
  const events: string[] = [];
  let refreshToken = '';
  /** Every response either browser received, with its body when it had one. */
  const seen: Promise<Seen | undefined>[] = [];

  before(async () => {
    dataDir = mkdtempSync(join(tmpdir(), 'latchkey-shop-'));
    mkdirSync(ARTIFACTS, { recursive: true });
    [demo, browser] = await Promise.all([
      startDemo({
        ports: { issuer: 0, issuerMtls: 0, gateway: 0, shop: 0, orders: 0, inventory: 0, inventoryMtls: 0, notifications: 0, notificationsMtls: 0 },
        dataDir,
        log: (service, message) => events.push(`[${service}] ${message}`),
      }),
      launchChromium(),
    ]);
  });

  after(async () => {
    await browser?.close();
    await demo?.close();
    rmSync(dataDir, { recursive: true, force: true });
  });

  function user(username: string) {
    const found = demo.users.find((u) => u.username === username);
    assert.ok(found, username);
    return found;
  }

  async function newPage(): Promise<{ context: BrowserContext; page: Page }> {
    const context = await browser.newContext({ viewport: { width: 1100, height: 720 } });
    const page = await context.newPage();
    page.setDefaultTimeout(10_000);
    page.on('response', (response) => {
      seen.push(
        (async () => {
          const headers = await response.allHeaders();
          // Redirects have no body to read.
          const body = await response.body().then((b) => b.toString('utf8'), () => '');
          return { url: response.url(), status: response.status(), body, headers };
        })().catch(() => undefined),
      );
    });
    return { context, page };
  }

  /** Latchkey's login page, then its consent page (whose text is returned) or none when remembered. */
  async function signIn(page: Page, username: string, password: string): Promise<string> {
    await page.waitForURL((url) => url.origin === demo.urls.issuer && url.pathname === '/login');
    await page.fill('input[name=username]', username);
    await page.fill('input[name=password]', password);
    await page.locator('form:has(input[name=password]) [type=submit]').click();
    await page.waitForURL((url) => url.origin === demo.urls.issuer && url.pathname === '/consent');
    const consent = await page.locator('body').innerText();
    await page.screenshot({ path: join(ARTIFACTS, `shop-consent-${username}.png`), fullPage: true });
    await page.click('button[name=decision][value=allow]');
    await page.waitForURL((url) => url.origin === demo.urls.shop && url.pathname === '/');
    return consent;
  }

  /** The refresh token inside Alice's session cookie (the test knows the demo's cookie key). */
  async function sessionRefreshToken(): Promise<string> {
    const cookie = (await alice.cookies(demo.urls.shop)).find((c) => c.name === 'shop');
    assert.ok(cookie, 'the shop set its session cookie');
    const { payload } = await jwtDecrypt(cookie.value, Buffer.from(demo.cookieKeys.full, 'base64url'));
    assert.ok(typeof payload.rt === 'string' && payload.rt.length >= 40);
    return payload.rt;
  }

  async function stock(page: Page, sku: string): Promise<number> {
    return Number(await page.locator(`tr.product[data-sku="${sku}"] td.stock`).innerText());
  }

  test('Alice signs in, orders two teapots through the gateway; the stock goes down and the confirmation names her', async () => {
    ({ context: alice, page: alicePage } = await newPage());
    const page = alicePage;
    const { sub } = user('alice');

    await page.goto(demo.urls.shop);
    assert.equal(await stock(page, 'teapot'), 5, 'the catalog shows before anyone signs in');
    await page.click('#sign-in');
    const consent = await signIn(page, 'alice', 'wonderland');
    assert.match(consent, /Latchkey Tea Shop/);
    for (const words of ['See your orders', 'Place orders for you', 'Cancel your orders', 'Send you notifications about your orders']) {
      assert.ok(consent.includes(words), `the consent page lists "${words}"`);
    }
    assert.equal(await page.locator('#user-name').innerText(), 'Alice Liddell');
    assert.equal(await page.locator('#session-mode').innerText(), 'FULL ACCESS');
    const cookie = (await alice.cookies(demo.urls.shop)).find((c) => c.name === 'shop');
    assert.equal(cookie?.httpOnly, true, 'the session cookie is HttpOnly');
    assert.equal(cookie?.sameSite, 'Strict');
    assert.ok(!(await page.evaluate<string>('document.cookie')).includes('shop='), 'scripts cannot read it');

    await page.fill('tr.product[data-sku="teapot"] input[name=quantity]', '2');
    await page.click('#order-teapot');
    await page.waitForURL((url) => url.pathname === '/orders' && url.searchParams.has('placed'));
    assert.match(await page.locator('#notice').innerText(), /Order 1001 placed: 2 x Porcelain teapot\. A confirmation was sent to you\./);
    const row = page.locator('tr.order-row[data-order="1001"]');
    assert.equal(await row.locator('td.status').innerText(), 'placed');
    assert.equal(await row.locator('code.recipient').innerText(), sub);
    await page.screenshot({ path: join(ARTIFACTS, 'shop-orders-after-order.png'), fullPage: true });

    await page.click('a[href="/"]');
    assert.equal(await stock(page, 'teapot'), 3, 'two teapots fewer');
    await page.screenshot({ path: join(ARTIFACTS, 'shop-products-after-order.png'), fullPage: true });

    // The notifications service recorded the confirmation for Alice, sent by the orders service with a
    // token exchanged from hers: her sub, only notifications:send, the orders service as the actor.
    const { sent } = (await (await fetch(`${demo.urls.notifications}/sent`)).json()) as { sent: Record<string, unknown>[] };
    assert.equal(sent.length, 1);
    assert.deepEqual(
      { to: sent[0]!.to, actors: sent[0]!.actors, clientId: sent[0]!.clientId, scope: sent[0]!.scope, subject: sent[0]!.subject },
      { to: sub, actors: ['orders-service'], clientId: 'orders-service', scope: ['notifications:send'], subject: 'Order 1001 confirmed' },
    );
    // The orders service reserved with its own client-credentials token; both of its tokens (that one
    // and the exchanged one) were bound to its certificate and came over mutual TLS (RFC 8705 §3).
    const reserved = events.find((e) => e.startsWith('[inventory] reserved 2 x teapot for order 1001 (caller orders-service'));
    assert.match(reserved ?? events.join('\n'), /bound to the certificate it came with over mutual TLS/);
    assert.ok(events.some((e) => e.startsWith('[notifications] sent "Order 1001 confirmed"') && e.includes('bound to the certificate')), events.join('\n'));
  });

  test('Alice cancels the order (orders:cancel): the stock comes back', async () => {
    const page = alicePage;
    await page.click('#my-orders');
    await page.click('#cancel-1001');
    await page.waitForURL((url) => url.pathname === '/orders');
    assert.equal(await page.locator('tr.order-row[data-order="1001"] td.status').innerText(), 'cancelled');
    assert.equal(demo.inventory.products().find((p) => p.sku === 'teapot')!.stock, 5);
  });

  test('Bob signs in read-only: the gateway refuses his order with 403 insufficient_scope, and nothing changes', async () => {
    const { context, page } = await newPage();
    try {
      const before = demo.orders.orders().length;
      await page.goto(demo.urls.shop);
      await page.click('#sign-in-read-only');
      const consent = await signIn(page, 'bob', 'canwefixit');
      assert.match(consent, /Latchkey Tea Shop \(read-only\)/);
      assert.ok(consent.includes('See your orders'));
      assert.ok(!consent.includes('Place orders for you'), 'the read-only client cannot even ask for orders:write');
      assert.equal(await page.locator('#session-mode').innerText(), 'READ-ONLY');

      const answer = page.waitForResponse((r) => r.url() === `${demo.urls.shop}/order`);
      await page.click('#order-cozy');
      assert.equal((await answer).status(), 403);
      assert.match(await page.locator('#refusal').innerText(), /The gateway answered 403 insufficient_scope/);
      assert.match(await page.locator('#message').innerText(), /error="insufficient_scope".*scope="orders:write"/s);
      await page.screenshot({ path: join(ARTIFACTS, 'shop-read-only-refused.png'), fullPage: true });

      // Refused at the edge: the gateway counted it, and the orders service never saw it.
      const metrics = await (await fetch(`${demo.urls.gateway}/metrics`)).text();
      assert.match(metrics, /reason="insufficient_scope"/);
      assert.equal(demo.orders.orders().length, before);
      assert.equal(demo.inventory.products().find((p) => p.sku === 'cozy')!.stock, 3);

      // Reading is allowed: Bob has no orders, and does not see Alice's.
      await page.goto(`${demo.urls.shop}/orders`);
      assert.equal(await page.locator('#no-orders').innerText(), 'No orders yet.');
    } finally {
      await context.close();
    }
  });

  test('the CLI signs Alice in with the device flow and lists her orders through the gateway', async () => {
    const lines: string[] = [];
    let approving: Promise<void> | undefined;
    const page = alicePage;
    const code = await runCli(['orders'], {
      dataDir: demo.dataDir,
      print: (line) => {
        lines.push(line);
        const complete = /^\(or open (\S+)\)$/.exec(line);
        if (!complete) return;
        approving = (async () => {
          // Alice is still signed in at Latchkey in this browser, and the link carries the code: she
          // checks the code and what the CLI asks for, and allows.
          await page.goto(complete[1]!);
          const confirm = await page.locator('main').innerText();
          assert.match(confirm, /Tea Shop CLI/);
          assert.ok(confirm.includes(new URL(complete[1]!).searchParams.get('user_code')!));
          assert.ok(confirm.includes('See your orders'));
          await page.click('button[name=decision][value=allow]');
          await page.waitForSelector('text=Device connected');
        })();
      },
    });
    await approving;
    assert.equal(code, 0, lines.join('\n'));
    const out = lines.join('\n');
    assert.match(out, /Signed in as alice\./);
    assert.match(out, /Orders of alice/);
    assert.match(out, /1001 +2 x Porcelain teapot +€68\.00 +cancelled +confirmation sent/);
    assert.equal(statSync(join(demo.dataDir, 'cli-tokens.json')).mode & 0o777, 0o600, 'the token file is owner-only');

    // The stored tokens serve the next command without a sign-in; logout revokes and forgets them.
    const again: string[] = [];
    assert.equal(await runCli(['orders'], { dataDir: demo.dataDir, print: (line) => again.push(line) }), 0, again.join('\n'));
    assert.ok(!again.some((line) => line.startsWith('To sign in')), again.join('\n'));
    const bye: string[] = [];
    assert.equal(await runCli(['logout'], { dataDir: demo.dataDir, print: (line) => bye.push(line) }), 0);
    assert.deepEqual(bye, ['Signed out.']);
    assert.equal(existsSync(join(demo.dataDir, 'cli-tokens.json')), false);
  });

  test('Alice signs out: back at the shop signed out, and her refresh token is revoked', async () => {
    const page = alicePage;
    refreshToken = await sessionRefreshToken();
    await page.goto(demo.urls.shop);
    await page.click('#sign-out');
    await page.waitForURL((url) => url.origin === demo.urls.shop && url.pathname === '/');
    assert.equal(await page.locator('#sign-in').innerText(), 'Sign in');
    assert.equal((await alice.cookies(demo.urls.shop)).find((c) => c.name === 'shop'), undefined);

    const { clientId, clientSecret } = demo.clients.shop;
    const refresh = await fetch(`${demo.urls.issuer}/token`, {
      method: 'POST',
      headers: { authorization: `Basic ${Buffer.from(`${clientId}:${clientSecret}`).toString('base64')}`, 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ grant_type: 'refresh_token', refresh_token: refreshToken }),
    });
    assert.equal(((await refresh.json()) as { error: string }).error, 'invalid_grant');
  });

  test('no response either browser received carried an access or refresh token', async () => {
    const responses = (await Promise.all(seen)).filter((r): r is Seen => r !== undefined);
    assert.ok(responses.some((r) => r.url.startsWith(`${demo.urls.shop}/orders`) && r.body.includes('Porcelain teapot')), 'the order pages were seen');
    let idTokenHints = 0;
    for (const r of responses) {
      assert.ok(!r.body.includes(refreshToken), `the refresh token is in the body of ${r.url}`);
      assert.doesNotMatch(r.body, JWT_SHAPE, `a token is in the body of ${r.url}`);
      for (const [name, value] of Object.entries(r.headers)) {
        assert.ok(!value.includes(refreshToken), `the refresh token is in the ${name} header of ${r.url}`);
        if (name === 'set-cookie') continue; // the encrypted cookies themselves (JWE)
        if (name === 'location' && value.startsWith(`${demo.urls.issuer}/logout?`)) {
          // RP-initiated logout (OIDC RP-Initiated Logout §2) sends the ID token, never an access
          // token, through the browser as id_token_hint.
          const hint = new URL(value).searchParams.get('id_token_hint') ?? '';
          assert.equal(decodeProtectedHeader(hint).typ, 'JWT', 'the hint is an ID token, not an access token (at+jwt)');
          assert.equal(decodeJwt(hint).aud, 'shop');
          idTokenHints++;
          continue;
        }
        assert.doesNotMatch(value, JWT_SHAPE, `a token is in the ${name} header of ${r.url}`);
      }
    }
    assert.equal(idTokenHints, 1, 'one sign-out');
  });
});

describe('npm run demo', () => {
  let child: ChildProcess | undefined;
  let dataDir: string;
  after(() => {
    // A failed run must not leave the demo behind.
    if (child?.pid !== undefined && child.exitCode === null && child.signalCode === null) process.kill(-child.pid, 'SIGKILL');
    if (dataDir) rmSync(dataDir, { recursive: true, force: true });
  });

  test('starts everything, and one Ctrl-C stops all of it: no process left, every port closed', async () => {
    dataDir = mkdtempSync(join(tmpdir(), 'latchkey-shop-npm-'));
    const ports = { LATCHKEY_PORT: 0, LATCHKEY_MTLS_PORT: 0, GATEWAY_PORT: 0, SHOP_PORT: 0, ORDERS_PORT: 0, INVENTORY_PORT: 0, INVENTORY_MTLS_PORT: 0, NOTIFICATIONS_PORT: 0, NOTIFICATIONS_MTLS_PORT: 0 };
    for (const name of Object.keys(ports) as (keyof typeof ports)[]) ports[name] = await freePort();
    // Its own process group, as in a terminal, where Ctrl-C reaches npm and node alike.
    child = spawn('npm', ['run', 'demo'], {
      cwd: REPO_ROOT,
      detached: true,
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, ...Object.fromEntries(Object.entries(ports).map(([k, v]) => [k, String(v)])), SHOP_DEMO_DATA_DIR: dataDir },
    });
    let out = '';
    child.stdout!.setEncoding('utf8').on('data', (d: string) => (out += d));
    child.stderr!.setEncoding('utf8').on('data', (d: string) => (out += d));
    const exited = new Promise<number | null>((resolve) => child!.once('exit', (code) => resolve(code)));
    const deadline = Date.now() + 30_000;
    while (!out.includes('Press Ctrl-C to stop') && child.exitCode === null && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    assert.match(out, /Press Ctrl-C to stop/, out);
    assert.match(out, new RegExp(`Open the shop: +http://127\\.0\\.0\\.1:${ports.SHOP_PORT}`));
    assert.match(out, /alice \/ wonderland/);

    const home = await fetch(`http://127.0.0.1:${ports.SHOP_PORT}/`);
    assert.equal(home.status, 200);
    assert.match(await home.text(), /Porcelain teapot/, 'the shop reads the catalog through the gateway');

    process.kill(-child.pid!, 'SIGINT');
    // A terminal's Ctrl-C ends npm itself (by the signal, or with code 0 when the demo was quicker);
    // what matters is that the demo stops by itself and leaves no process of the group behind.
    const npm = await exited;
    assert.ok(npm === 0 || child.signalCode === 'SIGINT', `npm ended with ${npm ?? child.signalCode}`);
    const groupGone = () => {
      try {
        process.kill(-child!.pid!, 0);
        return false;
      } catch (err) {
        return (err as NodeJS.ErrnoException).code === 'ESRCH';
      }
    };
    const stopDeadline = Date.now() + 15_000;
    while (!groupGone() && Date.now() < stopDeadline) await new Promise((r) => setTimeout(r, 100));
    assert.ok(groupGone(), `a process of the demo is still running:\n${out}`);
    assert.match(out, /SIGINT: stopping\.\.\.\nStopped\./);
    assert.doesNotMatch(out, /Stopping at once/, 'npm forwarding the same Ctrl-C is not a second press');
    for (const port of Object.values(ports)) {
      await assert.rejects(fetch(`http://127.0.0.1:${port}/`), `port ${port} is closed`);
    }
  });
});
