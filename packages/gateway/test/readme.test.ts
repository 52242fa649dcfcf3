import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, test } from 'node:test';
import { parse } from 'yaml';
import {
  CLIENT_OPTIONS,
  FORWARD_OPTIONS,
  GATEWAY_DEFAULTS,
  LISTEN_OPTIONS,
  RATE_LIMIT_OPTIONS,
  ROUTE_OPTIONS,
  SIGNING_OPTIONS,
  TLS_OPTIONS,
  TOP_LEVEL_OPTIONS,
} from '../src/config/defaults.ts';
import { parseConfig } from '../src/config/parse.ts';
import { Metrics } from '../src/lib/metrics.ts';

/** The README's configuration reference and metrics list, checked against the code. */
const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8');

function section(title: string): string {
  const start = readme.indexOf(`\n## ${title}\n`);
  assert.ok(start >= 0, `no section "${title}"`);
  const end = readme.indexOf('\n## ', start + 1);
  return readme.slice(start, end === -1 ? undefined : end);
}

function yamlBlocks(text: string): string[] {
  return [...text.matchAll(/```yaml\n([\s\S]*?)```/g)].map((m) => m[1]!);
}

describe('README', () => {
  test('the configuration reference has a row for every option', () => {
    const reference = section('Configuration reference');
    for (const option of [...TOP_LEVEL_OPTIONS, ...ROUTE_OPTIONS, ...FORWARD_OPTIONS, ...CLIENT_OPTIONS, ...SIGNING_OPTIONS, ...RATE_LIMIT_OPTIONS, ...LISTEN_OPTIONS, ...TLS_OPTIONS]) {
      assert.match(reference, new RegExp(`^\\| \`${option}\` \\|`, 'm'), `no row for ${option}`);
    }
  });

  test('the defaults in the reference are the code\'s', () => {
    const reference = section('Configuration reference');
    const row = (option: string) => reference.split('\n').find((line) => line.startsWith(`| \`${option}\` |`))!;
    for (const [option, value] of Object.entries(GATEWAY_DEFAULTS)) {
      if (typeof value === 'object') continue;
      assert.ok(row(option).includes(`\`${String(value)}\``), `${option}: README does not say ${String(value)}`);
    }
    assert.ok(row('algorithms').includes('`[ES256]`'));
    assert.ok(row('listen').includes(`host: ${GATEWAY_DEFAULTS.listen.host}, port: ${GATEWAY_DEFAULTS.listen.port}`));
  });

  test('the full example and the quick start configuration are valid', () => {
    const blocks = [...yamlBlocks(section('Configuration reference')), ...yamlBlocks(section('Quick start'))];
    assert.equal(blocks.length, 2);
    for (const block of blocks) parseConfig(parse(block), { env: { GATEWAY_CLIENT_SECRET: 'secret' } });
  });

  test('the DPoP example configuration is valid', () => {
    const blocks = yamlBlocks(section('DPoP and certificate-bound tokens'));
    assert.equal(blocks.length, 1);
    const config = parseConfig(parse(blocks[0]!));
    assert.deepEqual(config.routes.map((r) => r.dpop), ['required', 'allowed']);
    assert.deepEqual(config.routes[1]!.forward, { mode: 'passthrough', dpopProof: true });
  });

  test('the protected resource metadata example configuration is valid', () => {
    const blocks = yamlBlocks(section('Protected resource metadata (RFC 9728)'));
    assert.equal(blocks.length, 1);
    assert.equal(parseConfig(parse(blocks[0]!)).resourceMetadata, true);
  });

  test('every metric the gateway registers is listed', async () => {
    const metrics = section('Metrics, health and logs');
    const names = (await new Metrics().registry.getMetricsAsJSON()).map((m) => m.name).filter((n) => !/_(process|nodejs)_/.test(n));
    assert.ok(names.length >= 7);
    for (const name of names) assert.match(metrics, new RegExp(`\\| \`${name}\` \\|`), `no row for ${name}`);
  });
});
