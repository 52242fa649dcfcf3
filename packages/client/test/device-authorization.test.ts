import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { FormBrowser, type Latchkey, PASSWORD, startLatchkey } from '@latchkey/testing';
import {
  DEVICE_CODE_GRANT_TYPE,
  DeviceCodeExpiredError,
  LatchkeyClient,
  OAuthError,
  UnsupportedFeatureError,
  type DeviceAuthorization,
  type FetchLike,
} from '../src/index.ts';

/**
 * The device authorization grant (RFC 8628) through the SDK: against Latchkey, a device started, the user
 * approving (or denying) on /device in a browser, and pollDeviceToken waiting the server's interval; the
 * polling rules of §3.5 (authorization_pending, slow_down +5 s, access_denied, expired_token) with a
 * scripted token endpoint and a mocked clock, since a real server cannot be made to answer each of
 * them on cue without waiting minutes.
 */

describe('device authorization against Latchkey', () => {
  let lk: Latchkey;
  let tv: LatchkeyClient;

  before(async () => {
    lk = await startLatchkey();
    const created = await lk.running.registry.createClient({
      name: 'Living Room TV',
      type: 'public',
      grantTypes: ['device_code', 'refresh_token'],
      scopes: ['openid', 'profile', 'offline_access', 'orders:read'],
    });
    tv = new LatchkeyClient({ issuer: lk.issuer, clientId: created.client.clientId });
  });
  after(async () => lk?.close());

  /** The user's side: open the verification URI, log in when asked, press Allow or Deny. */
  const decideInBrowser = async (authorization: DeviceAuthorization, decision: 'allow' | 'deny') => {
    const browser = new FormBrowser();
    let page = await browser.get(authorization.verificationUriComplete!);
    if (page.text.includes('name="password"')) {
      const [login] = browser.forms(page.text, page.url);
      page = await browser.submit(page, login!, { values: { username: 'alice', password: PASSWORD }, followRedirects: true });
    }
    assert.match(page.text, new RegExp(authorization.userCode));
    const [form] = browser.forms(page.text, page.url);
    const done = await browser.submit(page, form!, { button: { name: 'decision', value: decision } });
    assert.equal(done.status, 200);
  };

  test('the user approves one device and denies another: tokens with a validated ID token, and access_denied', async () => {
    const approved = await tv.startDeviceAuthorization({ scope: 'openid profile offline_access orders:read' });
    const denied = await tv.startDeviceAuthorization({ scope: 'orders:read' });
    assert.match(approved.userCode, /^[A-Z]{4}-[A-Z]{4}$/);
    assert.equal(approved.verificationUri, `${lk.issuer}/device`);
    assert.equal(approved.intervalSeconds, 5);
    assert.ok(approved.expiresAt > Date.now() / 1000 + 500);
    await decideInBrowser(approved, 'allow');
    await decideInBrowser(denied, 'deny');
    // Both poll after the server's 5-second interval, in parallel.
    const [tokens, refusal] = await Promise.allSettled([tv.pollDeviceToken(approved), tv.pollDeviceToken(denied)]);
    assert.equal(tokens.status, 'fulfilled');
    assert.equal(tokens.value.idTokenClaims?.sub, lk.seed.user.id);
    assert.ok(tokens.value.refreshToken, 'offline_access gives a refresh token');
    assert.equal(tokens.value.scope, 'openid profile offline_access orders:read');
    assert.equal(refusal.status, 'rejected');
    assert.ok(refusal.reason instanceof OAuthError);
    assert.equal(refusal.reason.error, 'access_denied');
  });

  test('a client not registered for the grant gets the server\'s unauthorized_client', async () => {
    const web = new LatchkeyClient({ issuer: lk.issuer, clientId: lk.seed.confidential.clientId, clientSecret: lk.seed.confidential.clientSecret });
    await assert.rejects(web.startDeviceAuthorization({ scope: 'openid' }), (err: unknown) => err instanceof OAuthError && err.error === 'unauthorized_client');
  });

  test('a server whose metadata has no device_authorization_endpoint gives UnsupportedFeatureError, before any request to it', async () => {
    // Latchkey's own metadata without the member, as Latchkey before issue 6 published it.
    const olderServer: FetchLike = async (input, init) => {
      const res = await fetch(input, init);
      if (!input.toString().endsWith('/openid-configuration')) return res;
      const { device_authorization_endpoint: _, ...rest } = (await res.json()) as Record<string, unknown>;
      return Response.json(rest);
    };
    const client = new LatchkeyClient({ issuer: lk.issuer, clientId: tv.clientId, fetch: olderServer });
    await assert.rejects(client.startDeviceAuthorization({ scope: 'orders:read' }), (err: unknown) => {
      assert.ok(err instanceof UnsupportedFeatureError);
      assert.equal(err.feature, 'device_authorization');
      assert.equal(err.reason, 'metadata');
      assert.match(err.message, /device_authorization_endpoint/);
      return true;
    });
  });
});

