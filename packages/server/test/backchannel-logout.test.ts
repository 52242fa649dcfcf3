import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import { after, before, describe, test } from 'node:test';
import { createRemoteJWKSet, decodeJwt, decodeProtectedHeader, jwtVerify } from 'jose';
import { UserRegistry } from '../src/users/user-registry.ts';
import { backends, completeFlow, exchangeCode, FormBrowser, runAuthorization, REDIRECT_URI, type RunningServer, seedUserFlow, sendJson, startServer, type TestDatabase, type UserFlowSeed } from '@latchkey/testing';

/**
 * OpenID Connect Back-Channel Logout 1.0 through real HTTP: a relying party's receiver (an HTTP server
 * in this test, on loopback, which LATCHKEY_ALLOW_LOOPBACK_BACKCHANNEL_LOGOUT allows) gets a signed
 * logout token whose `sid` is the one of its ID token, after /logout and after `users revoke`; a 500
 * is retried; a client without a backchannel_logout_uri gets nothing; registration refuses bad URIs.
 */

const EVENT = 'http://schemas.openid.net/event/backchannel-logout';

interface Received {
  path: string;
  contentType: string | undefined;
  body: URLSearchParams;
}

for (const backend of await backends()) {
  describe(`Back-channel logout (${backend.name})`, { skip: backend.skip }, () => {
    let db: TestDatabase;
    let s: RunningServer;
    let seed: UserFlowSeed;
    let receiver: Server;
    let receiverUrl: string;
    /** What the receiver was sent, in order. */
    const received: Received[] = [];
    /** The statuses the receiver answers with next; then 200. */
    const answers: number[] = [];
    /** The relying party: confidential, with a backchannel_logout_uri at the receiver. */
    let rp: [string, string];

    before(async () => {
      receiver = createServer((req, res) => {
        const chunks: Buffer[] = [];
        req.on('data', (c: Buffer) => chunks.push(c));
        req.on('end', () => {
          received.push({ path: req.url ?? '', contentType: req.headers['content-type'], body: new URLSearchParams(Buffer.concat(chunks).toString('utf8')) });
          res.statusCode = answers.shift() ?? 200;
          res.setHeader('cache-control', 'no-store');
          res.end();
        });
      });
      await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
      receiverUrl = `http://127.0.0.1:${(receiver.address() as { port: number }).port}`;
      db = await backend.create();
      s = await startServer(db, { allowLoopbackBackchannelLogout: true, registration: 'open', registrationRateLimitPerHour: 1000 });
      seed = await seedUserFlow(s);
      const created = await s.registry.createClient({
        name: 'RP',
        type: 'confidential',
        grantTypes: ['authorization_code'],
        scopes: ['openid', 'orders:read'],
        redirectUris: [REDIRECT_URI],
        firstParty: true,
        backchannelLogoutUri: `${receiverUrl}/backchannel`,
        backchannelLogoutSessionRequired: true,
      });
      rp = [created.client.clientId, created.clientSecret!];
    });
    after(async () => {
      await s?.close();
      await db?.drop();
      await new Promise<void>((resolve) => receiver?.close(() => resolve()));
    });

    const ctx = () => s.server.context;

    /** Runs deliveries until the receiver has `count` requests (the server's own sender may be first). */
    const receivedAtLeast = async (count: number): Promise<void> => {
      for (let i = 0; i < 200 && received.length < count; i++) {
        await ctx().backchannelLogout.deliverDue();
        if (received.length < count) await new Promise((r) => setTimeout(r, 25));
      }
      assert.ok(received.length >= count, `the receiver got ${received.length} logout requests, not ${count}`);
    };

    /** Alice signs in at the RP (and at the public client without a backchannel_logout_uri) in one browser. */
    const signIn = async (browser: FormBrowser) => {
      const result = await runAuthorization(browser, s, { clientId: rp[0], scope: 'openid orders:read' });
      const code = result.callback.searchParams.get('code');
      assert.ok(code, `no code in ${result.callback}`);
      const res = await exchangeCode(s, { clientId: rp[0], secret: rp[1], code, verifier: result.verifier });
      assert.equal(res.status, 200, res.text);
      return res.body as { id_token?: string };
    };

    /** The logout token a request carried, verified as an RP would (Back-Channel Logout §2.6). */
    const verifyLogoutToken = async (request: Received, now = ctx().now()) => {
      assert.equal(request.path, '/backchannel');
      // §2.5: a form POST with the one parameter logout_token.
      assert.match(request.contentType ?? '', /^application\/x-www-form-urlencoded/);
      const token = request.body.get('logout_token');
      assert.ok(token, 'no logout_token');
      const { payload, protectedHeader } = await jwtVerify(token, createRemoteJWKSet(new URL(`${s.issuer}/jwks`)), {
        issuer: s.issuer,
        audience: rp[0],
        typ: 'logout+jwt',
        currentDate: new Date(now * 1000),
      });
      assert.equal(protectedHeader.alg, 'RS256', "the client's id_token_signed_response_alg");
      assert.deepEqual(payload.events, { [EVENT]: {} });
      assert.equal(payload.nonce, undefined, '§2.4: a logout token MUST NOT contain a nonce');
      assert.equal(typeof payload.jti, 'string');
      assert.ok(typeof payload.exp === 'number' && typeof payload.iat === 'number' && payload.exp - payload.iat <= 300, 'short-lived');
      return payload;
    };

    test('discovery says back-channel logout is supported, with sid', async () => {
      const doc = (await (await fetch(`${s.issuer}/.well-known/openid-configuration`)).json()) as Record<string, unknown>;
      assert.equal(doc.backchannel_logout_supported, true);
      assert.equal(doc.backchannel_logout_session_supported, true);
    });

    test('RP-initiated logout: the RP gets a signed logout token with its ID token sid; the client without a URI gets nothing', async () => {
      const browser = new FormBrowser();
      const tokens = await signIn(browser);
      const idToken = decodeJwt(tokens.id_token!);
      assert.equal(typeof idToken.sid, 'string', 'sid in the ID token');
      // The same session signs in at the public client too, which registered no backchannel_logout_uri.
      await completeFlow(browser, s, { clientId: seed.publicClient });
      // The sid is not the session cookie (§2.1: an opaque identifier of the session).
      const cookie = browser.cookies(s.issuer).latchkey_session;
      assert.ok(cookie, 'the session cookie');
      assert.notEqual(idToken.sid, cookie);
      assert.notEqual(idToken.sid, createHash('sha256').update(cookie).digest('base64url'), 'nor its hash');
      const before = received.length;
      const res = await browser.get(`${s.issuer}/logout?${new URLSearchParams({ id_token_hint: tokens.id_token! })}`);
      assert.equal(res.status, 200, res.text.slice(0, 200));
      await receivedAtLeast(before + 1);
      // Give a wrongly queued second logout (the public client's) the chance to show up.
      await ctx().backchannelLogout.deliverDue();
      assert.equal(received.length, before + 1, 'one logout: the public client has no backchannel_logout_uri');
      const payload = await verifyLogoutToken(received[before]!);
      assert.equal(payload.sid, idToken.sid);
      assert.equal(payload.sub, idToken.sub);
      assert.deepEqual(await ctx().storage.backchannelLogouts.list(), [], 'nothing left in the queue');
    });

    test('users revoke: each session of the user is logged out at the RP, sid matching', async () => {
      const first = decodeJwt((await signIn(new FormBrowser())).id_token!);
      const second = decodeJwt((await signIn(new FormBrowser())).id_token!);
      assert.notEqual(first.sid, second.sid, 'two browsers, two sessions');
      const before = received.length;
      await new UserRegistry(ctx().storage).signOutEverywhere(seed.user.username);
      await receivedAtLeast(before + 2);
      const sids = await Promise.all(received.slice(before).map(async (r) => (await verifyLogoutToken(r)).sid));
      assert.deepEqual(new Set(sids), new Set([first.sid, second.sid]));
    });

    test('a 500 from the RP is retried later, and then delivered', async () => {
      const idToken = decodeJwt((await signIn(new FormBrowser())).id_token!);
      const before = received.length;
      answers.push(500);
      await new UserRegistry(ctx().storage).signOutEverywhere(seed.user.username);
      await receivedAtLeast(before + 1);
      const [pending] = await ctx().storage.backchannelLogouts.list();
      assert.ok(pending, 'kept for a retry');
      assert.equal(pending.attempts, 1);
      assert.match(pending.lastError ?? '', /500/);
      // Not yet due: nothing more is sent now.
      await ctx().backchannelLogout.deliverDue();
      assert.equal(received.length, before + 1);
      const realNow = ctx().now;
      ctx().now = () => realNow() + 3600;
      try {
        await receivedAtLeast(before + 2);
        const payload = await verifyLogoutToken(received[before + 1]!, ctx().now());
        assert.equal(payload.sid, idToken.sid);
        assert.notEqual(decodeProtectedHeader(received[before + 1]!.body.get('logout_token')!).typ, undefined);
        assert.notEqual(payload.jti, decodeJwt(received[before]!.body.get('logout_token')!).jti, 'a fresh token per attempt');
      } finally {
        ctx().now = realNow;
      }
      assert.deepEqual(await ctx().storage.backchannelLogouts.list(), []);
    });

    test('dynamic registration: backchannel_logout_uri is checked and returned', async () => {
      const app = (changes: Record<string, unknown>) => ({
        client_name: 'RP',
        redirect_uris: ['https://rp.example/callback'],
        token_endpoint_auth_method: 'client_secret_basic',
        scope: 'openid',
        ...changes,
      });
      const refused: [Record<string, unknown>, RegExp][] = [
        [{ backchannel_logout_uri: 'https://rp.example/bc#top' }, /fragment/],
        [{ backchannel_logout_uri: 'http://rp.example/bc' }, /https/],
        [{ backchannel_logout_uri: 'not a url' }, /backchannel_logout_uri/],
        [{ backchannel_logout_uri: 42 }, /string/],
        [{ backchannel_logout_uri: 'https://user@rp.example/bc' }, /userinfo/],
        [{ backchannel_logout_uri: `${receiverUrl}/bc`, token_endpoint_auth_method: 'none' }, /confidential/],
        [{ backchannel_logout_uri: 'https://rp.example/bc', backchannel_logout_session_required: 'yes' }, /true or false/],
      ];
      for (const [changes, reason] of refused) {
        const res = await sendJson(`${s.issuer}/register`, 'POST', app(changes));
        assert.equal(res.status, 400, `${JSON.stringify(changes)}: ${res.text}`);
        assert.equal(res.body.error, 'invalid_client_metadata', JSON.stringify(changes));
        assert.match(res.body.error_description, reason, JSON.stringify(changes));
      }
      const ok = await sendJson(`${s.issuer}/register`, 'POST', app({ backchannel_logout_uri: 'https://rp.example/bc?x=1', backchannel_logout_session_required: true }));
      assert.equal(ok.status, 201, ok.text);
      assert.equal(ok.body.backchannel_logout_uri, 'https://rp.example/bc?x=1');
      assert.equal(ok.body.backchannel_logout_session_required, true);
      const client = await s.registry.getClient(ok.body.client_id);
      assert.equal(client.backchannelLogoutUri, 'https://rp.example/bc?x=1');
    });

    test('the operator sets, shows and removes the URI; a bad one is refused', async () => {
      await assert.rejects(s.registry.setBackchannelLogout(rp[0], 'https://rp.example/bc#x', false), /fragment/);
      await assert.rejects(s.registry.setBackchannelLogout(seed.publicClient, 'http://127.0.0.1:1/bc', false), /confidential/);
      const cleared = await s.registry.setBackchannelLogout(rp[0], null, false);
      assert.equal(cleared.backchannelLogoutUri, null);
      const restored = await s.registry.setBackchannelLogout(rp[0], `${receiverUrl}/backchannel`, true);
      assert.equal(restored.backchannelLogoutUri, `${receiverUrl}/backchannel`);
      assert.equal(restored.backchannelLogoutSessionRequired, true);
    });
  });
}
