/**
 * The gateway scenario (issue 7): what it costs to validate a Latchkey JWT access token in a reverse
 * proxy in front of an API. Three paths to the same upstream and route, one after another in one run:
 * the upstream directly, `latchkey-gateway` (claims mode, the route requiring a scope), and Apache httpd
 * with mod_oauth2 doing the same checks (once verifying every request, once with mod_oauth2's default
 * cache of verified tokens). Each is driven saturated (all connections as fast as they go: throughput,
 * and latency that is mostly queueing) and over one connection, one request at a time (nothing queues,
 * so the latency a proxy adds is the time its work takes).
 */
import { generateKeyPairSync, sign } from 'node:crypto';
import { cpus, loadavg } from 'node:os';
import { drive, summarizeLatencies } from '../lib/load.ts';
import { freePort, startProcess, type ServerProcess } from '../lib/processes.ts';
import { withUsage } from '../lib/usage.ts';
import { findApache, startApache, type ApacheInstall } from '../targets/apache.ts';
import { findGateway, startGateway } from '../targets/gateway.ts';
import { startLatchkey, type LatchkeyTarget } from '../targets/latchkey.ts';

const UPSTREAM_SCRIPT = new URL('../peers/upstream-server.mjs', import.meta.url).pathname;
const FLOOR_SCRIPT = new URL('../peers/proxy-floor-server.mjs', import.meta.url).pathname;
const ROUTE_PREFIX = '/api/';
const REQUEST_PATH = '/api/orders';
const SCOPE = 'orders:read';
const OTHER_AUDIENCE = 'https://other.example.com';
/** Scopes belong to one API at Latchkey, so the other API's token carries its own scope. */
const OTHER_SCOPE = 'invoices:read';
/** Long enough that no token expires during a full run. */
const TOKEN_TTL_SECONDS = 3600;

export interface GatewaySettings {
  connections: number;
  durationSeconds: number;
  warmupSeconds: number;
  /** The measured time of each path is taken in this many slices, the paths in turn. */
  rounds: number;
}

export interface GatewayRow {
  load: string;
  path: string;
  requestsPerSecond: number;
  /** Latency percentiles from every response's own time, in ms to the microsecond. */
  p50Ms: number;
  p90Ms: number;
  p99Ms: number;
  meanMs: number;
  /** This path's latency minus the direct upstream's in the same load, in ms. */
  addedP50Ms?: number;
  addedP99Ms?: number;
  errors: number;
  totalRequests: number;
  /** CPU time of the proxy's processes (all of Apache's) per request, in µs. */
  proxyCpuUsPerRequest?: number;
  upstreamCpuUsPerRequest: number;
  proxyPeakRssMb?: number;
  note?: string;
}

export interface GatewayComparison {
  name: string;
  load: string;
  value: number;
}

export interface GatewayReport {
  settings: GatewaySettings;
  /** What each path checks, and the status it gave each refused request before the timing. */
  paths: { name: string; checks: string; refusals?: Record<string, number> }[];
  rows: GatewayRow[];
  comparisons: GatewayComparison[];
  notes: string[];
}

interface Path {
  name: string;
  url: string;
  /** Root process of the proxy (its CPU and memory are measured); absent for the direct path. */
  pid?: number;
  checks: string;
  note?: string;
  /** A proxy that checks nothing: the floor of its platform, left out of the refusal checks. */
  floor?: boolean;
  stop(): Promise<void>;
}

interface Tokens {
  valid: string;
  tampered: string;
  otherAudience: string;
  missingScope: string;
  foreignKey: string;
}

export const GATEWAY_PATH = 'latchkey-gateway (claims)';
export const DIRECT_PATH = 'direct upstream';
export const NODE_FLOOR_PATH = 'floor: node:http proxy, no auth';
const apacheName = (a: ApacheInstall) => `apache ${a.version} + mod_oauth2 ${a.modOauth2Version}`;

