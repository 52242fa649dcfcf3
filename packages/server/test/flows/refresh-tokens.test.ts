import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { createLocalJWKSet, decodeJwt, jwtVerify, type JSONWebKeySet } from 'jose';
import type { Settings } from '../../src/config/defaults.ts';
import type { TokenResponse } from '../../src/grants/token-response.ts';
import { UserRegistry } from '../../src/users/user-registry.ts';
import { type AuthorizeOptions, type Backend, backends, exchangeCode, FormBrowser, PASSWORD, postForm, REDIRECT_URI, runAuthorization, type RunningServer, seedUserFlow, startServer, type TestDatabase, type UserFlowSeed } from '@latchkey/testing';

/**
 * docs/security.md F 43-51 and I63: refresh-token rotation, reuse detection, the grace window for a lost
 * response, scope narrowing, revocation and the ID token on refresh, over HTTP on both backends.
 */

/** The scope authorizeUrl asks for by default: what the grant holds. */
const FULL_SCOPE = ['openid', 'profile', 'email', 'offline_access', 'orders:read'];

/** The token endpoint's success response, as the server types it. */
type Tokens = TokenResponse;

type Who = 'confidential' | 'public';

interface Env {
  db: TestDatabase;
  s: RunningServer;
  seed: UserFlowSeed;
  /** Alice's browser: logged in once, her consents remembered. */
  browser: FormBrowser;
}

/** A fresh database and server for one describe block, seeded with the user-flow clients and Alice. */
function useServer(backend: Backend, overrides: Partial<Settings>): Env {
  const env = {} as Env;
  before(async () => {
    env.db = await backend.create();
    env.s = await startServer(env.db, overrides);
    env.seed = await seedUserFlow(env.s);
    env.browser = new FormBrowser();
  });
  after(async () => {
    await env.s?.close();
    await env.db?.drop();
  });
  return env;
}

function clientIdOf(env: Env, who: Who): string {
  return who === 'public' ? env.seed.publicClient : env.seed.confidential.clientId;
}

/** A complete code flow for `who`, in `browser` (Alice's by default): a new grant, a new refresh-token family. */
async function login(env: Env, who: Who, options: Partial<AuthorizeOptions> = {}, browser = env.browser): Promise<Tokens> {
  const clientId = clientIdOf(env, who);
  const result = await runAuthorization(browser, env.s, { clientId, ...options });
  const code = result.callback.searchParams.get('code');
  assert.ok(code, `no code in ${result.callback}`);
  const res = await exchangeCode(env.s, {
    clientId,
    code,
    verifier: result.verifier,
    ...(who === 'confidential' ? { secret: env.seed.confidential.clientSecret } : {}),
  });
  assert.equal(res.status, 200, res.text);
  return res.body as Tokens;
}

/** A refresh_token grant request; the confidential client authenticates with Basic, the public one by client_id. */
function refresh(env: Env, who: Who, refreshToken: string | undefined, extra: Record<string, string> = {}) {
  const form: Record<string, string> = { grant_type: 'refresh_token', ...extra };
  if (refreshToken !== undefined) form.refresh_token = refreshToken;
  if (who === 'public') return postForm(`${env.s.issuer}/token`, { ...form, client_id: env.seed.publicClient });
  return postForm(`${env.s.issuer}/token`, form, { basic: [env.seed.confidential.clientId, env.seed.confidential.clientSecret] });
}

/** A refresh that must succeed: its tokens. */
async function refreshed(env: Env, who: Who, refreshToken: string | undefined, extra: Record<string, string> = {}): Promise<Tokens> {
  const res = await refresh(env, who, refreshToken, extra);
  assert.equal(res.status, 200, res.text);
  return res.body as Tokens;
}

function assertInvalidGrant(res: { status: number; body: any; text: string }, message?: string): void {
  assert.equal(res.status, 400, `${message ?? ''} ${res.text}`);
  assert.equal(res.body?.error, 'invalid_grant', `${message ?? ''} ${res.text}`);
}

/** Introspection answers only the token's own client: the seed's confidential client asks. */
function introspect(env: Env, token: string) {
  return postForm(`${env.s.issuer}/introspect`, { token }, { basic: [env.seed.confidential.clientId, env.seed.confidential.clientSecret] });
}

async function userinfo(env: Env, token: string): Promise<{ status: number; challenge: string | null }> {
  const res = await fetch(`${env.s.issuer}/userinfo`, { headers: { authorization: `Bearer ${token}` } });
  await res.arrayBuffer();
  return { status: res.status, challenge: res.headers.get('www-authenticate') };
}

