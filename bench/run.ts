/**
 * `npm run bench [-- --quick] [--duration S] [--warmup S] [--connections N] [--pool N] [--scenarios a,b] [--out DIR]`
 *
 * Starts each server under test in its own process on 127.0.0.1, drives it with autocannon one
 * scenario at a time (same connections and duration for every server), and writes a Markdown table
 * and a JSON file. The peer (oidc-provider) runs in the same invocation, so ratios are side by side.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { drive, type LoadResult } from './lib/load.ts';
import { withRssPeak } from './lib/processes.ts';
import { createBenchDatabase } from './lib/postgres.ts';
import { gatewayMarkdown, runGatewayScenario, type GatewayReport } from './scenarios/gateway.ts';
import { startLatchkey } from './targets/latchkey.ts';
import { startCeiling } from './targets/ceiling.ts';
import { oidcProviderVersion, startOidcProvider } from './targets/oidc-provider.ts';
import type { Target } from './targets/target.ts';

const { values } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    duration: { type: 'string' },
    warmup: { type: 'string' },
    connections: { type: 'string', default: '20' },
    pool: { type: 'string' },
    scenarios: { type: 'string', default: 'client_credentials,introspection,postgres,cold_start,gateway' },
    out: { type: 'string', default: new URL('./results', import.meta.url).pathname },
  },
});

const quick = values.quick!;
const durationSeconds = Number(values.duration ?? (quick ? 3 : 15));
const warmupSeconds = Number(values.warmup ?? (quick ? 1 : 3));
const connections = Number(values.connections);
const poolSize = Number(values.pool ?? (quick ? 1000 : 10_000));
const scenarios = new Set(values.scenarios!.split(','));

interface Row {
  scenario: string;
  server: string;
  requestsPerSecond: number;
  p50Ms: number;
  p99Ms: number;
  errors: number;
  totalRequests: number;
  peakRssMb: number;
  note?: string;
}
interface Ratio {
  name: string;
  value: number;
  target?: string;
}
const rows: Row[] = [];
const ratios: Ratio[] = [];
const notes: string[] = [];
const startups: { server: string; ms: number[] }[] = [];

const basic = (t: Target) => `Basic ${Buffer.from(`${encodeURIComponent(t.clientId)}:${encodeURIComponent(t.clientSecret)}`).toString('base64')}`;
const formHeaders = (t: Target) => ({ 'content-type': 'application/x-www-form-urlencoded', authorization: basic(t) });

async function measure(scenario: string, target: Target, url: string, bodies: string[], note?: string): Promise<Row> {
  const load = { url, method: 'POST' as const, headers: formHeaders(target), bodies, connections };
  if (warmupSeconds > 0) await drive({ ...load, durationSeconds: warmupSeconds });
  const { result, peakRss } = await withRssPeak(target.pid, () => drive({ ...load, durationSeconds }));
  const row = toRow(scenario, target.name, result, peakRss, note);
  rows.push(row);
  console.log(`${scenario.padEnd(20)} ${target.name.padEnd(28)} ${row.requestsPerSecond.toFixed(0).padStart(7)} req/s  p50 ${row.p50Ms} ms  p99 ${row.p99Ms} ms  errors ${row.errors}  rss ${row.peakRssMb} MB`);
  return row;
}

function toRow(scenario: string, server: string, r: LoadResult, peakRss: number, note?: string): Row {
  return {
    scenario,
    server,
    requestsPerSecond: Math.round(r.requestsPerSecond),
    p50Ms: r.p50Ms,
    p99Ms: r.p99Ms,
    errors: r.errors,
    totalRequests: r.totalRequests,
    peakRssMb: Math.round((peakRss / 1024 / 1024) * 10) / 10,
    ...(note ? { note } : {}),
  };
}

/** Mints `count` distinct access tokens at the target, 20 requests at a time. */
async function mintTokens(target: Target, count: number): Promise<string[]> {
  const tokens: string[] = [];
  const headers = formHeaders(target);
  while (tokens.length < count) {
    const batch = Math.min(20, count - tokens.length);
    const got = await Promise.all(
      Array.from({ length: batch }, async () => {
        const res = await fetch(target.tokenUrl, { method: 'POST', headers, body: target.tokenForm });
        if (res.status !== 200) throw new Error(`${target.name}: token request failed: ${res.status} ${await res.text()}`);
        return ((await res.json()) as { access_token: string }).access_token;
      }),
    );
    tokens.push(...got);
  }
  if (new Set(tokens).size !== tokens.length) throw new Error(`${target.name}: minted tokens are not distinct`);
  return tokens;
}

