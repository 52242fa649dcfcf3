import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { FormBrowser, PASSWORD, type RunningServer, sqlite, startServer, startSmtpServer, type TestDatabase, type TestSmtpServer } from '@latchkey/testing';
import { Languages } from '../src/i18n/languages.ts';
import { applyMailOverrides, loadMailOverrides } from '../src/mail/overrides.ts';
import { resetPasswordMessage } from '../src/mail/templates.ts';
import { requestPasswordReset } from '../src/users/email-links.ts';
import { inviteUser } from '../src/users/signup.ts';
import { UserRegistry } from '../src/users/user-registry.ts';

/**
 * The mail in the user's language (docs/email.md, docs/languages.md): Latchkey's words from the
 * catalogs, through a real SMTP server, and the operator's per-language template files chosen before
 * the language-less ones.
 */

describe('mail in the user\'s language (sqlite)', () => {
  let db: TestDatabase;
  let s: RunningServer;
  let smtp: TestSmtpServer;
  let theme: string;

  before(async () => {
    theme = mkdtempSync(join(tmpdir(), 'latchkey-mail-i18n-'));
    mkdirSync(join(theme, 'mail'));
    writeFileSync(join(theme, 'mail', 'reset-password.subject'), '{{service}}: new password for {{username}}\n');
    writeFileSync(join(theme, 'mail', 'reset-password.de.subject'), '{{service}}: neues Passwort für {{username}}\n');
    db = await sqlite.create();
    smtp = await startSmtpServer();
    s = await startServer(db, { smtpUrl: smtp.url, themeDir: theme });
  });
  after(async () => {
    await s?.close();
    await smtp?.close();
    await db?.drop();
    rmSync(theme, { recursive: true, force: true });
  });

  const ctx = () => s.server.context;
  const german = () => ctx().languages.translator('de');

  test('an invitation in German: subject, text and HTML, <html lang="de">, the duration in German', async () => {
    await inviteUser(ctx(), 'greta@example.com', 7 * 24 * 3600, german());
    const mail = await smtp.waitFor((m) => m.to.includes('greta@example.com'));
    assert.equal(mail.subject, `${new URL(s.issuer).host}: Sie sind eingeladen, ein Konto zu erstellen`);
    assert.match(mail.text, /^Sie sind eingeladen\n\nSie sind eingeladen, ein Konto bei 127\.0\.0\.1:\d+ zu erstellen\./);
    assert.match(mail.text, /Er funktioniert einmal und ist 7 Tage lang gültig\./);
    assert.match(mail.html, /<html lang="de" dir="ltr">/);
    assert.match(mail.html, /<title>Sie sind eingeladen<\/title>/);
    assert.match(mail.html, />Mein Konto erstellen<\/a>/);
    assert.ok(mail.link?.includes('/signup?invitation='));
    for (const english of ['You are invited', 'It works once', 'Create my account', 'day']) {
      assert.ok(!mail.text.includes(english) && !mail.html.includes(english), `no English left: ${english}`);
    }
  });

  test('"Forgot password?" with Accept-Language: de: a German reset mail, the operator\'s German subject before the language-less one', async () => {
    await new UserRegistry(ctx().storage).create({ username: 'henrike', password: PASSWORD, email: 'henrike@example.com' });
    const browser = new FormBrowser();
    const de = { headers: { 'accept-language': 'de' } };
    const page = await browser.get(`${s.issuer}/login/forgot`, de);
    const form = browser.forms(page.text, page.url).find((f) => f.action.endsWith('/login/forgot'))!;
    await browser.submit(page, form, { values: { identifier: 'henrike' }, ...de });
    const mail = await smtp.waitFor((m) => m.to.includes('henrike@example.com'));
    assert.match(mail.subject, /^127\.0\.0\.1:\d+: neues Passwort für henrike$/, 'the .de.subject file');
    // No German text or HTML file: Latchkey's German words.
    assert.match(mail.text, /^Setzen Sie Ihr Passwort zurück\n/);
    assert.match(mail.text, /Er funktioniert einmal und ist 30 Minuten lang gültig\./);
    assert.match(mail.html, /<html lang="de" dir="ltr">/);
    assert.match(mail.html, />Neues Passwort wählen<\/a>/);
  });

  test('a message in another language takes the language-less file; Latchkey\'s English words are as before', async () => {
    await new UserRegistry(ctx().storage).create({ username: 'ian', password: PASSWORD, email: 'ian@example.com' });
    const { deliver } = await requestPasswordReset(ctx(), 'ian', '192.0.2.7', ctx().languages.translator('en'));
    await deliver();
    const mail = await smtp.waitFor((m) => m.to.includes('ian@example.com'));
    assert.match(mail.subject, /^127\.0\.0\.1:\d+: new password for ian$/);
    assert.match(mail.text, /^Reset your password\n\nSomeone \(hopefully you\) asked to reset the password of the account ian at /);
    assert.match(mail.text, /It works once, for 30 minutes\./);
    assert.match(mail.html, /<html lang="en" dir="ltr">/);
  });
});

describe("the operator's mail files by language (mail/overrides.ts)", () => {
  test('the tag, then its language without the region, then the language-less file, part by part', () => {
    const dir = mkdtempSync(join(tmpdir(), 'latchkey-mail-files-'));
    try {
      mkdirSync(join(dir, 'mail'));
      writeFileSync(join(dir, 'mail', 'reset-password.txt'), 'any {{username}}');
      writeFileSync(join(dir, 'mail', 'reset-password.pt.txt'), 'pt {{username}}');
      writeFileSync(join(dir, 'mail', 'reset-password.pt-BR.subject'), 'pt-BR {{username}}');
      writeFileSync(join(dir, 'mail', 'reset-password.xx-.txt'), 'not a tag: ignored');
      const overrides = loadMailOverrides(dir);
      const languages = new Languages();
      const message = resetPasswordMessage({ to: 'a@example.com', username: 'ana', service: 'Acme', link: 'https://id.example/x', validFor: '30 minutes' }, languages.translator('en'));
      const br = applyMailOverrides({ ...message, locale: 'pt-BR' }, overrides);
      assert.equal(br.subject, 'pt-BR ana');
      assert.equal(br.text, 'pt ana');
      assert.equal(br.html, message.html, 'no HTML file: Latchkey\'s');
      const de = applyMailOverrides({ ...message, locale: 'de' }, overrides);
      assert.equal(de.subject, message.subject);
      assert.equal(de.text, 'any ana');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
