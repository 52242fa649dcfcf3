import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import {
  authorizeUrl,
  backends,
  completeFlow,
  FormBrowser,
  freePort,
  type Latchkey,
  pkcePair,
  postForm,
  sqlite,
  startLatchkey,
  startServer,
  type RunningServer,
  type TestDatabase,
} from '@latchkey/testing';
import { loadSettings } from '../src/config/load.ts';

const BASE_ENV = { LATCHKEY_ISSUER: 'http://localhost:3000', PORT: '3000', LATCHKEY_SECRET: 'x'.repeat(32) };
const loadEnv = (env: Record<string, string>) => loadSettings({ env: { ...BASE_ENV, ...env } });

/** One sample of the Prometheus text format: its value, or undefined when the series is absent. */
function sample(text: string, series: string): number | undefined {
  for (const line of text.split('\n')) {
    if (line.startsWith(`${series} `)) return Number(line.slice(series.length + 1));
  }
  return undefined;
}

/**
 * Prometheus metrics (README "Metrics and traces"): what the server counts, where /metrics is served
 * (a listener of its own, or the public port behind a bearer token), and that no secret, token or
 * client id ever becomes a label.
 */
for (const backend of await backends()) {
  describe(`metrics on a listener of their own (${backend.name})`, { skip: backend.skip }, () => {
    let lk: Latchkey;
    let metricsUrl: string;
    const secrets: string[] = [];

    before(async () => {
      const metricsPort = await freePort();
      // No grace window: a refresh token presented twice is reuse at once.
      lk = await startLatchkey({ backend, settings: { metricsPort, refreshGraceSeconds: 0 } });
      metricsUrl = `http://127.0.0.1:${metricsPort}/metrics`;
    });
    after(async () => {
      await lk?.close();
    });

    test('counts tokens by grant, errors by code, sign-ins by result and refresh reuse', async () => {
      const running = lk.running;
      // A client_credentials token, and a token request with the wrong secret (invalid_client).
      secrets.push(lk.reader[1], await lk.token());
      const refused = await postForm(`${lk.issuer}/token`, { grant_type: 'client_credentials' }, { basic: [lk.reader[0], 'not-the-secret'] });
      assert.equal(refused.status, 401);

      // A sign-in with the wrong password, then one that succeeds (the code flow of the public client).
      const browser = new FormBrowser();
      let page = await browser.get(authorizeUrl(running, { clientId: lk.seed.publicClient }, pkcePair().challenge));
      while ((page.status === 302 || page.status === 303) && page.location) page = await browser.get(page.location);
      const [form] = browser.forms(page.text, page.url);
      assert.ok(form, 'the login form');
      const wrong = await browser.submit(page, form, { values: { username: 'alice', password: 'not her password' } });
      assert.equal(wrong.status, 400);
      const { tokens } = await completeFlow(new FormBrowser(), running, { clientId: lk.seed.publicClient });
      assert.ok(tokens.refresh_token);
      secrets.push(tokens.access_token, tokens.refresh_token);

      // The refresh token is rotated, then presented again: reuse, and the family is revoked.
      const refresh = () => postForm(`${lk.issuer}/token`, { grant_type: 'refresh_token', refresh_token: tokens.refresh_token!, client_id: lk.seed.publicClient });
      const rotated = await refresh();
      assert.equal(rotated.status, 200, rotated.text);
      secrets.push(rotated.body.refresh_token as string);
      const reused = await refresh();
      assert.equal(reused.status, 400);
      assert.equal(reused.body.error, 'invalid_grant');

      const res = await fetch(metricsUrl);
      assert.equal(res.status, 200);
      assert.match(res.headers.get('content-type') ?? '', /^text\/plain; version=0\.0\.4/);
      const text = await res.text();
      assert.equal(sample(text, 'latchkey_server_tokens_issued_total{grant_type="client_credentials"}'), 1);
      assert.equal(sample(text, 'latchkey_server_tokens_issued_total{grant_type="authorization_code"}'), 1);
      assert.equal(sample(text, 'latchkey_server_tokens_issued_total{grant_type="refresh_token"}'), 1);
      assert.equal(sample(text, 'latchkey_server_errors_total{error="invalid_client"}'), 1);
      assert.equal(sample(text, 'latchkey_server_errors_total{error="invalid_grant"}'), 1);
      assert.equal(sample(text, 'latchkey_server_sign_ins_total{method="password",result="invalid_credentials"}'), 1);
      assert.equal(sample(text, 'latchkey_server_sign_ins_total{method="password",result="success"}'), 1);
      assert.equal(sample(text, 'latchkey_server_refresh_token_reuse_total'), 1);
      // Requests by route pattern and status; the authorize request's query is not in its label.
      assert.equal(sample(text, 'latchkey_server_requests_total{route="/token",method="POST",status="401"}'), 1);
      assert.equal(sample(text, 'latchkey_server_requests_total{route="/token",method="POST",status="200"}'), 3);
      assert.ok((sample(text, 'latchkey_server_requests_total{route="/authorize",method="GET",status="303"}') ?? 0) >= 1, text);
      assert.ok((sample(text, 'latchkey_server_request_duration_seconds_count{route="/token",method="POST"}') ?? 0) >= 5);
      // Database latency by operation, from this server's own statements.
      assert.ok((sample(text, 'latchkey_server_db_query_duration_seconds_count{operation="select"}') ?? 0) > 0, 'selects observed');
      assert.ok((sample(text, 'latchkey_server_db_query_duration_seconds_count{operation="insert"}') ?? 0) > 0, 'inserts observed');
      // The age of the key that signs now, computed at the scrape.
      const age = sample(text, 'latchkey_server_signing_key_age_seconds{alg="ES256"}');
      assert.ok(age !== undefined && age >= 0 && age < 3600, `key age ${age}`);
      assert.ok(sample(text, 'latchkey_server_process_cpu_user_seconds_total') !== undefined, 'process metrics');

      // Never a secret, a token, a client id or a user in the output.
      for (const secret of [...secrets, lk.reader[0], lk.seed.publicClient, 'alice', 'not-the-secret', 'not her password']) {
        assert.ok(!text.includes(secret), `the metrics contain ${secret.slice(0, 12)}...`);
      }
    });

    test('the metrics listener serves /metrics only, and the public port does not serve it', async () => {
      assert.equal((await fetch(`${lk.issuer}/metrics`)).status, 404);
      const other = await fetch(new URL('/token', metricsUrl));
      assert.equal(other.status, 404);
      assert.equal(((await other.json()) as { error: string }).error, 'not_found');
    });

    test('two servers in one process keep their own counts', async () => {
      const db: TestDatabase = await backend.create();
      const metricsPort = await freePort();
      const second: RunningServer = await startServer(db, { metricsPort });
      try {
        const text = await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text();
        assert.equal(sample(text, 'latchkey_server_tokens_issued_total{grant_type="client_credentials"}'), undefined);
        assert.equal(sample(text, 'latchkey_server_refresh_token_reuse_total'), 0);
      } finally {
        await second.close();
        await db.drop();
      }
      // The first server's listener is still there, with its counts.
      const text = await (await fetch(metricsUrl)).text();
      assert.equal(sample(text, 'latchkey_server_refresh_token_reuse_total'), 1);
    });
  });
}

