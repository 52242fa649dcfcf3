import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import {
  backends,
  dbEnv,
  FormBrowser,
  type Page,
  type RunningServer,
  runLatchkey,
  sqlite,
  startServer,
  startSmtpServer,
  type TestDatabase,
  type TestSmtpServer,
} from '@latchkey/testing';

/**
 * Sign-up (issue 16) through real HTTP and a real SMTP server: open sign-up with address confirmation
 * and the password rules (breached passwords, the user's own name), an email-domain allow-list and a
 * limit per address; sign-up by invitation from the CLI; and none when it is off.
 */

const GOOD = 'a long and unusual passphrase';

const formOf = (browser: FormBrowser, page: Page, actionEnd: string) => {
  const form = browser.forms(page.text, page.url).find((f) => f.action.endsWith(actionEnd));
  assert.ok(form, `no form for ${actionEnd} at ${page.url}: ${page.text.slice(0, 300)}`);
  return form;
};

for (const backend of await backends()) {
  describe(`open sign-up (${backend.name})`, { skip: backend.skip }, () => {
    let db: TestDatabase;
    let s: RunningServer;
    let smtp: TestSmtpServer;

    before(async () => {
      db = await backend.create();
      smtp = await startSmtpServer();
      s = await startServer(db, { smtpUrl: smtp.url, signup: 'open', signupEmailDomains: 'example.com, example.org', signupRateLimitPerHour: 12 });
    });
    after(async () => {
      await s?.close();
      await smtp?.close();
      await db?.drop();
    });

    const signUp = async (values: Record<string, string>, browser = new FormBrowser()) => {
      const page = await browser.get(`${s.issuer}/signup`);
      assert.equal(page.status, 200);
      return browser.submit(page, formOf(browser, page, '/signup'), { values });
    };
    const signIn = async (username: string, password: string) => {
      const browser = new FormBrowser();
      const login = await browser.get(`${s.issuer}/account`);
      return browser.submit(login, browser.forms(login.text, login.url)[0]!, { values: { username, password }, followRedirects: true });
    };

    test('a new account: the address confirmed by its link before the first sign-in; the login page offers sign-up', async () => {
      const login = await new FormBrowser().get(`${s.issuer}/account`);
      assert.match(login.text, /<a href="\/signup">Create an account<\/a>/);
      const made = await signUp({ username: 'nora', email: 'nora@example.com', name: 'Nora', password: GOOD });
      assert.equal(made.status, 200, made.text.slice(0, 400));
      assert.match(made.text, /We sent a link to nora@example\.com/);
      const early = await signIn('nora', GOOD);
      assert.equal(early.status, 403);
      assert.match(early.text, /Confirm your email address first/);
      const mail = await smtp.waitFor((m) => m.to.includes('nora@example.com'));
      const confirm = new FormBrowser();
      const shown = await confirm.get(mail.link!);
      assert.equal(shown.status, 200);
      assert.equal((await confirm.submit(shown, formOf(confirm, shown, '/account/verify-email'))).status, 200);
      const home = await signIn('nora', GOOD);
      assert.match(home.text, /Your account/);
      assert.match(home.text, /nora@example\.com <span class="status on">Confirmed/);
      const user = (await s.server.context.storage.users.findByUsername('nora'))!;
      assert.equal(user.emailVerified, true);
      assert.equal(user.emailConfirmationRequired, false);
    });

    test('refused, nothing written: a breached password, the username as password, another domain, a taken username, no address', async () => {
      const before = (await s.server.context.storage.users.list()).length;
      const cases: [Record<string, string>, RegExp][] = [
        [{ username: 'omar', email: 'omar@example.com', password: 'password123' }, /known from breaches/],
        [{ username: 'omar', email: 'omar@example.com', password: 'QWERTYUIOP' }, /known from breaches/],
        [{ username: 'omar-the-great', email: 'omar@example.com', password: 'omar-the-great' }, /must not be your username/],
        [{ username: 'omar', email: 'omar@elsewhere.net', password: GOOD }, /some email domains only/],
        [{ username: 'nora', email: 'nora2@example.org', password: GOOD }, /username is taken/],
        [{ username: 'omar', email: 'not-an-address', password: GOOD }, /some email domains only|not an email address/],
        [{ username: 'Bad Name!', email: 'omar@example.com', password: GOOD }, /username is 1-64/],
        // A username shaped like somebody else's address would capture their "Forgot password?".
        [{ username: 'ceo@example.com', email: 'omar@example.com', password: GOOD }, /cannot be an email address other than your own/],
        // Control characters (PostgreSQL cannot store a NUL): refused, never a 500.
        [{ username: 'omar', email: 'omar\u0000x@example.com', password: GOOD }, /not an email address|some email domains only/],
        [{ username: 'omar', email: 'omar@example.com', name: 'O\u0000mar', password: GOOD }, /control characters/],
      ];
      for (const [values, why] of cases) {
        const page = await signUp(values);
        assert.equal(page.status, 400, `${JSON.stringify(values)}: ${page.status}`);
        assert.match(page.text, why);
        if (values.password !== values.username) assert.doesNotMatch(page.text, new RegExp(values.password!), 'the password is not shown back');
      }
      assert.equal((await s.server.context.storage.users.list()).length, before);
    });

    test('a form without its CSRF token is refused; sign-ups per address are limited (429)', async () => {
      const forged = await new FormBrowser().post(`${s.issuer}/signup`, { username: 'pia', email: 'pia@example.com', password: GOOD, csrf_token: 'x' });
      assert.equal(forged.status, 403);
      let limited: Page | undefined;
      for (let i = 0; i < 14 && !limited; i++) {
        const page = await signUp({ username: `p${i}`, email: `p${i}@example.com`, password: 'password123' });
        if (page.status === 429) limited = page;
      }
      assert.ok(limited, 'refused within the hour limit');
      assert.ok(Number(limited.headers.get('retry-after')) > 0);
    });
  });
}

