import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { authorizeUrl, FormBrowser, pkcePair, type RunningServer, seedUserFlow, sqlite, startServer, type TestDatabase, type UserFlowSeed } from '@latchkey/testing';
import { BUILT_IN_CATALOGS, ENGLISH } from '../src/i18n/catalogs.ts';
import { Languages } from '../src/i18n/languages.ts';
import { checkCatalog, loadCatalogs, loadLanguages, textDirection } from '../src/i18n/operator-catalogs.ts';
import { Translator } from '../src/i18n/translator.ts';
import { messages as german } from '../src/i18n/de/index.ts';
import { brandPage, checkLayout, loadTheme } from '../src/ui/theme.ts';
import { layout } from '../src/ui/pages.ts';

const LAYOUT_THEME = fileURLToPath(new URL('./fixtures/theme-layout/', import.meta.url));
const PLACEHOLDER = /\{([a-z_][a-z0-9_]*)\}/gi;
const placeholders = (m: string) => [...m.matchAll(PLACEHOLDER)].map((x) => x[1]).sort();

describe('message catalogs (i18n/)', () => {
  test('German is complete: every English message, the same placeholders, none left in English by mistake', () => {
    const de = BUILT_IN_CATALOGS.find((c) => c.locale === 'de')!;
    assert.deepEqual(Object.keys(de.messages).sort(), Object.keys(ENGLISH.messages).sort());
    assert.deepEqual(checkCatalog('de', german), []);
    for (const [key, english] of Object.entries(ENGLISH.messages)) {
      assert.deepEqual(placeholders(de.messages[key]!), placeholders(english), key);
    }
    // Words that are the same in both languages are few; a long one that is equal is a copy.
    const same = Object.entries(ENGLISH.messages).filter(([key, english]) => english.length > 12 && de.messages[key] === english);
    assert.deepEqual(same, []);
  });

  test('a translator fills placeholders as text, escapes the message in HTML, and picks plural forms', () => {
    const de = new Languages().translator('de');
    assert.equal(de.t('login.withProvider', { provider: 'Acme <b>' }), 'Mit Acme <b> anmelden');
    assert.equal(de.html('login.continueTo', { client: '<strong>Shop</strong>' }), 'um mit <strong>Shop</strong> fortzufahren');
    const en = new Languages().translator('en');
    assert.equal(en.plural('wait.seconds', 1), '1 second');
    assert.equal(en.plural('wait.seconds', 30), '30 seconds');
    assert.equal(de.plural('wait.minutes', 1), '1 Minute');
    assert.equal(de.plural('wait.minutes', 5), '5 Minuten');
    const day = Date.UTC(2026, 11, 6) / 1000;
    assert.equal(en.day(day), 'Dec 6, 2026');
    assert.equal(de.day(day), '06.12.2026');
  });

  test('html() escapes the message itself: an operator\'s words cannot add markup', () => {
    const t = new Translator({ locale: 'en', dir: 'ltr', messages: { 'login.continueTo': '<img src=x> to {client}' } }, ENGLISH);
    assert.equal(t.html('login.continueTo', { client: '<strong>A</strong>' }), '&#60;img src=x&#62; to <strong>A</strong>');
  });

  test('the language: ui_locales first, in its order, then Accept-Language with its weights, regions fall back to the language', () => {
    const languages = new Languages();
    assert.equal(languages.choose('fr de en', 'en').locale, 'de', 'the first of ui_locales Latchkey has');
    assert.equal(languages.choose('de-CH', undefined).locale, 'de');
    assert.equal(languages.choose('fr', 'de-AT,de;q=0.9,en;q=0.5').locale, 'de', 'none of ui_locales: the browser\'s');
    assert.equal(languages.choose(undefined, 'en;q=0.4, de;q=0.8').locale, 'de');
    assert.equal(languages.choose(undefined, 'fr, it').locale, 'en', 'nothing offered: the default');
    assert.equal(languages.choose('*', undefined).locale, 'en', 'a wildcard is not a language tag');
    assert.equal(languages.choose('xx,* de;q=0 de', 'en').locale, 'de', 'only tags count in ui_locales: not lists, wildcards or weights');
    assert.equal(languages.choose(undefined, 'x'.repeat(5000)).locale, 'en');
    assert.equal(new Languages(BUILT_IN_CATALOGS, 'de').choose(undefined, undefined).locale, 'de', 'the operator\'s default');
    assert.deepEqual(new Languages(BUILT_IN_CATALOGS, 'de').supported, ['de', 'en']);
  });

  test('text direction comes from the runtime\'s locale data', () => {
    assert.equal(textDirection('ar'), 'rtl');
    assert.equal(textDirection('he-IL'), 'rtl');
    assert.equal(textDirection('de'), 'ltr');
  });

  test('operator catalogs change and add languages; any mistake stops the start with every problem named', () => {
    const catalogs = loadCatalogs(LAYOUT_THEME);
    const ar = catalogs.find((c) => c.locale === 'ar')!;
    assert.equal(ar.dir, 'rtl');
    const languages = loadLanguages({ themeDir: LAYOUT_THEME, defaultLocale: 'en' });
    assert.deepEqual(languages.supported, ['en', 'de', 'ar']);
    assert.equal(languages.translator('en').t('login.title'), 'Sign in to Acme', 'a built-in message changed');
    assert.equal(languages.translator('ar').t('login.forgot'), 'Forgot password?', 'what a new language lacks is English');
    assert.equal(languages.translator('de').t('custom.privacy' as never), 'Datenschutzerklärung');

    const bad = mkdtempSync(join(tmpdir(), 'latchkey-messages-'));
    mkdirSync(join(bad, 'messages'));
    writeFileSync(join(bad, 'messages', 'fr.json'), JSON.stringify({ 'login.titel': 'x', 'login.withProvider': 'Avec {fournisseur}', 'login.submit': 3, 'consent.unverified.trust': 'Autorisez-la si vous lui faites confiance.', constructor: 'x', 'wait.seconds.one': 'une seconde' }));
    writeFileSync(join(bad, 'messages', 'not a tag!.json'), '{}');
    writeFileSync(join(bad, 'messages', 'it.json'), '{ nope');
    assert.throws(() => loadCatalogs(bad), (err: Error) => {
      assert.match(err.message, /fr\.json: "login\.titel" is not a message Latchkey has/);
      assert.match(err.message, /fr\.json: "login\.withProvider" uses \{fournisseur\}, which it is not given \(it has \{provider\}\)/);
      assert.match(err.message, /fr\.json: "login\.submit" must be a string/);
      assert.match(err.message, /fr\.json: "consent\.unverified\.trust" must keep \{host\}/, 'a translation may not hide where the browser goes');
      assert.match(err.message, /fr\.json: "constructor" is not a message Latchkey has/);
      assert.doesNotMatch(err.message, /wait\.seconds\.one/, 'a singular may spell its number out');
      assert.match(err.message, /not a tag!\.json: "not a tag!" is not a language tag/);
      assert.match(err.message, /it\.json: not valid JSON/);
      return err.name === 'ConfigError';
    });
    assert.throws(() => loadLanguages({ themeDir: undefined, defaultLocale: 'fr' }), /LATCHKEY_DEFAULT_LOCALE must be one of the languages there are messages for: en, de/);
  });

  test('an operator layout: checked at start, filled with the page\'s parts', () => {
    assert.deepEqual(checkLayout('{{head}}{{content}}'), []);
    assert.deepEqual(checkLayout('{{head}}{{content}}{{content}}{{nope}}<script>x</script>'), [
      'unknown placeholder {{nope}}',
      '{{content}} must appear exactly once (it appears 2 times)',
      'a <script> cannot run: the pages allow only Latchkey\'s own script (Content-Security-Policy)',
    ]);
    // Escaped values are safe in text and in double-quoted attributes only.
    assert.deepEqual(checkLayout('<meta content={{title}}>{{content}}{{head}}'), [
      '{{head}} must come before {{content}}',
      '{{title}} inside a tag must be within double quotes (attr="{{title}}")',
    ]);
    assert.deepEqual(checkLayout('{{head}}<style>{{product}}</style><!-- {{title}} --><textarea>{{lang}}</textarea><div {{content}}>'), [
      '{{product}} cannot be inside <style>',
      '{{title}} cannot be inside a comment',
      '{{lang}} cannot be inside <textarea>',
      '{{content}} cannot be inside a tag',
    ]);
    assert.deepEqual(checkLayout('<title>{{title}} · {{product}}</title>{{head}}<p class="x {{dir}}">{{brand}}</p>{{content}}'), []);
    const theme = loadTheme({ productName: 'Acme <ID>', themeColor: undefined, themeDir: LAYOUT_THEME });
    const t = new Languages().translator('de');
    const page = brandPage(layout(t, '/assets', 'Titel', '<p>Inhalt</p>'), theme, '/assets', (locale, key) => `${locale}:${key}`);
    assert.match(page, /^<!doctype html>\n<html lang="de" dir="ltr">/);
    assert.match(page, /<title>Titel · Acme &#60;ID&#62;<\/title>/);
    assert.match(page, /<link rel="stylesheet" href="\/assets\/latchkey\.css">/);
    assert.match(page, /<header class="acme-header"><p class="brand">Acme &#60;ID&#62;<\/p><\/header>\n<main>\n<p>Inhalt<\/p>\n<\/main>/);
    assert.match(page, /<a href="https:\/\/acme\.example\/privacy">de:custom\.privacy<\/a>/);
  });
});

describe('pages in the user\'s language (sqlite)', () => {
  let db: TestDatabase;
  let s: RunningServer;
  let seed: UserFlowSeed;

  before(async () => {
    db = await sqlite.create();
    s = await startServer(db);
    seed = await seedUserFlow(s);
  });
  after(async () => {
    await s?.close();
    await db?.drop();
  });

  test('discovery lists the languages (OIDC Discovery §3 ui_locales_supported)', async () => {
    const metadata = (await (await fetch(`${s.issuer}/.well-known/openid-configuration`)).json()) as Record<string, unknown>;
    assert.deepEqual(metadata.ui_locales_supported, ['en', 'de']);
  });

  test('Accept-Language: de gives the German login page, with lang, Content-Language and Vary', async () => {
    const browser = new FormBrowser();
    const page = await browser.get(authorizeUrl(s, { clientId: seed.publicClient }, pkcePair().challenge), { followRedirects: true, headers: { 'accept-language': 'de-DE,de;q=0.9,en;q=0.5' } });
    assert.equal(page.status, 200);
    assert.match(page.text, /<html lang="de" dir="ltr">/);
    assert.equal(page.headers.get('content-language'), 'de');
    assert.match(page.headers.get('vary') ?? '', /Accept-Language/);
    assert.match(page.text, /<h1>Anmelden<\/h1>/);
    assert.match(page.text, /<label for="username">Benutzername<\/label>/);
    assert.doesNotMatch(page.text, />Sign in<|Username|Password</);
  });

  test('ui_locales beats Accept-Language and follows the request through login and consent', async () => {
    const browser = new FormBrowser();
    const english = { headers: { 'accept-language': 'en' } };
    const login = await browser.get(authorizeUrl(s, { clientId: seed.publicClient, extra: { ui_locales: 'fr-CA de' } }, pkcePair().challenge), { followRedirects: true, ...english });
    assert.match(login.text, /<html lang="de"/);
    const [form] = browser.forms(login.text, login.url);
    const wrong = await browser.submit(login, form!, { values: { username: seed.user.username, password: 'wrong' }, ...english });
    assert.equal(wrong.status, 400);
    assert.match(wrong.text, /Benutzername oder Passwort ist falsch\./);
    const [again] = browser.forms(wrong.text, wrong.url);
    const consent = await browser.submit(wrong, again!, { values: { username: seed.user.username, password: seed.user.password }, followRedirects: true, ...english });
    assert.equal(consent.status, 200);
    assert.match(consent.text, /<html lang="de"/);
    assert.match(consent.text, /<strong>Demo Shop<\/strong> möchte auf Ihr Konto zugreifen/);
    assert.match(consent.text, /Sie anmelden und wissen, wer Sie sind/, 'the OpenID scopes in German');
    assert.match(consent.text, /Read your orders/, 'an API\'s scope in the operator\'s words');
    assert.match(consent.text, />Zulassen</);
  });

  test('an error page before the request is read is in the browser\'s language too', async () => {
    const page = await new FormBrowser().get(`${s.issuer}/authorize?client_id=nobody&response_type=code`, { headers: { 'accept-language': 'de' } });
    assert.equal(page.status, 400);
    assert.match(page.text, /<h1>Unbekannte Anwendung<\/h1>/);
  });
});

describe('an operator\'s layout and languages (sqlite)', () => {
  let db: TestDatabase;
  let s: RunningServer;
  let seed: UserFlowSeed;

  before(async () => {
    db = await sqlite.create();
    s = await startServer(db, { productName: 'Acme ID', themeDir: LAYOUT_THEME });
    seed = await seedUserFlow(s);
  });
  after(async () => {
    await s?.close();
    await db?.drop();
  });

  test('pages come in the operator\'s frame, their own messages in the user\'s language, a right-to-left language with dir="rtl"', async () => {
    const url = authorizeUrl(s, { clientId: seed.publicClient }, pkcePair().challenge);
    const de = await new FormBrowser().get(url, { followRedirects: true, headers: { 'accept-language': 'de' } });
    assert.match(de.text, /<title>Anmelden · Acme ID<\/title>/);
    assert.match(de.text, /<header class="acme-header"><p class="brand">Acme ID<\/p><\/header>/);
    assert.match(de.text, />Datenschutzerklärung<\/a><\/footer>/);
    assert.match(de.text, /<form method="post"/, 'the page\'s own content is inside');
    const ar = await new FormBrowser().get(url, { followRedirects: true, headers: { 'accept-language': 'ar' } });
    assert.match(ar.text, /<html lang="ar" dir="rtl">/);
    assert.equal(ar.headers.get('content-language'), 'ar');
    assert.match(ar.text, /<h1>تسجيل الدخول<\/h1>/);
    const en = await new FormBrowser().get(url, { followRedirects: true });
    assert.match(en.text, /<h1>Sign in to Acme<\/h1>/, 'the operator changed an English message');
    assert.match(en.text, />Privacy policy<\/a>/);
    assert.equal(en.headers.get('content-security-policy')?.includes("script-src 'unsafe-inline'"), false);
  });
});
