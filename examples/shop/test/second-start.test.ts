import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { runCli } from '../cli.ts';
import { DemoAlreadyRunning, startDemo, type RunningDemo } from '../demo.ts';

const ANY_PORTS = { issuer: 0, issuerMtls: 0, gateway: 0, shop: 0, orders: 0, inventory: 0, inventoryMtls: 0, notifications: 0, notificationsMtls: 0 };

/**
 * A second `npm run demo` (issue 19): it must fail before touching anything, so the running demo and
 * its command line keep working; the demo CLI says when the demo is not running, and exits non-zero.
 */
describe('starting the demo twice', () => {
  let demo: RunningDemo;
  let dataDir: string;

  before(async () => {
    dataDir = mkdtempSync(join(tmpdir(), 'latchkey-shop-twice-'));
    demo = await startDemo({ ports: ANY_PORTS, dataDir });
  });
  after(async () => {
    await demo?.close();
    rmSync(dataDir, { recursive: true, force: true });
  });

  test('on the same ports: refused, and neither data directory is touched', async () => {
    const before = readFileSync(join(dataDir, 'demo.json'), 'utf8');
    const ports = Object.fromEntries(Object.entries(demo.urls).map(([name, url]) => [name, Number(new URL(url).port)]));
    const otherDir = mkdtempSync(join(tmpdir(), 'latchkey-shop-second-'));
    try {
      await assert.rejects(
        startDemo({ ports: { ...ANY_PORTS, issuer: ports.issuer!, shop: ports.shop! }, dataDir: otherDir }),
        (err: NodeJS.ErrnoException) => err.code === 'EADDRINUSE' && /issuer/.test(err.message) && /shop/.test(err.message),
      );
      assert.equal(existsSync(join(otherDir, '.latchkey-shop-demo')), false, 'the second data directory was not prepared');
      assert.equal(readFileSync(join(dataDir, 'demo.json'), 'utf8'), before, 'the running demo\'s data is as it was');
    } finally {
      rmSync(otherDir, { recursive: true, force: true });
    }
  });

  test('on the data directory of a demo another process runs: refused before anything is emptied', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'latchkey-shop-pid-'));
    const other = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 30000)'], { stdio: 'ignore' });
    try {
      writeFileSync(join(dir, '.latchkey-shop-demo'), '');
      writeFileSync(join(dir, 'demo.json'), '{"kept":true}\n');
      writeFileSync(join(dir, 'demo.pid'), `${other.pid}\n`);
      await assert.rejects(startDemo({ ports: ANY_PORTS, dataDir: dir }), (err) => err instanceof DemoAlreadyRunning && err.pid === other.pid);
      assert.equal(readFileSync(join(dir, 'demo.json'), 'utf8'), '{"kept":true}\n');
      // A pid file of a process that is gone (a demo that was killed) does not stop a new start.
      other.kill('SIGKILL');
      await new Promise((resolve) => other.once('exit', resolve));
      const fresh = await startDemo({ ports: ANY_PORTS, dataDir: dir });
      assert.equal(readFileSync(join(dir, 'demo.pid'), 'utf8').trim(), String(process.pid));
      await fresh.close();
      assert.equal(existsSync(join(dir, 'demo.pid')), false, 'removed when the demo stops');
    } finally {
      other.kill('SIGKILL');
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('the demo CLI: help exits 0, an unknown command is named, a stopped demo is reported with exit 1', async () => {
    const lines: string[] = [];
    const io = { dataDir, print: (line: string) => lines.push(line) };
    assert.equal(await runCli(['--help'], io), 0);
    assert.match(lines.join('\n'), /orders/);
    lines.length = 0;
    assert.equal(await runCli(['order'], io), 2);
    assert.deepEqual(lines, ['unknown command "order": the commands are orders, login and logout (npm run demo:cli -- --help)']);
    const stopped = mkdtempSync(join(tmpdir(), 'latchkey-shop-stopped-'));
    try {
      writeFileSync(join(stopped, 'demo.json'), JSON.stringify({ issuer: 'http://127.0.0.1:9', gatewayUrl: 'http://127.0.0.1:9', shopUrl: 'http://127.0.0.1:9', cliClientId: 'x' }));
      lines.length = 0;
      assert.equal(await runCli(['orders'], { ...io, dataDir: stopped }), 1);
      assert.match(lines.join('\n'), /^The demo is not running \(nothing answers at http:\/\/127\.0\.0\.1:9\)/);
    } finally {
      rmSync(stopped, { recursive: true, force: true });
    }
  });
});
