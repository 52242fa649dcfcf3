import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { decodeJwt, decodeProtectedHeader } from 'jose';
import { UserRegistry } from '../../src/users/user-registry.ts';
import { type AuthorizeOptions, authorizeUrl, backends, FormBrowser, pkcePair, postForm, REDIRECT_URI, runAuthorization, type RunningServer, seedUserFlow, startServer, type TestDatabase, type UserFlowSeed } from '@latchkey/testing';

/**
 * The authorization code grant at the token endpoint (docs/security.md B18-B23 and C24-C31): PKCE, single use,
 * binding to client and redirect URI, expiry, storage by hash, and the token response itself.
 */

type Reply = Awaited<ReturnType<typeof postForm>>;

/** BASE64URL(SHA256(ASCII(verifier))), RFC 7636 §4.2, computed here rather than by the server's code. */
const s256 = (verifier: string) => createHash('sha256').update(verifier, 'utf8').digest('base64url');

const FULL_SCOPE = 'openid profile email offline_access orders:read';

function describeReply(r: Reply): string {
  return `${r.status} ${r.text}`;
}

/** RFC 6749 §5.2: invalid_grant is a 400 with a JSON body, never cached. */
function assertInvalidGrant(r: Reply, message?: string): void {
  assert.equal(r.status, 400, `${message ?? 'expected invalid_grant'}: ${describeReply(r)}`);
  assert.equal(r.body?.error, 'invalid_grant', `${message ?? 'expected invalid_grant'}: ${describeReply(r)}`);
  assert.equal(r.headers.get('cache-control'), 'no-store');
}

/** RFC 6749 §5.2: invalid_client is a 401 with a WWW-Authenticate challenge. */
function assertInvalidClient(r: Reply, message?: string): void {
  assert.equal(r.status, 401, `${message ?? 'expected invalid_client'}: ${describeReply(r)}`);
  assert.equal(r.body?.error, 'invalid_client', `${message ?? 'expected invalid_client'}: ${describeReply(r)}`);
  assert.equal(r.headers.get('www-authenticate'), 'Basic realm="latchkey", charset="UTF-8"');
}

function assertTokens(r: Reply, message?: string): { access_token: string; refresh_token?: string; id_token?: string; scope: string } {
  assert.equal(r.status, 200, `${message ?? 'expected tokens'}: ${describeReply(r)}`);
  assert.equal(typeof r.body.access_token, 'string');
  return r.body;
}

