import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { generateSync } from 'otplib';
import {
  authorizeUrl,
  FormBrowser,
  freePort,
  type HtmlForm,
  type Page,
  PASSWORD,
  pkcePair,
  type RunningServer,
  seedUserFlow,
  sqlite,
  startServer,
  type TestDatabase,
  type UserFlowSeed,
} from '@latchkey/testing';
import { messages as english } from '../src/i18n/en/account.ts';
import { messages as german } from '../src/i18n/de/account.ts';
import { escapeHtml } from '../src/ui/security-headers.ts';
import { UserRegistry } from '../src/users/user-registry.ts';

/**
 * The account pages in German (Accept-Language: de, or ui_locales=de for the passkey step of a
 * sign-in): the account page itself, setting up an authenticator app, the recovery codes, signing in
 * again, the code page, and the passkey step. Real HTTP on SQLite.
 */

const FIREFOX = 'Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:133.0) Gecko/20100101 Firefox/133.0';
const DE = { headers: { 'accept-language': 'de-DE,de;q=0.9,en;q=0.5', 'user-agent': FIREFOX } };
const GERMAN_DAY = /\d{2}\.\d{2}\.\d{4}/.source;

/** The English sentences of the account catalog that German says differently: none may be left in a German page. */
const ENGLISH_ONLY = Object.entries(english)
  .filter(([key, text]) => text.length >= 8 && !/\{/.test(text) && german[key as keyof typeof english] !== text)
  .map(([, text]) => escapeHtml(text));

function noEnglish(page: Page): void {
  assert.match(page.text, /<html lang="de" dir="ltr">/);
  // As words of their own ("Password", not the "1Password" of an app's name).
  const left = ENGLISH_ONLY.filter((text) => new RegExp(`(?<![\\w-])${text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}(?![\\w-])`).test(page.text));
  assert.deepEqual(left, [], `English left in ${page.url}`);
}

describe('account pages in German (sqlite)', () => {
  let db: TestDatabase;
  let s: RunningServer;
  let seed: UserFlowSeed;

  before(async () => {
    db = await sqlite.create();
    // Passkeys need a host name as RP ID, not an IP address.
    const port = await freePort();
    s = await startServer(db, { port, issuer: `http://localhost:${port}` });
    seed = await seedUserFlow(s);
  });
  after(async () => {
    await s?.close();
    await db?.drop();
  });

  const account = () => `${s.issuer}/account`;
  const formOf = (browser: FormBrowser, page: Page, actionEnd: string): HtmlForm => {
    const form = browser.forms(page.text, page.url).find((f) => f.action.endsWith(actionEnd));
    assert.ok(form, `no form for ${actionEnd} at ${page.url}`);
    return form;
  };
  const signIn = async (browser: FormBrowser, username: string): Promise<Page> => {
    const login = await browser.get(account(), DE);
    assert.match(login.text, /um mit <strong>Ihrem Konto<\/strong> fortzufahren/);
    return browser.submit(login, formOf(browser, login, '/account/login'), { values: { username, password: PASSWORD }, followRedirects: true, ...DE });
  };

  test('the account page, the password change, the authenticator app with its recovery codes, the code page and signing in again', async () => {
    await new UserRegistry(s.server.context.storage).create({ username: 'greta', password: PASSWORD, name: 'Greta', email: 'greta@example.com' });
    const browser = new FormBrowser();
    const home = await signIn(browser, 'greta');
    assert.equal(home.status, 200);
    assert.equal(home.headers.get('content-language'), 'de');
    assert.match(home.text, /<h1>Ihr Konto<\/h1>/);
    assert.match(home.text, /<dt>Benutzername<\/dt><dd>greta<\/dd>/);
    assert.match(home.text, /greta@example\.com <span class="status">Nicht bestätigt<\/span>/);
    assert.match(home.text, /Authenticator-App <span class="status">Aus<\/span>/);
    assert.match(home.text, /Passkeys <span class="status">Keine<\/span>/);
    assert.match(home.text, /Firefox unter Windows <span class="status on">Dieser Browser<\/span>/);
    assert.match(home.text, new RegExp(`127\\.0\\.0\\.1 · zuletzt aktiv am ${GERMAN_DAY}`));
    assert.match(home.text, />Passkey hinzufügen<\/button>/);
    assert.match(home.text, />Passwort ändern<\/button>/);
    noEnglish(home);

    const password = (current: string, next: string) => browser.submit(home, formOf(browser, home, '/account/password'), { values: { current_password: current, new_password: next }, followRedirects: true, ...DE });
    assert.match((await password('falsch', 'ein ganz neues Passwort')).text, /Das aktuelle Passwort ist falsch\./);
    const short = await password(PASSWORD, 'kurz');
    assert.equal(short.status, 400);
    assert.match(short.text, /Das neue Passwort wird nicht akzeptiert: Ein Passwort braucht mindestens 8 Zeichen\./);

    // The authenticator app: the setup page, a wrong code, the recovery codes, the notice.
    const setup = await browser.submit(home, formOf(browser, home, '/account/totp'), { followRedirects: true, ...DE });
    assert.match(setup.text, /<h1>Authenticator-App einrichten<\/h1>/);
    assert.match(setup.text, /aria-label="QR-Code Ihres Authenticator-Schlüssels"/);
    assert.match(setup.text, />Abbrechen<\/a><button type="submit" class="primary">Einschalten<\/button>/);
    noEnglish(setup);
    const secret = /<code class="secret" id="secret">([A-Z2-7 ]+)<\/code>/.exec(setup.text)![1]!.replace(/ /g, '');
    const wrong = await browser.submit(setup, formOf(browser, setup, '/account/totp/confirm'), { values: { code: generateSync({ secret, epoch: Math.floor(Date.now() / 1000) - 600 }) }, ...DE });
    assert.equal(wrong.status, 400);
    assert.match(wrong.text, /Dieser Code ist falsch\./);
    const codes = await browser.submit(wrong, formOf(browser, wrong, '/account/totp/confirm'), { values: { code: generateSync({ secret }) }, followRedirects: true, ...DE });
    assert.match(codes.text, /<h1>Ihre Wiederherstellungscodes<\/h1>/);
    assert.match(codes.text, /<strong>Sie werden nur jetzt angezeigt<\/strong>; frühere Codes funktionieren nicht mehr\./);
    assert.match(codes.text, />Ich habe sie gespeichert<\/a>/);
    noEnglish(codes);
    const on = await browser.get(new URL(/class="button primary" href="([^"]+)"/.exec(codes.text)![1]!.replace(/&#38;/g, '&'), s.issuer).toString(), DE);
    assert.match(on.text, /Ihre Authenticator-App ist eingeschaltet: Bei der Anmeldung wird jetzt ihr Code abgefragt\./);
    assert.match(on.text, /Authenticator-App <span class="status on">Ein<\/span>/);
    assert.match(on.text, new RegExp(`seit ${GERMAN_DAY} ein Code`));
    assert.match(on.text, /10 von 10 übrig\./);
    noEnglish(on);

    // Another browser: after the password, the code page (ui/account-pages.ts otpPage).
    const other = new FormBrowser();
    const code = await signIn(other, 'greta');
    assert.match(code.text, /<h1>Bestätigung in zwei Schritten<\/h1>/);
    assert.match(code.text, /<summary>Telefon verloren\? Einen Wiederherstellungscode verwenden<\/summary>/);
    noEnglish(code);

    // Turning the app off with a sign-in that is not recent: sign in again first.
    const storage = s.server.context.storage;
    const user = (await storage.users.findByUsername('greta'))!;
    for (const session of await storage.sessions.listForUser(user.id)) {
      await storage.db.kysely.updateTable('sessions').set({ auth_time: session.authTime - 3600 }).where('id_hash', '=', session.idHash).execute();
    }
    const again = await browser.submit(on, formOf(browser, on, '/account/totp/remove'), DE);
    assert.equal(again.status, 403);
    assert.match(again.text, /<h1>Erneut anmelden<\/h1>/);
    noEnglish(again);
  });

  test('the passkey step of a sign-in follows ui_locales', async () => {
    await new UserRegistry(s.server.context.storage).create({ username: 'hanno', password: PASSWORD });
    const browser = new FormBrowser();
    const englishBrowser = { headers: { 'accept-language': 'en' } };
    const url = authorizeUrl(s, { clientId: seed.publicClient, scope: 'openid', extra: { acr_values: 'phr', ui_locales: 'de' } }, pkcePair().challenge);
    const login = await browser.get(url, { followRedirects: true, ...englishBrowser });
    const step = await browser.submit(login, browser.forms(login.text, login.url)[0]!, { values: { username: 'hanno', password: PASSWORD }, followRedirects: true, ...englishBrowser });
    assert.equal(new URL(step.url).pathname, '/login/passkey/required');
    assert.match(step.text, /<h1>Passkey hinzufügen<\/h1>/);
    assert.match(step.text, /Demo Shop bittet Sie, sich mit einem Passkey anzumelden\./);
    assert.match(step.text, /Passkeys benötigen in diesem Browser JavaScript\./);
    assert.match(step.text, /<label for="passkey-name">Name<\/label>/);
    noEnglish(step);
  });
});
