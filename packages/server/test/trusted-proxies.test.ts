import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import { loadSettings } from '../src/config/load.ts';
import { ConfigError } from '../src/errors.ts';
import { type RunningServer, sqlite, startServer, type TestDatabase } from '@latchkey/testing';

/**
 * LATCHKEY_TRUSTED_PROXIES: only the named proxies' X-Forwarded-For is believed, so a client that
 * reaches the server directly cannot choose the address that per-address rate limits count.
 * Not storage-dependent: SQLite only.
 */
describe('trusted proxies (sqlite)', () => {
  const opened: { s: RunningServer; db: TestDatabase }[] = [];
  after(async () => {
    for (const { s, db } of opened) {
      await s.close();
      await db.drop();
    }
  });

  const remoteAddressSeen = async (trustedProxies: string | undefined, trustProxy = false) => {
    const db = await sqlite.create();
    const s = await startServer(db, { trustedProxies, trustProxy });
    opened.push({ s, db });
    await fetch(`${s.url}/healthz?probe=${Math.random()}`, { headers: { 'x-forwarded-for': '203.0.113.7' } });
    const line = s
      .logs()
      .split('\n')
      .find((l) => l.includes('"path":"/healthz"'));
    assert.ok(line, 'the request was logged');
    return JSON.parse(line).req.remoteAddress as string;
  };

  test('a listed proxy (the test client on 127.0.0.1) is believed; an unlisted peer is not', async () => {
    assert.equal(await remoteAddressSeen('127.0.0.1'), '203.0.113.7');
    assert.equal(await remoteAddressSeen('loopback'), '203.0.113.7');
    assert.equal(await remoteAddressSeen('1'), '203.0.113.7', 'one hop');
    assert.equal(await remoteAddressSeen('10.0.0.0/8, 192.168.0.1'), '127.0.0.1', 'the peer is not a trusted proxy');
    assert.equal(await remoteAddressSeen('10.0.0.0/8', true), '127.0.0.1', 'the list wins over LATCHKEY_TRUST_PROXY');
    assert.equal(await remoteAddressSeen(undefined, false), '127.0.0.1');
  });

  test('a malformed list is a configuration error at startup', () => {
    for (const bad of ['10.0.0.0/33', 'example.com', '10.0.0.1/8/1', ',', '1.2.3']) {
      assert.throws(() => loadSettings({ env: { LATCHKEY_TRUSTED_PROXIES: bad } }), ConfigError, bad);
    }
    assert.equal(loadSettings({ env: { LATCHKEY_TRUSTED_PROXIES: '10.0.0.0/8,::1' } }).trustedProxies, '10.0.0.0/8,::1');
  });

  test('a /0 range (every address) is refused with the setting that means it, not a crash at start', async () => {
    for (const everyone of ['0.0.0.0/0', '::/0', 'loopback, 0.0.0.0/00']) {
      assert.throws(() => loadSettings({ env: { LATCHKEY_TRUSTED_PROXIES: everyone } }), /\/0 range.*LATCHKEY_TRUST_PROXY=true/, everyone);
    }
    // The smallest range proxy-addr takes still starts.
    assert.equal(await remoteAddressSeen('0.0.0.0/1,128.0.0.0/1'), '203.0.113.7');
  });
});
