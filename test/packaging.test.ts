import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';

/**
 * The libraries as a user gets them from a registry: `npm pack` of each, installed into an empty
 * project, import from dist/ (no TypeScript, no tsx, no source condition) and run their command.
 * npm test builds dist/ first (scripts/run-tests.mjs); the dependencies come from npm's cache.
 */
const ROOT = fileURLToPath(new URL('..', import.meta.url));
const LIBRARIES = ['resource-server', 'client', 'gateway'];

describe('the library packages install from their tarballs and import', () => {
  let dir: string;
  let app: string;
  const npm = (args: string[], cwd: string) => execFileSync('npm', args, { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  const node = (code: string) =>
    execFileSync(process.execPath, ['--input-type=module', '-e', code], { cwd: app, encoding: 'utf8', env: { PATH: process.env.PATH } });

  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'latchkey-pack-'));
    for (const lib of LIBRARIES) npm(['pack', '--pack-destination', dir, '--silent'], join(ROOT, 'packages', lib));
    app = join(dir, 'app');
    mkdirSync(app);
    writeFileSync(join(app, 'package.json'), JSON.stringify({ name: 'app', private: true, type: 'module' }));
    const tarballs = readdirSync(dir).filter((f) => f.endsWith('.tgz')).map((f) => join(dir, f));
    assert.equal(tarballs.length, LIBRARIES.length);
    npm(['install', '--prefer-offline', '--no-audit', '--no-fund', ...tarballs], app);
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  test('each tarball holds dist/, and neither tests nor build state', () => {
    for (const lib of LIBRARIES) {
      const files = execFileSync('tar', ['tzf', join(dir, `latchkey-${lib}-0.1.0.tgz`)], { encoding: 'utf8' }).split('\n');
      assert.ok(files.includes('package/dist/index.js'), `${lib}: dist/index.js`);
      assert.ok(files.includes('package/dist/index.d.ts'), `${lib}: dist/index.d.ts`);
      assert.ok(!files.some((f) => f.includes('/test/') || f.endsWith('.tsbuildinfo')), `${lib}: no tests or tsbuildinfo`);
    }
  });

  test('every entry point imports from dist/', () => {
    const out = node(`
      const rs = await import('@latchkey/resource-server');
      const adapters = await Promise.all(['fastify', 'express', 'fetch'].map((a) => import('@latchkey/resource-server/' + a)));
      const client = await import('@latchkey/client');
      const gateway = await import('@latchkey/gateway');
      console.log(JSON.stringify({
        validator: typeof rs.createValidator,
        adapters: adapters.map((m) => Object.keys(m).length > 0),
        client: typeof client.LatchkeyClient,
        gateway: typeof gateway.createGateway,
        resolved: import.meta.resolve('@latchkey/resource-server'),
      }));`);
    const result = JSON.parse(out) as Record<string, unknown>;
    assert.deepEqual({ ...result, resolved: undefined }, { validator: 'function', adapters: [true, true, true], client: 'function', gateway: 'function', resolved: undefined });
    assert.match(String(result.resolved), /node_modules\/@latchkey\/resource-server\/dist\/index\.js$/);
  });

  test('the latchkey-gateway command runs', () => {
    const out = execFileSync(join(app, 'node_modules', '.bin', 'latchkey-gateway'), ['--help'], { encoding: 'utf8' });
    assert.match(out, /latchkey-gateway --config FILE/);
  });
});
