import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import type { Browser } from 'playwright-core';
import { UserRegistry } from '../../src/users/user-registry.ts';
import { chromiumSkip, launchChromium, runLatchkey, type RunningServer, sqlite, startServer, type TestDatabase } from '@latchkey/testing';

const ARTIFACTS = fileURLToPath(new URL('../../../../test-artifacts/', import.meta.url));

/**
 * `latchkey login` end to end (issue 6): the CLI runs the device flow against a running server and
 * prints a code; headless Chromium logs in on /device, checks the code and approves; the CLI stores
 * the tokens (0600) and `latchkey whoami` uses them.
 */
describe('latchkey login with the device flow, approved in a browser (sqlite)', () => {
  let db: TestDatabase;
  let s: RunningServer;
  let browser: Browser | undefined;
  let home: string;

  before(async () => {
    db = await sqlite.create();
    s = await startServer(db);
    await s.registry.createClient({
      clientId: 'latchkey-cli',
      name: 'Latchkey CLI',
      type: 'public',
      grantTypes: ['device_code', 'refresh_token'],
      scopes: ['openid', 'profile', 'offline_access'],
    });
    await new UserRegistry(s.server.context.storage).create({ username: 'alice', password: 'correct horse battery', name: 'Alice Liddell' });
    home = mkdtempSync(join(tmpdir(), 'latchkey-login-'));
  });
  after(async () => {
    await browser?.close();
    await s?.close();
    await db?.drop();
    rmSync(home, { recursive: true, force: true });
  });

  test('the CLI prints a code, the browser approves it, the CLI saves the tokens and whoami works', { skip: chromiumSkip() }, async () => {
    browser = await launchChromium();
    const page = await browser.newPage();
    const tokenFile = join(home, 'config', 'latchkey', 'tokens.json');
    let approving: Promise<void> | undefined;
    const login = runLatchkey(['login', '--issuer', s.issuer, '--client-id', 'latchkey-cli', '--token-file', tokenFile], {}, {
      timeoutMs: 60_000,
      onStdout: (soFar) => {
        const match = /open (\S+)\nand enter the code ([A-Z]{4}-[A-Z]{4})/.exec(soFar);
        if (!match || approving) return;
        const [, uri, code] = match;
        approving = (async () => {
          await page.goto(uri!);
          await page.fill('input[name=username]', 'alice');
          await page.fill('input[name=password]', 'correct horse battery');
          await page.click('button[type=submit]');
          await page.fill('input[name=user_code]', code!.toLowerCase());
          await page.click('button[type=submit]');
          // The confirmation names the client and shows the code to compare.
          await page.waitForSelector('button[name=decision][value=allow]');
          const text = await page.textContent('main');
          assert.match(text ?? '', /Latchkey CLI/);
          assert.match(text ?? '', new RegExp(code!));
          await page.screenshot({ path: join(ARTIFACTS, 'device-confirm.png'), fullPage: true });
          await page.click('button[name=decision][value=allow]');
          await page.waitForSelector('text=Device connected');
        })();
      },
    });
    const result = await login;
    await approving;
    assert.equal(result.code, 0, `${result.stdout}\n${result.stderr}`);
    assert.match(result.stdout, /Logged in\. Tokens saved to/);
    const stored = JSON.parse(readFileSync(tokenFile, 'utf8'));
    assert.ok(stored.access_token && stored.refresh_token && stored.id_token);
    assert.equal(statSync(tokenFile).mode & 0o777, 0o600, 'the token file is owner-only');

    const whoami = await runLatchkey(['whoami', '--token-file', tokenFile, '--json'], {});
    assert.equal(whoami.code, 0, whoami.stderr);
    const me = JSON.parse(whoami.stdout);
    assert.equal(me.name, 'Alice Liddell');
    assert.equal(me.preferred_username, 'alice');

    const logout = await runLatchkey(['logout', '--token-file', tokenFile], {});
    assert.equal(logout.code, 0, logout.stderr);
    const after = await runLatchkey(['whoami', '--token-file', tokenFile], {});
    assert.equal(after.code, 1);
    assert.match(after.stderr, /not logged in/);
    // The refresh token was revoked: its family is gone at the server.
    const refresh = await fetch(`${s.issuer}/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ grant_type: 'refresh_token', refresh_token: stored.refresh_token, client_id: 'latchkey-cli' }),
    });
    assert.equal(((await refresh.json()) as { error: string }).error, 'invalid_grant');
  });
});
