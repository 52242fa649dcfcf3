import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { FormBrowser, parseSetCookie } from '@latchkey/testing';

/** The test helper itself, against a tiny local server. */

const PAGE = `<!doctype html>
<html><body>
<form method="post" action="/login?x=1&amp;y=2">
  <input type="hidden" name="csrf_token" value="t&amp;k">
  <input type="hidden" name="scope" value="openid orders:read">
  <input name="username" autocomplete="username">
  <input type="password" name="password">
  <input type="checkbox" name="remember" value="yes">
  <input type="checkbox" name="terms" checked>
  <input type="text" name="off" value="no" disabled>
  <button type="submit">Sign in</button>
</form>
<form method="POST" action="/consent">
  <input type="hidden" name="csrf_token" value="c2">
  <button name="decision" value="allow">Allow</button>
  <button name="decision" value="deny" type="submit">Deny</button>
  <button type="button" name="noise" value="x">Not a submit</button>
</form>
<form action="/search"><input name="q" value="a b"></form>
</body></html>`;

async function readBody(req: IncomingMessage): Promise<string> {
  let body = '';
  for await (const chunk of req) body += String(chunk);
  return body;
}

let server: Server;
let base: string;

before(async () => {
  server = createServer(async (req, res) => {
    const url = new URL(req.url ?? '/', 'http://localhost');
    const echo = () => {
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify({ method: req.method, path: url.pathname, query: url.search, cookie: req.headers.cookie ?? null }));
    };
    switch (url.pathname) {
      case '/set':
        res.setHeader('set-cookie', ['a=1; Path=/; HttpOnly; SameSite=Lax', 'b=2; Path=/sub', 'c="quoted"', 'short=x; Max-Age=3600']);
        res.writeHead(302, { location: '/echo' }).end();
        return;
      case '/clear':
        res.setHeader('set-cookie', ['a=; Path=/; Max-Age=0', 'short=; Expires=Thu, 01 Jan 1970 00:00:00 GMT']);
        res.end('cleared');
        return;
      case '/page':
        res.setHeader('content-type', 'text/html; charset=utf-8');
        res.end(PAGE);
        return;
      case '/form': {
        const body = await readBody(req);
        res.writeHead(303, { location: `/echo?got=${encodeURIComponent(body)}` }).end();
        return;
      }
      case '/keep': // 307: the method and body are kept
        res.writeHead(307, { location: '/body' }).end();
        return;
      case '/body':
        res.end(`${req.method} ${await readBody(req)}`);
        return;
      case '/loop':
        res.writeHead(302, { location: '/loop' }).end();
        return;
      default:
        echo();
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

after(async () => {
  await new Promise<void>((resolve) => server.close(() => resolve()));
});

describe('FormBrowser', () => {
  test('returns redirects unfollowed by default, with the Location resolved', async () => {
    const browser = new FormBrowser();
    const page = await browser.get(`${base}/set`);
    assert.equal(page.status, 302);
    assert.equal(page.location, `${base}/echo`);
    assert.deepEqual(page.redirects, []);
  });

  test('keeps cookies per origin and path, and sends them back', async () => {
    const browser = new FormBrowser();
    const page = await browser.get(`${base}/set`, { followRedirects: true });
    assert.equal(page.status, 200);
    assert.equal(page.url, `${base}/echo`);
    assert.deepEqual(page.redirects, [`${base}/set`]);
    assert.equal(JSON.parse(page.text).cookie, 'a=1; c=quoted; short=x');
    const sub = JSON.parse((await browser.get(`${base}/sub/page`)).text);
    assert.match(sub.cookie, /b=2/);
    assert.doesNotMatch(JSON.parse((await browser.get(`${base}/subway`)).text).cookie, /b=2/);
    // Another origin (other port) gets none of them.
    assert.deepEqual(browser.cookies(`http://127.0.0.1:1/echo`), {});
  });

  test('Max-Age=0 and a past Expires delete a cookie', async () => {
    const browser = new FormBrowser();
    await browser.get(`${base}/set`);
    assert.deepEqual(browser.cookies(`${base}/`), { a: '1', c: 'quoted', short: 'x' });
    await browser.get(`${base}/clear`);
    assert.deepEqual(browser.cookies(`${base}/`), { c: 'quoted' });
  });

  test('extracts forms: action, method, inputs (hidden included, disabled left out) and buttons', async () => {
    const browser = new FormBrowser();
    const page = await browser.get(`${base}/page`);
    const [login, consent, search] = browser.forms(page.text, page.url);
    assert.ok(login && consent && search);
    assert.equal(login.action, `${base}/login?x=1&y=2`);
    assert.equal(login.method, 'post');
    assert.deepEqual(
      login.inputs.map((i) => [i.name, i.value, i.type]),
      [
        ['csrf_token', 't&k', 'hidden'],
        ['scope', 'openid orders:read', 'hidden'],
        ['username', '', 'text'],
        ['password', '', 'password'],
        ['remember', 'yes', 'checkbox'],
        ['terms', 'on', 'checkbox'],
      ],
    );
    assert.deepEqual(login.buttons, []);
    assert.equal(consent.method, 'post');
    assert.deepEqual(consent.buttons, [
      { name: 'decision', value: 'allow', text: 'Allow' },
      { name: 'decision', value: 'deny', text: 'Deny' },
    ]);
    assert.equal(search.method, 'get');
    // Without a base URL the action is left as written.
    assert.equal(browser.forms(PAGE)[1]?.action, '/consent');
  });

  test('posts a form, and a 303 turns into a GET', async () => {
    const browser = new FormBrowser();
    const page = await browser.post(`${base}/form`, { a: 'x y', b: ['1', '2'] }, { followRedirects: true });
    const echoed = JSON.parse(page.text);
    assert.equal(echoed.method, 'GET');
    assert.equal(new URLSearchParams(echoed.query).get('got'), 'a=x+y&b=1&b=2');
  });

  test('a 307 keeps the method and the body', async () => {
    const browser = new FormBrowser();
    const page = await browser.post(`${base}/keep`, { k: 'v' }, { followRedirects: true });
    assert.equal(page.text, 'POST k=v');
  });

  test('submit() sends the inputs, the overrides and the chosen button', async () => {
    const browser = new FormBrowser();
    const page = await browser.get(`${base}/page`);
    const [login, consent] = browser.forms(page.text, page.url);
    assert.ok(login && consent);
    const posted = await browser.submit(page, { ...login, action: `${base}/form` }, {
      values: { username: 'alice', password: 'pw' },
      followRedirects: true,
    });
    const got = new URLSearchParams(new URLSearchParams(JSON.parse(posted.text).query).get('got') ?? '');
    assert.deepEqual([...got], [
      ['csrf_token', 't&k'],
      ['scope', 'openid orders:read'],
      ['username', 'alice'],
      ['password', 'pw'],
      ['terms', 'on'],
    ]);
    const allowed = await browser.submit(page, { ...consent, action: `${base}/keep` }, {
      button: { name: 'decision', value: 'allow' },
      followRedirects: true,
    });
    assert.equal(allowed.text, 'POST csrf_token=c2&decision=allow');
    await assert.rejects(browser.submit(page, consent, { button: { name: 'decision', value: 'maybe' } }), /no button/);
  });

  test('gives up on a redirect loop', async () => {
    await assert.rejects(new FormBrowser().get(`${base}/loop`, { followRedirects: true }), /more than 20 redirects/);
  });

  test('parseSetCookie: attributes, Max-Age over Expires, malformed headers', () => {
    assert.deepEqual(parseSetCookie('sid=abc; Path=/x; Secure'), { name: 'sid', value: 'abc', path: '/x', expires: undefined });
    assert.equal(parseSetCookie('sid=; Max-Age=0; Expires=Fri, 01 Jan 2100 00:00:00 GMT')?.expires, 0);
    assert.equal(parseSetCookie('novalue'), undefined);
    assert.equal(parseSetCookie('=x'), undefined);
  });
});