export async function runGatewayScenario(settings: GatewaySettings, log: (line: string) => void): Promise<GatewayReport> {
  const notes: string[] = [];
  const stops: (() => Promise<void>)[] = [];
  try {
    const latchkey = await startLatchkey({ label: 'latchkey (issuer)', accessTokenTtlSeconds: TOKEN_TTL_SECONDS });
    stops.push(() => latchkey.stop());
    const tokens = await mintTokens(latchkey);
    const metadata = (await (await fetch(`${latchkey.issuer}/.well-known/oauth-authorization-server`)).json()) as { jwks_uri: string };

    const upstream = await startUpstream();
    stops.push(() => upstream.stop());
    const paths: Path[] = [{ name: DIRECT_PATH, url: upstream.url, checks: 'none', stop: async () => {} }];
    const nodeFloor = await startNodeFloor(upstream.url);
    stops.push(() => nodeFloor.stop());
    paths.push({ name: NODE_FLOOR_PATH, url: nodeFloor.url, pid: nodeFloor.pid, checks: 'none: node:http in and out, keep-alive, no log', floor: true, stop: () => nodeFloor.stop() });

    const gateway = findGateway();
    if ('missing' in gateway) {
      notes.push(`latchkey-gateway was not measured: ${gateway.missing}.`);
    } else {
      const g = await startGateway(gateway, {
        upstreamUrl: upstream.url,
        issuer: latchkey.issuer,
        audience: latchkey.audience,
        scope: SCOPE,
        routePrefix: ROUTE_PREFIX,
      });
      stops.push(() => g.stop());
      if (!gateway.built) notes.push('packages/gateway/dist is older than src: the gateway measured is the last build, not the current sources (npm run build).');
      paths.push({
        name: GATEWAY_PATH,
        url: g.url,
        pid: g.pid,
        checks: 'size cap, alg allow-list (ES256), no embedded keys or crit, signature (JWKS), typ at+jwt, exact iss, aud, exp/nbf, scope',
        stop: () => g.stop(),
      });
    }

    const apache = findApache();
    if ('missing' in apache) {
      notes.push(`Apache + mod_oauth2 was not measured: ${apache.missing}.`);
    } else {
      const common = { upstreamUrl: upstream.url, issuer: latchkey.issuer, jwksUri: metadata.jwks_uri, audience: latchkey.audience, scope: SCOPE, routePrefix: ROUTE_PREFIX };
      const floorName = `floor: apache ${apache.version} mod_proxy, no auth`;
      const floor = await startApache(apache, floorName, { ...common, resultCache: false, auth: false });
      stops.push(() => floor.stop());
      paths.push({ name: floorName, url: floor.url, pid: floor.pid, checks: 'none: mod_proxy_http, same MPM, access log', floor: true, stop: () => floor.stop() });
      for (const resultCache of [false, true]) {
        const name = `${apacheName(apache)}${resultCache ? ', default 300 s cache' : ''}`;
        const a = await startApache(apache, name, { ...common, resultCache });
        stops.push(() => a.stop());
        paths.push({
          name,
          url: a.url,
          pid: a.pid,
          checks: resultCache
            ? 'signature and exp on the first sight of a token only: its claims are then reused for 300 s, past its exp; iss, aud, scope by Require'
            : 'signature (JWKS), exp required, iss, aud and scope by Require rules; not typ, alg allow-list, nbf',
          note: resultCache ? "mod_oauth2's default: one token, verified once" : 'expiry=0: every request verified',
          stop: () => a.stop(),
        });
      }
    }

    // Every proxy must let the valid token through and refuse the others before anything is timed.
    const refusals = new Map<Path, Record<string, number>>();
    for (const path of paths.filter((p) => p.pid && !p.floor)) refusals.set(path, await checkRefusals(path, tokens));

    const rows: GatewayRow[] = [];
    const loads = [
      { name: `saturated, ${settings.connections} connections`, connections: settings.connections },
      { name: '1 connection, sequential', connections: 1 },
    ];
    const loadBefore = loadavg()[0]!;
    for (const load of loads) {
      const measured = await measureLoad(settings, load, paths, upstream.pid, tokens.valid);
      const direct = measured.find((r) => r.path === DIRECT_PATH)!;
      for (const row of measured) {
        if (row !== direct) {
          row.addedP50Ms = round3(row.p50Ms - direct.p50Ms);
          row.addedP99Ms = round3(row.p99Ms - direct.p99Ms);
        }
        rows.push(row);
        log(
          `gateway  ${load.name.padEnd(26)} ${row.path.padEnd(54)} ${String(row.requestsPerSecond).padStart(6)} req/s  p50 ${row.p50Ms} ms  p99 ${row.p99Ms} ms  errors ${row.errors}`,
        );
      }
    }
    notes.push(
      `One-minute load average of the machine (${cpus().length} vCPUs) before and after the measurements: ${loadBefore.toFixed(2)} and ${loadavg()[0]!.toFixed(2)}.`,
    );
    return { settings, paths: paths.map((p) => ({ name: p.name, checks: p.checks, ...(refusals.has(p) ? { refusals: refusals.get(p)! } : {}) })), rows, comparisons: compare(rows), notes };
  } finally {
    for (const stop of stops.reverse()) await stop().catch(() => {});
  }
}

