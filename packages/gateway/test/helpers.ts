import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingHttpHeaders, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { stringify } from 'yaml';
import type { Latchkey } from '@latchkey/testing';
import { createGateway, type Gateway } from '../src/gateway.ts';
import { loadConfigFile } from '../src/config/load.ts';

/** What an upstream received. */
export interface Received {
  method: string;
  url: string;
  headers: IncomingHttpHeaders;
  rawHeaders: string[];
  body: string;
}

export interface Upstream {
  url: string;
  server: Server;
  received: Received[];
  /** The last request received. */
  last(): Received;
  close(): Promise<void>;
}

/**
 * A node:http upstream that echoes what it received as JSON (method, url, headers, body), unless a
 * handler answers instead.
 */
export async function startUpstream(handler?: (req: IncomingMessage, res: ServerResponse) => void): Promise<Upstream> {
  const received: Received[] = [];
  const server = createServer((req, res) => {
    if (handler) {
      received.push({ method: req.method!, url: req.url!, headers: req.headers, rawHeaders: req.rawHeaders, body: '' });
      handler(req, res);
      return;
    }
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const entry = { method: req.method!, url: req.url!, headers: req.headers, rawHeaders: req.rawHeaders, body: Buffer.concat(chunks).toString() };
      received.push(entry);
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(entry));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    server,
    received,
    last() {
      assert.ok(received.length > 0, 'the upstream received nothing');
      return received.at(-1)!;
    },
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

export interface RunningGateway {
  gateway: Gateway;
  url: string;
  /** The configuration file (YAML): rewrite it to test reloads. */
  file: string;
  /** Every log line, parsed. */
  logs(): Record<string, unknown>[];
  close(): Promise<void>;
}

/** A gateway from a configuration object written to a YAML file (listening on a free port). */
export async function startGateway(config: Record<string, unknown>, options: { watch?: boolean } = {}): Promise<RunningGateway> {
  const dir = mkdtempSync(join(tmpdir(), 'latchkey-gateway-test-'));
  const file = join(dir, 'gateway.yaml');
  writeFileSync(file, stringify({ listen: { host: '127.0.0.1', port: 0 }, ...config }));
  const lines: string[] = [];
  const destination = new Writable({
    write(chunk, _encoding, done) {
      lines.push(...String(chunk).split('\n').filter((l) => l !== ''));
      done();
    },
  });
  const gateway = await createGateway(loadConfigFile(file).config, {
    configFile: file,
    logDestination: destination,
    watch: options.watch ?? false,
    watchDebounceMs: 50,
  });
  const url = await gateway.listen();
  return {
    gateway,
    url,
    file,
    logs: () => lines.map((l) => JSON.parse(l) as Record<string, unknown>),
    async close() {
      await gateway.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Writes a new configuration to a gateway's file (for reloads). */
export function rewriteConfig(running: RunningGateway, config: Record<string, unknown>): void {
  writeFileSync(running.file, stringify({ listen: { host: '127.0.0.1', port: 0 }, ...config }));
}

/** The common top of the test configurations: the issuer, the gateway's client, a short JWKS cooldown. */
export function baseConfig(latchkey: Latchkey, routes: Record<string, unknown>[], extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    issuer: latchkey.issuer,
    publicUrl: 'https://gateway.example.com',
    jwksCooldownSeconds: 1,
    client: { clientId: latchkey.gatewayClient[0], clientSecret: latchkey.gatewayClient[1] },
    routes,
    ...extra,
  };
}

/** fetch through the gateway with a bearer token (or none). */
export function get(url: string, token?: string, headers: Record<string, string> = {}): Promise<Response> {
  return fetch(url, { headers: { ...(token === undefined ? {} : { authorization: `Bearer ${token}` }), ...headers } });
}

/** Waits until `check` holds (a reload, a log line), polling every 20 ms, at most `ms`. */
export async function eventually(check: () => boolean | Promise<boolean>, ms = 3000): Promise<void> {
  const until = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > until) throw new Error('the condition did not come true in time');
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** A metric's value in a Prometheus text exposition (0 when the series is absent). */
export function metricValue(text: string, name: string, labels: Record<string, string> = {}): number {
  let total = 0;
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${name}{`) && !line.startsWith(`${name} `)) continue;
    const matches = Object.entries(labels).every(([k, v]) => line.includes(`${k}="${v}"`));
    if (matches) total += Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return total;
}
