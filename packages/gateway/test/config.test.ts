import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { stringify } from 'yaml';
import { freePort } from '@latchkey/testing';
import { ConfigError, parseConfig } from '../src/config/parse.ts';
import { loadConfigFile, parseConfigText } from '../src/config/load.ts';
import { createGateway } from '../src/gateway.ts';
import { parseTarget } from '../src/lib/path.ts';
import { eventually } from './helpers.ts';

const BIN = new URL('../bin/latchkey-gateway.js', import.meta.url).pathname;

const minimal = {
  issuer: 'https://auth.example.com',
  publicUrl: 'https://gateway.example.com',
  routes: [{ prefix: '/orders', upstream: 'http://127.0.0.1:9', audience: 'https://api.example.com', methods: { GET: ['orders:read'] } }],
};

function problems(raw: unknown): string[] {
  try {
    parseConfig(raw);
  } catch (err) {
    assert.ok(err instanceof ConfigError);
    return err.problems;
  }
  assert.fail('the configuration was accepted');
}

describe('configuration', () => {
  test('a minimal file gets the defaults: claims mode, JWT validation, the upstream origin as the JWT audience', () => {
    const config = parseConfig(minimal);
    assert.deepEqual(config.listen, { host: '127.0.0.1', port: 8080 });
    assert.equal(config.identityHeaderPrefix, 'X-Auth-');
    assert.deepEqual(config.algorithms, ['ES256']);
    assert.equal(config.rateLimit, undefined);
    const [route] = config.routes;
    assert.equal(route!.name, '/orders');
    assert.equal(route!.validation, 'jwt');
    assert.deepEqual(route!.forward, { mode: 'claims', audience: 'http://127.0.0.1:9' });
  });

  test('every mistake is reported at once, each with where it is', () => {
    const found = problems({
      issuer: 'http://auth.example.com',
      routs: [],
      trustedProxies: ['10.0.0.0/33', 'proxy.local'],
      rateLimit: { requestsPerSecond: 0 },
      routes: [
        { prefix: 'orders', upstream: 'ftp://x', audience: 'a', methods: { GET: ['a b'] }, forward: { mode: 'passthru' } },
        { prefix: '/metrics', upstream: 'http://x', audience: 'a', methods: {} },
        { prefix: '/inv', upstream: 'http://x?q=1', audience: 'a', methods: { TRACE: [] }, validation: 'introspection', forward: { mode: 'exchange' } },
      ],
    });
    const expected = [
      'routs: unknown option',
      'issuer: must use https',
      'trustedProxies: "10.0.0.0/33" is not an IP address or CIDR range',
      'trustedProxies: "proxy.local" is not an IP address or CIDR range',
      'rateLimit.requestsPerSecond: must be a number',
      'rateLimit.burst: is required',
      'routes[0].prefix: must start with /',
      'routes[0].upstream: must be an http or https URL',
      'routes[0].methods.GET: "a b" is not a scope',
      'routes[0].forward.mode: must be one of claims, exchange, passthrough',
      'routes[1].prefix: /metrics is served by the gateway itself',
      'routes[1].methods: allow at least one method',
      'routes[2].upstream: must not have a query or fragment',
      'routes[2].methods.TRACE: TRACE is never forwarded',
      'routes[2].forward.audience: exchange mode needs',
    ];
    for (const start of expected) assert.ok(found.some((p) => p.startsWith(start)), `missing "${start}" in:\n${found.join('\n')}`);
  });

  test('requirements across options: claims needs publicUrl; introspection and exchange need the gateway\'s client', () => {
    const found = problems({
      issuer: 'https://auth.example.com',
      routes: [
        { prefix: '/a', upstream: 'http://a', audience: 'x', methods: { GET: [] } },
        { prefix: '/b', upstream: 'http://b', audience: 'x', methods: { GET: [] }, validation: 'introspection', forward: { mode: 'passthrough' } },
        { prefix: '/c', upstream: 'http://c', audience: 'x', methods: { GET: [] }, forward: { mode: 'exchange', audience: 'https://c' } },
        { prefix: '/a/', upstream: 'http://d', audience: 'x', methods: { GET: [] }, forward: { mode: 'passthrough' } },
      ],
    });
    assert.ok(found.some((p) => p.startsWith('publicUrl: required when a route uses claims mode')), found.join('\n'));
    assert.ok(found.some((p) => p.startsWith('routes[1].validation: introspection needs the gateway\'s client')), found.join('\n'));
    assert.ok(found.some((p) => p.startsWith('routes[2].forward.mode: exchange needs the gateway\'s client')), found.join('\n'));
    assert.ok(found.some((p) => p.startsWith('routes[3].prefix: "/a" is also the prefix of routes[0]')), found.join('\n'));
  });

  test('the client secret can come from the environment, never both ways', () => {
    const base = { ...minimal, client: { clientId: 'gw', clientSecretEnv: 'GW_SECRET' } };
    assert.equal(parseConfig(base, { env: { GW_SECRET: 's3cret' } }).client!.clientSecret, 's3cret');
    assert.ok(problems(base).some((p) => p === 'client.clientSecretEnv: the environment variable GW_SECRET is not set'));
    assert.ok(problems({ ...minimal, client: { clientId: 'gw', clientSecret: 'a', clientSecretEnv: 'B' } }).some((p) => p.startsWith('client: give exactly one')));
  });

  test('YAML with a repeated key and JSON with a syntax error are refused; JSON files work', () => {
    assert.throws(() => parseConfigText('issuer: a\nissuer: b\n', 'gateway.yaml'), (err: unknown) => err instanceof ConfigError && /not valid YAML/.test(err.problems[0]!));
    assert.throws(() => parseConfigText('{"issuer": ', 'gateway.json'), (err: unknown) => err instanceof ConfigError && /not valid JSON/.test(err.problems[0]!));
    assert.equal(parseConfigText(JSON.stringify(minimal), 'gateway.json').routes.length, 1);
  });

  test('what the resource-server package refuses (an HMAC algorithm) fails when the gateway is built', async () => {
    const config = parseConfig({ ...minimal, algorithms: ['HS256'] });
    await assert.rejects(createGateway(config, { logLevel: 'silent' }), (err: unknown) => err instanceof ConfigError && /HS256/.test(err.message));
  });

  test('request targets: dot segments, encoded slashes and empty segments are refused; unreserved escapes decoded', () => {
    assert.deepEqual(parseTarget('/a/%7Euser/b%20c?x=%2F'), { path: '/a/~user/b%20c', query: '?x=%2F' });
    assert.deepEqual(parseTarget('/a/'), { path: '/a/', query: '' });
    for (const bad of ['a', '/a/./b', '/a/%2E/b', '/a/%2e%2E', '/..;x/a', '/a%2fb', '/a%5Cb', '/a//b', '/a%00', '/a%zz', 'http://evil/a']) {
      assert.ok('error' in parseTarget(bad), bad);
    }
  });
});

