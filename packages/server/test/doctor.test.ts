import assert from 'node:assert/strict';
import { createServer as createHttpServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { generateKeyPair, exportJWK } from 'jose';
import { after, before, describe, test } from 'node:test';
import type { ServerContext } from '../src/context.ts';
import { runDoctor, type DoctorReport } from '../src/doctor/doctor.ts';
import type { Finding } from '../src/doctor/finding.ts';
import { UserRegistry } from '../src/users/user-registry.ts';
import { parseCommandLine } from '../src/cli/parse.ts';
import { backends, dbEnv, killLatchkeyProcesses, runLatchkey, startServer, type CliResult, type RunningServer, type TestDatabase } from '@latchkey/testing';

const API = 'https://api.example.com';
const DAY = 86400;

function findings(report: DoctorReport, id: string, subject?: string | null): Finding[] {
  return report.findings.filter((f) => f.id === id && (subject === undefined || f.subject === subject));
}

/** The one finding `id` (about `subject`), with its severity, RFC section and fix checked. */
function expectFinding(report: DoctorReport, expected: { id: string; severity: string; rfc: string; fix: string | RegExp; subject?: string | null }): Finding {
  const found = findings(report, expected.id, expected.subject);
  assert.equal(found.length, 1, `${expected.id}${expected.subject ? ` [${expected.subject}]` : ''} once, in:\n${report.findings.map((f) => `${f.id} [${f.subject}]`).join('\n')}`);
  const f = found[0]!;
  assert.equal(f.severity, expected.severity, f.id);
  assert.equal(f.rfc, expected.rfc, f.id);
  if (typeof expected.fix === 'string') assert.equal(f.fix, expected.fix, f.id);
  else assert.match(f.fix, expected.fix, f.id);
  return f;
}

/** The words of a command line as a POSIX shell splits them (plain words and single quotes only). */
function shellWords(line: string): string[] {
  return [...line.matchAll(/'((?:[^']|'\\'')*)'|(\S+)/g)].map((m) => (m[1] !== undefined ? m[1].replace(/'\\''/g, "'") : m[2]!));
}

/** Each `latchkey ...` command of a fix, split at `;` and `:`, is one the CLI's parser accepts. */
function assertCommandsParse(fix: string): void {
  const commands = fix.split(/; [^;]*?: |; /).filter((part) => part.startsWith('latchkey '));
  assert.ok(commands.length > 0, fix);
  for (const command of commands) {
    const line = parseCommandLine(shellWords(command).slice(1));
    assert.equal(line.kind, 'run', command);
  }
}

function describeRun(r: CliResult): string {
  return `exit ${r.code ?? r.signal}\n--- stdout\n${r.stdout}\n--- stderr\n${r.stderr}`;
}

/** A context whose settings differ from the running server's: the same database and keys. */
function withSettings(ctx: ServerContext, changes: Partial<ServerContext['settings']>): ServerContext {
  return { ...ctx, settings: { ...ctx.settings, ...changes } };
}

/** A server that answers its metadata with `document`, for the checks of --issuer. */
async function metadataServer(document: (issuer: string) => unknown): Promise<{ url: string; close(): Promise<void> }> {
  let issuer = '';
  const server: Server = createHttpServer((request, response) => {
    if (request.url !== '/.well-known/oauth-authorization-server') {
      response.writeHead(404).end();
      return;
    }
    response.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(document(issuer)));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  issuer = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return { url: issuer, close: () => new Promise<void>((resolve) => server.close(() => resolve())) };
}

for (const backend of await backends()) {
  describe(`latchkey doctor (${backend.name})`, { skip: backend.skip }, () => {
    let badDb: TestDatabase;
    let goodDb: TestDatabase;
    let bad: RunningServer;
    let good: RunningServer;

    before(async () => {
      badDb = await backend.create();
      goodDb = await backend.create();
      // A deliberately misconfigured deployment.
      bad = await startServer(badDb, {
        issuer: 'http://auth.example.test',
        allowInsecureIssuer: true,
        accessTokenTtlSeconds: 7200,
        registration: 'open',
        trustedProxies: '0.0.0.0/1,128.0.0.0/1',
        signup: 'open',
        smtpUrl: 'smtp://127.0.0.1:2525',
      });
      await bad.registry.createResource({ identifier: API, scopes: ['orders:read', 'orders:write'] });
      await bad.registry.createResource({ identifier: 'https://reports.example.com', scopes: ['reports:read'], accessTokenTtlSeconds: 1800 });
      await bad.registry.createClient({
        clientId: 'web-shop',
        name: 'Web Shop',
        type: 'confidential',
        grantTypes: ['authorization_code', 'refresh_token'],
        scopes: ['openid', 'orders:read'],
        redirectUris: ['https://shop.example.com/callback', 'http://127.0.0.1:8080/callback'],
      });
      await bad.registry.createClient({
        clientId: 'spa',
        name: 'SPA',
        type: 'public',
        grantTypes: ['authorization_code', 'refresh_token'],
        scopes: ['openid', 'offline_access', 'orders:read', 'orders:write'],
        redirectUris: ['https://spa.example.com/callback'],
        refreshGraceSeconds: 10,
      });
      // Users consented to part of the SPA's scopes only.
      const alice = await new UserRegistry(bad.server.context.storage).create({ username: 'alice', password: 'correct horse battery' });
      await bad.server.context.storage.consents.remember(alice.id, 'spa', ['openid', 'offline_access', 'orders:read'], bad.server.context.now());
      // web-shop's secret was set 400 days ago.
      await bad.server.context.storage.db.kysely
        .updateTable('clients')
        .set({ created_at: bad.server.context.now() - 400 * DAY })
        .where('client_id', '=', 'web-shop')
        .execute();
      // Keys made 200 days ago, never rotated.
      await bad.server.context.storage.db.kysely
        .updateTable('signing_keys')
        .set({ created_at: bad.server.context.now() - 200 * DAY, activates_at: bad.server.context.now() - 200 * DAY })
        .execute();

      // A well-configured one: its defaults, a private_key_jwt web client and a public client with PKCE and rotation.
      good = await startServer(goodDb);
      await good.registry.createResource({ identifier: API, scopes: ['orders:read'] });
      const { publicKey } = await generateKeyPair('ES256');
      await good.registry.createClient({
        clientId: 'web-shop',
        name: 'Web Shop',
        type: 'confidential',
        tokenEndpointAuthMethod: 'private_key_jwt',
        jwks: { keys: [{ ...(await exportJWK(publicKey)), kid: 'k1', alg: 'ES256', use: 'sig' }] },
        grantTypes: ['authorization_code', 'refresh_token'],
        scopes: ['openid', 'orders:read'],
        redirectUris: ['https://shop.example.com/callback'],
      });
      await good.registry.createClient({
        clientId: 'cli-app',
        name: 'CLI',
        type: 'public',
        grantTypes: ['authorization_code', 'refresh_token'],
        scopes: ['openid', 'offline_access', 'orders:read'],
        redirectUris: ['http://127.0.0.1/callback'],
      });
    });
    after(async () => {
      killLatchkeyProcesses();
      await bad?.close();
      await good?.close();
      await badDb?.drop();
      await goodDb?.drop();
    });

    test('the misconfigured deployment: each mistake is a finding with its severity, RFC section and fix', async () => {
      const report = await runDoctor(bad.server.context);
      expectFinding(report, {
        id: 'issuer.http',
        severity: 'high',
        rfc: 'RFC 8414 §2; RFC 9700 §2.6',
        fix: 'LATCHKEY_ISSUER=https://auth.example.test and remove LATCHKEY_ALLOW_INSECURE_ISSUER',
      });
      expectFinding(report, { id: 'token.access-ttl', subject: null, severity: 'medium', rfc: 'RFC 6819 §5.1.5.3; RFC 9700 §4.10', fix: 'LATCHKEY_ACCESS_TOKEN_TTL_SECONDS=600' });
      expectFinding(report, { id: 'token.access-ttl', subject: 'https://reports.example.com', severity: 'low', rfc: 'RFC 6819 §5.1.5.3; RFC 9700 §4.10', fix: /--access-token-ttl 600/ });
      expectFinding(report, { id: 'registration.open', severity: 'medium', rfc: 'RFC 7591 §3; RFC 7591 §5', fix: /^LATCHKEY_REGISTRATION=initial-access-token, .*latchkey registration tokens create/ });
      expectFinding(report, { id: 'signup.open-any-domain', severity: 'low', rfc: 'RFC 6819 §4.4.1.4; NIST SP 800-63A §4', fix: /^LATCHKEY_SIGNUP_EMAIL_DOMAINS=/ });
      const proxy = expectFinding(report, { id: 'proxy.trust-everyone', severity: 'high', rfc: 'RFC 9700 §4.13', fix: /^LATCHKEY_TRUSTED_PROXIES=/ });
      assert.match(proxy.detail, /0\.0\.0\.0\/1, 128\.0\.0\.0\/1/);
      for (const alg of ['ES256', 'RS256']) {
        const kid = (await bad.server.context.storage.signingKeys.listAll()).find((k) => k.alg === alg)!.kid;
        expectFinding(report, { id: 'keys.rotation-due', subject: kid, severity: 'medium', rfc: 'OpenID Connect Core 1.0 §10.1.1; NIST SP 800-57 Part 1 §5.3', fix: `latchkey keys rotate --alg ${alg}` });
      }
      expectFinding(report, { id: 'client.shared-secret', subject: 'web-shop', severity: 'low', rfc: 'RFC 9700 §2.5; RFC 7523 §2.2', fix: /^latchkey clients create --name 'Web Shop' --type confidential .*--auth-method private_key_jwt --jwks-uri .*; once the application uses the new client_id: latchkey clients delete web-shop$/ });
      expectFinding(report, { id: 'client.secret-age', subject: 'web-shop', severity: 'low', rfc: 'RFC 6819 §5.2.3.6', fix: 'latchkey clients rotate-secret web-shop' });
      const loopback = expectFinding(report, {
        id: 'client.loopback-redirect',
        subject: 'web-shop',
        severity: 'medium',
        rfc: 'RFC 9700 §2.6; RFC 8252 §8.3',
        fix: /--redirect-uris https:\/\/shop\.example\.com\/callback;/,
      });
      assert.doesNotMatch(loopback.fix, /127\.0\.0\.1/);
      for (const f of report.findings) if (f.fix.startsWith('latchkey ')) assertCommandsParse(f.fix);
      expectFinding(report, { id: 'client.public-refresh-grace', subject: 'spa', severity: 'medium', rfc: 'RFC 9700 §4.14.2; RFC 9700 §2.2.2', fix: 'latchkey clients update spa --refresh-grace-seconds default' });
      const never = expectFinding(report, { id: 'client.scopes-never-granted', subject: 'spa', severity: 'low', rfc: 'RFC 9700 §2.3', fix: /--scopes openid,offline_access,orders:read / });
      assert.match(never.detail, /orders:write/);
      // PostgreSQL here is reached without sslmode, on this machine: low (high for another host).
      if (backend.name === 'postgres') {
        expectFinding(report, { id: 'database.no-tls', severity: 'low', rfc: 'RFC 6819 §5.1.4.1.1', fix: 'DATABASE_URL=...?sslmode=verify-full (and ssl on in postgresql.conf)' });
      } else {
        assert.equal(findings(report, 'database.no-tls').length, 0);
      }
      // Sorted, most severe first.
      const ranks = report.findings.map((f) => ['info', 'low', 'medium', 'high'].indexOf(f.severity));
      assert.deepEqual(ranks, [...ranks].sort((a, b) => b - a));
      assert.equal(report.counts.high, report.findings.filter((f) => f.severity === 'high').length);
    });

    test('settings the test server cannot start with: a generated secret, a remote PostgreSQL without TLS, a short secret, key rotation off', async () => {
      const ctx = good.server.context;
      const generated = await runDoctor(withSettings(ctx, { secret: undefined }));
      expectFinding(generated, { id: 'secret.generated', severity: 'medium', rfc: 'RFC 6819 §5.1.4.1.4', fix: /^LATCHKEY_SECRET="\$\(cat .*\/secret\)"/ });
      const remote = await runDoctor(withSettings(ctx, { databaseUrl: 'postgres://latchkey:pw@db.internal:5432/latchkey?sslmode=prefer' }));
      const db = expectFinding(remote, { id: 'database.no-tls', severity: 'high', rfc: 'RFC 6819 §5.1.4.1.1', fix: 'DATABASE_URL=...?sslmode=verify-full (and ssl on in postgresql.conf)' });
      assert.doesNotMatch(JSON.stringify(remote), /pw@/, 'the database password is never shown');
      assert.equal(db.subject, 'db.internal:5432');
      const verified = await runDoctor(withSettings(ctx, { databaseUrl: 'postgres://latchkey@db.internal/latchkey?sslmode=verify-full' }));
      assert.equal(findings(verified, 'database.no-tls').length + findings(verified, 'database.tls-unverified').length, 0);
      expectFinding(await runDoctor(withSettings(ctx, { secret: 'short' })), { id: 'secret.short', severity: 'high', rfc: 'RFC 6819 §5.1.4.1.4', fix: /openssl rand -base64 32/ });
      expectFinding(await runDoctor(withSettings(ctx, { keyRotationDays: 0 })), { id: 'keys.rotation-off', severity: 'low', rfc: 'OpenID Connect Core 1.0 §10.1.1; NIST SP 800-57 Part 1 §5.3', fix: 'LATCHKEY_KEY_ROTATION_DAYS=90' });
      expectFinding(await runDoctor(withSettings(ctx, { trustedProxies: '0.0.0.0/0' })), { id: 'proxy.trust-everyone', severity: 'high', rfc: 'RFC 9700 §4.13', fix: /^LATCHKEY_TRUSTED_PROXIES=/ });
      expectFinding(await runDoctor(withSettings(ctx, { registration: 'open', registrationAllowClientCredentials: true })), {
        id: 'registration.open-client-credentials',
        severity: 'high',
        rfc: 'RFC 9700 §4.15; RFC 7591 §5',
        fix: 'LATCHKEY_REGISTRATION_ALLOW_CLIENT_CREDENTIALS=false (register service clients with latchkey clients create)',
      });
      expectFinding(await runDoctor(withSettings(ctx, { allowLoopbackJwksUri: true })), { id: 'outbound.loopback-allowed', severity: 'medium', rfc: 'RFC 7591 §5', fix: 'remove LATCHKEY_ALLOW_LOOPBACK_JWKS_URI' });
      expectFinding(await runDoctor(withSettings(ctx, { smtpUrl: 'smtp://mail.example.com:587' })), { id: 'mail.no-tls', severity: 'medium', rfc: 'RFC 8314 §3', fix: 'LATCHKEY_SMTP_REQUIRE_TLS=true (or an smtps:// URL)' });
      assert.equal(findings(await runDoctor(withSettings(ctx, { smtpUrl: 'smtp://mail.example.com:587', smtpRequireTls: true })), 'mail.no-tls').length, 0);
      expectFinding(await runDoctor(withSettings(ctx, { trustProxy: true })), { id: 'proxy.trust-all-hops', severity: 'medium', rfc: 'RFC 9700 §4.13', fix: /^LATCHKEY_TRUSTED_PROXIES=/ });
    });

    test('the well-configured deployment has no high or medium finding; the four questions are answered per client', async () => {
      const report = await runDoctor(good.server.context);
      assert.deepEqual(
        report.findings.filter((f) => f.severity === 'high' || f.severity === 'medium'),
        [],
      );
      assert.equal(findings(report, 'client.shared-secret').length, 0);
      // A public client's loopback redirect is a native app's: no finding.
      assert.equal(findings(report, 'client.loopback-redirect').length, 0);
      const cli = report.clients.find((c) => c.client_id === 'cli-app')!;
      assert.deepEqual(cli.grant_types, ['authorization_code', 'refresh_token']);
      assert.deepEqual(cli.scopes, ['openid', 'offline_access', 'orders:read']);
      assert.equal(cli.refresh_tokens!.grace_seconds, 0);
      assert.match(cli.refresh_tokens!.where, /in the database/);
      assert.match(cli.refresh_tokens!.reuse, /revokes the whole family/);
      assert.ok(cli.revocation.some((r) => r.includes(`${good.issuer}/revoke`)));
      assert.ok(cli.revocation.some((r) => r === 'an operator, every grant of the client: latchkey clients delete cli-app'));
    });

    test('--issuer: the running server is read through the guarded fetcher; loopback only with --allow-loopback', async () => {
      const live = await runDoctor(good.server.context, { discovery: { issuer: good.issuer, allowLoopback: true } });
      assert.deepEqual(live.findings.filter((f) => f.id.startsWith('discovery.')), []);
      const refused = await runDoctor(good.server.context, { discovery: { issuer: good.issuer, allowLoopback: false } });
      expectFinding(refused, { id: 'discovery.unreachable', severity: 'high', rfc: 'RFC 8414 §3', fix: /--allow-loopback/ });
      // The misconfigured issuer is http on another host: refused without a request.
      const http = await runDoctor(bad.server.context, { discovery: { issuer: bad.issuer, allowLoopback: true } });
      expectFinding(http, { id: 'discovery.http', severity: 'high', rfc: 'RFC 8414 §2; RFC 9700 §2.6', fix: 'LATCHKEY_ISSUER=https://auth.example.test behind TLS, and remove LATCHKEY_ALLOW_INSECURE_ISSUER' });
    });

    test('--issuer: a server advertising implicit, password, plain PKCE and no iss parameter', async () => {
      const other = await metadataServer((issuer) => ({
        issuer,
        grant_types_supported: ['authorization_code', 'implicit', 'password'],
        response_types_supported: ['code', 'token'],
        code_challenge_methods_supported: ['plain', 'S256'],
      }));
      try {
        const report = await runDoctor(good.server.context, { discovery: { issuer: other.url, allowLoopback: true } });
        expectFinding(report, { id: 'discovery.implicit', severity: 'high', rfc: 'RFC 9700 §2.1.2', fix: /response_types_supported \["code"\]/ });
        expectFinding(report, { id: 'discovery.password', severity: 'high', rfc: 'RFC 9700 §2.4', fix: /no password grant/ });
        expectFinding(report, { id: 'discovery.pkce', severity: 'medium', rfc: 'RFC 9700 §2.1.1; RFC 8414 §2', fix: /\["S256"\]/ });
        expectFinding(report, { id: 'discovery.no-iss-parameter', severity: 'medium', rfc: 'RFC 9700 §4.4.2; RFC 9207 §3', fix: /authorization_response_iss_parameter_supported|says true/ });
        expectFinding(report, { id: 'discovery.other-settings', severity: 'medium', rfc: 'RFC 8414 §2', fix: /--config FILE/ });
      } finally {
        await other.close();
      }
    });

    test('the command: --json for CI, exit status by --fail-on', async () => {
      const badEnv = {
        ...dbEnv(badDb),
        LATCHKEY_ISSUER: 'http://auth.example.test',
        LATCHKEY_ALLOW_INSECURE_ISSUER: 'true',
        LATCHKEY_TRUSTED_PROXIES: '0.0.0.0/1,128.0.0.0/1',
      };
      const failing = await runLatchkey(['doctor', '--json'], badEnv);
      assert.equal(failing.code, 1, describeRun(failing));
      const json = JSON.parse(failing.stdout);
      assert.deepEqual(Object.keys(json).sort(), ['checked_at', 'clients', 'counts', 'database', 'exit_status', 'fail_on', 'findings', 'issuer'].sort());
      assert.equal(json.fail_on, 'high');
      assert.equal(json.exit_status, 1);
      for (const f of json.findings) assert.deepEqual(Object.keys(f).sort(), ['detail', 'fix', 'id', 'rfc', 'severity', 'subject', 'title'].sort());
      assert.ok(json.findings.some((f: Finding) => f.id === 'issuer.http' && f.severity === 'high'));
      const spa = json.clients.find((c: { client_id: string }) => c.client_id === 'spa');
      assert.deepEqual(Object.keys(spa.refresh_tokens).sort(), ['bound_to', 'family_lifetime_seconds', 'grace_seconds', 'live', 'reuse', 'rotation', 'where'].sort());

      const goodEnv = dbEnv(goodDb);
      const passing = await runLatchkey(['doctor'], goodEnv);
      assert.equal(passing.code, 0, describeRun(passing));
      assert.match(passing.stdout, /nothing at or above high: exit status 0/);
      assert.match(passing.stdout, /^cli-app \(CLI\): public, none, operator; 0 live grant\(s\)$/m);
      // The well-configured deployment still has low findings on PostgreSQL (no sslmode); info only on SQLite.
      const strict = await runLatchkey(['doctor', '--fail-on', 'low'], goodEnv);
      assert.equal(strict.code, backend.name === 'postgres' ? 1 : 0, describeRun(strict));
      const medium = await runLatchkey(['doctor', '--fail-on', 'medium', '--json'], badEnv);
      assert.equal(medium.code, 1, describeRun(medium));
      const wrong = await runLatchkey(['doctor', '--fail-on', 'info'], goodEnv);
      assert.equal(wrong.code, 2, describeRun(wrong));
      assert.match(wrong.stderr, /--fail-on must be one of low, medium, high/);
    });
  });
}
