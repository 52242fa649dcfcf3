import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { decodeJwt } from 'jose';
import {
  backends,
  completeFlow,
  FormBrowser,
  type Page,
  PASSWORD,
  postForm,
  type RunningServer,
  seedUserFlow,
  startServer,
  startSmtpServer,
  type TestDatabase,
  type TestSmtpServer,
  type UserFlowSeed,
} from '@latchkey/testing';
import { UserRegistry } from '../src/users/user-registry.ts';

/**
 * Mail (issue 16) through real HTTP, a real SMTP server (smtp-server, started here) and both
 * databases: "Forgot password?" and its link, email verification and change on the account page, and
 * the outbox that sends outside the request path with retries.
 */

const NEW_PASSWORD = 'a completely new passphrase';

for (const backend of await backends()) {
  describe(`mail: password reset and email verification (${backend.name})`, { skip: backend.skip }, () => {
    let db: TestDatabase;
    let s: RunningServer;
    let seed: UserFlowSeed;
    let smtp: TestSmtpServer;

    before(async () => {
      db = await backend.create();
      smtp = await startSmtpServer();
      s = await startServer(db, { smtpUrl: smtp.url, mailFrom: 'Latchkey <auth@example.com>' });
      seed = await seedUserFlow(s);
    });
    after(async () => {
      await s?.close();
      await smtp?.close();
      await db?.drop();
    });

    const storage = () => s.server.context.storage;
    const account = () => `${s.issuer}/account`;
    const formOf = (browser: FormBrowser, page: Page, actionEnd: string) => {
      const form = browser.forms(page.text, page.url).find((f) => f.action.endsWith(actionEnd));
      assert.ok(form, `no form for ${actionEnd} at ${page.url}: ${page.text.slice(0, 300)}`);
      return form;
    };
    const newUser = (username: string, email: string | null) => new UserRegistry(storage()).create({ username, password: PASSWORD, ...(email ? { email } : {}) });
    const askReset = async (identifier: string, browser = new FormBrowser()) => {
      const page = await browser.get(`${s.issuer}/login/forgot`);
      return browser.submit(page, formOf(browser, page, '/login/forgot'), { values: { identifier } });
    };
    const signIn = async (browser: FormBrowser, username: string, password = PASSWORD) => {
      const login = await browser.get(account());
      return browser.submit(login, browser.forms(login.text, login.url)[0]!, { values: { username, password }, followRedirects: true });
    };
    /** Opens a verification link and presses its Confirm button (opening alone changes nothing). */
    const confirmLink = async (link: string) => {
      const browser = new FormBrowser();
      const page = await browser.get(link);
      if (page.status !== 200) return page;
      return browser.submit(page, formOf(browser, page, '/account/verify-email'));
    };
    /** Waits until the outbox has nothing due (the sender runs outside the request). */
    const settled = async () => {
      for (let i = 0; i < 50; i++) {
        const pending = (await storage().mailOutbox.list()).filter((m) => m.sentAt === null && m.failedAt === null);
        if (pending.length === 0) return;
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
    };

    test('"Forgot password?": a link by mail, single use, for a new password that ends every session and revokes every token', async () => {
      await newUser('gina', 'gina@example.com');
      const before = new FormBrowser();
      const { tokens } = await completeFlow(before, s, { clientId: seed.publicClient, username: 'gina' });
      const login = await new FormBrowser().get(`${s.issuer}/login?x=1`);
      void login;
      const loginPage = await signIn(new FormBrowser(), 'nobody-at-all', 'wrong password');
      assert.match(loginPage.text, /<a href="\/login\/forgot">Forgot password\?<\/a>/);

      const sent = await askReset('gina');
      assert.equal(sent.status, 200);
      assert.match(sent.text, /If an account matches/);
      const mail = await smtp.waitFor((m) => m.to.includes('gina@example.com') && /reset your password/.test(m.subject));
      assert.equal(mail.from, 'auth@example.com');
      assert.match(mail.text, /account gina/);
      assert.match(mail.html, /Choose a new password/);
      const link = mail.link!;
      assert.match(link, new RegExp(`^${s.issuer}/login/reset\\?token=[A-Za-z0-9_-]{43}$`));
      const token = new URL(link).searchParams.get('token')!;
      // Only a hash is stored; the outbox forgot the body once it was sent.
      await settled();
      const links = await storage().db.kysely.selectFrom('email_links').selectAll().execute();
      assert.ok(!JSON.stringify(links).includes(token));
      const outbox = await storage().db.kysely.selectFrom('mail_outbox').selectAll().execute();
      assert.ok(outbox.every((m) => m.sent_at === null || m.body_enc === ''), 'sent bodies are emptied');
      assert.ok(!JSON.stringify(outbox).includes(token));

      const browser = new FormBrowser();
      const page = await browser.get(link);
      assert.equal(page.status, 200);
      // A refused password leaves the link usable.
      const short = await browser.submit(page, formOf(browser, page, '/login/reset'), { values: { new_password: 'short' } });
      assert.equal(short.status, 400);
      assert.match(short.text, /at least 8 characters/);
      const done = await browser.submit(short, formOf(browser, short, '/login/reset'), { values: { new_password: NEW_PASSWORD } });
      assert.equal(done.status, 200);
      assert.match(done.text, /Your password is changed/);
      // Used: once only.
      assert.equal((await new FormBrowser().get(link)).status, 400);
      // Everyone who had the old password is out: the session, the refresh token, the access token.
      assert.match((await before.get(account())).text, /Sign in/);
      const refresh = await postForm(`${s.issuer}/token`, { grant_type: 'refresh_token', refresh_token: tokens.refresh_token!, client_id: seed.publicClient });
      assert.equal(refresh.body.error, 'invalid_grant');
      assert.equal((await fetch(`${s.issuer}/userinfo`, { headers: { authorization: `Bearer ${tokens.access_token}` } })).status, 401);
      assert.equal((await signIn(new FormBrowser(), 'gina')).status, 400, 'the old password no longer works');
      assert.match((await signIn(new FormBrowser(), 'gina', NEW_PASSWORD)).text, /Your account/);
    });

    test('the same answer whether or not an account exists, and no mail for none; by username or address; a link expires after 30 minutes', async () => {
      await newUser('hank', 'hank@example.com');
      const before = smtp.messages.length;
      const unknown = await askReset('no-such-user@example.com');
      const known = await askReset('HANK@example.com');
      assert.equal(unknown.status, known.status);
      const text = (p: Page) => p.text.replace(/value="[^"]*"/g, '');
      assert.equal(text(unknown), text(known));
      const mail = await smtp.waitFor((m) => m.to.includes('hank@example.com'));
      await settled();
      assert.equal(smtp.messages.length, before + 1, 'one mail: for the account that exists');
      const ctx = s.server.context;
      const realNow = ctx.now.bind(ctx);
      ctx.now = () => realNow() + 31 * 60;
      try {
        const late = await new FormBrowser().get(mail.link!);
        assert.equal(late.status, 400);
        assert.match(late.text, /more than 30 minutes old/);
      } finally {
        ctx.now = realNow;
      }
    });

    test('a username shaped like an address does not capture the reset of the account with that address: each gets its own link', async () => {
      await new UserRegistry(storage()).create({ username: 'boss@example.com', password: PASSWORD, email: 'squatter@example.com' });
      await newUser('ceo', 'boss@example.com');
      await askReset('boss@example.com');
      const own = await smtp.waitFor((m) => m.to.includes('boss@example.com') && /account ceo /.test(m.text));
      assert.ok(own.link, 'the account whose address it is gets its link');
      const squatter = await smtp.waitFor((m) => m.to.includes('squatter@example.com'));
      assert.match(squatter.text, /account boss@example\.com /, 'the other gets its own, at its own address');
    });

    test('at most ten messages an hour to one address, however many accounts ask', async () => {
      for (let i = 0; i < 12; i++) await newUser(`shared${i}`, 'shared@example.com');
      await askReset('shared@example.com');
      await settled();
      await new Promise((resolve) => setTimeout(resolve, 500));
      await settled();
      assert.equal(smtp.messages.filter((m) => m.to.includes('shared@example.com')).length, 10);
    });

    test('limits: three links per account per hour, ten requests per address per hour (429)', async () => {
      await newUser('ida', 'ida@example.com');
      for (let i = 0; i < 5; i++) assert.equal((await askReset('ida')).status, 200);
      await settled();
      await new Promise((resolve) => setTimeout(resolve, 300));
      assert.equal(smtp.messages.filter((m) => m.to.includes('ida@example.com')).length, 3);
      // Earlier tests asked too from this address (127.0.0.1): the tenth and later are refused.
      let limited: Page | undefined;
      for (let i = 0; i < 12 && !limited; i++) {
        const page = await askReset('nobody');
        if (page.status === 429) limited = page;
      }
      assert.ok(limited, 'refused within ten requests');
      assert.ok(Number(limited.headers.get('retry-after')) > 0);
      await storage().rateLimits.reset('password-reset:127.0.0.1');
    });

    test('email verification on the account page: a link to the address; opened, email_verified is true in the ID token', async () => {
      await newUser('jude', 'jude@example.com');
      const browser = new FormBrowser();
      const home = await signIn(browser, 'jude');
      assert.match(home.text, /jude@example\.com <span class="status">Not confirmed/);
      const sent = await browser.submit(home, formOf(browser, home, '/account/email/verify'), { followRedirects: true });
      assert.match(sent.text, /We sent a link/);
      const mail = await smtp.waitFor((m) => m.to.includes('jude@example.com') && /confirm your email/.test(m.subject));
      // Opening the link (a mail scanner does) confirms nothing; its button does.
      const shown = await new FormBrowser().get(mail.link!);
      assert.equal(shown.status, 200);
      assert.match(shown.text, /Use <strong>jude@example\.com<\/strong> for your account\?/);
      assert.equal((await storage().users.findByUsername('jude'))!.emailVerified, false);
      const opened = await confirmLink(mail.link!);
      assert.equal(opened.status, 200);
      assert.match(opened.text, /is now the confirmed address/);
      assert.equal((await new FormBrowser().get(mail.link!)).status, 400, 'once only');
      assert.match((await browser.get(account())).text, /jude@example\.com <span class="status on">Confirmed/);
      const { tokens } = await completeFlow(new FormBrowser(), s, { clientId: seed.publicClient, username: 'jude' });
      assert.equal(decodeJwt(tokens.id_token!).email_verified, true);
    });

    test('changing the address: a recent sign-in, a link to the new address, the old one in use until the link is opened', async () => {
      const user = await newUser('kurt', 'kurt@old.example');
      const browser = new FormBrowser();
      const home = await signIn(browser, 'kurt');
      const bad = await browser.submit(home, formOf(browser, home, '/account/email'), { values: { email: 'not an address' } });
      assert.equal(bad.status, 400);
      const sent = await browser.submit(home, formOf(browser, home, '/account/email'), { values: { email: 'kurt@new.example' }, followRedirects: true });
      assert.match(sent.text, /We sent a link/);
      const mail = await smtp.waitFor((m) => m.to.includes('kurt@new.example'));
      assert.equal((await storage().users.findById(user.id))!.email, 'kurt@old.example', 'unchanged until verified');
      await confirmLink(mail.link!);
      const changed = (await storage().users.findById(user.id))!;
      assert.equal(changed.email, 'kurt@new.example');
      assert.equal(changed.emailVerified, true);
      // The old address is told.
      const notice = await smtp.waitFor((m) => m.to.includes('kurt@old.example') && /was changed/.test(m.subject));
      assert.match(notice.text, /is now kurt@new\.example/);
      assert.equal(notice.link, undefined, 'no link in it');
      // An old sign-in is asked to sign in again first.
      const [session] = await storage().sessions.listForUser(user.id);
      await storage().db.kysely.updateTable('sessions').set({ auth_time: session!.authTime - 3600 }).where('id_hash', '=', session!.idHash).execute();
      const page = await browser.get(account());
      const stale = await browser.submit(page, formOf(browser, page, '/account/email'), { values: { email: 'kurt@third.example' } });
      assert.equal(stale.status, 403);
      assert.match(stale.text, /Sign in again/);
    });

    test('the outbox: a mail server that refuses is retried later with a doubling wait, and the message then arrives', async () => {
      await newUser('lena', 'lena@example.com');
      smtp.failing(true);
      try {
        await askReset('lena');
        let row;
        for (let i = 0; i < 50; i++) {
          row = (await storage().mailOutbox.list()).find((m) => m.recipient === 'lena@example.com');
          if (row && row.attempts > 0) break;
          await new Promise((resolve) => setTimeout(resolve, 100));
        }
        assert.ok(row && row.attempts === 1 && row.sentAt === null, JSON.stringify(row));
        assert.match(row.lastError ?? '', /451/);
      } finally {
        smtp.failing(false);
      }
      const ctx = s.server.context;
      const realNow = ctx.now.bind(ctx);
      ctx.now = () => realNow() + 31;
      try {
        assert.equal(await ctx.mail.deliverDue(), 1);
      } finally {
        ctx.now = realNow;
      }
      const mail = await smtp.waitFor((m) => m.to.includes('lena@example.com'));
      assert.ok(mail.link);
      const row = (await storage().mailOutbox.list()).find((m) => m.recipient === 'lena@example.com')!;
      assert.equal(row.attempts, 2);
      assert.ok(row.sentAt);
    });
  });
}

describe('without mail configured', () => {
  test('no "Forgot password?" link and no mail pages', async () => {
    const { sqlite } = await import('@latchkey/testing');
    const db = await sqlite.create();
    const s = await startServer(db);
    try {
      const login = await new FormBrowser().get(`${s.issuer}/account`);
      assert.doesNotMatch(login.text, /Forgot password/);
      assert.equal((await fetch(`${s.issuer}/login/forgot`)).status, 404);
    } finally {
      await s.close();
      await db.drop();
    }
  });
});

describe("the operator's mail templates (sqlite)", () => {
  test('files in LATCHKEY_THEME_DIR/mail replace the subject and bodies of a kind, filled with its values (escaped in HTML)', async () => {
    const { mkdtempSync, mkdirSync, writeFileSync, rmSync } = await import('node:fs');
    const { tmpdir } = await import('node:os');
    const { join } = await import('node:path');
    const { sqlite } = await import('@latchkey/testing');
    const dir = mkdtempSync(join(tmpdir(), 'latchkey-theme-'));
    mkdirSync(join(dir, 'mail'));
    writeFileSync(join(dir, 'mail', 'reset-password.subject'), '{{service}}: new password for {{username}}\n');
    writeFileSync(join(dir, 'mail', 'reset-password.txt'), 'Hello {{username}}, choose a password here: {{link}} ({{valid_for}}){{unknown}}\n');
    writeFileSync(join(dir, 'mail', 'reset-password.html'), '<p>Hello <b>{{username}}</b>: <a href="{{link}}">reset</a></p>\n');
    const db = await sqlite.create();
    const smtp = await startSmtpServer();
    const s = await startServer(db, { smtpUrl: smtp.url, themeDir: dir, productName: 'Acme <ID>' });
    try {
      await new UserRegistry(s.server.context.storage).create({ username: 'otto', password: PASSWORD, email: 'otto@example.com' });
      const browser = new FormBrowser();
      const page = await browser.get(`${s.issuer}/login/forgot`);
      await browser.submit(page, browser.forms(page.text, page.url).find((f) => f.action.endsWith('/login/forgot'))!, { values: { identifier: 'otto' } });
      const mail = await smtp.waitFor((m) => m.to.includes('otto@example.com'));
      assert.equal(mail.subject, 'Acme <ID>: new password for otto');
      assert.match(mail.text, /^Hello otto, choose a password here: http:\/\/127\.0\.0\.1:\d+\/login\/reset\?token=[A-Za-z0-9_-]{43} \(30 minutes\)\n/);
      assert.match(mail.html, /<p>Hello <b>otto<\/b>: <a href="http:\/\/127\.0\.0\.1:\d+\/login\/reset\?token=[A-Za-z0-9_-]{43}">reset<\/a><\/p>/);
      // A kind without files keeps Latchkey's words.
    } finally {
      await s.close();
      await smtp.close();
      await db.drop();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
