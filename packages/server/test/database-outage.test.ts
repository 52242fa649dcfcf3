import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import SQLite from 'better-sqlite3';
import { sqliteFile } from '../src/storage/database.ts';
import { isUnavailable } from '../src/storage/unavailable.ts';
import { authorizeUrl, FormBrowser, pkcePair, postForm, type RunningServer, seedUserFlow, sqlite, startServer, type TestDatabase, type UserFlowSeed } from '@latchkey/testing';

/**
 * A database that does not answer gets 503 with Retry-After quickly, never a 500 or a hang
 * (LATCHKEY_DATABASE_TIMEOUT_SECONDS), on the JSON endpoints and on the pages; the same process
 * serves again once it is back. Here SQLite's write lock is held by another process's transaction;
 * the chaos suite (test/chaos) stops and freezes a PostgreSQL server under a running node.
 */
describe('database outage (sqlite)', () => {
  const VAULT = 'https://vault.example';
  let db: TestDatabase;
  let s: RunningServer;
  let seed: UserFlowSeed;
  let vaultCaller: [string, string];
  let other: SQLite.Database;

  before(async () => {
    db = await sqlite.create();
    s = await startServer(db, { databaseTimeoutSeconds: 1 });
    seed = await seedUserFlow(s);
    await s.registry.createResource({ identifier: VAULT, scopes: ['vault:read'], accessTokenFormat: 'opaque' });
    const vc = await s.registry.createClient({ name: 'vault-caller', type: 'confidential', grantTypes: ['client_credentials'], scopes: ['vault:read'] });
    vaultCaller = [vc.client.clientId, vc.clientSecret!];
    other = new SQLite(sqliteFile(db.dataDir));
  });
  after(async () => {
    if (other?.inTransaction) other.exec('rollback');
    other?.close();
    await s?.close();
    await db?.drop();
  });

  /** Runs `check` while another connection holds the write lock. */
  const whileLocked = async (check: () => Promise<void>) => {
    other.exec('begin immediate');
    try {
      await check();
    } finally {
      other.exec('rollback');
    }
  };
  const timed = async <T>(run: () => Promise<T>): Promise<{ result: T; ms: number }> => {
    const started = Date.now();
    const result = await run();
    return { result, ms: Date.now() - started };
  };

  test('a write that cannot get the lock: 503 server_error with Retry-After within about the timeout', async () => {
    const issued = await postForm(`${s.issuer}/token`, { grant_type: 'client_credentials', scope: 'vault:read' }, { basic: vaultCaller });
    assert.equal(issued.status, 200, issued.text);
    await whileLocked(async () => {
      const { result: res, ms } = await timed(() => postForm(`${s.issuer}/token`, { grant_type: 'client_credentials', scope: 'vault:read' }, { basic: vaultCaller }));
      assert.equal(res.status, 503, res.text);
      assert.equal(res.headers.get('retry-after'), '5');
      assert.equal(res.body.error, 'server_error');
      assert.match(res.body.error_description, /temporarily unavailable/);
      assert.doesNotMatch(res.text, /SQLITE|busy|locked|stack/i, 'no internals');
      assert.ok(ms < 3000, `answered after ${ms} ms`);
      // RFC 7009 §2.2.1: 503 "indicates that the token was not revoked, and the client should retry later".
      const revoke = await postForm(`${s.issuer}/revoke`, { token: issued.body.access_token }, { basic: vaultCaller });
      assert.equal(revoke.status, 503, revoke.text);
    });
    const again = await postForm(`${s.issuer}/token`, { grant_type: 'client_credentials', scope: 'vault:read' }, { basic: vaultCaller });
    assert.equal(again.status, 200, 'served again once the lock is released, without a restart');
    const still = await postForm(`${s.issuer}/introspect`, { token: issued.body.access_token }, { basic: vaultCaller });
    assert.equal(still.body.active, true, 'the refused revocation left nothing half done: the token is as it was');
    assert.equal((await postForm(`${s.issuer}/revoke`, { token: issued.body.access_token }, { basic: vaultCaller })).status, 200, 'and the retry works');
  });

  test('concurrent writes waiting for the lock are each answered within about the timeout, and the event loop stays free', async () => {
    await whileLocked(async () => {
      const started = Date.now();
      const writes = Array.from({ length: 6 }, () =>
        postForm(`${s.issuer}/token`, { grant_type: 'client_credentials', scope: 'vault:read' }, { basic: vaultCaller }).then((res) => ({
          status: res.status,
          ms: Date.now() - started,
        })),
      );
      // While they wait, a request that needs no database is answered at once.
      await new Promise((r) => setTimeout(r, 200));
      const health = await timed(() => fetch(`${s.issuer}/healthz`));
      assert.equal(health.result.status, 200);
      assert.ok(health.ms < 200, `healthz took ${health.ms} ms while writes waited`);
      for (const w of await Promise.all(writes)) {
        assert.equal(w.status, 503);
        // 1 s of database timeout each, not one after the other.
        assert.ok(w.ms < 2500, `a queued write answered after ${w.ms} ms`);
      }
    });
  });

  test('a lock held only briefly is waited for: the write succeeds', async () => {
    other.exec('begin immediate');
    setTimeout(() => other.exec('rollback'), 300);
    const { result: res, ms } = await timed(() => postForm(`${s.issuer}/token`, { grant_type: 'client_credentials', scope: 'vault:read' }, { basic: vaultCaller }));
    assert.equal(res.status, 200, res.text);
    assert.ok(ms >= 250, `waited ${ms} ms for the lock`);
  });

  test('reads go on while another process writes: JWT issuance and discovery need no lock', async () => {
    await whileLocked(async () => {
      const meta = await fetch(`${s.issuer}/.well-known/oauth-authorization-server`);
      assert.equal(meta.status, 200);
    });
  });

  test('a validated authorization request whose login cannot be written goes back to the client with temporarily_unavailable', async () => {
    const browser = new FormBrowser();
    const { challenge } = pkcePair();
    const login = await browser.get(authorizeUrl(s, { clientId: seed.publicClient }, challenge));
    const page = login.status === 303 ? await browser.get(login.location!) : login;
    assert.equal(page.status, 200);
    const form = browser.forms(page.text, page.url)[0]!;
    await whileLocked(async () => {
      const res = await browser.submit(page, form, { values: { username: seed.user.username, password: seed.user.password } });
      // RFC 6749 §4.1.2.1: a 503 cannot travel by redirect; temporarily_unavailable does.
      assert.equal(res.status, 303, res.text.slice(0, 200));
      const back = new URL(res.location!);
      assert.equal(`${back.origin}${back.pathname}`, seed.redirectUri);
      assert.equal(back.searchParams.get('error'), 'temporarily_unavailable');
      assert.equal(back.searchParams.get('state'), 'state-123');
      assert.equal(back.searchParams.get('iss'), s.issuer);
      assert.equal(back.searchParams.get('code'), null);
    });
  });

  test('what counts as unavailable: lock, busy, disk and connection failures; not constraint or syntax errors', () => {
    for (const code of ['SQLITE_BUSY', 'SQLITE_BUSY_SNAPSHOT', 'SQLITE_LOCKED', 'SQLITE_IOERR_WRITE', 'SQLITE_FULL', 'ECONNREFUSED', 'ECONNRESET', '57P01', '57014', '08006', '53300']) {
      assert.equal(isUnavailable({ code }), true, code);
    }
    for (const message of ['timeout exceeded when trying to connect', 'Connection terminated unexpectedly', 'Query read timeout', 'The database connection is not open']) {
      assert.equal(isUnavailable(new Error(message)), true, message);
    }
    for (const code of ['SQLITE_CONSTRAINT_UNIQUE', '23505', '42601', '22P02', 'ERR_ASSERTION', undefined]) {
      assert.equal(isUnavailable({ code, message: 'x' }), false, String(code));
    }
  });

  test('readyz says 503 while the database is closed, and every endpoint answers 503, never 500', async () => {
    const db2 = await sqlite.create();
    const s2 = await startServer(db2, { databaseTimeoutSeconds: 1 });
    try {
      await s2.server.context.storage.close();
      const ready = await fetch(`${s2.url}/readyz`);
      assert.equal(ready.status, 503);
      const token = await postForm(`${s2.url}/token`, { grant_type: 'client_credentials' }, { basic: ['someone', 'secret'] });
      assert.equal(token.status, 503, token.text);
      const introspect = await postForm(`${s2.url}/introspect`, { token: 'x' }, { basic: ['someone', 'secret'] });
      assert.equal(introspect.status, 503, introspect.text);
      // Before the client is known nothing may be sent back to it: a 503 page.
      const page = await fetch(`${s2.url}/authorize?client_id=x&response_type=code`);
      assert.equal(page.status, 503);
      assert.match(page.headers.get('content-type') ?? '', /^text\/html/);
      assert.equal(page.headers.get('retry-after'), '5');
      assert.match(await page.text(), /Temporarily unavailable/);
      assert.match(page.headers.get('content-security-policy') ?? '', /frame-ancestors 'none'/);
      const logout = await fetch(`${s2.url}/logout?client_id=x`);
      assert.equal(logout.status, 503);
      assert.match(logout.headers.get('content-type') ?? '', /^text\/html/);
      assert.ok(!s2.logs().includes('"level":50'), 'nothing logged as an error (a 500)');
    } finally {
      await s2.server.app.close();
      await db2.drop();
    }
  });
});
