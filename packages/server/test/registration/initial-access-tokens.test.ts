import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { sha256 } from '../../src/lib/random.ts';
import { createInitialAccessToken } from '../../src/registration/initial-access-tokens.ts';
import { backends, type CliResult, dbEnv, killLatchkeyProcesses, type Latchkey, runLatchkey } from '@latchkey/testing';
import { assertInvalidToken, assertRegistrationError, bearer, register, registrationServer, sendJson, webApp } from './support.ts';

/**
 * LATCHKEY_REGISTRATION=initial-access-token (RFC 7591 §3): a registration needs a live initial access
 * token as a Bearer token, minted by `latchkey registration tokens create`; single use, a number of
 * uses, an expiry, revocation; stored as its hash.
 */

function describeRun(r: CliResult): string {
  return `exit ${r.code ?? r.signal}\n--- stdout\n${r.stdout}\n--- stderr\n${r.stderr}`;
}

function json(r: CliResult): any {
  assert.equal(r.code, 0, describeRun(r));
  return JSON.parse(r.stdout);
}

for (const backend of await backends()) {
  describe(`registration with initial access tokens (${backend.name})`, { skip: backend.skip }, () => {
    let lk: Latchkey;
    const cli = (...args: string[]) => runLatchkey(args, dbEnv(lk.db));
    /** A token minted by the CLI: its value and id. */
    const mint = async (...options: string[]) => {
      const out = json(await cli('registration', 'tokens', 'create', '--json', ...options));
      return { value: out.initial_access_token as string, id: out.token.id as string, token: out.token };
    };
    const clientCount = async () => (await lk.running.registry.listClients()).length;

    before(async () => {
      lk = await registrationServer(backend, { registration: 'initial-access-token' });
    });
    after(async () => {
      killLatchkeyProcesses();
      await lk?.close();
    });

    test('L77: without a token, with an unknown one or another scheme: 401 invalid_token with a Bearer challenge, nothing stored', async () => {
      const before = await clientCount();
      for (const [label, headers] of [
        ['no Authorization', {}],
        ['an unknown token', bearer('x'.repeat(43))],
        ['Basic instead of Bearer', { authorization: 'Basic dXNlcjpwYXNz' }],
        ['an empty Bearer', { authorization: 'Bearer ' }],
        ['a malformed token', { authorization: 'Bearer a b c' }],
      ] as const) {
        assertInvalidToken(await register(lk, webApp(), headers), label);
      }
      assert.equal(await clientCount(), before);
    });

    test('the token is checked before the metadata: bad metadata without a token is 401, not 400', async () => {
      assertInvalidToken(await register(lk, { redirect_uris: 'nonsense' }), 'bad metadata, no token');
    });

    test('registration tokens create --single-use: one registration, then 401; a refused registration does not use it', async () => {
      const { value, id, token } = await mint('--single-use', '--description', 'for the notes team');
      assert.deepEqual({ state: token.state, uses: token.uses, max_uses: token.max_uses, description: token.description }, {
        state: 'live',
        uses: 0,
        max_uses: 1,
        description: 'for the notes team',
      });
      assertRegistrationError(await register(lk, webApp({ scope: 'notes:write' }), bearer(value)), 'invalid_client_metadata', 'bad metadata');
      const first = await register(lk, webApp(), bearer(value));
      assert.equal(first.status, 201, first.text);
      assert.equal((await lk.running.server.context.storage.registrations.find(first.body.client_id))?.initialAccessTokenId, id);
      assertInvalidToken(await register(lk, webApp(), bearer(value)), 'second use');
      const listed = json(await cli('registration', 'tokens', 'list', '--json')).tokens.find((t: any) => t.id === id);
      assert.equal(listed.state, 'used up');
      assert.equal(listed.uses, 1);
    });

    test('two registrations racing for the last use of a token: exactly one gets it', async () => {
      const { value } = await mint('--single-use');
      const before = await clientCount();
      const results = await Promise.all(Array.from({ length: 5 }, () => register(lk, webApp(), bearer(value))));
      assert.deepEqual(results.map((r) => r.status).sort(), [201, 401, 401, 401, 401], results.map((r) => r.text).join('\n'));
      assert.equal(await clientCount(), before + 1, 'the refused ones stored nothing');
    });

    test('--max-uses 2: two registrations, the third is refused; without a limit, any number', async () => {
      const { value } = await mint('--max-uses', '2');
      for (let i = 0; i < 2; i++) assert.equal((await register(lk, webApp(), bearer(value))).status, 201);
      assertInvalidToken(await register(lk, webApp(), bearer(value)), 'third use');
      const unlimited = await mint();
      assert.equal(unlimited.token.max_uses, null);
      for (let i = 0; i < 3; i++) assert.equal((await register(lk, webApp(), bearer(unlimited.value))).status, 201);
    });

    test('an expired token is refused; --expires-in sets the expiry', async () => {
      const storage = lk.running.server.context.storage;
      const now = Math.floor(Date.now() / 1000);
      // Made two minutes ago with a one-minute lifetime: expired a minute ago.
      const expired = await createInitialAccessToken(storage, { expiresInSeconds: 60 }, now - 120);
      assertInvalidToken(await register(lk, webApp(), bearer(expired.value)), 'expired');
      const { value, token } = await mint('--expires-in', '3600');
      const expiresAt = Date.parse(token.expires_at) / 1000;
      assert.ok(Math.abs(expiresAt - (now + 3600)) < 300, token.expires_at);
      assert.equal((await register(lk, webApp(), bearer(value))).status, 201);
    });

    test('registration tokens revoke: the token stops working at once; revoking it again is an error', async () => {
      const { value, id } = await mint();
      assert.equal((await register(lk, webApp(), bearer(value))).status, 201);
      const revoked = json(await cli('registration', 'tokens', 'revoke', id, '--json'));
      assert.deepEqual(revoked, { revoked: id });
      assertInvalidToken(await register(lk, webApp(), bearer(value)), 'revoked');
      const again = await cli('registration', 'tokens', 'revoke', id);
      assert.equal(again.code, 1, describeRun(again));
      const listed = json(await cli('registration', 'tokens', 'list', '--json')).tokens.find((t: any) => t.id === id);
      assert.equal(listed.state, 'revoked');
    });

    test('initial access tokens are stored only as SHA-256 hashes; list never shows the value', async () => {
      const { value, id } = await mint('--single-use');
      const rows = await lk.running.server.context.storage.db.kysely.selectFrom('initial_access_tokens').selectAll().execute();
      assert.equal(rows.find((r) => r.id === id)?.token_hash, sha256(value));
      assert.ok(!JSON.stringify(rows).includes(value));
      const text = await cli('registration', 'tokens', 'list');
      assert.equal(text.code, 0, describeRun(text));
      assert.match(text.stdout, new RegExp(`^${id}\\s+live\\s+0 of 1 used`, 'm'));
      assert.ok(!text.stdout.includes(value));
    });

    test('CLI usage: --single-use with --max-uses, a zero or non-numeric limit, an unknown subcommand: exit 2', async () => {
      for (const args of [
        ['--single-use', '--max-uses', '2'],
        ['--max-uses', '0'],
        ['--max-uses', 'many'],
        ['--expires-in', '-5'],
      ]) {
        const r = await cli('registration', 'tokens', 'create', ...args);
        assert.equal(r.code, 2, `${args.join(' ')}: ${describeRun(r)}`);
      }
      assert.equal((await cli('registration', 'frobnicate')).code, 2);
      assert.equal((await cli('registration', 'tokens', 'frobnicate')).code, 2);
    });

    test('clients list and show say who registered a client; clients delete removes a registered client with its registration', async () => {
      const { value } = await mint('--single-use');
      const reg = await register(lk, webApp({ client_name: 'Self Made' }), bearer(value));
      assert.equal(reg.status, 201, reg.text);
      const id = reg.body.client_id;
      const list = await cli('clients', 'list');
      assert.match(list.stdout, new RegExp(`^${id}\\s+confidential\\s+dynamic-registration\\s+Self Made$`, 'm'), describeRun(list));
      assert.match(list.stdout, new RegExp(`^${lk.reader[0]}\\s+confidential\\s+operator\\s+reader$`, 'm'));
      assert.equal(json(await cli('clients', 'show', id, '--json')).source, 'dynamic-registration');
      assert.match((await cli('clients', 'show', id)).stdout, /^source: +dynamic-registration \(registered itself/m);
      assert.equal((await cli('clients', 'delete', id)).code, 0);
      assert.equal(await lk.running.server.context.storage.registrations.find(id), undefined);
      assertInvalidToken(await sendJson(reg.body.registration_client_uri, 'GET', undefined, bearer(reg.body.registration_access_token)), 'after clients delete');
    });
  });
}
