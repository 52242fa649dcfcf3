import assert from 'node:assert/strict';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { freePort, runLatchkey } from '@latchkey/testing';

/**
 * What a new user sees when a setting is wrong (issue 19): one line naming the part that failed and
 * the setting to change, exit 1, no stack trace, and never a hang.
 */
describe('startup errors name the failing part', () => {
  let dir: string;
  const SECRET = 'startup-errors-test-secret-0123456789';

  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'latchkey-startup-'));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  const oneLine = (stderr: string, pattern: RegExp) => {
    const lines = stderr.trim().split('\n').filter((l) => !l.startsWith('{'));
    assert.equal(lines.length, 1, stderr);
    assert.match(lines[0]!, pattern);
    assert.doesNotMatch(stderr, /\n\s+at /, 'no stack trace');
  };

  test('PostgreSQL that does not answer: its host, port, database and DATABASE_URL', async () => {
    const port = await freePort();
    const result = await runLatchkey(['clients', 'list'], { DATABASE_URL: `postgres://someone:pw@127.0.0.1:${port}/shop`, LATCHKEY_SECRET: SECRET });
    assert.equal(result.code, 1);
    oneLine(result.stderr, new RegExp(`^error: cannot reach PostgreSQL at 127\\.0\\.0\\.1:${port}, database "shop" \\(DATABASE_URL\\): ECONNREFUSED$`));
    assert.doesNotMatch(result.stderr, /pw/, 'never the password');
  });

  test('LOG_LEVEL that is not a level lists the levels', async () => {
    const result = await runLatchkey(['clients', 'list'], { LOG_LEVEL: 'verbose', LATCHKEY_DATA_DIR: join(dir, 'a') });
    assert.equal(result.code, 1);
    oneLine(result.stderr, /^error: LOG_LEVEL must be one of fatal, error, warn, info, debug, trace, silent \(not "verbose"\)$/);
  });

  test('a data directory that is a file, under /proc, or not writable', async () => {
    const file = join(dir, 'file');
    writeFileSync(file, 'x');
    let result = await runLatchkey(['migrate'], { LATCHKEY_DATA_DIR: file });
    assert.equal(result.code, 1);
    oneLine(result.stderr, /^error: LATCHKEY_DATA_DIR .*file: it is a file, not a directory$/);
    result = await runLatchkey(['migrate'], { LATCHKEY_DATA_DIR: '/proc/latchkey-test' }, { timeoutMs: 15_000 });
    assert.equal(result.signal, null, 'no hang');
    assert.equal(result.code, 1);
    oneLine(result.stderr, /^error: LATCHKEY_DATA_DIR \/proc\/latchkey-test cannot be created \(E[A-Z]+ at \/proc\/latchkey-test\)$/);
    if (process.getuid?.() !== 0) {
      const locked = join(dir, 'locked');
      mkdirSync(locked);
      chmodSync(locked, 0o500);
      result = await runLatchkey(['migrate'], { LATCHKEY_DATA_DIR: locked });
      assert.equal(result.code, 1);
      oneLine(result.stderr, /^error: LATCHKEY_DATA_DIR .*locked is not writable by this user$/);
    }
  });

  test('a busy port names PORT; a HOST that does not resolve names HOST', async () => {
    const blocker = createServer();
    await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
    const port = (blocker.address() as { port: number }).port;
    try {
      const result = await runLatchkey(['serve'], { PORT: String(port), LATCHKEY_DATA_DIR: join(dir, 'b'), LATCHKEY_SECRET: SECRET });
      assert.equal(result.code, 1);
      oneLine(result.stderr, new RegExp(`^error: port ${port} on 127\\.0\\.0\\.1 is already in use \\(PORT\\)`));
    } finally {
      blocker.close();
    }
    const result = await runLatchkey(['serve'], { HOST: 'no-such-host.invalid', PORT: String(await freePort()), LATCHKEY_DATA_DIR: join(dir, 'c'), LATCHKEY_SECRET: SECRET });
    assert.equal(result.code, 1);
    oneLine(result.stderr, /^error: HOST "no-such-host\.invalid" does not resolve to an address of this machine \(E[A-Z_]+\)$/);
  });

  test('login against an issuer that does not answer names it', async () => {
    const port = await freePort();
    const result = await runLatchkey(['login', '--issuer', `http://127.0.0.1:${port}`, '--client-id', 'cli', '--token-file', join(dir, 'tokens.json')], {});
    assert.equal(result.code, 1);
    oneLine(result.stderr, new RegExp(`^error: cannot reach the issuer http://127\\.0\\.0\\.1:${port} \\(--issuer\\): ECONNREFUSED$`));
  });

  test('a read command where there is no database says so, creates nothing, and names the database it reads', async () => {
    const missing = join(dir, 'elsewhere', 'data');
    const result = await runLatchkey(['clients', 'list'], { LATCHKEY_DATA_DIR: missing });
    assert.equal(result.code, 1);
    oneLine(result.stderr, /^error: there is no Latchkey database in .*elsewhere\/data \(LATCHKEY_DATA_DIR, relative to .*\): run this where the server runs, or set LATCHKEY_DATA_DIR \(or DATABASE_URL\) to the server's$/);
    assert.equal(existsSync(join(dir, 'elsewhere')), false, 'no directory made');
    const env = { LATCHKEY_DATA_DIR: join(dir, 'e') };
    assert.equal((await runLatchkey(['migrate'], env)).code, 0);
    const empty = await runLatchkey(['clients', 'list'], env);
    assert.equal(empty.code, 0);
    assert.equal(empty.stdout.trim(), `no clients in ${join(dir, 'e', 'latchkey.db')}`);
  });

  test('re-creating a resource names it', async () => {
    const env = { LATCHKEY_DATA_DIR: join(dir, 'd') };
    const args = ['resources', 'create', '--identifier', 'https://api.example', '--scopes', 'a:read'];
    assert.equal((await runLatchkey(args, env)).code, 0);
    const again = await runLatchkey(args, env);
    assert.equal(again.code, 1);
    oneLine(again.stderr, /^error: resource https:\/\/api\.example exists already$/);
  });
});
