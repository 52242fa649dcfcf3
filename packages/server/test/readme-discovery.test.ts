import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, describe, test } from 'node:test';
import { type RunningServer, sqlite, startServer, type TestDatabase } from '@latchkey/testing';

const README = readFileSync(new URL('../../../README.md', import.meta.url), 'utf8');

/** The JSON block that follows `after` in README. */
function jsonAfter(after: string): Record<string, unknown> {
  const at = README.indexOf(after);
  assert.ok(at >= 0, `README has "${after}"`);
  const block = /```json\n([\s\S]*?)```/.exec(README.slice(at));
  assert.ok(block, `a JSON block after "${after}"`);
  return JSON.parse(block[1]!) as Record<string, unknown>;
}

/**
 * README's discovery documents are what the server prints (issue 19: the sample had drifted): the
 * quick start's server (its resource registered), with README's issuer put in place of the test's.
 */
describe('README\'s discovery documents (sqlite)', () => {
  let db: TestDatabase;
  let s: RunningServer;

  before(async () => {
    db = await sqlite.create();
    s = await startServer(db);
    await s.registry.createResource({ identifier: 'https://api.example.com', scopes: ['orders:read', 'orders:write'] });
  });
  after(async () => {
    await s?.close();
    await db?.drop();
  });

  const asReadme = (document: unknown) => JSON.parse(JSON.stringify(document).replaceAll(s.issuer, 'http://localhost:9000')) as Record<string, unknown>;

  test('the RFC 8414 document is the one README shows, member for member', async () => {
    const served = asReadme(await (await fetch(`${s.issuer}/.well-known/oauth-authorization-server`)).json());
    assert.deepEqual(served, jsonAfter('The first is the RFC 8414 document'));
  });

  test('the OpenID Connect document adds exactly the members README lists', async () => {
    const plain = asReadme(await (await fetch(`${s.issuer}/.well-known/oauth-authorization-server`)).json());
    const oidc = asReadme(await (await fetch(`${s.issuer}/.well-known/openid-configuration`)).json());
    const added = Object.fromEntries(Object.entries(oidc).filter(([k]) => !(k in plain)));
    assert.deepEqual(added, jsonAfter('The OpenID Connect document has the same members and these'));
  });
});
