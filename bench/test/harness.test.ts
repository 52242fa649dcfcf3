import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { findApache } from '../targets/apache.ts';
import { findGateway } from '../targets/gateway.ts';

const ROOT = new URL('../../', import.meta.url).pathname;
/** As scripts/run-tests.mjs: Node ≥ 22.18 runs the TypeScript sources itself, Node 20 through tsx. */
const TYPESCRIPT_LOADER = (process.features as { typescript?: unknown }).typescript ? [] : ['--import', 'tsx'];

/**
 * The benchmark harness works end to end in its short mode: every server starts, every scenario runs
 * against it and the report is written. No timing is asserted: numbers belong in BENCHMARKS.md.
 */
test('npm run bench -- --quick runs every scenario and writes the table and the JSON', { timeout: 240_000 }, () => {
  const out = mkdtempSync(join(tmpdir(), 'latchkey-bench-test-'));
  try {
    const run = spawnSync(
      process.execPath,
      ['--conditions=@latchkey/source', ...TYPESCRIPT_LOADER, 'bench/run.ts', '--quick', '--duration', '1', '--warmup', '0', '--pool', '300', '--out', out],
      { cwd: ROOT, encoding: 'utf8', timeout: 230_000 },
    );
    assert.equal(run.status, 0, `${run.stdout}\n${run.stderr}`);
    const report = JSON.parse(readFileSync(join(out, 'latest.json'), 'utf8'));
    const rows = report.rows as { scenario: string; server: string; requestsPerSecond: number; errors: number; totalRequests: number; peakRssMb: number }[];
    const seen = new Set(rows.map((r) => `${r.scenario} / ${r.server}`));
    // Without PostgreSQL (a laptop) the storage rows are replaced by a note; CI always has PostgreSQL.
    const noPostgres = (report.notes as string[]).some((n) => n.startsWith('PostgreSQL was not reachable'));
    assert.ok(!(noPostgres && process.env.CI === 'true'), 'CI must run the PostgreSQL scenario');
    for (const expected of [
      'client_credentials / latchkey (sqlite)',
      'client_credentials / oidc-provider 8.8.1',
      'client_credentials / ceiling: fastify + ES256 sign',
      'introspection / latchkey (sqlite, opaque)',
      'introspection / latchkey (sqlite, JWT)',
      'introspection / oidc-provider 8.8.1',
      ...(noPostgres ? [] : ['storage: token / latchkey (postgres)', 'storage: introspect / latchkey (postgres)']),
    ]) {
      assert.ok(seen.has(expected), `missing row ${expected}; have ${[...seen].join(', ')}`);
    }
    for (const row of rows) {
      assert.ok(row.totalRequests > 0, `${row.scenario} / ${row.server} sent requests`);
      assert.equal(row.errors, 0, `${row.scenario} / ${row.server} had errors`);
      assert.ok(row.peakRssMb > 0, 'RSS was sampled');
    }
    assert.ok(report.ratios.every((r: { value: number }) => Number.isFinite(r.value)));
    assert.equal(report.startups.length, 2, 'cold start measured for both servers');
    const md = readFileSync(join(out, 'latest.md'), 'utf8');
    assert.match(md, /\| scenario \| server \| req\/s \| p50 ms \| p99 ms \| errors \| peak RSS MB \| note \|/);
    checkGatewayScenario(report.gateway, md);
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
});

/**
 * The gateway scenario measured every path that can run here: the direct upstream always, the gateway
 * once its package is built, Apache + mod_oauth2 where they are installed (CI need not have them). A
 * path that cannot run is named in a note instead of failing the run.
 */
function checkGatewayScenario(
  gateway: { rows: { load: string; path: string; errors: number; totalRequests: number; p50Ms: number; addedP50Ms?: number }[]; notes: string[] },
  md: string,
): void {
  assert.ok(gateway, 'the gateway scenario ran');
  const loads = new Set(gateway.rows.map((r) => r.load));
  assert.equal(loads.size, 2, 'saturated and one-connection loads');
  const apacheInstalled = !('missing' in findApache());
  const gatewayBuilt = !('missing' in findGateway());
  for (const load of loads) {
    const paths = gateway.rows.filter((r) => r.load === load).map((r) => r.path);
    assert.ok(paths.includes('direct upstream'), `${load}: direct upstream measured`);
    assert.ok(paths.includes('floor: node:http proxy, no auth'), `${load}: node proxy floor measured`);
    assert.equal(paths.some((p) => p.startsWith('floor: apache')), apacheInstalled, `${load}: Apache floor measured when installed`);
    assert.equal(paths.includes('latchkey-gateway (claims)'), gatewayBuilt, `${load}: gateway measured when built`);
    assert.equal(paths.filter((p) => p.startsWith('apache')).length, apacheInstalled ? 2 : 0, `${load}: Apache measured when installed`);
  }
  if (!apacheInstalled) assert.ok(gateway.notes.some((n) => n.startsWith('Apache + mod_oauth2 was not measured')), 'missing Apache is reported');
  if (!gatewayBuilt) assert.ok(gateway.notes.some((n) => n.startsWith('latchkey-gateway was not measured')), 'missing gateway is reported');
  for (const row of gateway.rows) {
    assert.ok(row.totalRequests > 0, `gateway / ${row.load} / ${row.path} sent requests`);
    assert.equal(row.errors, 0, `gateway / ${row.load} / ${row.path} had errors`);
    assert.ok(row.p50Ms > 0, 'latency recorded');
    if (row.path !== 'direct upstream') assert.equal(typeof row.addedP50Ms, 'number', 'added latency computed');
  }
  assert.match(md, /## Gateway: JWT validation in front of an API/);
}
