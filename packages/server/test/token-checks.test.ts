import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { ACCESS_TOKEN_TYPE, TOKEN_EXCHANGE_GRANT_TYPE } from '../src/registry/grant-types.ts';
import { LOGOUT_HINT_MAX_EXPIRED_SECONDS } from '../src/http/logout-routes.ts';
import { signCompact } from '../src/tokens/jws-sign.ts';
import { completeFlow, FormBrowser, head, postForm, rawExchange, type RunningServer, seedUserFlow, sqlite, startServer, type TestDatabase, type UserFlowSeed } from '@latchkey/testing';

/**
 * Every place the server verifies a token it issued holds the token to its times (RFC 7519 §4.1.4,
 * §4.1.5): introspection, userinfo, token exchange's subject and actor tokens, and logout's
 * id_token_hint. Tokens here are signed with the server's own keys, with claims the server never
 * issues by itself (`nbf`), next to controls that differ only in that claim.
 */
describe('token times and the review\'s protocol defects', () => {
  const NOTIFICATIONS = 'https://notifications.example';
  const SKEW = 5;
  let db: TestDatabase;
  let s: RunningServer;
  let seed: UserFlowSeed;
  let ordersService: [string, string];
  let userinfoAud: string;

  const now = () => Math.floor(Date.now() / 1000);
  /** An access token signed with the server's ES256 key: Alice's, for the orders API and userinfo. */
  const accessToken = async (claims: Record<string, unknown> = {}) => {
    const signer = await s.server.context.keys.signer('ES256');
    const payload: Record<string, unknown> = {
      iss: s.issuer,
      sub: seed.user.id,
      aud: ['https://api.example.com', userinfoAud],
      iat: now(),
      exp: now() + 300,
      jti: randomUUID(),
      client_id: seed.publicClient,
      scope: 'openid profile orders:read notifications:send',
      ...claims,
    };
    return signCompact(signer, 'at+jwt', payload);
  };
  const idToken = async (claims: Record<string, unknown> = {}) => {
    const signer = await s.server.context.keys.signer('RS256');
    return signCompact(signer, 'JWT', { iss: s.issuer, sub: seed.user.id, aud: seed.publicClient, iat: now(), exp: now() + 300, ...claims });
  };
  const introspect = async (token: string) => (await postForm(`${s.issuer}/introspect`, { token }, { basic: ordersService })).body;
  const userinfo = (token: string) => fetch(`${s.issuer}/userinfo`, { headers: { authorization: `Bearer ${token}` } });
  const exchange = (form: Record<string, string>) =>
    postForm(
      `${s.issuer}/token`,
      { grant_type: TOKEN_EXCHANGE_GRANT_TYPE, subject_token_type: ACCESS_TOKEN_TYPE, resource: NOTIFICATIONS, scope: 'notifications:send', ...form },
      { basic: ordersService },
    );
  const logout = (hint: string) =>
    fetch(`${s.issuer}/logout?${new URLSearchParams({ id_token_hint: hint, post_logout_redirect_uri: 'https://app.example/bye' })}`, {
      redirect: 'manual',
    });

  before(async () => {
    db = await sqlite.create();
    s = await startServer(db);
    seed = await seedUserFlow(s);
    userinfoAud = `${s.issuer}/userinfo`;
    await s.registry.createResource({ identifier: NOTIFICATIONS, scopes: ['notifications:send'] });
    const orders = await s.registry.createClient({
      name: 'orders-service',
      type: 'confidential',
      grantTypes: [TOKEN_EXCHANGE_GRANT_TYPE, 'client_credentials'],
      scopes: ['orders:read'],
      introspectFor: ['https://api.example.com'],
    });
    ordersService = [orders.client.clientId, orders.clientSecret!];
    await s.registry.allowTokenExchange(ordersService[0], NOTIFICATIONS, ['notifications:send']);
  });
  after(async () => {
    await s?.close();
    await db?.drop();
  });

  describe('nbf (RFC 7519 §4.1.5): not accepted before it, with the usual clock skew', () => {
    test('introspection: a token whose nbf is in the future is inactive', async () => {
      assert.equal((await introspect(await accessToken({ nbf: now() - 60 }))).active, true, 'control: nbf in the past');
      assert.equal((await introspect(await accessToken({ nbf: now() + SKEW - 1 }))).active, true, 'within the clock skew');
      assert.deepEqual(await introspect(await accessToken({ nbf: now() + 120 })), { active: false });
      assert.deepEqual(await introspect(await accessToken({ nbf: 'soon' })), { active: false }, 'nbf not a number');
    });

    test('userinfo: a token whose nbf is in the future is invalid_token', async () => {
      assert.equal((await userinfo(await accessToken({ nbf: now() - 60 }))).status, 200, 'control');
      const res = await userinfo(await accessToken({ nbf: now() + 120 }));
      assert.equal(res.status, 401);
      assert.match(res.headers.get('www-authenticate') ?? '', /^Bearer .*error="invalid_token"/);
    });

    test('token exchange: a subject token whose nbf is in the future is refused', async () => {
      const control = await exchange({ subject_token: await accessToken({ nbf: now() - 60 }) });
      assert.equal(control.status, 200, control.text);
      const res = await exchange({ subject_token: await accessToken({ nbf: now() + 120 }) });
      assert.equal(res.status, 400, res.text);
      // RFC 8693 §2.2.2: an invalid subject token is invalid_request.
      assert.equal(res.body.error, 'invalid_request');
    });

    test('token exchange: an actor token whose nbf is in the future is refused', async () => {
      const service = await postForm(`${s.issuer}/token`, { grant_type: 'client_credentials', scope: 'orders:read' }, { basic: ordersService });
      assert.equal(service.status, 200, service.text);
      const actorClaims = { sub: ordersService[0], client_id: ordersService[0], aud: 'https://api.example.com', scope: 'orders:read' };
      const subject = await accessToken();
      const control = await exchange({ subject_token: subject, actor_token: await accessToken({ ...actorClaims, nbf: now() - 60 }), actor_token_type: ACCESS_TOKEN_TYPE });
      assert.equal(control.status, 200, control.text);
      const res = await exchange({ subject_token: subject, actor_token: await accessToken({ ...actorClaims, nbf: now() + 120 }), actor_token_type: ACCESS_TOKEN_TYPE });
      assert.equal(res.status, 400, res.text);
      assert.equal(res.body.error, 'invalid_request');
    });

    test('logout: an id_token_hint whose nbf is in the future is refused', async () => {
      assert.equal((await logout(await idToken({ nbf: now() - 60 }))).status, 303, 'control');
      const res = await logout(await idToken({ nbf: now() + 120 }));
      assert.equal(res.status, 400);
      assert.equal(res.headers.get('location'), null);
    });
  });

  test(`logout: an expired id_token_hint is accepted for ${LOGOUT_HINT_MAX_EXPIRED_SECONDS} s after its exp, not longer`, async () => {
    assert.equal((await logout(await idToken({ iat: now() - 7200, exp: now() - 3600 }))).status, 303, 'expired an hour ago');
    const bound = LOGOUT_HINT_MAX_EXPIRED_SECONDS;
    assert.equal((await logout(await idToken({ iat: now() - bound, exp: now() - bound + 30 }))).status, 303, 'just inside the bound');
    const old = await logout(await idToken({ iat: now() - bound - 3600, exp: now() - bound - 30 }));
    assert.equal(old.status, 400, 'just past the bound');
    assert.equal(old.headers.get('location'), null);
    const month = await logout(await idToken({ iat: now() - 31 * 86400, exp: now() - 30 * 86400 }));
    assert.equal(month.status, 400, 'expired 30 days ago (accepted before this fix)');
  });

  describe('error descriptions use only the characters RFC 6749 §5.2 allows, and read as meant', () => {
    test('a missing parameter is named without quotes or replacement characters', async () => {
      const res = await postForm(`${s.issuer}/token`, { scope: 'orders:read' }, { basic: ordersService });
      assert.equal(res.status, 400);
      assert.deepEqual(res.body, { error: 'invalid_request', error_description: 'the grant_type parameter is required' });
    });

    test('a repeated parameter is named the same way', async () => {
      const res = await postForm(`${s.issuer}/token`, { grant_type: ['client_credentials', 'client_credentials'] }, { basic: ordersService });
      assert.deepEqual(res.body, { error: 'invalid_request', error_description: 'the grant_type parameter must not be repeated' });
    });

    test('an authorization error sent back to the client has no ? where quotes were meant', async () => {
      const browser = new FormBrowser();
      const query = new URLSearchParams({
        client_id: seed.publicClient,
        redirect_uri: seed.redirectUri,
        response_type: 'code',
        code_challenge: 'x'.repeat(43),
        code_challenge_method: 'S256',
        state: 's1',
      });
      const res = await browser.get(`${s.issuer}/authorize?${query}`);
      assert.equal(res.status, 303);
      const location = new URL(res.location!);
      assert.equal(location.searchParams.get('error'), 'invalid_scope');
      assert.equal(location.searchParams.get('error_description'), 'the scope parameter is required');
    });
  });

  describe('userinfo (RFC 6750 §3)', () => {
    test('a token sent in two ways is 400 invalid_request with a Bearer challenge', async () => {
      const token = await accessToken();
      const res = await fetch(`${s.issuer}/userinfo`, {
        method: 'POST',
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ access_token: token }).toString(),
      });
      assert.equal(res.status, 400);
      assert.equal(((await res.json()) as { error: string }).error, 'invalid_request');
      assert.match(res.headers.get('www-authenticate') ?? '', /^Bearer realm="latchkey", error="invalid_request", error_description="[^"]+", DPoP algs="[A-Za-z0-9 ]+"$/);
    });

    test('a body that is not form-encoded is 400 invalid_request with a Bearer challenge', async () => {
      const res = await fetch(`${s.issuer}/userinfo`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' });
      assert.equal(res.status, 400);
      assert.match(res.headers.get('www-authenticate') ?? '', /^Bearer realm="latchkey", error="invalid_request"/);
    });
  });

  describe('what the fuzz suite found', () => {
    const port = () => Number(new URL(s.issuer).port);
    const basic = () => `Basic ${Buffer.from(`${ordersService[0]}:${ordersService[1]}`).toString('base64')}`;

    test('two Authorization headers are invalid_request (OAuth 2.1 §2.4), at the token endpoint and at userinfo', async () => {
      const body = 'grant_type=client_credentials&scope=orders%3Aread';
      const once = await rawExchange(port(), [head('POST', '/token', { Host: '127.0.0.1', 'Content-Type': 'application/x-www-form-urlencoded', 'Content-Length': String(body.length), Authorization: basic(), Connection: 'close' }) + body], 0, 5000);
      assert.equal(once.status, 200, 'control');
      const twice = await rawExchange(
        port(),
        [`POST /token HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: ${body.length}\r\nAuthorization: ${basic()}\r\nAuthorization: Basic Og==\r\nConnection: close\r\n\r\n${body}`],
        0,
        5000,
      );
      assert.equal(twice.status, 400, twice.response.slice(0, 200));
      assert.deepEqual(twice.body, { error: 'invalid_request', error_description: 'the Authorization header must not be repeated' });
      const token = await accessToken();
      const userinfoTwice = await rawExchange(
        port(),
        [`GET /userinfo HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer ${token}\r\nAuthorization: Bearer other\r\nConnection: close\r\n\r\n`],
        0,
        5000,
      );
      assert.equal(userinfoTwice.status, 400);
      assert.match(userinfoTwice.response, /www-authenticate: Bearer realm="latchkey", error="invalid_request"/i);
    });

    test('a path that cannot be decoded gets the JSON error shape, without echoing it', async () => {
      const res = await fetch(`${s.issuer}/%zz`);
      assert.equal(res.status, 400);
      const text = await res.text();
      assert.deepEqual(JSON.parse(text), { error: 'invalid_request', error_description: 'the request path is malformed' });
      assert.doesNotMatch(text, /FST_|%zz/);
    });

    test('a parser error answering a HEAD request has no body (RFC 9110 §9.3.2)', async () => {
      const outcome = await rawExchange(port(), [head('HEAD', '/token', { Host: '127.0.0.1', 'X-Big': 'a'.repeat(20_000) })], 0, 5000);
      assert.equal(outcome.status, 431);
      assert.match(outcome.response, /\r\ncontent-length: 0\r\n/i);
      assert.ok(outcome.response.endsWith('\r\n\r\n'), 'nothing after the head');
    });
  });

  test('a completed flow still works end to end (control for the minted tokens above)', async () => {
    const { tokens } = await completeFlow(new FormBrowser(), s, { clientId: seed.publicClient, scope: 'openid orders:read' });
    assert.equal((await userinfo(tokens.access_token)).status, 200);
    assert.equal((await logout(tokens.id_token!)).status, 303);
  });
});