interface Totals {
  requests: number;
  errors: number;
  latenciesMs: number[];
  upstreamCpuSeconds: number;
  proxyCpuSeconds: number;
  proxyPeakRssBytes: number;
}

/**
 * Every path under one load: each is warmed up, then the measured time is cut into `rounds` slices
 * taken in turn (path 1, 2, 3, 4, path 1, 2, ...), so a burst of other work on the machine falls on
 * every path alike rather than on whichever ran at that moment.
 */
async function measureLoad(
  settings: GatewaySettings,
  load: { name: string; connections: number },
  paths: Path[],
  upstreamPid: number,
  token: string,
): Promise<GatewayRow[]> {
  const options = (path: Path) => ({
    url: `${path.url}${REQUEST_PATH}`,
    method: 'GET' as const,
    headers: { authorization: `Bearer ${token}` },
    bodies: [],
    connections: load.connections,
    recordLatencies: true,
  });
  if (settings.warmupSeconds > 0) {
    for (const path of paths) await drive({ ...options(path), durationSeconds: settings.warmupSeconds });
  }
  const totals = new Map<Path, Totals>(
    paths.map((p) => [p, { requests: 0, errors: 0, latenciesMs: [], upstreamCpuSeconds: 0, proxyCpuSeconds: 0, proxyPeakRssBytes: 0 }]),
  );
  const sliceSeconds = settings.durationSeconds / settings.rounds;
  for (let round = 0; round < settings.rounds; round++) {
    for (const path of paths) {
      const roots: Record<string, number> = { upstream: upstreamPid, ...(path.pid ? { proxy: path.pid } : {}) };
      const { result, usage } = await withUsage(roots, () => drive({ ...options(path), durationSeconds: sliceSeconds }));
      const t = totals.get(path)!;
      t.requests += result.totalRequests;
      t.errors += result.errors;
      for (const ms of result.latenciesMs!) t.latenciesMs.push(ms);
      t.upstreamCpuSeconds += usage.upstream!.cpuSeconds;
      t.proxyCpuSeconds += usage.proxy?.cpuSeconds ?? 0;
      t.proxyPeakRssBytes = Math.max(t.proxyPeakRssBytes, usage.proxy?.peakRssBytes ?? 0);
    }
  }
  return paths.map((path) => toRow(load.name, path, totals.get(path)!, settings.durationSeconds));
}

function toRow(load: string, path: Path, t: Totals, seconds: number): GatewayRow {
  const perRequestUs = (cpuSeconds: number) => (t.requests > 0 ? Math.round((cpuSeconds / t.requests) * 1e6) : NaN);
  const latency = summarizeLatencies(t.latenciesMs);
  return {
    load,
    path: path.name,
    requestsPerSecond: Math.round(t.requests / seconds),
    p50Ms: latency.p50,
    p90Ms: latency.p90,
    p99Ms: latency.p99,
    meanMs: latency.mean,
    errors: t.errors,
    totalRequests: t.requests,
    ...(path.pid ? { proxyCpuUsPerRequest: perRequestUs(t.proxyCpuSeconds), proxyPeakRssMb: Math.round((t.proxyPeakRssBytes / 2 ** 20) * 10) / 10 } : {}),
    upstreamCpuUsPerRequest: perRequestUs(t.upstreamCpuSeconds),
    ...(path.note ? { note: path.note } : {}),
  };
}