async function checkIntrospection(target: Target, token: string): Promise<void> {
  const res = await fetch(target.introspectionUrl, { method: 'POST', headers: formHeaders(target), body: `token=${encodeURIComponent(token)}` });
  const body = (await res.json()) as { active?: boolean };
  if (body.active !== true) throw new Error(`${target.name}: a fresh token does not introspect as active`);
}

const ratioOf = (scenario: string, a: string, b: string) => {
  const x = rows.find((r) => r.scenario === scenario && r.server === a);
  const y = rows.find((r) => r.scenario === scenario && r.server === b);
  return x && y && y.requestsPerSecond > 0 ? Math.round((x.requestsPerSecond / y.requestsPerSecond) * 100) / 100 : NaN;
};

const peer = `oidc-provider ${oidcProviderVersion()}`;

if (scenarios.has('client_credentials') || scenarios.has('cold_start')) {
  const latchkey = await startLatchkey({ label: 'latchkey (sqlite)' });
  const oidc = await startOidcProvider('jwt');
  try {
    if (scenarios.has('client_credentials')) {
      await measure('client_credentials', latchkey, latchkey.tokenUrl, [latchkey.tokenForm], 'JWT ES256, 600 s');
      await measure('client_credentials', oidc, oidc.tokenUrl, [oidc.tokenForm], 'JWT ES256, 600 s, in-memory Map adapter');
      const ceiling = await startCeiling();
      try {
        await measure('client_credentials', ceiling, ceiling.tokenUrl, [ceiling.tokenForm], 'no auth, no storage: the bound');
      } finally {
        await ceiling.stop();
      }
      ratios.push({ name: `client_credentials: latchkey (sqlite) / ${peer}`, value: ratioOf('client_credentials', 'latchkey (sqlite)', peer), target: '>= 3' });
      ratios.push({ name: `client_credentials: latchkey (sqlite) / ceiling`, value: ratioOf('client_credentials', 'latchkey (sqlite)', ceiling.name) });
      ratios.push({ name: `client_credentials: ceiling / ${peer}`, value: ratioOf('client_credentials', ceiling.name, peer) });
    }
    if (scenarios.has('cold_start')) {
      for (const target of [latchkey, oidc]) {
        const ms: number[] = [];
        for (let i = 0; i < (quick ? 1 : 3); i++) ms.push(Math.round(await target.restart()));
        startups.push({ server: target.name, ms });
      }
    }
  } finally {
    await latchkey.stop();
    await oidc.stop();
  }
}

if (scenarios.has('introspection')) {
  const latchkeyOpaque = await startLatchkey({ label: 'latchkey (sqlite, opaque)', tokenFormat: 'opaque' });
  const latchkeyJwt = await startLatchkey({ label: 'latchkey (sqlite, JWT)' });
  const oidc = await startOidcProvider('opaque');
  const kinds = new Map([
    [latchkeyOpaque, 'opaque'],
    [latchkeyJwt, 'JWT ES256'],
    [oidc, 'opaque (it cannot introspect its JWTs)'],
  ]);
  try {
    for (const [target, kind] of kinds) {
      const tokens = await mintTokens(target, poolSize);
      // The first and the last of the pool must both be known: nothing was evicted.
      await checkIntrospection(target, tokens[0]!);
      await checkIntrospection(target, tokens[tokens.length - 1]!);
      const bodies = tokens.map((t) => `token=${encodeURIComponent(t)}`);
      await measure('introspection', target, target.introspectionUrl, bodies, `${poolSize} distinct ${kind} tokens`);
    }
    ratios.push({ name: `introspection, opaque: latchkey / ${peer}`, value: ratioOf('introspection', latchkeyOpaque.name, peer), target: '>= 1.5' });
    ratios.push({ name: `introspection: latchkey JWT / ${peer} opaque`, value: ratioOf('introspection', latchkeyJwt.name, peer) });
  } finally {
    await latchkeyOpaque.stop();
    await latchkeyJwt.stop();
    await oidc.stop();
  }
}

