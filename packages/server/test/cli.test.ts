import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { createLocalJWKSet, decodeProtectedHeader, jwtVerify, type JSONWebKeySet } from 'jose';
import { sql } from 'kysely';
import { sha256 } from '../src/lib/random.ts';
import { sqliteFile } from '../src/storage/database.ts';
import { MIGRATION_NAMES } from '../src/storage/migrations/index.ts';
import { backends, type CliResult, dbEnv, killLatchkeyProcesses, postForm, runLatchkey, type RunningServer, startServer, TEST_SECRET, type TestDatabase } from '@latchkey/testing';

const API = 'https://api.example.com';
const BILLING = 'https://billing.example.com';

/** Shows the whole run when an assertion on it fails. */
function describeRun(r: CliResult): string {
  return `exit ${r.code ?? r.signal}\n--- stdout\n${r.stdout}\n--- stderr\n${r.stderr}`;
}

function assertOk(r: CliResult): void {
  assert.equal(r.code, 0, describeRun(r));
}

/** Parses stdout as one JSON value: fails if anything else (a log line, a banner) is mixed in. */
function stdoutJson(r: CliResult): any {
  try {
    return JSON.parse(r.stdout);
  } catch (err) {
    assert.fail(`stdout is not one JSON document (${(err as Error).message}):\n${describeRun(r)}`);
  }
}