/** Gateway against Apache verifying every request, and against Apache's default, per load. */
function compare(rows: GatewayRow[]): GatewayComparison[] {
  const out: GatewayComparison[] = [];
  const loads = [...new Set(rows.map((r) => r.load))];
  for (const load of loads) {
    const gateway = rows.find((r) => r.load === load && r.path === GATEWAY_PATH);
    if (!gateway) continue;
    for (const apache of rows.filter((r) => r.load === load && r.path.startsWith('apache '))) {
      const short = apache.path.includes('cache') ? 'apache (default cache)' : 'apache (every request verified)';
      out.push({ load, name: `req/s: gateway / ${short}`, value: round2(gateway.requestsPerSecond / apache.requestsPerSecond) });
      out.push({ load, name: `added p50: gateway / ${short}`, value: round2(gateway.addedP50Ms! / apache.addedP50Ms!) });
      out.push({ load, name: `added p99: gateway / ${short}`, value: round2(gateway.addedP99Ms! / apache.addedP99Ms!) });
      out.push({ load, name: `proxy CPU per request: gateway / ${short}`, value: round2(gateway.proxyCpuUsPerRequest! / apache.proxyCpuUsPerRequest!) });
    }
  }
  return out;
}

async function startNodeFloor(upstreamUrl: string): Promise<ServerProcess & { pid: number }> {
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const server = await startProcess({
    name: NODE_FLOOR_PATH,
    url,
    // Any path is proxied: the upstream answers /ready.
    readyUrl: `${url}/ready`,
    command: process.execPath,
    args: [FLOOR_SCRIPT, String(port), upstreamUrl],
    env: { PATH: process.env.PATH },
  });
  return Object.assign(server, { pid: server.child.pid! });
}

async function startUpstream(): Promise<ServerProcess & { pid: number }> {
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const server = await startProcess({
    name: 'upstream (node:http)',
    url,
    readyUrl: `${url}/ready`,
    command: process.execPath,
    args: [UPSTREAM_SCRIPT, String(port)],
    env: { PATH: process.env.PATH },
  });
  return Object.assign(server, { pid: server.child.pid! });
}

/**
 * The valid token and four that every proxy must refuse: a changed signature, another API's audience,
 * the right API without the route's scope, and a token signed by a key that is not the issuer's.
 */
async function mintTokens(latchkey: LatchkeyTarget): Promise<Tokens> {
  await latchkey.cli('resources', 'create', '--identifier', OTHER_AUDIENCE, '--scopes', OTHER_SCOPE);
  const audiences = `${latchkey.audience},${OTHER_AUDIENCE}`;
  const created = await latchkey.cli('clients', 'create', '--name', 'bench-refusals', '--type', 'confidential', '--grant-types', 'client_credentials',
    '--scopes', `orders:read,orders:write,${OTHER_SCOPE}`, '--audiences', audiences, '--json');
  const other = JSON.parse(created) as { client_id: string; client_secret: string };
  const mint = async (clientId: string, secret: string, form: string) => {
    const res = await fetch(latchkey.tokenUrl, {
      method: 'POST',
      headers: {
        'content-type': 'application/x-www-form-urlencoded',
        authorization: `Basic ${Buffer.from(`${encodeURIComponent(clientId)}:${encodeURIComponent(secret)}`).toString('base64')}`,
      },
      body: form,
    });
    if (res.status !== 200) throw new Error(`token request failed: ${res.status} ${await res.text()}`);
    return ((await res.json()) as { access_token: string }).access_token;
  };
  const valid = await mint(latchkey.clientId, latchkey.clientSecret, latchkey.tokenForm);
  const [header, payload, signature] = valid.split('.') as [string, string, string];
  // Change one signature byte in the middle (the last character only carries padding bits).
  const bytes = Buffer.from(signature, 'base64url');
  bytes[10] = bytes[10]! ^ 0x01;
  const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const foreign = sign('sha256', Buffer.from(`${header}.${payload}`), { key: privateKey, dsaEncoding: 'ieee-p1363' });
  return {
    valid,
    tampered: `${header}.${payload}.${bytes.toString('base64url')}`,
    otherAudience: await mint(
      other.client_id,
      other.client_secret,
      `grant_type=client_credentials&scope=${encodeURIComponent(OTHER_SCOPE)}&resource=${encodeURIComponent(OTHER_AUDIENCE)}`,
    ),
    missingScope: await mint(other.client_id, other.client_secret, `grant_type=client_credentials&scope=orders%3Awrite&resource=${encodeURIComponent(latchkey.audience)}`),
    foreignKey: `${header}.${payload}.${foreign.toString('base64url')}`,
  };
}

