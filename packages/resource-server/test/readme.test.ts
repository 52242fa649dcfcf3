import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import {
  BEARER_AUTH_DEFAULTS,
  DPOP_DEFAULTS,
  INTROSPECTOR_DEFAULTS,
  PROTECTED_RESOURCE_METADATA_DEFAULTS,
  TokenValidationError,
  VALIDATION_CHECKS,
  VALIDATOR_DEFAULTS,
} from '../src/index.ts';

const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8');
const rows = (name: string) => readme.split('\n').filter((line) => line.startsWith(`| \`${name}\` |`));

test('the README configuration table lists every option with its default (src/defaults.ts)', () => {
  const defaults: Record<string, unknown> = { ...VALIDATOR_DEFAULTS, ...INTROSPECTOR_DEFAULTS, ...BEARER_AUTH_DEFAULTS, ...PROTECTED_RESOURCE_METADATA_DEFAULTS };
  for (const [name, value] of Object.entries(defaults)) {
    assert.ok(
      rows(name).some((line) => line.includes(`\`${JSON.stringify(value)}\``)),
      `no README row for ${name} showing its default ${JSON.stringify(value)}`,
    );
  }
  // The DPoP options (DpopOptions in src/defaults.ts), as dpop.<option>.
  for (const [name, value] of Object.entries(DPOP_DEFAULTS)) {
    assert.ok(rows(`dpop.${name}`).some((line) => line.includes(`\`${JSON.stringify(value)}\``)), `no README row for dpop.${name} showing ${JSON.stringify(value)}`);
  }
  for (const option of ['publicUrl', 'replay', 'nonce']) assert.ok(rows(`dpop.${option}`).length > 0, `no README row for dpop.${option}`);
  for (const required of ['issuer', 'audience', 'clientId', 'clientSecret', 'fetch']) assert.ok(rows(required).length > 0, `no README row for ${required}`);
  // The options of protectedResourceMetadata (ProtectedResourceMetadataOptions in src/defaults.ts).
  for (const option of ['resource', 'authorizationServers', 'scopesSupported', 'resourceName', 'resourceDocumentation', 'resourcePolicyUri', 'resourceTosUri']) {
    assert.ok(rows(option).length > 0, `no README row for ${option}`);
  }
});

test('the README error table lists every check with its error_description', () => {
  for (const check of VALIDATION_CHECKS) {
    const description = new TokenValidationError(check).description;
    assert.ok(rows(check).some((line) => line.includes(description)), `no README row for ${check} with "${description}"`);
  }
});