describe('the latchkey-gateway command', () => {
  const dir = mkdtempSync(join(tmpdir(), 'latchkey-gateway-cli-'));
  after(() => rmSync(dir, { recursive: true, force: true }));

  const run = (args: string[]) => spawnSync(process.execPath, [BIN, ...args], { cwd: dir, encoding: 'utf8', timeout: 20_000 });

  test('a configuration with mistakes: exit 1, every problem on stderr', () => {
    const file = join(dir, 'bad.yaml');
    writeFileSync(file, stringify({ ...minimal, routes: [{ ...minimal.routes[0], methods: { GET: ['x y'] } }], extra: 1 }));
    const result = run(['--config', file]);
    assert.equal(result.status, 1, result.stderr);
    assert.match(result.stderr, /invalid gateway configuration/);
    assert.match(result.stderr, /extra: unknown option/);
    assert.match(result.stderr, /routes\[0\]\.methods\.GET: "x y" is not a scope/);
  });

  test('--check: exit 0 for a good file', () => {
    const file = join(dir, 'good.json');
    writeFileSync(file, JSON.stringify(minimal));
    const ok = run(['--config', file, '--check']);
    assert.equal(ok.status, 0, ok.stderr);
    assert.match(ok.stdout, /OK \(1 route\)/);
    assert.throws(() => loadConfigFile(join(dir, 'nope.yaml')), /cannot read the file \(ENOENT\)/);
  });

  test('keygen writes a private key readable by its owner only, which signing.keyFile loads', async () => {
    const keyFile = join(dir, 'gateway-key.json');
    const result = run(['keygen', '--out', keyFile]);
    assert.equal(result.status, 0, result.stderr);
    assert.equal(statSync(keyFile).mode & 0o777, 0o600);
    const jwk = JSON.parse(readFileSync(keyFile, 'utf8')) as { kid: string; d: string };
    assert.ok(jwk.d);
    const again = run(['keygen', '--out', keyFile]);
    assert.equal(again.status, 1, 'never overwritten');
    assert.match(again.stderr, /exists: not overwritten/);
    const gateway = await createGateway(parseConfig({ ...minimal, listen: { port: 0 }, signing: { keyFile } }), { logLevel: 'silent' });
    const url = await gateway.listen();
    const jwks = (await (await fetch(`${url}/.well-known/jwks.json`)).json()) as { keys: Record<string, unknown>[] };
    await gateway.close();
    assert.equal(jwks.keys[0]!.kid, jwk.kid);
    assert.equal(jwks.keys[0]!.d, undefined);
  });

  test('serves, reloads on SIGHUP (a bad file keeps the routes), stops on SIGTERM', async () => {
    const port = await freePort();
    const file = join(dir, 'serve.yaml');
    const config = { ...minimal, issuer: 'http://127.0.0.1:9', listen: { host: '127.0.0.1', port } };
    writeFileSync(file, stringify(config));
    const child = spawn(process.execPath, [BIN, '--config', file, '--no-watch'], { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (out += chunk.toString()));
    try {
      await eventually(() => out.includes('latchkey-gateway is ready'), 15_000);
      assert.equal((await fetch(`http://127.0.0.1:${port}/healthz`)).status, 200);
      assert.equal((await fetch(`http://127.0.0.1:${port}/orders`)).status, 401);
      assert.equal((await fetch(`http://127.0.0.1:${port}/v2`)).status, 404);

      writeFileSync(file, 'routes: [\n');
      child.kill('SIGHUP');
      await eventually(() => out.includes('configuration reload failed'));
      assert.equal((await fetch(`http://127.0.0.1:${port}/orders`)).status, 401, 'the old routes stay');

      writeFileSync(file, stringify({ ...config, routes: [...config.routes, { ...config.routes[0], prefix: '/v2' }] }));
      child.kill('SIGHUP');
      await eventually(() => out.includes('"routes":2,"msg":"configuration reloaded"'));
      assert.equal((await fetch(`http://127.0.0.1:${port}/v2`)).status, 401);

      child.kill('SIGTERM');
      const [code] = await new Promise<[number | null]>((resolve) => child.once('exit', (c) => resolve([c])));
      assert.equal(code, 0);
    } finally {
      child.kill('SIGKILL');
    }
  });
});