describe('metrics on the public port behind a token', () => {
  const token = 'm'.repeat(20) + '0123456789abcdef';
  let lk: Latchkey;

  before(async () => {
    lk = await startLatchkey({ settings: { metricsToken: token } });
  });
  after(async () => {
    await lk?.close();
  });

  test('401 with a Bearer challenge without the token or with another; 200 with it', async () => {
    const url = `${lk.issuer}/metrics`;
    const none = await fetch(url);
    assert.equal(none.status, 401);
    assert.equal(none.headers.get('www-authenticate'), 'Bearer realm="latchkey-metrics"');
    assert.equal(((await none.json()) as { error: string }).error, 'invalid_token');
    for (const authorization of [`Bearer ${token}x`, `Bearer ${token.slice(1)}`, `Basic ${token}`, 'Bearer']) {
      assert.equal((await fetch(url, { headers: { authorization } })).status, 401, authorization);
    }
    await lk.token();
    const ok = await fetch(url, { headers: { authorization: `Bearer ${token}` } });
    assert.equal(ok.status, 200);
    assert.equal(ok.headers.get('cache-control'), 'no-store');
    const text = await ok.text();
    assert.equal(sample(text, 'latchkey_server_tokens_issued_total{grant_type="client_credentials"}'), 1);
    assert.ok(!text.includes(token), 'the token is not in the output');
  });

  test('with a metrics port too, the metrics listener asks for the token, and the public port serves nothing', async () => {
    const db = await sqlite.create();
    const metricsPort = await freePort();
    const running = await startServer(db, { metricsPort, metricsToken: token });
    try {
      const url = `http://127.0.0.1:${metricsPort}/metrics`;
      assert.equal((await fetch(url)).status, 401);
      assert.equal((await fetch(url, { headers: { authorization: `Bearer ${token}` } })).status, 200);
      assert.equal((await fetch(`${running.url}/metrics`, { headers: { authorization: `Bearer ${token}` } })).status, 404);
    } finally {
      await running.close();
      await db.drop();
    }
  });
});

describe('metrics settings', () => {
  test('off by default; a port beside PORT, a token too short, a bad OTLP URL are refused at start', () => {
    const settings = loadEnv({});
    assert.equal(settings.metricsPort, 0);
    assert.equal(settings.metricsToken, undefined);
    assert.equal(settings.otlpEndpoint, undefined);
    assert.equal(loadEnv({ LATCHKEY_METRICS_PORT: '9464' }).metricsPort, 9464);
    assert.throws(() => loadEnv({ LATCHKEY_METRICS_PORT: '3000' }), /LATCHKEY_METRICS_PORT must differ from PORT/);
    assert.throws(() => loadEnv({ LATCHKEY_METRICS_PORT: '70000' }), /LATCHKEY_METRICS_PORT must be between/);
    assert.throws(() => loadEnv({ LATCHKEY_METRICS_TOKEN: 'short' }), /LATCHKEY_METRICS_TOKEN must be at least 32 characters/);
    assert.throws(() => loadEnv({ LATCHKEY_OTLP_ENDPOINT: 'ftp://collector' }), /LATCHKEY_OTLP_ENDPOINT must be/);
    assert.throws(() => loadEnv({ LATCHKEY_OTLP_ENDPOINT: 'http://collector:4318?token=x' }), /LATCHKEY_OTLP_ENDPOINT must be/);
    const traced = loadEnv({ LATCHKEY_OTLP_ENDPOINT: 'http://collector:4318', LATCHKEY_OTLP_SERVICE_NAME: 'auth-eu' });
    assert.equal(traced.otlpEndpoint, 'http://collector:4318');
    assert.equal(traced.otlpServiceName, 'auth-eu');
  });
});