if (scenarios.has('postgres')) {
  const pg = await createBenchDatabase();
  if (!pg) {
    notes.push('PostgreSQL was not reachable: the SQLite vs PostgreSQL scenario did not run.');
  } else {
    const onPg = await startLatchkey({ label: 'latchkey (postgres)', databaseUrl: pg.url });
    const onSqlite = await startLatchkey({ label: 'latchkey (sqlite)' });
    try {
      for (const target of [onSqlite, onPg]) {
        await measure('storage: token', target, target.tokenUrl, [target.tokenForm], 'client_credentials');
      }
      for (const target of [onSqlite, onPg]) {
        const tokens = await mintTokens(target, Math.min(poolSize, 2000));
        await measure('storage: introspect', target, target.introspectionUrl, tokens.map((t) => `token=${encodeURIComponent(t)}`), 'revocation lookup per token');
      }
      ratios.push({ name: 'token: postgres / sqlite', value: ratioOf('storage: token', 'latchkey (postgres)', 'latchkey (sqlite)') });
      ratios.push({ name: 'introspection: postgres / sqlite', value: ratioOf('storage: introspect', 'latchkey (postgres)', 'latchkey (sqlite)') });
    } finally {
      await onPg.stop();
      await onSqlite.stop();
      await pg.drop();
    }
  }
}

let gateway: GatewayReport | undefined;
if (scenarios.has('gateway')) {
  gateway = await runGatewayScenario({ connections, durationSeconds, warmupSeconds, rounds: quick ? 1 : 3 }, (line) => console.log(line));
}

notes.push('resource-server validation: not measured yet (packages/resource-server does not exist yet).');
notes.push('authorization code flow: not measured yet (the flow does not exist yet).');

const machine = `${cpus().length} × ${cpus()[0]?.model ?? 'unknown CPU'}, ${Math.round(totalmem() / 2 ** 30)} GiB, Node ${process.version}`;
const report = {
  date: new Date().toISOString(),
  machine,
  settings: { quick, durationSeconds, warmupSeconds, connections, poolSize },
  rows,
  ratios,
  startups,
  notes,
  ...(gateway ? { gateway } : {}),
};

const md = [
  `# Benchmark run ${report.date}`,
  '',
  `Machine: ${machine}. autocannon, ${connections} connections, ${durationSeconds} s per scenario after ${warmupSeconds} s of warm-up; every server in its own process on 127.0.0.1.`,
  '',
  '| scenario | server | req/s | p50 ms | p99 ms | errors | peak RSS MB | note |',
  '|---|---|---:|---:|---:|---:|---:|---|',
  ...rows.map((r) => `| ${r.scenario} | ${r.server} | ${r.requestsPerSecond} | ${r.p50Ms} | ${r.p99Ms} | ${r.errors} | ${r.peakRssMb} | ${r.note ?? ''} |`),
  '',
  ...(ratios.length ? ['| ratio | value | target |', '|---|---:|---|', ...ratios.map((r) => `| ${r.name} | ${r.value} | ${r.target ?? ''} |`), ''] : []),
  ...(startups.length ? ['| cold start (spawn to ready) | ms |', '|---|---|', ...startups.map((s) => `| ${s.server} | ${s.ms.join(', ')} |`), ''] : []),
  ...notes.map((n) => `- ${n}`),
  '',
  ...(gateway ? gatewayMarkdown(gateway) : []),
].join('\n');

mkdirSync(values.out!, { recursive: true });
const stamp = report.date.replace(/[:.]/g, '-');
writeFileSync(join(values.out!, `${stamp}.json`), `${JSON.stringify(report, null, 2)}\n`);
writeFileSync(join(values.out!, `${stamp}.md`), md);
writeFileSync(join(values.out!, 'latest.json'), `${JSON.stringify(report, null, 2)}\n`);
writeFileSync(join(values.out!, 'latest.md'), md);
console.log(`\n${md}`);
console.log(`written to ${values.out}`);