for (const backend of await backends()) {
  describe(`latchkey CLI (${backend.name})`, { skip: backend.skip }, () => {
    let db: TestDatabase;
    let s: RunningServer;
    let env: Record<string, string | undefined>;
    let clientId: string;
    let clientSecret: string;
    const extraDbs: TestDatabase[] = [];
    const scratchDirs: string[] = [];

    const cli = (...args: string[]) => runLatchkey(args, env);
    const token = (id: string, secret: string) =>
      postForm(`${s.url}/token`, { grant_type: 'client_credentials' }, { basic: [id, secret] });

    /** Every byte the database holds, as text (SQLite: the file and its WAL; PostgreSQL: every row). */
    async function databaseContents(): Promise<Buffer> {
      if (backend.name === 'sqlite') {
        const file = sqliteFile(db.dataDir);
        const parts = [readFileSync(file)];
        if (existsSync(`${file}-wal`)) parts.push(readFileSync(`${file}-wal`));
        return Buffer.concat(parts);
      }
      const kysely = s.server.context.storage.db.kysely;
      const tables = await sql<{ table_name: string }>`
        select table_name from information_schema.tables where table_schema = 'public'`.execute(kysely);
      assert.ok(tables.rows.some((t) => t.table_name === 'clients'));
      const rows: string[] = [];
      for (const { table_name } of tables.rows) {
        const result = await sql<{ row: string }>`select t::text as row from ${sql.table(table_name)} t`.execute(kysely);
        rows.push(...result.rows.map((r) => r.row));
      }
      return Buffer.from(rows.join('\n'), 'utf8');
    }

    async function jwks(): Promise<JSONWebKeySet> {
      const res = await fetch(`${s.url}/jwks`);
      assert.equal(res.status, 200);
      return (await res.json()) as JSONWebKeySet;
    }

    before(async () => {
      db = await backend.create();
      // The server runs during the whole suite: the CLI must work while it does.
      s = await startServer(db);
      env = dbEnv(db);
    });
    after(async () => {
      killLatchkeyProcesses();
      await s?.close();
      await db?.drop();
      for (const extra of extraDbs) await extra.drop();
      for (const dir of scratchDirs) rmSync(dir, { recursive: true, force: true });
    });

    test('resources create prints readable text, and one JSON object with --json', async () => {
      const [text, json] = await Promise.all([
        cli('resources', 'create', '--identifier', API, '--scopes', 'orders:read,orders:write'),
        cli('resources', 'create', '--identifier', BILLING, '--scopes', 'billing:read', '--name', 'Billing', '--json'),
      ]);
      assertOk(text);
      assert.match(text.stdout, new RegExp(`created resource ${API}`));
      assert.match(text.stdout, /scopes:\s+orders:read orders:write/);
      assert.throws(() => JSON.parse(text.stdout), 'without --json the output is text');

      assertOk(json);
      const created = stdoutJson(json);
      assert.equal(created.identifier, BILLING);
      assert.equal(created.name, 'Billing');
      assert.deepEqual(created.scopes, ['billing:read']);
      assert.equal(created.access_token_ttl_seconds, null);

      // Written to the database the running server uses.
      const resource = await s.registry.getResource(API);
      assert.deepEqual(resource.scopes.map((x) => x.scope), ['orders:read', 'orders:write']);
    });

    test('clients create --json prints one JSON object with client_id and client_secret; only a hash is stored', async () => {
      const r = await cli(
        'clients', 'create', '--name', 'svc-a', '--type', 'confidential', '--grant-types', 'client_credentials',
        '--scopes', 'orders:read', '--audiences', API, '--json',
      );
      assertOk(r);
      const out = stdoutJson(r);
      assert.equal(typeof out, 'object');
      assert.equal(typeof out.client_id, 'string');
      assert.equal(typeof out.client_secret, 'string');
      assert.ok(out.client_secret.length >= 43, 'the secret carries at least 256 bits');
      clientId = out.client_id;
      clientSecret = out.client_secret;
      const hash = sha256(clientSecret);
      assert.ok(!JSON.stringify(out.client ?? {}).includes(hash), 'the client description does not carry the hash');
      assert.ok(!r.stderr.includes(clientSecret), 'the secret is not written to stderr');

      // The running server accepts the new client at once.
      const res = await token(clientId, clientSecret);
      assert.equal(res.status, 200, res.text);
      assert.equal(res.body.scope, 'orders:read');
      const { payload } = await jwtVerify(res.body.access_token, createLocalJWKSet(await jwks()), { issuer: s.issuer });
      assert.equal(payload.aud, API);

      // The database holds the SHA-256 hash and never the secret.
      const row = await s.server.context.storage.db.kysely
        .selectFrom('clients')
        .select('secret_hash')
        .where('client_id', '=', clientId)
        .executeTakeFirstOrThrow();
      assert.equal(row.secret_hash, hash);
      const contents = await databaseContents();
      assert.ok(contents.includes(clientId), 'sanity: the contents read hold the client row');
      assert.ok(contents.includes(hash), 'sanity: the contents read hold the hash');
      assert.ok(!contents.includes(clientSecret), 'the secret in clear is nowhere in the database');
      assert.ok(!contents.includes(Buffer.from(clientSecret, 'base64url')), 'nor its raw bytes');
    });

    test('clients list and show, resources list and show', async () => {
      const [clientsList, showJson, resourcesList, resourceShow] = await Promise.all([
        cli('clients', 'list'),
        cli('clients', 'show', clientId, '--json'),
        cli('resources', 'list', '--json'),
        cli('resources', 'show', API),
      ]);
      for (const r of [clientsList, showJson, resourcesList, resourceShow]) assertOk(r);
      const hash = sha256(clientSecret);

      assert.match(clientsList.stdout, new RegExp(`^${clientId}\\s+confidential\\s+operator\\s+svc-a$`, 'm'));

      const shown = stdoutJson(showJson);
      assert.deepEqual(
        { ...shown, created_at: typeof shown.created_at },
        {
          client_id: clientId,
          name: 'svc-a',
          type: 'confidential',
          token_endpoint_auth_method: 'client_secret_basic',
          grant_types: ['client_credentials'],
          scopes: ['orders:read'],
          audiences: [API],
          created_at: 'string',
          secret_rotated_at: null,
          redirect_uris: [],
          post_logout_redirect_uris: [],
          first_party: false,
          source: 'operator',
          id_token_signed_response_alg: 'RS256',
          introspect_for: [],
          jwks_uri: null,
          jwks: null,
          refresh_grace_seconds: null,
          dpop_bound_access_tokens: false,
          tls_client_certificate_bound_access_tokens: false,
          profile: 'default',
          require_pushed_authorization_requests: false,
          require_second_factor: false,
          require_passkey: false,
          backchannel_logout_uri: null,
          backchannel_logout_session_required: false,
          token_exchange: [],
        },
      );
      for (const r of [clientsList, showJson]) {
        assert.ok(!r.stdout.includes(clientSecret) && !r.stdout.includes(hash), 'neither the secret nor its hash is shown');
      }

      const resources = stdoutJson(resourcesList);
      assert.deepEqual(
        resources.resources.map((x: any) => [x.identifier, x.scopes]),
        [
          [API, ['orders:read', 'orders:write']],
          [BILLING, ['billing:read']],
          // Built in, made at every start: the admin API's own resource (docs/admin-api.md).
          ['urn:latchkey:admin', ['admin:read', 'admin:write']],
        ],
      );
      assert.match(resourceShow.stdout, new RegExp(`identifier: ${API}`));
      assert.match(resourceShow.stdout, /scopes:\s+orders:read orders:write/);
    });

    test('errors: a refused registration exits 1 with a message on stderr; a usage mistake exits 2 with one line', async () => {
      // Usage mistakes that never reach the database are checked once, on the first backend.
      const dbFree = backend.name === 'sqlite';
      const [unknownScope, unknownClient, missingOption, mistypedOption, unknownCommand, unknownOption] = await Promise.all([
        cli('clients', 'create', '--name', 'x', '--type', 'confidential', '--grant-types', 'client_credentials', '--scopes', 'nope:never', '--json'),
        cli('clients', 'show', 'no-such-client'),
        cli('clients', 'create', '--type', 'confidential', '--grant-types', 'client_credentials', '--scopes', 'orders:read'),
        // `--scope` is login's: clients create refuses it rather than create a client without scopes.
        cli('clients', 'create', '--name', 'typo', '--type', 'public', '--grant-types', 'authorization_code', '--scope', 'orders:read'),
        dbFree ? cli('frobnicate') : undefined,
        dbFree ? cli('clients', 'list', '--frobnicate') : undefined,
      ]);

      assert.equal(unknownScope.code, 1, describeRun(unknownScope));
      assert.match(unknownScope.stderr, /scope "nope:never" is not registered/);
      assert.equal(stdoutJson(unknownScope).error, 'invalid', 'with --json the error is one JSON object too');
      assert.equal(unknownClient.code, 1, describeRun(unknownClient));
      assert.match(unknownClient.stderr, /no client no-such-client/);
      assert.equal(unknownClient.stdout, '');

      const usageErrors: [CliResult | undefined, RegExp][] = [
        [missingOption, /^error: --name is required \(see latchkey clients create --help\)\n$/],
        [mistypedOption, /^error: clients create does not take --scope \(did you mean --scopes\?\)\n$/],
        [unknownCommand, /^error: unknown command "frobnicate" \(see latchkey --help\)\n$/],
        [unknownOption, /^error: clients list does not take --frobnicate/],
      ];
      for (const [r, message] of usageErrors) {
        if (!r) continue;
        assert.equal(r.code, 2, describeRun(r));
        assert.match(r.stderr, message);
        assert.equal(r.stderr.split('\n').length, 2, `one line, without the whole usage: ${describeRun(r)}`);
        assert.equal(r.stdout, '');
      }

      // Nothing was registered by the failed commands.
      assert.deepEqual((await s.registry.listClients()).map((c) => c.name), ['svc-a']);
    });

    test('clients rotate-secret while the server runs: the old secret stops working, the new one works', async () => {
      assert.equal((await token(clientId, clientSecret)).status, 200);
      const r = await cli('clients', 'rotate-secret', clientId, '--json');
      assertOk(r);
      const out = stdoutJson(r);
      assert.equal(out.client_id, clientId);
      assert.equal(typeof out.client_secret, 'string');
      assert.notEqual(out.client_secret, clientSecret);

      const old = await token(clientId, clientSecret);
      assert.equal(old.status, 401, old.text);
      assert.equal(old.body.error, 'invalid_client');
      const fresh = await token(clientId, out.client_secret);
      assert.equal(fresh.status, 200, fresh.text);
      assert.notEqual((await s.registry.getClient(clientId)).secretRotatedAt, null);
      clientSecret = out.client_secret;
      assert.ok(!s.logs().includes(clientSecret), 'the server never logs the secret');
    });

    test('clients create --refresh-grace-seconds and clients update set a client\'s own refresh grace window', async () => {
      const created = await cli(
        'clients', 'create', '--name', 'spa', '--type', 'public', '--grant-types', 'authorization_code,refresh_token',
        '--scopes', 'orders:read', '--redirect-uris', 'https://spa.example/cb', '--refresh-grace-seconds', '10', '--json',
      );
      assertOk(created);
      const id = stdoutJson(created).client_id as string;
      assert.equal(stdoutJson(created).client.refresh_grace_seconds, 10);
      assert.equal((await s.registry.getClient(id)).refreshGraceSeconds, 10);
      const reset = await cli('clients', 'update', id, '--refresh-grace-seconds', 'default');
      assertOk(reset);
      assert.match(reset.stdout, /refresh grace: default \(none for public clients\)/);
      assert.equal((await s.registry.getClient(id)).refreshGraceSeconds, null);
      const tooLong = await cli('clients', 'update', id, '--refresh-grace-seconds', '61');
      assert.equal(tooLong.code, 1, describeRun(tooLong));
      assert.match(tooLong.stderr, /between 0 and 60 seconds/);
      assertOk(await cli('clients', 'delete', id));
    });

    test('clients create --dpop-bound requires DPoP of the client (RFC 9449 §5.2), shown by clients show', async () => {
      const created = await cli(
        'clients', 'create', '--name', 'dpop-svc', '--type', 'confidential', '--grant-types', 'client_credentials',
        '--scopes', 'orders:read', '--dpop-bound', '--json',
      );
      assertOk(created);
      const id = stdoutJson(created).client_id as string;
      assert.equal(stdoutJson(created).client.dpop_bound_access_tokens, true);
      assert.equal((await s.registry.getClient(id)).dpopBoundAccessTokens, true);
      const shown = await cli('clients', 'show', id);
      assert.match(shown.stdout, /DPoP: +required/);
      assertOk(await cli('clients', 'delete', id));
    });

    test('clients create --require-second-factor and clients update --no-require-second-factor, shown by clients show', async () => {
      const created = await cli(
        'clients', 'create', '--name', 'payroll', '--type', 'public', '--grant-types', 'authorization_code',
        '--scopes', 'openid', '--redirect-uris', 'https://payroll.example/cb', '--require-second-factor', '--json',
      );
      assertOk(created);
      const id = stdoutJson(created).client_id as string;
      assert.equal(stdoutJson(created).client.require_second_factor, true);
      assert.equal((await s.registry.getClient(id)).requireSecondFactor, true);
      assert.match((await cli('clients', 'show', id)).stdout, /sign-in: +two factors required/);
      assertOk(await cli('clients', 'update', id, '--no-require-second-factor'));
      assert.equal((await s.registry.getClient(id)).requireSecondFactor, false);
      const both = await cli('clients', 'update', id, '--require-second-factor', '--no-require-second-factor');
      assert.equal(both.code, 2, describeRun(both));
      assertOk(await cli('clients', 'delete', id));
    });

    test('clients create --require-par and clients update --no-require-par / --require-par (RFC 9126 §6), shown by clients show', async () => {
      const created = await cli(
        'clients', 'create', '--name', 'par-app', '--type', 'public', '--grant-types', 'authorization_code',
        '--scopes', 'openid,orders:read', '--redirect-uris', 'https://par.example/cb', '--require-par', '--json',
      );
      assertOk(created);
      const id = stdoutJson(created).client_id as string;
      assert.equal(stdoutJson(created).client.require_pushed_authorization_requests, true);
      assert.equal((await s.registry.getClient(id)).requirePushedAuthorizationRequests, true);
      assert.match((await cli('clients', 'show', id)).stdout, /PAR: +required/);
      const off = await cli('clients', 'update', id, '--no-require-par', '--json');
      assertOk(off);
      assert.equal(stdoutJson(off).require_pushed_authorization_requests, false);
      assert.equal((await s.registry.getClient(id)).requirePushedAuthorizationRequests, false);
      assertOk(await cli('clients', 'update', id, '--require-par'));
      assert.equal((await s.registry.getClient(id)).requirePushedAuthorizationRequests, true);
      const both = await cli('clients', 'update', id, '--require-par', '--no-require-par');
      assert.equal(both.code, 2, describeRun(both));
      assertOk(await cli('clients', 'delete', id));
    });

    test('keys rotate publishes the next key ahead of signing; --now switches at once, old tokens still verify', async () => {
      const before = await token(clientId, clientSecret);
      assert.equal(before.status, 200, before.text);
      const oldKid = decodeProtectedHeader(before.body.access_token).kid;
      const kidsBefore = (await jwks()).keys.map((k) => k.kid);
      assert.equal(kidsBefore.length, 2, 'one ES256 and one RS256 key before the rotation');

      // By default the new key is only published: it signs after LATCHKEY_KEY_PREPUBLISH_SECONDS.
      const ahead = await cli('keys', 'rotate', '--alg', 'ES256', '--json');
      assertOk(ahead);
      const aheadKid = (stdoutJson(ahead).rotated as { kid: string }[])[0]!.kid;
      assert.ok((await jwks()).keys.some((k) => k.kid === aheadKid), 'published at once');
      const stillOld = await token(clientId, clientSecret);
      assert.equal(decodeProtectedHeader(stillOld.body.access_token).kid, oldKid, 'the current key still signs');
      const pending = stdoutJson(await cli('keys', 'list', '--json')).keys as { kid: string; status: string }[];
      assert.equal(pending.find((k) => k.kid === aheadKid)!.status, 'next');

      const rotation = await cli('keys', 'rotate', '--now', '--json');
      assertOk(rotation);
      const rotated = stdoutJson(rotation).rotated as { alg: string; kid: string; retired: string[] }[];
      assert.deepEqual(rotated.map((x) => x.alg).sort(), ['ES256', 'RS256']);
      const es256 = rotated.find((x) => x.alg === 'ES256')!;
      assert.deepEqual(es256.retired, [aheadKid], 'the pending key is superseded before it ever signed');
      assert.ok(!kidsBefore.includes(es256.kid));

      // The server (key cache 0 s) signs with the new key at once.
      const afterRes = await token(clientId, clientSecret);
      assert.equal(afterRes.status, 200, afterRes.text);
      assert.equal(decodeProtectedHeader(afterRes.body.access_token).kid, es256.kid);

      // /jwks publishes old and new keys; both tokens verify against it.
      const set = await jwks();
      assert.deepEqual(set.keys.map((k) => k.kid).sort(), [...kidsBefore, aheadKid, ...rotated.map((x) => x.kid)].sort());
      const keySet = createLocalJWKSet(set);
      for (const t of [before.body.access_token, afterRes.body.access_token]) {
        const { payload } = await jwtVerify(t, keySet, { issuer: s.issuer, audience: API, typ: 'at+jwt' });
        assert.equal(payload.client_id, clientId);
      }
      // And the server itself still accepts the token signed before the rotation.
      const introspection = await postForm(
        `${s.url}/introspect`,
        { token: before.body.access_token },
        { basic: [clientId, clientSecret] },
      );
      assert.equal(introspection.body.active, true, introspection.text);

      const listed = await cli('keys', 'list', '--json');
      assertOk(listed);
      const keys = stdoutJson(listed).keys as { kid: string; alg: string; status: string; unpublish_at: string | null }[];
      assert.equal(keys.length, 5);
      const oldKey = keys.find((k) => k.kid === oldKid)!;
      assert.equal(oldKey.status, 'published');
      assert.ok(oldKey.unpublish_at && Date.parse(oldKey.unpublish_at) > Date.now() + 600_000, 'kept past the token lifetime');
      assert.equal(keys.find((k) => k.kid === es256.kid)!.status, 'signing');
      assert.deepEqual(keys.filter((k) => k.status === 'signing').map((k) => k.alg).sort(), ['ES256', 'RS256']);

      // keys revoke: the old key, still published for its tokens, leaves the JWKS at once.
      // A kid may begin with '-' (RFC 7638 thumbprints are base64url): it is still the positional, not
      // an option (exit 1 for an unknown key, not 2 for a usage mistake).
      const dashed = await cli('keys', 'revoke', `-${'U'.repeat(42)}`);
      assert.equal(dashed.code, 1, describeRun(dashed));
      assert.match(dashed.stderr, /-UUUU/);
      // The same for the shorter ids of resources and registration tokens, with one dash or two.
      for (const id of ['-2xQ_a9bZk1Lm', '--Zq8_w1Ab', '-abcdefgh']) {
        const run = await cli('registration', 'tokens', 'revoke', id);
        assert.equal(run.code, 1, `${id}: ${describeRun(run)}`);
        assert.ok(run.stderr.includes(id), run.stderr);
      }
      const revoked = await cli('keys', 'revoke', oldKid!, '--json');
      assertOk(revoked);
      assert.deepEqual(stdoutJson(revoked), { revoked: oldKid, alg: 'ES256', signs_now: null });
      assert.ok(!(await jwks()).keys.some((k) => k.kid === oldKid), 'gone from the JWKS');
      const dead = await postForm(`${s.url}/introspect`, { token: before.body.access_token }, { basic: [clientId, clientSecret] });
      assert.equal(dead.text, '{"active":false}', 'its tokens no longer validate');
    });

    test('clients delete and resources delete', async () => {
      const [deleteClient, deleteResource] = await Promise.all([
        cli('clients', 'delete', clientId),
        cli('resources', 'delete', BILLING, '--json'),
      ]);
      assertOk(deleteClient);
      assert.match(deleteClient.stdout, new RegExp(`deleted client ${clientId}`));
      assertOk(deleteResource);
      assert.deepEqual(stdoutJson(deleteResource), { deleted: BILLING });

      const res = await token(clientId, clientSecret);
      assert.equal(res.status, 401, res.text);
      assert.equal(res.body.error, 'invalid_client');
      assert.match(res.headers.get('www-authenticate') ?? '', /^Basic/);
      assert.deepEqual(await s.registry.listClients(), []);
      // What is left: the API and the admin API's built-in resource (docs/admin-api.md).
      assert.deepEqual((await s.registry.listResources()).map((r) => r.identifier).sort(), [API, 'urn:latchkey:admin'].sort());

      const showDeleted = await cli('clients', 'show', clientId, '--json');
      assert.equal(showDeleted.code, 1, describeRun(showDeleted));
      assert.equal(stdoutJson(showDeleted).error, 'not_found');
    });

    test('migrate exits 0; --config FILE selects the database', async () => {
      const fresh = await backend.create();
      extraDbs.push(fresh);
      // Run from an empty directory so that ignoring the config would show up as a ./data directory.
      const cwd = mkdtempSync(join(tmpdir(), 'latchkey-cli-config-'));
      scratchDirs.push(cwd);
      const freshConfig = join(cwd, 'fresh.json');
      const mainConfig = join(cwd, 'main.json');
      writeFileSync(freshConfig, JSON.stringify({ dataDir: fresh.dataDir, databaseUrl: fresh.databaseUrl }));
      writeFileSync(mainConfig, JSON.stringify({ dataDir: db.dataDir, databaseUrl: db.databaseUrl }));
      const configEnv = { LATCHKEY_SECRET: TEST_SECRET };

      const [migrateFresh, listViaConfig, migrateMain] = await Promise.all([
        runLatchkey(['--config', freshConfig, 'migrate', '--json'], configEnv, { cwd }),
        runLatchkey(['resources', 'list', '--json', '--config', mainConfig], configEnv, { cwd }),
        cli('migrate'),
      ]);

      assertOk(migrateFresh);
      const migrated = stdoutJson(migrateFresh);
      assert.deepEqual(migrated.applied, [...MIGRATION_NAMES]);
      if (backend.name === 'sqlite') {
        assert.equal(migrated.database, sqliteFile(fresh.dataDir));
        assert.ok(existsSync(sqliteFile(fresh.dataDir)));
      } else {
        assert.equal(migrated.database, `postgres://${new URL(fresh.databaseUrl!).host}${new URL(fresh.databaseUrl!).pathname}`);
      }

      assertOk(listViaConfig);
      assert.deepEqual(stdoutJson(listViaConfig).resources.map((r: any) => r.identifier).filter((r: string) => r !== 'urn:latchkey:admin'), [API]);

      assertOk(migrateMain);
      assert.match(migrateMain.stdout, /is up to date/);

      assert.ok(!existsSync(join(cwd, 'data')), 'nothing fell back to the default ./data');
    });
  });
}