describe('sign-up by invitation (sqlite)', () => {
  let db: TestDatabase;
  let s: RunningServer;
  let smtp: TestSmtpServer;

  before(async () => {
    db = await sqlite.create();
    smtp = await startSmtpServer();
    s = await startServer(db, { smtpUrl: smtp.url, signup: 'invite' });
  });
  after(async () => {
    await s?.close();
    await smtp?.close();
    await db?.drop();
  });

  test('only with an invitation from the CLI: mailed, single use, the address confirmed, signed in at once', async () => {
    const closed = await new FormBrowser().get(`${s.issuer}/signup`);
    assert.equal(closed.status, 403);
    assert.match(closed.text, /by invitation/);
    const cli = await runLatchkey(['users', 'invite', 'quinn@example.com', '--json'], { ...dbEnv(db), LATCHKEY_SMTP_URL: smtp.url, LATCHKEY_ISSUER: s.issuer });
    assert.equal(cli.code, 0, cli.stderr);
    const invitation = JSON.parse(cli.stdout) as { link: string; mailed: boolean };
    assert.equal(invitation.mailed, true);
    // The running server's outbox sends what the CLI queued.
    const mail = await smtp.waitFor((m) => m.to.includes('quinn@example.com'), 15_000);
    assert.equal(mail.link, invitation.link);
    const browser = new FormBrowser();
    const page = await browser.get(mail.link!);
    assert.equal(page.status, 200);
    assert.match(page.text, /value="quinn@example\.com" disabled/);
    const done = await browser.submit(page, formOf(browser, page, '/signup'), { values: { username: 'quinn', password: GOOD }, followRedirects: true });
    assert.match(done.text, /Your account/, done.text.slice(0, 400));
    assert.match(done.text, /quinn@example\.com <span class="status on">Confirmed/);
    const again = await new FormBrowser().get(mail.link!);
    assert.equal(again.status, 403, 'used');
    const rows = await s.server.context.storage.db.kysely.selectFrom('invitations').selectAll().execute();
    assert.ok(!JSON.stringify(rows).includes(new URL(invitation.link).searchParams.get('invitation')!), 'only its hash is stored');
  });
});

describe('sign-up off (the default)', () => {
  test('no /signup and no link on the login page', async () => {
    const db = await sqlite.create();
    const s = await startServer(db);
    try {
      assert.equal((await fetch(`${s.issuer}/signup`)).status, 404);
      assert.doesNotMatch((await new FormBrowser().get(`${s.issuer}/account`)).text, /Create an account/);
    } finally {
      await s.close();
      await db.drop();
    }
  });
});
