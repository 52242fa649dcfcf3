import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { chromiumSkip, launchChromium, type RunningServer, sqlite, startServer, type TestDatabase } from '@latchkey/testing';

const ARTIFACTS = fileURLToPath(new URL('../../../test-artifacts/', import.meta.url));

/** The issuer's own address (issue 19): a page for a person, JSON for a program. */
describe('the issuer\'s home page (sqlite)', () => {
  let db: TestDatabase;
  let s: RunningServer;

  before(async () => {
    db = await sqlite.create();
    s = await startServer(db, { productName: 'Acme ID' });
  });
  after(async () => {
    await s?.close();
    await db?.drop();
  });

  test('a browser gets what this server is and where to go, with the pages\' headers; no secret', async () => {
    const res = await fetch(`${s.issuer}/`, { headers: { accept: 'text/html,application/xhtml+xml,*/*;q=0.8' } });
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type') ?? '', /^text\/html/);
    assert.match(res.headers.get('content-security-policy') ?? '', /default-src 'none'/);
    assert.equal(res.headers.get('x-frame-options'), 'DENY');
    assert.equal(res.headers.get('vary'), 'Accept, Accept-Language');
    const html = await res.text();
    assert.match(html, /<h1>Acme ID<\/h1>/);
    assert.match(html, /<a href="\/account">Your account<\/a>/);
    assert.match(html, /<a href="\/\.well-known\/openid-configuration">OpenID Connect discovery<\/a>/);
    assert.match(html, new RegExp(`<code>${s.issuer.replace(/[.]/g, '\\.')}</code>`));
    assert.doesNotMatch(html, /secret|client_id|Create an account/i, 'nothing but the public addresses; no sign-up link while sign-up is off');
  });

  test('in German for a German browser', async () => {
    const html = await (await fetch(`${s.issuer}/`, { headers: { accept: 'text/html', 'accept-language': 'de' } })).text();
    assert.match(html, /<html lang="de"/);
    assert.match(html, />Ihr Konto</);
  });

  test('a program asking for JSON (or anything but HTML) still gets JSON', async () => {
    for (const accept of ['application/json', '*/*', undefined]) {
      const res = await fetch(`${s.issuer}/`, accept ? { headers: { accept } } : {});
      assert.equal(res.status, 404, String(accept));
      assert.equal(res.headers.get('vary'), 'Accept');
      assert.equal(res.headers.get('cache-control'), 'no-store');
      assert.deepEqual(await res.json(), { error: 'not_found', error_description: 'no such endpoint' });
    }
  });

  test('in Chromium, with a screenshot', { skip: chromiumSkip() }, async () => {
    const browser = await launchChromium();
    try {
      const tab = await browser.newPage({ viewport: { width: 520, height: 560 } });
      await tab.goto(`${s.issuer}/`);
      assert.equal(await tab.textContent('h1'), 'Acme ID');
      await tab.click('a[href="/account"]');
      await tab.waitForSelector('input[name="username"]');
      await tab.goBack();
      mkdirSync(ARTIFACTS, { recursive: true });
      await tab.screenshot({ path: join(ARTIFACTS, 'home.png'), fullPage: true });
    } finally {
      await browser.close();
    }
  });
});