/** A token endpoint that answers from a script, and records when (by the mocked clock) it was called. */
function scriptedServer(answers: { status: number; body: Record<string, unknown> }[]) {
  const issuer = 'https://login.example.com';
  const polls: number[] = [];
  const grants: string[] = [];
  const fetchImpl: FetchLike = async (input, init) => {
    const url = input.toString();
    if (url.endsWith('/.well-known/openid-configuration')) {
      return Response.json({ issuer, token_endpoint: `${issuer}/token`, device_authorization_endpoint: `${issuer}/device_authorization` });
    }
    if (url.endsWith('/device_authorization')) {
      return Response.json({ device_code: 'dc', user_code: 'BCDF-GHJK', verification_uri: `${issuer}/device`, expires_in: 60, interval: 5 });
    }
    polls.push(Date.now());
    grants.push(new URLSearchParams(String(init?.body)).get('grant_type') ?? '');
    const answer = answers.shift() ?? { status: 500, body: { error: 'server_error' } };
    return Response.json(answer.body, { status: answer.status });
  };
  return { client: new LatchkeyClient({ issuer, clientId: 'tv', fetch: fetchImpl }), polls, grants };
}

const pending = { status: 400, body: { error: 'authorization_pending' } };
const slowDown = { status: 400, body: { error: 'slow_down' } };
const granted = { status: 200, body: { access_token: 'at', token_type: 'Bearer', expires_in: 600, refresh_token: 'rt' } };

describe('device polling rules (RFC 8628 §3.5), with a scripted token endpoint', () => {
  /** Runs `promise` to completion while advancing the mocked clock a second at a time. */
  async function drive<T>(t: { mock: { timers: { tick(ms: number): void } } }, promise: Promise<T>): Promise<PromiseSettledResult<T>> {
    let settled: PromiseSettledResult<T> | undefined;
    void promise.then(
      (value) => (settled = { status: 'fulfilled', value }),
      (reason: unknown) => (settled = { status: 'rejected', reason }),
    );
    for (let second = 0; second < 600 && !settled; second++) {
      await new Promise((resolve) => setImmediate(resolve));
      t.mock.timers.tick(1000);
    }
    await new Promise((resolve) => setImmediate(resolve));
    assert.ok(settled, 'polling did not end');
    return settled;
  }

  test('waits the interval before each poll, keeps polling while pending, and adds 5 s for good at slow_down', async (t) => {
    t.mock.timers.enable({ apis: ['setTimeout', 'Date'], now: 1_000_000 });
    const { client, polls, grants } = scriptedServer([pending, slowDown, pending, granted]);
    const authorization = await client.startDeviceAuthorization({ scope: 'orders:read' });
    const result = await drive(t, client.pollDeviceToken(authorization));
    assert.equal(result.status, 'fulfilled');
    assert.equal(result.value.accessToken, 'at');
    assert.deepEqual(
      polls.map((at) => (at - 1_000_000) / 1000),
      [5, 10, 20, 30],
      'polled at 5 s, 10 s (slow_down: the interval becomes 10 s), 20 s and 30 s',
    );
    assert.ok(grants.every((g) => g === DEVICE_CODE_GRANT_TYPE));
  });

  test('access_denied and expired_token end the polling with the server\'s error', async (t) => {
    t.mock.timers.enable({ apis: ['setTimeout', 'Date'], now: 1_000_000 });
    for (const error of ['access_denied', 'expired_token']) {
      const { client } = scriptedServer([pending, { status: 400, body: { error } }]);
      const result = await drive(t, client.pollDeviceToken(await client.startDeviceAuthorization()));
      assert.equal(result.status, 'rejected');
      assert.ok(result.reason instanceof OAuthError && result.reason.error === error, String(result.reason));
    }
  });

  test('the client stops by itself when the code expires while the user has not answered', async (t) => {
    t.mock.timers.enable({ apis: ['setTimeout', 'Date'], now: 1_000_000 });
    const { client, polls } = scriptedServer(Array.from({ length: 100 }, () => pending));
    const result = await drive(t, client.pollDeviceToken(await client.startDeviceAuthorization()));
    assert.equal(result.status, 'rejected');
    assert.ok(result.reason instanceof DeviceCodeExpiredError);
    assert.equal(polls.length, 11, 'polled every 5 s within the 60 s the code lives');
  });

  test('a server without the grant (unsupported_grant_type) gives UnsupportedFeatureError; an abort signal stops polling', async (t) => {
    t.mock.timers.enable({ apis: ['setTimeout', 'Date'], now: 1_000_000 });
    const { client } = scriptedServer([{ status: 400, body: { error: 'unsupported_grant_type' } }]);
    const authorization = await client.startDeviceAuthorization();
    const unsupported = await drive(t, client.pollDeviceToken(authorization));
    assert.ok(unsupported.status === 'rejected' && unsupported.reason instanceof UnsupportedFeatureError);
    assert.equal(unsupported.reason.reason, 'server');
    assert.ok(unsupported.reason.cause instanceof OAuthError);

    const controller = new AbortController();
    const polling = client.pollDeviceToken(authorization, { signal: controller.signal });
    controller.abort(new Error('the user closed the app'));
    await assert.rejects(polling, /closed the app/);
  });
});