async function assertLive(env: Env, accessToken: string, message: string): Promise<void> {
  const res = await introspect(env, accessToken);
  assert.equal(res.status, 200, res.text);
  assert.equal(res.body.active, true, `${message}: introspection`);
  assert.equal((await userinfo(env, accessToken)).status, 200, `${message}: userinfo`);
}

async function assertDead(env: Env, accessToken: string, message: string): Promise<void> {
  const res = await introspect(env, accessToken);
  assert.equal(res.status, 200, res.text);
  assert.equal(res.text, '{"active":false}', `${message}: introspection`);
  const info = await userinfo(env, accessToken);
  assert.equal(info.status, 401, `${message}: userinfo`);
  assert.match(info.challenge ?? '', /^Bearer realm="latchkey", error="invalid_token"/, `${message}: userinfo challenge`);
}

function scopeSet(scope: string): string[] {
  return scope.split(' ').sort();
}

/** OIDC Core §3.1.3.6, computed here rather than with the server's helper. */
function expectedAtHash(accessToken: string): string {
  const digest = createHash('sha256').update(Buffer.from(accessToken, 'ascii')).digest();
  return digest.subarray(0, digest.length / 2).toString('base64url');
}

for (const backend of await backends()) {
  describe(`refresh tokens (${backend.name})`, { skip: backend.skip }, () => {
    describe('strict rotation (refreshGraceSeconds 0, refreshTokenTtlSeconds 3600)', () => {
      const env = useServer(backend, { refreshGraceSeconds: 0, refreshTokenTtlSeconds: 3600 });
      let noRefresh: [string, string];

      before(async () => {
        assert.equal(env.s.settings.refreshGraceSeconds, 0);
        // A client allowed the code flow but not the refresh_token grant.
        const created = await env.s.registry.createClient({
          name: 'No Refresh',
          type: 'confidential',
          grantTypes: ['authorization_code'],
          scopes: ['openid', 'orders:read'],
          redirectUris: [REDIRECT_URI],
        });
        noRefresh = [created.client.clientId, created.clientSecret!];
      });

      test('F43: every refresh returns a new refresh token; the old one stops working', async () => {
        // RFC 9700 §4.14.2: "the authorization server issues a new refresh token with every access token
        // refresh response. The previous refresh token is invalidated".
        const first = await login(env, 'confidential');
        assert.equal(typeof first.refresh_token, 'string');
        const res = await refresh(env, 'confidential', first.refresh_token);
        assert.equal(res.status, 200, res.text);
        assert.equal(res.headers.get('cache-control'), 'no-store');
        const second = res.body as Tokens;
        assert.equal(typeof second.refresh_token, 'string');
        assert.notEqual(second.refresh_token, first.refresh_token);
        assert.notEqual(second.access_token, first.access_token);
        assert.equal(second.token_type, 'Bearer');
        const third = await refreshed(env, 'confidential', second.refresh_token);
        assert.equal(new Set([first.refresh_token, second.refresh_token, third.refresh_token]).size, 3);
        assertInvalidGrant(await refresh(env, 'confidential', first.refresh_token), 'the first token, rotated');
        assertInvalidGrant(await refresh(env, 'confidential', second.refresh_token), 'the second token, rotated');
      });

      test('F44: reuse of a rotated token is invalid_grant and revokes the whole family, access tokens included', async () => {
        const other = await login(env, 'confidential');
        const first = await login(env, 'confidential');
        const second = await refreshed(env, 'confidential', first.refresh_token);
        const third = await refreshed(env, 'confidential', second.refresh_token);
        const family = [first.access_token, second.access_token, third.access_token];
        for (const [i, token] of family.entries()) await assertLive(env, token, `access token ${i} before the reuse`);

        // RFC 9700 §4.14.2: "If a refresh token is compromised and subsequently used by both the attacker
        // and the legitimate client, one of them will present an invalidated refresh token, which will
        // inform the authorization server of the breach" - and it revokes the active refresh token.
        assertInvalidGrant(await refresh(env, 'confidential', second.refresh_token), 'the reused token');
        assertInvalidGrant(await refresh(env, 'confidential', third.refresh_token), 'the newest token of the family');
        for (const [i, token] of family.entries()) await assertDead(env, token, `access token ${i} after the reuse`);

        // Only that family: another grant of the same user and client lives on.
        await assertLive(env, other.access_token, 'another family');
        await refreshed(env, 'confidential', other.refresh_token);
      });

      test('F45: concurrent refreshes with refreshGraceSeconds 0: at most one wins, never two live families', async () => {
        for (const n of [2, 10]) {
          const first = await login(env, 'confidential');
          const results = await Promise.all(Array.from({ length: n }, () => refresh(env, 'confidential', first.refresh_token)));
          const winners = results.filter((r) => r.status === 200);
          assert.ok(winners.length <= 1, `${n} concurrent: ${winners.length} answered 200`);
          for (const r of results) if (r.status !== 200) assertInvalidGrant(r, `${n} concurrent: a loser`);
          // Try every refresh token the race handed out, then the raced one: at most one may still work.
          const handedOut = [...new Set(winners.map((r) => (r.body as Tokens).refresh_token))];
          assert.equal(handedOut.length, winners.length);
          let working = 0;
          for (const token of [...handedOut, first.refresh_token]) {
            const res = await refresh(env, 'confidential', token);
            if (res.status === 200) working++;
            else assertInvalidGrant(res, `${n} concurrent: a refresh token after the race`);
          }
          assert.ok(working <= 1, `${n} concurrent: ${working} refresh tokens still worked`);
        }
      });

      test('F46: a refresh token presented by another client is invalid_grant and still works for its own', async () => {
        const confidential = await login(env, 'confidential');
        const publicTokens = await login(env, 'public');
        // RFC 6749 §6: the server must "validate the refresh token" and that it was issued to the client.
        assertInvalidGrant(await refresh(env, 'public', confidential.refresh_token), "the confidential client's token, by the public client");
        assertInvalidGrant(await refresh(env, 'confidential', publicTokens.refresh_token), "the public client's token, by the confidential client");
        // Nothing was spent by those attempts.
        await refreshed(env, 'confidential', confidential.refresh_token);
        await refreshed(env, 'public', publicTokens.refresh_token);
      });

      test('F47: refresh may narrow the scope but never widen it; the refresh token keeps the original scope', async () => {
        const first = await login(env, 'confidential');
        assert.deepEqual(scopeSet(first.scope), [...FULL_SCOPE].sort());

        const narrowed = await refreshed(env, 'confidential', first.refresh_token, { scope: 'openid orders:read' });
        assert.deepEqual(scopeSet(narrowed.scope), ['openid', 'orders:read']);
        assert.deepEqual(scopeSet(String(decodeJwt(narrowed.access_token).scope)), ['openid', 'orders:read']);
        const introspected = await introspect(env, narrowed.access_token);
        assert.deepEqual(scopeSet(introspected.body.scope), ['openid', 'orders:read']);
        // Without profile and email, the ID token of the narrowed refresh carries none of their claims.
        assert.ok(narrowed.id_token);
        const narrowedClaims = decodeJwt(narrowed.id_token);
        for (const claim of ['name', 'preferred_username', 'email', 'email_verified']) assert.equal(claim in narrowedClaims, false, claim);

        // RFC 6749 §6: "The requested scope MUST NOT include any scope not originally granted by the
        // resource owner". orders:write is allowed to the client but was not granted.
        const widened = await refresh(env, 'confidential', narrowed.refresh_token, { scope: 'openid orders:read orders:write' });
        assert.equal(widened.status, 400, widened.text);
        assert.equal(widened.body.error, 'invalid_scope');

        // The refused request spent nothing, and without scope the full original scope comes back.
        const full = await refreshed(env, 'confidential', narrowed.refresh_token);
        assert.deepEqual(scopeSet(full.scope), [...FULL_SCOPE].sort());
        assert.deepEqual(scopeSet(String(decodeJwt(full.access_token).scope)), [...FULL_SCOPE].sort());
        assert.equal(decodeJwt(full.id_token!).preferred_username, env.seed.user.username);
      });

      test('F48, I63: revoking the refresh token ends the family: no refresh, and its access tokens are inactive', async () => {
        const first = await login(env, 'confidential');
        const second = await refreshed(env, 'confidential', first.refresh_token);
        await assertLive(env, first.access_token, 'the first access token before revocation');
        await assertLive(env, second.access_token, 'the second access token before revocation');
        const revoked = await postForm(
          `${env.s.issuer}/revoke`,
          { token: second.refresh_token!, token_type_hint: 'refresh_token' },
          { basic: [env.seed.confidential.clientId, env.seed.confidential.clientSecret] },
        );
        assert.equal(revoked.status, 200, revoked.text);
        assertInvalidGrant(await refresh(env, 'confidential', second.refresh_token), 'the revoked refresh token');
        // RFC 7009 §2.1: "If the particular token is a refresh token and the authorization server supports
        // the revocation of access tokens, then the authorization server SHOULD also invalidate all access
        // tokens based on the same authorization grant".
        await assertDead(env, second.access_token, 'the access token of the revoked grant');
        await assertDead(env, first.access_token, 'the older access token of the revoked grant');
      });

      test('F48: refresh fails once the user is disabled', async () => {
        const users = new UserRegistry(env.s.server.context.storage);
        await users.create({ username: 'bob', password: PASSWORD, email: 'bob@example.com', name: 'Bob' });
        const bobs = new FormBrowser();
        const first = await login(env, 'confidential', { username: 'bob' }, bobs);
        const second = await refreshed(env, 'confidential', first.refresh_token);
        await users.disable('bob');
        assertInvalidGrant(await refresh(env, 'confidential', second.refresh_token), "a disabled user's refresh token");
      });

      test('F48: the family ends refreshTokenTtlSeconds after the login, however recently it was rotated', async (t) => {
        const first = await login(env, 'confidential');
        const loggedInAt = Date.now();
        try {
          t.mock.timers.enable({ apis: ['Date'], now: loggedInAt + 3000 * 1000 });
          const rotated = await refreshed(env, 'confidential', first.refresh_token);
          // A minute after that rotation, but past the family's absolute end (3600 s after the login).
          t.mock.timers.setTime(loggedInAt + 3601 * 1000);
          assertInvalidGrant(await refresh(env, 'confidential', rotated.refresh_token), 'past the absolute lifetime');
        } finally {
          t.mock.timers.reset();
        }
      });

      test('F49: public clients get rotation', async () => {
        const first = await login(env, 'public');
        assert.equal(typeof first.refresh_token, 'string');
        const second = await refreshed(env, 'public', first.refresh_token);
        assert.equal(typeof second.refresh_token, 'string');
        assert.notEqual(second.refresh_token, first.refresh_token);
        assertInvalidGrant(await refresh(env, 'public', first.refresh_token), 'the rotated token of a public client');
        assertInvalidGrant(await refresh(env, 'public', second.refresh_token), 'its family after the reuse');
      });

      test('F51: the ID token on refresh keeps iss, sub, aud and the original auth_time, has no nonce, and a fresh at_hash', async (t) => {
        const first = await login(env, 'confidential', { nonce: 'nonce-f51' });
        assert.ok(first.id_token);
        const original = decodeJwt(first.id_token);
        assert.equal(original.nonce, 'nonce-f51');
        const later = Date.now() + 120 * 1000;
        let res;
        try {
          t.mock.timers.enable({ apis: ['Date'], now: later });
          res = await refresh(env, 'confidential', first.refresh_token);
        } finally {
          t.mock.timers.reset();
        }
        assert.equal(res.status, 200, res.text);
        const tokens = res.body as Tokens;
        assert.ok(tokens.id_token, 'openid is in the grant: an ID token on refresh');
        const jwks = (await (await fetch(`${env.s.issuer}/jwks`)).json()) as JSONWebKeySet;
        const { payload } = await jwtVerify(tokens.id_token, createLocalJWKSet(jwks), {
          issuer: env.s.issuer,
          audience: env.seed.confidential.clientId,
          algorithms: ['RS256'],
          currentDate: new Date(later),
        });
        // OIDC Core §12.2: "its iss Claim Value MUST be the same as in the ID Token issued when the original
        // authentication occurred, its sub Claim Value MUST be the same ..., its aud Claim Value MUST be the
        // same ..., if the ID Token contains an auth_time Claim, its value MUST represent the time of the
        // original authentication - not the time that the new ID token is issued".
        assert.equal(payload.iss, original.iss);
        assert.equal(payload.sub, original.sub);
        assert.equal(payload.sub, env.seed.user.id);
        assert.equal(payload.aud, original.aud);
        assert.equal(payload.auth_time, original.auth_time);
        assert.ok(payload.iat! >= Math.floor(later / 1000), 'issued at the (mocked) time of the refresh');
        assert.ok((payload.auth_time as number) <= payload.iat! - 100, 'auth_time is the login, not the refresh');
        // OIDC Core §12.2: "it SHOULD NOT have a nonce Claim Value".
        assert.equal('nonce' in payload, false);
        assert.equal(payload.at_hash, expectedAtHash(tokens.access_token));
        assert.notEqual(payload.at_hash, original.at_hash);
      });

      test('the refresh_token grant for a client not registered for it is unauthorized_client', async () => {
        const tokens = await login(env, 'confidential');
        // RFC 6749 §5.2 unauthorized_client: "The authenticated client is not authorized to use this
        // authorization grant type."
        const res = await postForm(`${env.s.issuer}/token`, { grant_type: 'refresh_token', refresh_token: tokens.refresh_token! }, { basic: noRefresh });
        assert.equal(res.status, 400, res.text);
        assert.equal(res.body.error, 'unauthorized_client');
        await refreshed(env, 'confidential', tokens.refresh_token);
      });

      test('a missing or empty refresh_token is invalid_request', async () => {
        for (const value of [undefined, '']) {
          const res = await refresh(env, 'confidential', value);
          assert.equal(res.status, 400, res.text);
          assert.equal(res.body.error, 'invalid_request');
        }
      });

      test('an OpenID Connect request without offline_access gets no refresh token', async () => {
        const tokens = await login(env, 'confidential', { scope: 'openid profile orders:read' });
        assert.ok(tokens.access_token);
        assert.ok(tokens.id_token);
        assert.equal('refresh_token' in tokens, false);
      });

      test('the database never holds a refresh token in clear, not even inside the sealed successor', async () => {
        const first = await login(env, 'confidential');
        const second = await refreshed(env, 'confidential', first.refresh_token);
        const rows = await env.s.server.context.storage.db.kysely.selectFrom('refresh_tokens').selectAll().execute();
        const hash = (token: string) => createHash('sha256').update(token).digest('base64url');
        const old = rows.find((r) => r.token_hash === hash(first.refresh_token!));
        assert.ok(old, 'the rotated token is stored by its SHA-256');
        assert.ok(rows.some((r) => r.token_hash === hash(second.refresh_token!)), 'its successor is stored by its SHA-256');
        assert.equal(old.successor_hash, hash(second.refresh_token!));
        // No grace window here: nothing is sealed for a retry (the sealed case is under 'grace window').
        assert.equal(old.successor_enc, null);
        const dump = JSON.stringify(rows);
        for (const token of [first.refresh_token!, second.refresh_token!]) assert.equal(dump.includes(token), false);
      });
    });

    describe('grace window (default refreshGraceSeconds 5)', () => {
      const env = useServer(backend, {});

      before(() => {
        assert.equal(env.s.settings.refreshGraceSeconds, 5);
      });

      test('F45: concurrent refreshes within the grace window all get the same new pair; exactly one refresh token works', async () => {
        for (const n of [2, 10]) {
          const first = await login(env, 'confidential');
          const results = await Promise.all(Array.from({ length: n }, () => refresh(env, 'confidential', first.refresh_token)));
          for (const r of results) assert.equal(r.status, 200, `${n} concurrent: ${r.text}`);
          const bodies = results.map((r) => r.body as Tokens);
          assert.equal(new Set(bodies.map((b) => b.refresh_token)).size, 1, `${n} concurrent: one refresh token for all`);
          assert.equal(new Set(bodies.map((b) => b.access_token)).size, 1, `${n} concurrent: one access token for all`);
          assert.equal(new Set(bodies.map((b) => b.id_token)).size, 1, `${n} concurrent: one ID token for all`);
          const successor = bodies[0]!.refresh_token;
          assert.notEqual(successor, first.refresh_token);
          await assertLive(env, bodies[0]!.access_token, `${n} concurrent: the shared access token`);
          // The one successor works, and then it alone is the family's live token.
          const next = await refreshed(env, 'confidential', successor);
          assertInvalidGrant(await refresh(env, 'confidential', first.refresh_token), `${n} concurrent: the raced token after its successor was used`);
          assertInvalidGrant(await refresh(env, 'confidential', next.refresh_token), `${n} concurrent: the family after that reuse`);
        }
      });

      test('F45: a retry within the window gets the same pair; after the window it is reuse and revokes the family', async (t) => {
        const first = await login(env, 'confidential');
        const before = Date.now();
        const second = await refreshed(env, 'confidential', first.refresh_token);
        const rotatedBy = Date.now();
        try {
          // consumed_at >= floor(before), so floor(before + 4 s) is at most 4 s later: inside the window.
          t.mock.timers.enable({ apis: ['Date'], now: before + 4000 });
          const retry = await refreshed(env, 'confidential', first.refresh_token);
          assert.equal(retry.refresh_token, second.refresh_token);
          assert.equal(retry.access_token, second.access_token);
          assert.equal(retry.id_token, second.id_token);
          // consumed_at <= floor(rotatedBy), so 6 s later is past the 5 s window.
          t.mock.timers.setTime(rotatedBy + 6000);
          assertInvalidGrant(await refresh(env, 'confidential', first.refresh_token), 'a retry after the grace window');
        } finally {
          t.mock.timers.reset();
        }
        assertInvalidGrant(await refresh(env, 'confidential', second.refresh_token), 'the successor, after the reuse');
        await assertDead(env, second.access_token, 'the access token of the revoked family');
        await assertDead(env, first.access_token, 'the first access token of the revoked family');
      });

      test('F45: the grace answer is refused once the successor was used, and that reuse revokes the family', async () => {
        const first = await login(env, 'confidential');
        const second = await refreshed(env, 'confidential', first.refresh_token);
        const third = await refreshed(env, 'confidential', second.refresh_token);
        // Within seconds of the rotation, but the successor has been used: not a lost response, a replay.
        assertInvalidGrant(await refresh(env, 'confidential', first.refresh_token), 'the first token after its successor was used');
        assertInvalidGrant(await refresh(env, 'confidential', third.refresh_token), 'the newest token after the reuse');
        await assertDead(env, third.access_token, 'the newest access token after the reuse');
      });

      test('the sealed successor holds neither token in clear', async () => {
        const first = await login(env, 'confidential');
        const second = await refreshed(env, 'confidential', first.refresh_token);
        const hash = (token: string) => createHash('sha256').update(token).digest('base64url');
        const old = await env.s.server.context.storage.db.kysely
          .selectFrom('refresh_tokens')
          .selectAll()
          .where('token_hash', '=', hash(first.refresh_token!))
          .executeTakeFirstOrThrow();
        assert.equal(typeof old.successor_enc, 'string', 'sealed for a retry within the window');
        assert.equal(old.successor_enc!.includes(second.refresh_token!), false, 'successor_enc holds the new token in clear');
        assert.equal(old.successor_enc!.includes(second.access_token), false, 'successor_enc holds the access token in clear');
      });

      test('public clients have no grace window by default: a replay within seconds is reuse and revokes the family', async () => {
        const first = await login(env, 'public');
        const second = await refreshed(env, 'public', first.refresh_token);
        assert.notEqual(second.refresh_token, first.refresh_token);
        // Whoever replays a public client's token (client_id alone authenticates it) gets nothing...
        assertInvalidGrant(await refresh(env, 'public', first.refresh_token), 'an immediate replay by a public client');
        // ...and the victim's pair dies with the family.
        assertInvalidGrant(await refresh(env, 'public', second.refresh_token), 'the family after the reuse');
        await assertDead(env, second.access_token, 'the access token of the revoked family');
      });

      test('a client\'s own grace window: a public client given one gets it, a confidential one set to 0 loses it', async () => {
        await env.s.registry.setRefreshGrace(env.seed.publicClient, 5);
        await env.s.registry.setRefreshGrace(env.seed.confidential.clientId, 0);
        try {
          const pub = await login(env, 'public');
          const pubNext = await refreshed(env, 'public', pub.refresh_token);
          const retry = await refreshed(env, 'public', pub.refresh_token);
          assert.equal(retry.refresh_token, pubNext.refresh_token, 'the public client now gets the same pair on a retry');
          const conf = await login(env, 'confidential');
          const confNext = await refreshed(env, 'confidential', conf.refresh_token);
          assertInvalidGrant(await refresh(env, 'confidential', conf.refresh_token), 'the confidential client with no window');
          assertInvalidGrant(await refresh(env, 'confidential', confNext.refresh_token), 'its family after the reuse');
        } finally {
          await env.s.registry.setRefreshGrace(env.seed.publicClient, null);
          await env.s.registry.setRefreshGrace(env.seed.confidential.clientId, null);
        }
        assert.equal((await env.s.registry.getClient(env.seed.publicClient)).refreshGraceSeconds, null);
      });

      test('F43: with the grace window a rotated token still stops working after it', async (t) => {
        const first = await login(env, 'confidential');
        const second = await refreshed(env, 'confidential', first.refresh_token);
        assert.notEqual(second.refresh_token, first.refresh_token);
        try {
          t.mock.timers.enable({ apis: ['Date'], now: Date.now() + 6000 });
          assertInvalidGrant(await refresh(env, 'confidential', first.refresh_token), 'the rotated token after the window');
        } finally {
          t.mock.timers.reset();
        }
        assertInvalidGrant(await refresh(env, 'confidential', second.refresh_token), 'the family after the reuse');
      });
    });

    describe('storage per family, and reuse without a row (refresh tokens name their family)', () => {
      const env = useServer(backend, {});
      const kysely = () => env.s.server.context.storage.db.kysely;
      const familyRows = async (grantId: string) =>
        kysely().selectFrom('refresh_tokens').selectAll().where('grant_id', '=', grantId).execute();
      const grantOf = (token: string) => /^lkr_([A-Za-z0-9_-]+)\./.exec(token)![1]!;

      test('a family keeps at most two rows however often it rotates, and at most one sealed response', async () => {
        const first = await login(env, 'confidential');
        const grantId = grantOf(first.refresh_token!);
        let current = first;
        for (let i = 0; i < 50; i++) {
          current = await refreshed(env, 'confidential', current.refresh_token);
          const rows = await familyRows(grantId);
          assert.ok(rows.length <= 2, `after ${i + 1} rotations the family has ${rows.length} rows`);
          assert.ok(rows.filter((r) => r.successor_enc !== null).length <= 1, 'at most one sealed response');
        }
        // Once the grace window is over, the janitor drops the rotated row and its sealed response.
        const now = Math.floor(Date.now() / 1000);
        await env.s.server.context.storage.refreshTokens.purgeForgotten(now + 10, 1000);
        const rows = await familyRows(grantId);
        assert.equal(rows.length, 1, 'only the current token remains');
        assert.equal(rows[0]!.successor_enc, null);
        assert.equal((await refreshed(env, 'confidential', current.refresh_token)).token_type, 'Bearer', 'the chain goes on');
      });

      test('the database does not grow with rotations: a constant per family, not per rotation', async () => {
        const first = await login(env, 'confidential');
        let current = first;
        const purge = () => env.s.server.context.storage.refreshTokens.purgeForgotten(Math.floor(Date.now() / 1000) + 10, 10_000);
        const refreshRows = async () => Number((await kysely().selectFrom('refresh_tokens').select((eb) => eb.fn.countAll().as('n')).executeTakeFirstOrThrow()).n);
        const bytes = async () => {
          const rows = await kysely().selectFrom('refresh_tokens').selectAll().execute();
          return JSON.stringify(rows).length;
        };
        for (let i = 0; i < 20; i++) current = await refreshed(env, 'confidential', current.refresh_token);
        await purge();
        const [rowsAfter20, bytesAfter20] = [await refreshRows(), await bytes()];
        for (let i = 0; i < 200; i++) current = await refreshed(env, 'confidential', current.refresh_token);
        await purge();
        // 200 more rotations of the same family: not one more row, and the bytes stored stay the same
        // within the width of a number.
        assert.equal(await refreshRows(), rowsAfter20);
        assert.ok(Math.abs((await bytes()) - bytesAfter20) < 64, `stored ${await bytes()} bytes against ${bytesAfter20}`);
        if (backend.name === 'sqlite') {
          // And in the file: the pages of the table and its indexes (SQLite's dbstat), free ones not counted.
          const sqlite = env.s.server.context.storage.db.sqlite!;
          const bytesOnDisk = () =>
            Number(
              (sqlite.prepare("select sum(pgsize - unused) as used from dbstat where name = 'refresh_tokens' or name like 'refresh_tokens%idx' or name like 'sqlite_autoindex_refresh_tokens%'").get() as { used: number }).used,
            );
          const before = bytesOnDisk();
          for (let i = 0; i < 200; i++) current = await refreshed(env, 'confidential', current.refresh_token);
          await purge();
          assert.ok(bytesOnDisk() - before < 512, `${bytesOnDisk() - before} more bytes in use after 200 more rotations`);
        }
      });

      test('a rotated token whose row is gone is still recognised: its reuse revokes the family', async () => {
        const first = await login(env, 'confidential');
        const second = await refreshed(env, 'confidential', first.refresh_token);
        const third = await refreshed(env, 'confidential', second.refresh_token);
        await env.s.server.context.storage.refreshTokens.purgeForgotten(Math.floor(Date.now() / 1000) + 10, 1000);
        const hash = (token: string) => createHash('sha256').update(token).digest('base64url');
        assert.equal(await env.s.server.context.storage.refreshTokens.find(hash(first.refresh_token!)), undefined, 'no row for the first token');
        assertInvalidGrant(await refresh(env, 'confidential', first.refresh_token), 'the first token, long rotated');
        assertInvalidGrant(await refresh(env, 'confidential', third.refresh_token), 'the live token of the family, after the reuse');
        await assertDead(env, third.access_token, 'the newest access token after the reuse');
      });

      test('a rotated token presented after its family ended is expired, not reused: it revokes nothing', async (t) => {
        const first = await login(env, 'confidential');
        const second = await refreshed(env, 'confidential', first.refresh_token);
        const grantId = grantOf(first.refresh_token!);
        const end = Date.now() + (env.s.settings.refreshTokenTtlSeconds + 60) * 1000;
        await env.s.server.context.storage.refreshTokens.purgeForgotten(Math.floor(end / 1000), 1000);
        try {
          t.mock.timers.enable({ apis: ['Date'], now: end });
          const res = await refresh(env, 'confidential', first.refresh_token);
          assertInvalidGrant(res, 'a token of an ended family');
          assert.equal(res.body.error_description, 'the refresh token is invalid, expired or revoked');
          assertInvalidGrant(await refresh(env, 'confidential', second.refresh_token), 'the family has ended');
        } finally {
          t.mock.timers.reset();
        }
        assert.equal((await env.s.server.context.storage.grants.findGrant(grantId))?.revokedAt, null, 'the grant was not revoked');
      });

      test('a token naming a family with a MAC that does not match is merely invalid: it revokes nothing', async () => {
        const first = await login(env, 'confidential');
        const forged = `${first.refresh_token!.slice(0, -4)}AAAA`;
        assertInvalidGrant(await refresh(env, 'confidential', forged), 'a forged tag');
        const [prefix, , tag] = first.refresh_token!.split('.');
        assertInvalidGrant(await refresh(env, 'confidential', `${prefix}.${'A'.repeat(43)}.${tag}`), 'another random part under the real tag');
        assert.equal((await refreshed(env, 'confidential', first.refresh_token)).token_type, 'Bearer', 'the family lives on');
      });

      test('a rotated token presented by another client revokes nothing', async () => {
        const first = await login(env, 'confidential');
        const second = await refreshed(env, 'confidential', first.refresh_token);
        await refreshed(env, 'confidential', second.refresh_token).then((third) => (second.refresh_token = third.refresh_token));
        await env.s.server.context.storage.refreshTokens.purgeForgotten(Math.floor(Date.now() / 1000) + 10, 1000);
        assertInvalidGrant(await refresh(env, 'public', first.refresh_token), 'presented by the public client');
        assert.equal((await refreshed(env, 'confidential', second.refresh_token)).token_type, 'Bearer', 'the family lives on');
      });

      test('revoking a rotated token whose row is gone revokes its family (RFC 7009 §2.1)', async () => {
        const first = await login(env, 'confidential');
        const second = await refreshed(env, 'confidential', first.refresh_token);
        const third = await refreshed(env, 'confidential', second.refresh_token);
        await env.s.server.context.storage.refreshTokens.purgeForgotten(Math.floor(Date.now() / 1000) + 10, 1000);
        const res = await postForm(
          `${env.s.issuer}/revoke`,
          { token: first.refresh_token! },
          { basic: [env.seed.confidential.clientId, env.seed.confidential.clientSecret] },
        );
        assert.equal(res.status, 200, res.text);
        assertInvalidGrant(await refresh(env, 'confidential', third.refresh_token), 'the family after the revocation');
      });

      test('refresh tokens issued before family tags (43 characters, a row each) keep rotating and reuse detection', async () => {
        const first = await login(env, 'confidential');
        // Turn the family's token into one of the older kind: a row under the hash of a bare random value.
        const legacy = 'L'.repeat(11) + createHash('sha256').update(String(Math.random())).digest('base64url').slice(0, 32);
        const hash = (token: string) => createHash('sha256').update(token).digest('base64url');
        await kysely().updateTable('refresh_tokens').set({ token_hash: hash(legacy) }).where('token_hash', '=', hash(first.refresh_token!)).execute();
        const second = await refreshed(env, 'confidential', legacy);
        assert.match(second.refresh_token!, /^lkr_/, 'its successor names the family');
        await env.s.server.context.storage.refreshTokens.purgeForgotten(Math.floor(Date.now() / 1000) + 10, 1000);
        const third = await refreshed(env, 'confidential', second.refresh_token);
        assert.ok(await env.s.server.context.storage.refreshTokens.find(hash(legacy)), 'the older token keeps its row');
        assertInvalidGrant(await refresh(env, 'confidential', legacy), 'reuse of the older token');
        assertInvalidGrant(await refresh(env, 'confidential', third.refresh_token), 'the family after that reuse');
      });
    });
  });
}