/** The valid token gets the upstream's 200; no token and each bad token get 401 or 403 (returned, per case). */
async function checkRefusals(path: Path, tokens: Tokens): Promise<Record<string, number>> {
  const status = async (token?: string) => {
    const res = await fetch(`${path.url}${REQUEST_PATH}`, { headers: token ? { authorization: `Bearer ${token}` } : {} });
    await res.arrayBuffer();
    return res.status;
  };
  const validStatus = await status(tokens.valid);
  if (validStatus !== 200) throw new Error(`${path.name}: the valid token got ${validStatus}, not 200`);
  const refused: Record<string, string | undefined> = {
    'no token': undefined,
    'a changed signature': tokens.tampered,
    "another API's token (aud, and its own scope)": tokens.otherAudience,
    'no orders:read scope': tokens.missingScope,
    'a key not in the JWKS': tokens.foreignKey,
  };
  const statuses: Record<string, number> = {};
  for (const [what, token] of Object.entries(refused)) {
    const got = await status(token);
    if (got !== 401 && got !== 403) throw new Error(`${path.name}: a request with ${what} got ${got}, not 401 or 403`);
    statuses[what] = got;
  }
  return statuses;
}

const round2 = (x: number) => Math.round(x * 100) / 100;
const round3 = (x: number) => Math.round(x * 1000) / 1000;

/** The scenario's part of the Markdown report. */
export function gatewayMarkdown(report: GatewayReport): string[] {
  const s = report.settings;
  const cell = (x: number | undefined) => (x === undefined || Number.isNaN(x) ? '' : String(x));
  return [
    '## Gateway: JWT validation in front of an API',
    '',
    `GET ${REQUEST_PATH} with an ES256 access token (Latchkey, client credentials, scope ${SCOPE}) to a node:http upstream answering a small JSON body; ` +
      `autocannon, ${s.durationSeconds} s per path (in ${s.rounds} slices, the paths in turn) after ${s.warmupSeconds} s of warm-up, first ${s.connections} connections as fast as they go, then one connection sending one request at a time. ` +
      'Latencies are percentiles of every response time (not autocannon\'s whole milliseconds); "added" is the path minus the direct upstream under the same load.',
    '',
    '| load | path | req/s | p50 ms | p99 ms | added p50 ms | added p99 ms | errors | proxy CPU µs/req | upstream CPU µs/req | proxy peak RSS MB | note |',
    '|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|',
    ...report.rows.map(
      (r) =>
        `| ${r.load} | ${r.path} | ${r.requestsPerSecond} | ${r.p50Ms} | ${r.p99Ms} | ${cell(r.addedP50Ms)} | ${cell(r.addedP99Ms)} | ${r.errors} | ${cell(r.proxyCpuUsPerRequest)} | ${r.upstreamCpuUsPerRequest} | ${cell(r.proxyPeakRssMb)} | ${r.note ?? ''} |`,
    ),
    '',
    ...(report.comparisons.length
      ? [
          'Ratios: above 1 favours the gateway for req/s; below 1 favours it for added latency and CPU per request.',
          '',
          '| ratio | load | value |',
          '|---|---|---:|',
          ...report.comparisons.map((c) => `| ${c.name} | ${c.load} | ${cell(c.value)} |`),
          '',
        ]
      : []),
    '| path | what it checks | refused before the timing (status) |',
    '|---|---|---|',
    ...report.paths.map((p) => `| ${p.name} | ${p.checks} | ${Object.entries(p.refusals ?? {}).map(([what, status]) => `${what}: ${status}`).join('; ')} |`),
    '',
    'Each proxy that checks tokens was first checked to pass the valid token and refuse no token, a changed signature, another API\'s token, a token without the scope, and a token signed by a key not in the JWKS. The floors check nothing: they show what proxying alone costs on each platform.',
    ...report.notes.map((n) => `- ${n}`),
    '',
  ];
}
