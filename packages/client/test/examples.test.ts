import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { startOrdersApi } from '../../../examples/demo-client/orders-api.ts';
import { authorizeInBrowser, FormBrowser, type Latchkey, startLatchkey } from '@latchkey/testing';
import { createShopApp } from '../examples/bff-app.ts';
import { deviceLogin } from '../examples/device-login.ts';
import { createOrdersCaller } from '../examples/service-to-api.ts';

/**
 * The examples run as written against Latchkey, importing the package by its name (its built dist/,
 * which `npm ci` builds).
 */
describe('examples', () => {
  let lk: Latchkey;

  before(async () => {
    lk = await startLatchkey();
  });
  after(async () => lk?.close());

  test('service-to-api.ts lists the orders with a client-credentials token', async () => {
    const svc = await lk.running.registry.createClient({ name: 'svc', type: 'confidential', grantTypes: ['client_credentials'], scopes: ['orders:read'] });
    const api = await startOrdersApi({ issuer: lk.issuer, audience: lk.seed.api });
    try {
      const caller = createOrdersCaller({ issuer: lk.issuer, clientId: svc.client.clientId, clientSecret: svc.clientSecret!, apiUrl: api.url });
      const orders = (await caller.listOrders()) as { orders: unknown[] };
      assert.ok(Array.isArray(orders.orders) && orders.orders.length > 0, JSON.stringify(orders));
    } finally {
      await api.close();
    }
  });

  test('bff-app.ts signs Alice in, answers /api/me from the server side, and signs her out', async () => {
    const server = createServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    try {
      const registered = await lk.running.registry.createClient({
        name: 'Shop',
        type: 'confidential',
        grantTypes: ['authorization_code', 'refresh_token'],
        scopes: ['openid', 'profile', 'offline_access', 'orders:read'],
        redirectUris: ['http://127.0.0.1/callback'],
        postLogoutRedirectUris: [`${baseUrl}/`],
      });
      server.on(
        'request',
        createShopApp({
          issuer: lk.issuer,
          clientId: registered.client.clientId,
          clientSecret: registered.clientSecret!,
          baseUrl,
          cookieKey: 'qjSsuK0Lz3wPXjMB8OUK0fEHq2V-zf3V3Ox1A9Ee3bE',
          insecureCookies: true,
        }),
      );
      const browser = new FormBrowser();
      assert.match((await browser.get(`${baseUrl}/`)).text, /Sign in/);
      const login = await browser.get(`${baseUrl}/login`);
      const callback = await browser.get(await authorizeInBrowser(browser, lk.issuer, login.location!));
      assert.equal(callback.status, 200, callback.text);
      assert.match((await browser.get(`${baseUrl}/`)).text, /Hello Alice Liddell/);
      const me = await browser.get(`${baseUrl}/api/me`);
      assert.equal(me.status, 200);
      assert.equal((JSON.parse(me.text) as { sub: string }).sub, lk.seed.user.id);
      const logout = await browser.post(`${baseUrl}/logout`, {});
      assert.equal(logout.status, 303);
      assert.ok(logout.location?.startsWith(`${lk.issuer}/logout?`));
      assert.equal((await browser.get(`${baseUrl}/api/me`)).status, 401);
      assert.equal((await browser.get(`${baseUrl}/callback?code=x&state=y`)).text, 'sign-in failed: ERR_STATE_MISMATCH');
    } finally {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    }
  });

  test('device-login.ts shows the code and polls until stopped', async () => {
    const tv = await lk.running.registry.createClient({ name: 'TV', type: 'public', grantTypes: ['device_code'], scopes: ['openid', 'orders:read'] });
    const shown: string[] = [];
    const controller = new AbortController();
    const login = deviceLogin({ issuer: lk.issuer, clientId: tv.client.clientId, scope: 'openid orders:read', show: (m) => shown.push(m), signal: controller.signal });
    while (shown.length < 2) await new Promise((resolve) => setTimeout(resolve, 10));
    assert.match(shown[0]!, new RegExp(`^Open ${lk.issuer}/device and enter [A-Z]{4}-[A-Z]{4}$`));
    controller.abort(new Error('stopped'));
    await assert.rejects(login, /stopped/);
  });
});
