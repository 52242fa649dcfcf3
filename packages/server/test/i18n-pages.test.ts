import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { FormBrowser, type Page, PASSWORD, postForm, type RunningServer, sqlite, startServer, startSmtpServer, type TestDatabase, type TestSmtpServer } from '@latchkey/testing';
import { UserRegistry } from '../src/users/user-registry.ts';

/**
 * The device, mail-link and sign-up pages in German (docs/languages.md), through real HTTP with
 * `Accept-Language: de`: the page says lang="de", its words are German, and none of the English ones
 * it had are left.
 */

const GERMAN = { headers: { 'accept-language': 'de-DE,de;q=0.9' } };

const formOf = (browser: FormBrowser, page: Page, actionEnd: string) => {
  const form = browser.forms(page.text, page.url).find((f) => f.action.endsWith(actionEnd));
  assert.ok(form, `no form for ${actionEnd} at ${page.url}: ${page.text.slice(0, 300)}`);
  return form;
};

const german = (page: Page) => {
  assert.match(page.text, /<html lang="de" dir="ltr">/);
  assert.equal(page.headers.get('content-language'), 'de');
};

describe('device, mail-link and sign-up pages in German (sqlite)', () => {
  let db: TestDatabase;
  let s: RunningServer;
  let smtp: TestSmtpServer;
  let tv: string;

  before(async () => {
    db = await sqlite.create();
    smtp = await startSmtpServer();
    s = await startServer(db, { smtpUrl: smtp.url, signup: 'open' });
    tv = (await s.registry.createClient({ name: 'Living Room TV', type: 'public', grantTypes: ['device_code'], scopes: ['openid', 'profile'] })).client.clientId;
    await new UserRegistry(s.server.context.storage).create({ username: 'alice', password: PASSWORD, email: 'alice@example.com' });
  });
  after(async () => {
    await s?.close();
    await smtp?.close();
    await db?.drop();
  });

  test('the device pages: login, code entry, confirmation with the code to compare, done', async () => {
    const started = (await postForm(`${s.issuer}/device_authorization`, { client_id: tv, scope: 'openid profile' })).body as { user_code: string; verification_uri_complete: string };
    const browser = new FormBrowser();
    const login = await browser.get(started.verification_uri_complete, GERMAN);
    german(login);
    assert.match(login.text, /um mit <strong>Anmeldung eines Geräts<\/strong> fortzufahren/);
    const [form] = browser.forms(login.text, login.url);
    const confirm = await browser.submit(login, form!, { values: { username: 'alice', password: PASSWORD }, followRedirects: true, ...GERMAN });
    assert.equal(confirm.status, 200, confirm.text.slice(0, 400));
    german(confirm);
    assert.match(confirm.text, /<h1><strong>Living Room TV<\/strong> auf einem Gerät möchte auf Ihr Konto zugreifen<\/h1>/);
    assert.match(confirm.text, new RegExp(`Prüfen Sie, ob Ihr Gerät den Code <strong>${started.user_code}</strong> anzeigt\\. Wenn nicht, lehnen Sie ab\\.`));
    assert.doesNotMatch(confirm.text, /on a device|Make sure|If it does not/);

    const entry = await browser.get(`${s.issuer}/device`, GERMAN);
    german(entry);
    assert.match(entry.text, /<h1>Gerät verbinden<\/h1>/);
    assert.match(entry.text, /<label for="user_code">Code<\/label>/);
    assert.match(entry.text, />Weiter<\/button>/);
    const wrong = await browser.submit(entry, formOf(browser, entry, '/device'), { values: { user_code: 'BCDF-GHJK' }, ...GERMAN });
    assert.equal(wrong.status, 400);
    assert.match(wrong.text, /Dieser Code ist ungültig\./);
    assert.doesNotMatch(wrong.text, /Connect a device|Enter the code|Signed in as|Continue|not valid/);

    const done = await browser.submit(confirm, formOf(browser, confirm, '/device'), { button: { name: 'decision', value: 'allow' }, ...GERMAN });
    assert.equal(done.status, 200);
    german(done);
    assert.match(done.text, /<h1>Gerät verbunden<\/h1>/);
    assert.doesNotMatch(done.text, /Device connected|return to your device/);
  });

  test('"Forgot password?" and its answer', async () => {
    const browser = new FormBrowser();
    const page = await browser.get(`${s.issuer}/login/forgot`, GERMAN);
    german(page);
    assert.match(page.text, /<title>Passwort zurücksetzen<\/title>/);
    assert.match(page.text, /<label for="identifier">Benutzername oder E-Mail-Adresse<\/label>/);
    assert.match(page.text, />Link senden<\/button>/);
    assert.doesNotMatch(page.text, /Reset your password|Username or email|Send the link|If an account matches/);
    const sent = await browser.submit(page, formOf(browser, page, '/login/forgot'), { values: { identifier: 'alice' }, ...GERMAN });
    assert.equal(sent.status, 200);
    german(sent);
    assert.match(sent.text, /<h1>Sehen Sie in Ihr Postfach<\/h1>/);
    assert.doesNotMatch(sent.text, /Check your mail|spam folder/);
  });

  test('the sign-up form, and a refused password in the user\'s words', async () => {
    const browser = new FormBrowser();
    const page = await browser.get(`${s.issuer}/signup`, GERMAN);
    german(page);
    assert.match(page.text, /<h1>Konto erstellen<\/h1>/);
    assert.match(page.text, /<label for="name">Name <span class="muted">\(optional\)<\/span><\/label>/);
    assert.match(page.text, /<label for="password">Passwort<\/label>/);
    assert.doesNotMatch(page.text, /Create your account|We send a link|Username|Password|At least 8|Create account/);
    const refused = await browser.submit(page, formOf(browser, page, '/signup'), {
      values: { username: 'omar', email: 'omar@example.com', password: 'password123' },
      ...GERMAN,
    });
    assert.equal(refused.status, 400);
    german(refused);
    assert.match(refused.text, /Das Passwort wird nicht akzeptiert: Es steht auf einer Liste von Passwörtern aus Datenlecks; wählen Sie ein anderes\./);
    assert.doesNotMatch(refused.text, /not accepted|known from breaches/);
    const made = await browser.submit(refused, formOf(browser, refused, '/signup'), {
      values: { username: 'omar', email: 'omar@example.com', password: 'a long and unusual passphrase' },
      ...GERMAN,
    });
    assert.equal(made.status, 200);
    assert.match(made.text, /Wir haben einen Link an omar@example\.com gesendet\./);
  });
});