for (const backend of await backends()) {
  describe(`authorization code grant at the token endpoint (${backend.name})`, { skip: backend.skip }, () => {
    let db: TestDatabase;
    let s: RunningServer;
    let seed: UserFlowSeed;
    let confidential: [string, string];
    /** A confidential client registered for client_credentials only. */
    let serviceClient: [string, string];
    /** Alice's browser: logged in once, consents remembered, for the whole suite. */
    const browser = new FormBrowser();

    before(async () => {
      db = await backend.create();
      s = await startServer(db);
      seed = await seedUserFlow(s);
      confidential = [seed.confidential.clientId, seed.confidential.clientSecret];
      const service = await s.registry.createClient({
        name: 'svc-orders',
        type: 'confidential',
        grantTypes: ['client_credentials'],
        scopes: ['orders:read'],
      });
      serviceClient = [service.client.clientId, service.clientSecret!];
    });
    after(async () => {
      await s?.close();
      await db?.drop();
    });

    /** Runs the browser side for alice and returns the code and the verifier that answers its challenge. */
    async function authorize(options: AuthorizeOptions, who = browser): Promise<{ code: string; verifier: string }> {
      const result = await runAuthorization(who, s, options);
      const code = result.callback.searchParams.get('code');
      assert.ok(code, `no code in ${result.callback}`);
      return { code, verifier: result.verifier };
    }

    const token = (form: Record<string, string>, basic?: [string, string]) =>
      postForm(`${s.url}/token`, form, basic ? { basic } : {});

    /** The public client's token request, with any field replaced or (undefined) left out. */
    const redeemPublic = (code: string, verifier: string | undefined, changes: Record<string, string | undefined> = {}) =>
      token(withChanges({ grant_type: 'authorization_code', code, code_verifier: verifier, redirect_uri: REDIRECT_URI, client_id: seed.publicClient }, changes));

    /** The confidential client's token request (HTTP Basic, or none with `basic: null`), with any field replaced or left out. */
    const redeemConfidential = (
      code: string,
      verifier: string | undefined,
      changes: Record<string, string | undefined> = {},
      basic: [string, string] | null = confidential,
    ) => token(withChanges({ grant_type: 'authorization_code', code, code_verifier: verifier, redirect_uri: REDIRECT_URI }, changes), basic ?? undefined);

    const refresh = (refreshToken: string, basic?: [string, string]) =>
      token(basic ? { grant_type: 'refresh_token', refresh_token: refreshToken } : { grant_type: 'refresh_token', refresh_token: refreshToken, client_id: seed.publicClient }, basic);

    /** RFC 7662 introspection as the confidential client (it sees only its own tokens). */
    const introspect = (accessToken: string) => postForm(`${s.url}/introspect`, { token: accessToken }, { basic: confidential });

    const userinfo = async (accessToken: string) => {
      const res = await fetch(`${s.url}/userinfo`, { headers: { authorization: `Bearer ${accessToken}` } });
      const text = await res.text();
      return { status: res.status, headers: res.headers, text, body: text ? JSON.parse(text) : undefined };
    };

    async function assertActive(accessToken: string, message: string) {
      const r = await introspect(accessToken);
      assert.equal(r.status, 200);
      assert.equal(r.body.active, true, `${message}: ${r.text}`);
    }
    async function assertInactive(accessToken: string, message: string) {
      const r = await introspect(accessToken);
      assert.equal(r.status, 200);
      assert.equal(r.text, '{"active":false}', message);
    }

    const kysely = () => s.server.context.storage.db.kysely;

    // ---------------------------------------------------------------- B. PKCE

    test('B20/B21: a verifier too short, too long, with bad characters, wrong or missing is invalid_grant, and spends nothing', async () => {
      const { code, verifier } = await authorize({ clientId: seed.publicClient });
      const wrong = pkcePair().verifier;
      const attempts: [string, string | undefined][] = [
        ['too short (42 characters)', verifier.slice(0, 42)],
        ['too long (129 characters)', verifier + 'a'.repeat(129 - verifier.length)],
        ['bad characters (+ and /)', `${verifier.slice(0, 41)}+/`],
        ['a space', `${verifier.slice(0, 42)} `],
        ['wrong (another valid verifier)', wrong],
        ['missing', undefined],
        ['empty', ''],
      ];
      for (const [what, attempt] of attempts) {
        // RFC 7636 §4.6: "If the values are not equal, an error response indicating "invalid_grant" ... MUST be returned."
        assertInvalidGrant(await redeemPublic(code, attempt), `verifier ${what}`);
      }
      // OAuth 2.1 §7.5.2 (docs/security.md C25): the failed attempts consumed nothing.
      assertTokens(await redeemPublic(code, verifier), 'the right verifier after the failed attempts');
    });

    test('B20: a malformed verifier is refused even when its SHA-256 is the challenge; 43 and 128 unreserved characters work', async () => {
      // RFC 7636 §4.1: code-verifier = 43*128unreserved, unreserved = ALPHA / DIGIT / "-" / "." / "_" / "~".
      const malformed = ['a'.repeat(42), 'a'.repeat(129), `${'a'.repeat(42)}+`, `${'a'.repeat(42)}=`, `${'a'.repeat(42)}%`, 'é'.repeat(43)];
      for (const verifier of malformed) {
        const { code } = await authorize({ clientId: seed.publicClient, extra: { code_challenge: s256(verifier) } });
        assertInvalidGrant(await redeemPublic(code, verifier), `verifier ${JSON.stringify(verifier)}`);
      }
      for (const verifier of ['b'.repeat(43), `${'A-._~'.repeat(25)}xyz`]) {
        const { code } = await authorize({ clientId: seed.publicClient, extra: { code_challenge: s256(verifier) } });
        assertTokens(await redeemPublic(code, verifier), `verifier of ${verifier.length} characters`);
      }
    });

    test('B18/B22: an authorization request without code_challenge (or without S256) never yields a code', async () => {
      // The downgrade of RFC 9700 §4.8.2 cannot happen: every code has a challenge. What is checked instead is
      // that no request without one gets a code, for a user who is logged in and has consented already.
      await authorize({ clientId: seed.publicClient });
      const { challenge } = pkcePair();
      const control = await browser.get(authorizeUrl(s, { clientId: seed.publicClient }, challenge));
      assert.equal(control.status, 303);
      assert.ok(new URL(control.location!).searchParams.get('code'), 'control: the same request with a challenge gets a code');

      const variants: [string, (u: URL) => void][] = [
        ['no code_challenge', (u) => u.searchParams.delete('code_challenge')],
        ['no code_challenge nor method', (u) => (u.searchParams.delete('code_challenge'), u.searchParams.delete('code_challenge_method'))],
        ['no method (means plain)', (u) => u.searchParams.delete('code_challenge_method')],
        ['plain', (u) => u.searchParams.set('code_challenge_method', 'plain')],
      ];
      for (const [what, change] of variants) {
        const url = new URL(authorizeUrl(s, { clientId: seed.publicClient }, challenge));
        change(url);
        for (const page of [await browser.get(url.toString()), await browser.post(url.origin + url.pathname, Object.fromEntries(url.searchParams))]) {
          assert.equal(page.status, 303, what);
          const back = new URL(page.location!);
          assert.equal(`${back.origin}${back.pathname}`, REDIRECT_URI, what);
          assert.equal(back.searchParams.get('error'), 'invalid_request', what);
          assert.equal(back.searchParams.has('code'), false, `${what}: no code`);
          assert.equal(back.searchParams.get('state'), 'state-123');
          assert.equal(back.searchParams.get('iss'), s.issuer);
        }
      }
    });

    test('B23: both metadata documents say code_challenge_methods_supported is exactly ["S256"]', async () => {
      for (const path of ['/.well-known/openid-configuration', '/.well-known/oauth-authorization-server']) {
        const res = await fetch(`${s.url}${path}`);
        assert.equal(res.status, 200, path);
        const metadata = (await res.json()) as Record<string, unknown>;
        assert.deepEqual(metadata.code_challenge_methods_supported, ['S256'], path);
      }
    });

    // ---------------------------------------------------------------- C. Authorization codes

    test('C24: a second valid redemption is invalid_grant and revokes the access token, the refresh token and userinfo access', async () => {
      const { code, verifier } = await authorize({ clientId: seed.confidential.clientId });
      const first = assertTokens(await redeemConfidential(code, verifier), 'first redemption');
      assert.ok(first.refresh_token);
      assert.equal(decodeProtectedHeader(first.access_token).typ, 'at+jwt', 'a JWT access token (RFC 9068)');
      await assertActive(first.access_token, 'before the replay');
      const before = await userinfo(first.access_token);
      assert.equal(before.status, 200, before.text);
      assert.equal(before.body.sub, seed.user.id);

      // OAuth 2.1 §4.1.3: "If an authorization code is used more than once, the authorization server MUST deny
      // the request and SHOULD revoke (when possible) all access tokens and refresh tokens previously issued
      // based on that authorization code."
      assertInvalidGrant(await redeemConfidential(code, verifier), 'second redemption');
      await assertInactive(first.access_token, 'the first access token is revoked');
      assertInvalidGrant(await refresh(first.refresh_token, confidential), 'the first refresh token is revoked');
      const after = await userinfo(first.access_token);
      assert.equal(after.status, 401, after.text);
      assert.equal(after.body.error, 'invalid_token');
      assert.match(after.headers.get('www-authenticate') ?? '', /^Bearer realm="latchkey", error="invalid_token"/);
      assertInvalidGrant(await redeemConfidential(code, verifier), 'a third redemption');
    });

    test('C25: a replay with a bad verifier, bad client authentication, another client or another redirect_uri revokes nothing', async () => {
      const { code, verifier } = await authorize({ clientId: seed.confidential.clientId });
      const first = assertTokens(await redeemConfidential(code, verifier), 'first redemption');

      // OAuth 2.1 §7.5.2: a replay that fails the other checks must not let an attacker revoke the client's tokens.
      assertInvalidGrant(await redeemConfidential(code, pkcePair().verifier), 'replay with a wrong verifier');
      assertInvalidGrant(await redeemConfidential(code, undefined), 'replay without a verifier');
      assertInvalidClient(await redeemConfidential(code, verifier, {}, [confidential[0], 'not-the-secret']), 'replay with a wrong secret');
      assertInvalidClient(await redeemConfidential(code, verifier, { client_id: confidential[0] }, null), 'replay without client authentication');
      assertInvalidGrant(await redeemPublic(code, verifier), 'replay by another client');
      assertInvalidGrant(await redeemConfidential(code, verifier, { redirect_uri: 'http://127.0.0.1/cb' }), 'replay with another redirect_uri');

      await assertActive(first.access_token, 'the first access token survives the failed replays');
      const refreshed = assertTokens(await refresh(first.refresh_token!, confidential), 'the first refresh token still works');
      await assertActive(refreshed.access_token, 'refreshed');

      // Control: a replay that passes every check is still detected, and revokes the whole grant.
      assertInvalidGrant(await redeemConfidential(code, verifier), 'valid replay');
      await assertInactive(first.access_token, 'after the valid replay');
      await assertInactive(refreshed.access_token, 'after the valid replay, the refreshed access token too');
    });

    /**
     * 20 redemptions of one code at once (docs/security.md C26), in `rounds` rounds. Each one passes client
     * authentication, the redirect URI and PKCE (authorization-code.ts); then GrantStore.redeem runs one
     * atomic `UPDATE ... WHERE consumed_at IS NULL`, so exactly one request consumes the code. Every other
     * one finds it consumed (status 'replayed') and, as for any valid second redemption (C24), revokes the
     * grant. What that does to the winner's tokens: when the winner answers 200, its access token is
     * revoked by the losers (it introspects inactive) and its refresh token is refused. But when a loser's
     * revocation lands between the winner's consume and the moment it records its access token
     * (GrantStore.recordAccessToken reads the grant again), the winner answers invalid_grant ("the grant
     * has been revoked") and no request succeeds at all, which C26's "exactly one success" does not allow.
     */
    async function race(nodes: string[], rounds: number) {
      const counts: number[] = [];
      const summaries: string[] = [];
      for (let round = 0; round < rounds; round++) {
        const { code, verifier } = await authorize({ clientId: seed.confidential.clientId });
        const form = { grant_type: 'authorization_code', code, code_verifier: verifier, redirect_uri: REDIRECT_URI };
        const results = await Promise.all(
          Array.from({ length: 20 }, (_, i) => postForm(`${nodes[i % nodes.length]}/token`, form, { basic: confidential })),
        );
        const winners = results.filter((r) => r.status === 200);
        const summary = results.map((r) => (r.status === 200 ? '200' : `${r.status} ${r.body?.error_description}`)).join('\n');
        for (const r of results) if (r.status !== 200) assertInvalidGrant(r, 'a losing redemption');
        assert.ok(winners.length <= 1, `never more than one success:\n${summary}`);
        for (const winner of winners) {
          await assertInactive(winner.body.access_token, "the losers' replays revoked the winner's access token");
          assertInvalidGrant(await refresh(winner.body.refresh_token, confidential), "the winner's refresh token is revoked");
        }
        counts.push(winners.length);
        summaries.push(summary);
      }
      const firstMiss = counts.findIndex((n) => n !== 1);
      // Several rounds, because the outcome depends on timing: a round on fresh connections often passes.
      assert.deepEqual(
        counts,
        counts.map(() => 1),
        `exactly one of 20 simultaneous redemptions succeeds in every round (C26); the first round without:\n${summaries[firstMiss] ?? ''}`,
      );
    }

    test('C26: 20 simultaneous redemptions of one code: exactly one 200, the others invalid_grant; the winner\'s tokens are revoked', async () => {
      await race([s.url], 10);
    });

    // Several nodes share one database on PostgreSQL only (SQLite is the single-node engine), so the
    // test exists on that backend alone rather than being skipped on the other (CI fails on SKIP).
    if (backend.name === 'postgres') test(
      'C26: 20 simultaneous redemptions across two server nodes on one database: exactly one 200',
      async () => {
        // A second node on the same database, with the same LATCHKEY_SECRET (startServer sets it) and issuer.
        const node2 = await startServer(db, { issuer: s.issuer });
        try {
          await race([s.url, node2.url], 10);
        } finally {
          await node2.close();
        }
      },
    );

    test('C27: a code redeemed by another client is invalid_grant, and still works for its own client', async () => {
      const ofPublic = await authorize({ clientId: seed.publicClient });
      assertInvalidGrant(await redeemConfidential(ofPublic.code, ofPublic.verifier), "the confidential client redeems the public client's code");
      assertTokens(await redeemPublic(ofPublic.code, ofPublic.verifier), 'its own client afterwards');

      const ofConfidential = await authorize({ clientId: seed.confidential.clientId });
      assertInvalidGrant(await redeemPublic(ofConfidential.code, ofConfidential.verifier), "the public client redeems the confidential client's code");
      assertTokens(await redeemConfidential(ofConfidential.code, ofConfidential.verifier), 'its own client afterwards');
    });

    test('C28: a different redirect_uri is invalid_grant; it may be left out only when the client has one registered URI', async () => {
      // RFC 6749 §4.1.3: redirect_uri "REQUIRED, if the "redirect_uri" parameter was included in the authorization
      // request ..., and their values MUST be identical."
      const { code, verifier } = await authorize({ clientId: seed.publicClient });
      for (const other of ['http://127.0.0.1/cb', `${REDIRECT_URI}/`, 'https://APP.example/callback', `${REDIRECT_URI}?x=1`, '']) {
        assertInvalidGrant(await redeemPublic(code, verifier, { redirect_uri: other }), `redirect_uri ${JSON.stringify(other)}`);
      }
      // The public client registered two URIs: leaving it out names neither.
      assertInvalidGrant(await redeemPublic(code, verifier, { redirect_uri: undefined }), 'redirect_uri left out, two registered');
      assertTokens(await redeemPublic(code, verifier), 'the right redirect_uri after the failed attempts');

      // A loopback URI may vary its port at /authorize (RFC 8252 §7.3), but the token request must repeat it exactly.
      const loopback = 'http://127.0.0.1:8123/cb';
      const viaLoopback = await authorize({ clientId: seed.publicClient, redirectUri: loopback });
      assertInvalidGrant(await redeemPublic(viaLoopback.code, viaLoopback.verifier, { redirect_uri: 'http://127.0.0.1/cb' }), 'the registered port-less URI');
      assertInvalidGrant(await redeemPublic(viaLoopback.code, viaLoopback.verifier, { redirect_uri: 'http://127.0.0.1:8124/cb' }), 'another port');
      assertTokens(await redeemPublic(viaLoopback.code, viaLoopback.verifier, { redirect_uri: loopback }), 'the same loopback URI');

      // OIDC Core §3.1.3.2: "If the redirect_uri parameter value is not present when there is only one registered
      // redirect_uri value, the Authorization Server MAY return an error ... or MAY proceed without an error".
      // Latchkey proceeds: the confidential client registered exactly one URI.
      const sole = await authorize({ clientId: seed.confidential.clientId });
      assertTokens(await redeemConfidential(sole.code, sole.verifier, { redirect_uri: undefined }), 'left out, one registered');

      // And when the authorization request left it out too (OAuth 2.1 §4.1.1: allowed with one registered URI).
      const { verifier: v2, challenge } = pkcePair();
      const url = new URL(authorizeUrl(s, { clientId: seed.confidential.clientId }, challenge));
      url.searchParams.delete('redirect_uri');
      const page = await browser.get(url.toString());
      assert.equal(page.status, 303, page.text.slice(0, 300));
      const back = new URL(page.location!);
      assert.equal(`${back.origin}${back.pathname}`, REDIRECT_URI);
      const omitted = back.searchParams.get('code');
      assert.ok(omitted, `no code in ${back}`);
      assertTokens(await redeemConfidential(omitted, v2, { redirect_uri: undefined }), 'left out in both requests');
    });

    test('C29: a code lives 60 s: redeemed 1 ms before its end it works, 61 s after issuance it is invalid_grant', async (t) => {
      const inTime = await authorize({ clientId: seed.publicClient });
      const late = await authorize({ clientId: seed.publicClient });
      const row = async (code: string) => {
        const found = await kysely().selectFrom('authorization_codes').selectAll().where('code_hash', '=', s256(code)).executeTakeFirst();
        assert.ok(found, 'the code is stored under its SHA-256');
        return { createdAt: Number(found.created_at), expiresAt: Number(found.expires_at) };
      };
      const lateRow = await row(late.code);
      const inTimeRow = await row(inTime.code);
      assert.equal(lateRow.expiresAt - lateRow.createdAt, 60, 'the lifetime is 60 s');

      // The server runs in this process: mocking Date moves its clock too.
      let lateReply: Reply;
      t.mock.timers.enable({ apis: ['Date'], now: (lateRow.createdAt + 61) * 1000 });
      try {
        lateReply = await redeemPublic(late.code, late.verifier);
      } finally {
        t.mock.timers.reset();
      }
      assertInvalidGrant(lateReply, 'redeemed 61 s after issuance');

      let inTimeReply: Reply;
      t.mock.timers.enable({ apis: ['Date'], now: inTimeRow.expiresAt * 1000 - 1 });
      try {
        inTimeReply = await redeemPublic(inTime.code, inTime.verifier);
      } finally {
        t.mock.timers.reset();
      }
      assertTokens(inTimeReply, 'redeemed 1 ms before the end of its lifetime');
    });

    test('C30: codes and refresh tokens carry at least 128 bits and are stored only as SHA-256 hashes', async () => {
      const a = await authorize({ clientId: seed.publicClient });
      const b = await authorize({ clientId: seed.publicClient });
      for (const code of [a.code, b.code]) {
        // RFC 6749 §10.10: at least 128 bits, i.e. 22 or more base64url characters.
        assert.match(code, /^[A-Za-z0-9_-]{22,}$/, 'a base64url code of at least 128 bits');
      }
      assert.notEqual(a.code, b.code);

      const codeRows = await kysely().selectFrom('authorization_codes').selectAll().execute();
      const own = codeRows.filter((r) => r.code_hash === s256(a.code));
      assert.equal(own.length, 1, "the code's row is found by its SHA-256");
      const dump = JSON.stringify(codeRows);
      for (const code of [a.code, b.code]) {
        assert.ok(!dump.includes(code), 'the code itself is in no row');
        assert.ok(!dump.includes(Buffer.from(code, 'base64url').toString('hex')), 'nor its bytes in hex');
      }

      const first = assertTokens(await redeemPublic(a.code, a.verifier), 'redemption');
      const refreshToken = first.refresh_token!;
      // lkr_<family>.<256 random bits>.<MAC> (grants/refresh-family.ts).
      assert.match(refreshToken, /^lkr_[A-Za-z0-9_-]{22}\.[A-Za-z0-9_-]{43}\.[A-Za-z0-9_-]{22}$/, 'a refresh token with 256 random bits');
      const rotated = assertTokens(await refresh(refreshToken), 'rotation');
      const successor = rotated.refresh_token!;
      assert.notEqual(successor, refreshToken);

      const tokenRows = await kysely().selectFrom('refresh_tokens').selectAll().execute();
      assert.equal(tokenRows.filter((r) => r.token_hash === s256(refreshToken)).length, 1, 'stored under its SHA-256');
      assert.equal(tokenRows.filter((r) => r.token_hash === s256(successor)).length, 1, 'the successor too');
      const tokenDump = JSON.stringify(tokenRows);
      for (const t of [refreshToken, successor]) {
        assert.ok(!tokenDump.includes(t), 'no refresh token in clear');
        assert.ok(!tokenDump.includes(Buffer.from(t, 'base64url').toString('hex')), 'nor its bytes in hex');
      }
    });

    test('C31: a refresh token presented as a code, and a code presented as a refresh token, are invalid_grant', async () => {
      const { code, verifier } = await authorize({ clientId: seed.publicClient });
      assertInvalidGrant(await refresh(code), 'a code as a refresh token');
      const tokens = assertTokens(await redeemPublic(code, verifier), 'the code still works as a code');
      const refreshToken = tokens.refresh_token!;
      assertInvalidGrant(await redeemPublic(refreshToken, verifier), 'a refresh token as a code');
      assertTokens(await refresh(refreshToken), 'the refresh token still works as one');
    });

    // ---------------------------------------------------------------- The token response and the client

    test('D35/D40: the token response has token_type, expires_in, scope, id_token and refresh_token, and Cache-Control: no-store', async () => {
      const { code, verifier } = await authorize({ clientId: seed.confidential.clientId, nonce: 'n-0S6_WzA2Mj' });
      const r = await redeemConfidential(code, verifier);
      const body = assertTokens(r, 'redemption');
      // RFC 6749 §5.1: "The authorization server MUST include the HTTP "Cache-Control" response header field
      // with a value of "no-store" in any response containing tokens".
      assert.equal(r.headers.get('cache-control'), 'no-store');
      assert.match(r.headers.get('content-type') ?? '', /^application\/json/);
      assert.equal(r.body.token_type, 'Bearer');
      assert.equal(r.body.expires_in, s.settings.accessTokenTtlSeconds);
      assert.equal(r.body.scope, FULL_SCOPE);
      assert.equal(typeof body.refresh_token, 'string', 'offline_access was requested');
      assert.equal(typeof body.id_token, 'string');
      const id = decodeJwt(body.id_token!);
      assert.equal(id.iss, s.issuer);
      assert.equal(id.aud, seed.confidential.clientId);
      assert.equal(id.sub, seed.user.id);
      assert.equal(id.nonce, 'n-0S6_WzA2Mj');
    });

    test('without offline_access an OpenID Connect request gets no refresh token; a plain OAuth request does', async () => {
      const oidc = await authorize({ clientId: seed.publicClient, scope: 'openid orders:read' });
      const body = assertTokens(await redeemPublic(oidc.code, oidc.verifier), 'openid without offline_access');
      assert.equal(body.scope, 'openid orders:read');
      assert.equal('refresh_token' in body, false, 'OIDC Core §11: offline access must be asked for');
      assert.equal(typeof body.id_token, 'string');

      const plain = await authorize({ clientId: seed.publicClient, scope: 'orders:read' });
      const plainBody = assertTokens(await redeemPublic(plain.code, plain.verifier), 'plain OAuth');
      assert.equal(typeof plainBody.refresh_token, 'string', 'control: the client is allowed refresh tokens');
      assert.equal('id_token' in plainBody, false, 'no openid, no ID token');
    });

    test('D32: a confidential client must authenticate; a public client cannot present a secret it does not have', async () => {
      const conf = await authorize({ clientId: seed.confidential.clientId });
      // OAuth 2.1 §3.2.1: confidential clients MUST authenticate with the token endpoint.
      assertInvalidClient(await redeemConfidential(conf.code, conf.verifier, { client_id: confidential[0] }, null), 'client_id without the secret');
      assertInvalidClient(await redeemConfidential(conf.code, conf.verifier, {}, [confidential[0], `${confidential[1]}x`]), 'a wrong secret');
      assertInvalidClient(
        await redeemConfidential(conf.code, conf.verifier, { client_id: confidential[0], client_secret: 'not-the-secret' }, null),
        'a wrong secret in the body',
      );
      assertTokens(await redeemConfidential(conf.code, conf.verifier), 'the code is still good with the secret');

      const pub = await authorize({ clientId: seed.publicClient });
      assertInvalidClient(await redeemPublic(pub.code, pub.verifier, { client_secret: 'made-up-secret' }), 'public client with client_secret_post');
      assertInvalidClient(await redeemPublic(pub.code, pub.verifier, { client_id: undefined }), 'no client at all');
      assertInvalidClient(
        await token({ grant_type: 'authorization_code', code: pub.code, code_verifier: pub.verifier, redirect_uri: REDIRECT_URI }, [seed.publicClient, 'made-up-secret']),
        'public client with HTTP Basic',
      );
      assertTokens(await redeemPublic(pub.code, pub.verifier), 'the public code is still good');
    });

    test('a client registered without authorization_code gets unauthorized_client', async () => {
      const { code, verifier } = await authorize({ clientId: seed.publicClient });
      const r = await token({ grant_type: 'authorization_code', code, code_verifier: verifier, redirect_uri: REDIRECT_URI }, serviceClient);
      // RFC 6749 §5.2 unauthorized_client: "The authenticated client is not authorized to use this authorization grant type."
      assert.equal(r.status, 400, describeReply(r));
      assert.equal(r.body.error, 'unauthorized_client');
      assertTokens(await redeemPublic(code, verifier), 'the code is still good for its own client');
    });

    test("a disabled user's code is refused (disabled after login, before the exchange)", async () => {
      const users = new UserRegistry(s.server.context.storage);
      await users.create({ username: 'bob', password: 'another correct horse battery', email: 'bob@example.com' });
      const bobBrowser = new FormBrowser();
      const { code, verifier } = await authorize({ clientId: seed.publicClient, username: 'bob', password: 'another correct horse battery' }, bobBrowser);
      await users.disable('bob');
      try {
        assertInvalidGrant(await redeemPublic(code, verifier), 'the user was disabled');
      } finally {
        await users.enable('bob');
      }
      // Control: bob enabled again gets tokens from a new code.
      const again = await authorize({ clientId: seed.publicClient, username: 'bob', password: 'another correct horse battery' }, bobBrowser);
      assertTokens(await redeemPublic(again.code, again.verifier), 'bob enabled again');
    });
  });
}

/** The form with each changed field replaced, or left out when the change is undefined. */
function withChanges(form: Record<string, string | undefined>, changes: Record<string, string | undefined>): Record<string, string> {
  const merged = { ...form, ...changes };
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(merged)) if (v !== undefined) out[k] = v;
  return out;
}
