import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { OPTIONS } from '../src/config/defaults.ts';
import { loadSettings } from '../src/config/load.ts';
import { loopbackPortMismatch } from '../src/server.ts';
import { ConfigError } from '../src/errors.ts';

describe('settings', () => {
  test('every option has its documented default', () => {
    const s = loadSettings({ env: {} });
    assert.equal(s.port, 9000);
    assert.equal(s.issuer, 'http://localhost:9000');
    assert.equal(s.dataDir, './data');
    assert.equal(s.databaseUrl, undefined);
    assert.equal(s.secret, undefined);
    assert.equal(s.allowInsecureIssuer, false);
    assert.equal(s.accessTokenTtlSeconds, 600);
    for (const option of OPTIONS) assert.equal(s[option.key], option.default, option.env);
  });

  test('environment variables override the config file, which overrides defaults', () => {
    const dir = mkdtempSync(join(tmpdir(), 'latchkey-config-'));
    try {
      const file = join(dir, 'latchkey.json');
      writeFileSync(file, JSON.stringify({ port: 9100, dataDir: '/srv/latchkey', accessTokenTtlSeconds: 300 }));
      const fromFile = loadSettings({ env: { LATCHKEY_CONFIG: file } });
      assert.equal(fromFile.port, 9100);
      assert.equal(fromFile.dataDir, '/srv/latchkey');
      assert.equal(fromFile.accessTokenTtlSeconds, 300);
      const fromEnv = loadSettings({ env: { LATCHKEY_CONFIG: file, PORT: '9200' } });
      assert.equal(fromEnv.port, 9200);
      assert.equal(fromEnv.dataDir, '/srv/latchkey');
      const explicit = loadSettings({ env: {}, configFile: file });
      assert.equal(explicit.port, 9100);
      // A relative dataDir in a config file is relative to the file.
      writeFileSync(file, JSON.stringify({ dataDir: 'state' }));
      assert.equal(loadSettings({ env: {}, configFile: file }).dataDir, join(dir, 'state'));
      assert.equal(loadSettings({ env: { LATCHKEY_DATA_DIR: 'rel' }, configFile: file }).dataDir, 'rel', 'env is taken as given');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('without LATCHKEY_ISSUER the issuer follows PORT; a named issuer is kept', () => {
    assert.equal(loadSettings({ env: { PORT: '9001' } }).issuer, 'http://localhost:9001');
    assert.equal(loadSettings({ env: { PORT: '9001', HOST: '0.0.0.0' } }).issuer, 'http://localhost:9001');
    assert.equal(loadSettings({ env: { PORT: '9001', LATCHKEY_ISSUER: 'http://localhost:9000' } }).issuer, 'http://localhost:9000');
    assert.equal(loadSettings({ env: {}, overrides: { port: 9002 } }).issuer, 'http://localhost:9002');
  });

  test('an issuer on this machine with another port than the one served is reported', () => {
    assert.deepEqual(loopbackPortMismatch('http://localhost:9000', 'http://127.0.0.1:9001'), { issuerPort: 9000, servedPort: 9001 });
    assert.deepEqual(loopbackPortMismatch('https://127.0.0.1', 'http://127.0.0.1:9001'), { issuerPort: 443, servedPort: 9001 });
    assert.equal(loopbackPortMismatch('http://localhost:9001', 'http://127.0.0.1:9001'), undefined);
    assert.equal(loopbackPortMismatch('https://auth.example.com', 'http://127.0.0.1:9001'), undefined, 'a public issuer is a proxy\'s');
  });

  test('a bad config file or value fails at startup with the option named', () => {
    const dir = mkdtempSync(join(tmpdir(), 'latchkey-config-'));
    try {
      const unknown = join(dir, 'unknown.json');
      writeFileSync(unknown, JSON.stringify({ prot: 9100 }));
      assert.throws(() => loadSettings({ env: {}, configFile: unknown }), /unknown option "prot"/);
      const broken = join(dir, 'broken.json');
      writeFileSync(broken, '{ not json');
      assert.throws(() => loadSettings({ env: {}, configFile: broken }), /not valid JSON/);
      const leaky = join(dir, 'leaky.json');
      writeFileSync(leaky, '{"port": 9000, "secret": s3cr3t-value-in-clear}');
      assert.throws(
        () => loadSettings({ env: {}, configFile: leaky }),
        (err: Error) => /not valid JSON/.test(err.message) && !err.message.includes('s3cr3t'),
        'the message never quotes the file',
      );
      assert.throws(() => loadSettings({ env: {}, configFile: join(dir, 'missing.json') }), /cannot read config file/);
      // In JSON a number is a number and a boolean a boolean: quotes are a mistake, named.
      const quoted = join(dir, 'quoted.json');
      writeFileSync(quoted, JSON.stringify({ port: '9100' }));
      assert.throws(() => loadSettings({ env: {}, configFile: quoted }), /quoted\.json: port must be a JSON number \(without quotes\)/);
      writeFileSync(quoted, JSON.stringify({ allowInsecureIssuer: 'true' }));
      assert.throws(() => loadSettings({ env: {}, configFile: quoted }), /allowInsecureIssuer must be true or false \(without quotes\)/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
    assert.throws(() => loadSettings({ env: { PORT: 'abc' } }), /PORT must be a non-negative integer/);
    assert.throws(() => loadSettings({ env: { PORT: '70000' } }), /PORT/);
    assert.throws(() => loadSettings({ env: { LATCHKEY_ALLOW_INSECURE_ISSUER: 'maybe' } }), /true or false/);
    assert.throws(() => loadSettings({ env: { DATABASE_URL: 'mysql://x' } }), /postgres/);
    assert.throws(() => loadSettings({ env: { LATCHKEY_ACCESS_TOKEN_TTL_SECONDS: '0' } }), ConfigError);
    // Node timers take at most 2^31-1 ms; a longer interval would fire every millisecond.
    assert.throws(() => loadSettings({ env: { LATCHKEY_JANITOR_INTERVAL_SECONDS: '2500000' } }), /at most 2147483/);
    assert.throws(() => loadSettings({ env: { LATCHKEY_KEY_CACHE_SECONDS: '2500000' } }), /at most/);
    assert.equal(loadSettings({ env: { LATCHKEY_JANITOR_INTERVAL_SECONDS: '2147483' } }).janitorIntervalSeconds, 2147483);
  });

  test('the issuer must be https unless it is loopback or the insecure option is named', () => {
    for (const issuer of ['http://localhost:9000', 'http://127.0.0.1:9000', 'http://[::1]:9000', 'https://auth.example.com', 'https://auth.example.com/tenant']) {
      assert.equal(loadSettings({ env: { LATCHKEY_ISSUER: issuer } }).issuer, issuer, 'kept exactly');
    }
    assert.throws(() => loadSettings({ env: { LATCHKEY_ISSUER: 'http://auth.example.com' } }), /must use https/);
    assert.equal(
      loadSettings({ env: { LATCHKEY_ISSUER: 'http://auth.internal', LATCHKEY_ALLOW_INSECURE_ISSUER: 'true' } }).issuer,
      'http://auth.internal',
    );
    assert.throws(() => loadSettings({ env: { LATCHKEY_ISSUER: 'https://auth.example.com/' } }), /must not end with "\/"/);
    assert.throws(() => loadSettings({ env: { LATCHKEY_ISSUER: 'https://auth.example.com?x=1' } }), /query or fragment/);
    assert.throws(() => loadSettings({ env: { LATCHKEY_ISSUER: 'https://auth.example.com#f' } }), /query or fragment/);
    assert.throws(() => loadSettings({ env: { LATCHKEY_ISSUER: 'ftp://auth.example.com' } }), /https/);
    assert.throws(() => loadSettings({ env: { LATCHKEY_ISSUER: 'not a url' } }), /not a URL/);
    assert.throws(() => loadSettings({ env: { LATCHKEY_ISSUER: 'https://user:pw@auth.example.com' } }), /credentials/);
  });

  test('README documents every option with its environment variable and config key', () => {
    const readme = readFileSync(new URL('../../../README.md', import.meta.url), 'utf8');
    for (const option of OPTIONS) {
      assert.ok(readme.includes(`\`${option.env}\``), `README lacks ${option.env}`);
      assert.ok(readme.includes(`\`${option.key}\``), `README lacks config key ${option.key}`);
    }
  });
});
