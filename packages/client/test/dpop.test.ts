import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import Fastify from 'fastify';
import { createRemoteJWKSet, decodeJwt, decodeProtectedHeader, jwtVerify } from 'jose';
import { createValidator } from '@latchkey/resource-server';
import { checkDpopProof, createDpopNonces, createMemoryReplayCache, DpopProofError, randomNonceSecret } from '@latchkey/resource-server/dpop';
import { bearerAuth } from '@latchkey/resource-server/fastify';
import { API, authorizeInBrowser, FormBrowser, type Latchkey, parseSetCookie, startLatchkey } from '@latchkey/testing';
import { ClientCredentials, createBff, LatchkeyClient, OAuthError, type FetchLike, type TokenSet } from '../src/index.ts';
import { listen } from './helpers/http-servers.ts';

/**
 * DPoP (RFC 9449) through the SDK, against a real Latchkey: proofs on token requests (client credentials,
 * the code flow, refresh), access tokens bound to the client's key (`cnf.jkt`, §6.1), `dpop_jkt` (§10),
 * server nonces retried exactly once (§8), and API requests with a proof accepted by the server's
 * userinfo endpoint (§7.1), where the same token sent as Bearer is refused.
 */

/** A fetch that records each request's method, URL and DPoP proof, and each response's status and error. */
function recordingFetch(rewrite?: (response: Response) => Response) {
  const calls: { method: string; path: string; proof: string | null; status: number; error?: string }[] = [];
  const wrapped: FetchLike = async (input, init) => {
    const request = new Request(input, init);
    let response = await fetch(input, init);
    if (rewrite) response = rewrite(response);
    const call: (typeof calls)[number] = { method: request.method, path: new URL(request.url).pathname, proof: request.headers.get('dpop'), status: response.status };
    if (response.status >= 400) {
      const body = (await response.clone().json().catch(() => ({}))) as { error?: string };
      call.error = body.error ?? /error="([^"]+)"/.exec(response.headers.get('www-authenticate') ?? '')?.[1];
    }
    calls.push(call);
    return response;
  };
  return { fetch: wrapped, calls, to: (path: string) => calls.filter((c) => c.path === path) };
}

/**
 * The orders API on its own origin, checking DPoP as RFC 9449 §7.1 asks: the access token (a JWT of the
 * issuer for API, verified with jose), then the proof with @latchkey/resource-server's checkDpopProof
 * (method, URL, `ath`, the key of `cnf.jkt`, single use) and a server nonce (§9). `nonceEveryTime`
 * makes it refuse every nonce, as a misbehaving API would.
 */
async function startDpopApi(issuer: string, options: { nonceEveryTime?: boolean } = {}) {
  const jwks = createRemoteJWKSet(new URL(`${issuer}/jwks`));
  const nonces = createDpopNonces(randomNonceSecret());
  const replay = createMemoryReplayCache();
  const answers: { status: number; error?: string; nonce?: unknown }[] = [];
  const api = await listen(async (req, res) => {
    const refuse = (error: string) => {
      answers.push({ status: 401, error });
      res.writeHead(401, { 'www-authenticate': `DPoP error="${error}", algs="ES256"`, 'dpop-nonce': nonces.current() });
      res.end();
    };
    const token = /^DPoP (\S+)$/.exec(req.headers.authorization ?? '')?.[1];
    if (!token) return refuse('invalid_token');
    let jkt: string | undefined;
    try {
      const { payload } = await jwtVerify(token, jwks, { issuer, audience: API, typ: 'at+jwt', algorithms: ['ES256'] });
      jkt = (payload.cnf as { jkt?: string } | undefined)?.jkt;
    } catch {
      return refuse('invalid_token');
    }
    if (!jkt) return refuse('invalid_token');
    try {
      const proof = req.headers.dpop;
      if (options.nonceEveryTime) throw new DpopProofError('use_dpop_nonce', 'a new nonce, always');
      await checkDpopProof({ proof, method: req.method ?? 'GET', url: `http://${req.headers.host}${req.url}`, accessToken: token, jkt, replay, nonce: nonces });
      answers.push({ status: 200, nonce: decodeJwt(String(proof)).nonce });
    } catch (err) {
      if (err instanceof DpopProofError) return refuse(err.error);
      throw err;
    }
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ orders: [] }));
  });
  return { ...api, answers };
}

const cnfJkt = (token: string) => (decodeJwt(token).cnf as { jkt?: string } | undefined)?.jkt;

describe('DPoP with the SDK', () => {
  let lk: Latchkey;
  let svc: { id: string; secret: string };

  before(async () => {
    lk = await startLatchkey();
    const created = await lk.running.registry.createClient({ name: 'svc-dpop', type: 'confidential', grantTypes: ['client_credentials'], scopes: ['orders:read'] });
    svc = { id: created.client.clientId, secret: created.clientSecret! };
  });
  after(async () => lk?.close());

  test('client credentials with DPoP: a proof on the token request, token_type DPoP, cnf.jkt the thumbprint of the client key', async () => {
    const recorder = recordingFetch();
    const client = new LatchkeyClient({ issuer: lk.issuer, clientId: svc.id, clientSecret: svc.secret, dpop: true, fetch: recorder.fetch });
    const tokens = await client.clientCredentialsGrant({ scope: 'orders:read' });
    assert.equal(tokens.tokenType, 'DPoP');
    const jkt = await client.dpopThumbprint();
    assert.match(jkt!, /^[A-Za-z0-9_-]{43}$/);
    assert.equal(cnfJkt(tokens.accessToken), jkt);
    const [request] = recorder.to('/token');
    assert.ok(request?.proof, 'the token request carries a DPoP proof');
    const header = decodeProtectedHeader(request.proof);
    assert.equal(header.typ, 'dpop+jwt');
    assert.equal(header.alg, 'ES256');
    const proof = decodeJwt(request.proof);
    assert.equal(proof.htm, 'POST');
    assert.equal(proof.htu, `${lk.issuer}/token`);
    assert.equal(proof.ath, undefined, 'no access token is presented at the token endpoint');

    // The same client keeps its key: a second token is bound to it too.
    const again = await new ClientCredentials({ client, scope: 'orders:read' }).getToken();
    assert.equal(cnfJkt(again.accessToken), jkt);
    // Without the option, the tokens are Bearer, unbound.
    const bearer = await new LatchkeyClient({ issuer: lk.issuer, clientId: svc.id, clientSecret: svc.secret }).clientCredentialsGrant();
    assert.equal(bearer.tokenType, 'Bearer');
    assert.equal(cnfJkt(bearer.accessToken), undefined);
    assert.equal(await new LatchkeyClient({ issuer: lk.issuer, clientId: svc.id }).dpopThumbprint(), undefined);
  });

  test('a key pair of the application is used as given', async () => {
    const { generateKeyPair } = await import('oauth4webapi');
    const keyPair = await generateKeyPair('ES256');
    const a = new LatchkeyClient({ issuer: lk.issuer, clientId: svc.id, clientSecret: svc.secret, dpop: { keyPair } });
    const b = new LatchkeyClient({ issuer: lk.issuer, clientId: svc.id, clientSecret: svc.secret, dpop: { keyPair } });
    assert.equal(await a.dpopThumbprint(), await b.dpopThumbprint());
    assert.equal(cnfJkt((await b.clientCredentialsGrant()).accessToken), await a.dpopThumbprint());
    assert.notEqual(await new LatchkeyClient({ issuer: lk.issuer, clientId: svc.id, dpop: true }).dpopThumbprint(), await a.dpopThumbprint());
  });

  describe('a user with a public client', () => {
    let browser: FormBrowser;
    before(() => {
      browser = new FormBrowser();
    });

    const signIn = async (client: LatchkeyClient): Promise<TokenSet> => {
      const pending = await client.createAuthorizationRequest({ redirectUri: lk.seed.redirectUri, scope: 'openid offline_access orders:read' });
      assert.equal(new URL(pending.url).searchParams.get('dpop_jkt'), await client.dpopThumbprint(), 'RFC 9449 §10: dpop_jkt binds the code to the key');
      return client.handleCallback(await authorizeInBrowser(browser, lk.issuer, pending.url), pending);
    };

    test('the code flow and refresh: every token bound to the key, the refresh token too', async () => {
      const recorder = recordingFetch();
      const client = new LatchkeyClient({ issuer: lk.issuer, clientId: lk.seed.publicClient, dpop: true, fetch: recorder.fetch });
      const jkt = await client.dpopThumbprint();
      const tokens = await signIn(client);
      assert.equal(tokens.tokenType, 'DPoP');
      assert.equal(cnfJkt(tokens.accessToken), jkt);
      const next = await client.refresh(tokens.refreshToken!, { previous: tokens });
      assert.equal(next.tokenType, 'DPoP');
      assert.equal(cnfJkt(next.accessToken), jkt);
      assert.notEqual(next.refreshToken, tokens.refreshToken);
      assert.ok(recorder.to('/token').every((c) => c.proof !== null), 'the code exchange and the refresh carried proofs');

      // RFC 9449 §5: a public client's refresh token is bound to its key: another key cannot use it.
      const thief = new LatchkeyClient({ issuer: lk.issuer, clientId: lk.seed.publicClient, dpop: true });
      await assert.rejects(thief.refresh(next.refreshToken!), (err: unknown) => err instanceof OAuthError && err.status === 400);
      // Nor can a request without a proof.
      const bearerThief = new LatchkeyClient({ issuer: lk.issuer, clientId: lk.seed.publicClient });
      await assert.rejects(bearerThief.refresh(next.refreshToken!), (err: unknown) => err instanceof OAuthError && err.status === 400);
    });

    test('a code bound with dpop_jkt cannot be redeemed with another key', async () => {
      const client = new LatchkeyClient({ issuer: lk.issuer, clientId: lk.seed.publicClient, dpop: true });
      const pending = await client.createAuthorizationRequest({ redirectUri: lk.seed.redirectUri, scope: 'openid orders:read' });
      const callback = await authorizeInBrowser(browser, lk.issuer, pending.url);
      const other = new LatchkeyClient({ issuer: lk.issuer, clientId: lk.seed.publicClient, dpop: true });
      await assert.rejects(other.handleCallback(callback, pending), (err: unknown) => err instanceof OAuthError && err.status === 400);
    });

    test('authorizedFetch sends the token with a proof of the method, URL and token: userinfo accepts it, and refuses the same token as Bearer', async () => {
      const recorder = recordingFetch();
      const client = new LatchkeyClient({ issuer: lk.issuer, clientId: lk.seed.publicClient, dpop: true, fetch: recorder.fetch });
      const session = client.session(await signIn(client));
      const res = await session.authorizedFetch(`${lk.issuer}/userinfo`);
      assert.equal(res.status, 200, await res.clone().text());
      assert.equal(((await res.json()) as { sub: string }).sub, lk.seed.user.id);
      const [call] = recorder.to('/userinfo');
      const proof = decodeJwt(call!.proof!);
      assert.equal(proof.htm, 'GET');
      assert.equal(proof.htu, `${lk.issuer}/userinfo`);
      assert.equal(typeof proof.ath, 'string');

      const asBearer = await fetch(`${lk.issuer}/userinfo`, { headers: { authorization: `Bearer ${session.tokens.accessToken}` } });
      assert.equal(asBearer.status, 401, 'a DPoP-bound token presented as Bearer is refused');
      await asBearer.body?.cancel();
    });
  });
});

describe('DPoP in the backend for frontend', () => {
  let lk: Latchkey;

  before(async () => {
    lk = await startLatchkey({ settings: { refreshGraceSeconds: 0 } });
  });
  after(async () => lk?.close());

  test("the BFF's tokens are bound to its client's key, across requests and refreshes; authorizedFetch sends the proofs", async (t) => {
    const client = new LatchkeyClient({ issuer: lk.issuer, clientId: lk.seed.confidential.clientId, clientSecret: lk.seed.confidential.clientSecret, dpop: true });
    const bff = createBff({ client, redirectUri: lk.seed.redirectUri, scope: 'openid offline_access orders:read', cookieKey: 'qjSsuK0Lz3wPXjMB8OUK0fEHq2V-zf3V3Ox1A9Ee3bE' });
    const cookies = (setCookie: string | string[] | undefined) =>
      (typeof setCookie === 'string' ? [setCookie] : (setCookie ?? []))
        .map((c) => parseSetCookie(c))
        .filter((c) => c && c.value !== '')
        .map((c) => `${c!.name}=${c!.value}`)
        .join('; ');
    const login = await bff.login();
    const callbackUrl = new URL(await authorizeInBrowser(new FormBrowser(), lk.issuer, String(login.headers.location)));
    const signedIn = await bff.callback({ url: `${callbackUrl.pathname}${callbackUrl.search}`, headers: { cookie: cookies(login.headers['set-cookie']) } });
    const session = { headers: { cookie: cookies(signedIn.headers['set-cookie']) } };

    const jkt = await client.dpopThumbprint();
    const first = await bff.getAccessToken(session);
    assert.equal(first.tokenType, 'DPoP');
    assert.equal(cnfJkt(first.accessToken!), jkt);
    const again = await bff.getAccessToken(session);
    assert.equal(again.accessToken, first.accessToken, 'the next request of the session gets the same token, from memory');
    const userinfo = await again.authorizedFetch!(`${lk.issuer}/userinfo`);
    assert.equal(userinfo.status, 200, await userinfo.clone().text());
    assert.equal(((await userinfo.json()) as { sub: string }).sub, lk.seed.user.id);

    // Eleven minutes later: refreshed, and bound to the same key.
    t.mock.timers.enable({ apis: ['Date'], now: Date.now() + 11 * 60_000 });
    const refreshed = await bff.getAccessToken(session);
    assert.notEqual(refreshed.accessToken, first.accessToken);
    assert.equal(refreshed.tokenType, 'DPoP');
    assert.equal(cnfJkt(refreshed.accessToken!), jkt);
    assert.equal((await refreshed.authorizedFetch!(`${lk.issuer}/userinfo`)).status, 200);
  });
});

describe('DPoP at an API (RFC 9449 §7, §9)', () => {
  let lk: Latchkey;
  let svc: { id: string; secret: string };

  before(async () => {
    lk = await startLatchkey();
    const created = await lk.running.registry.createClient({ name: 'svc-api', type: 'confidential', grantTypes: ['client_credentials'], scopes: ['orders:read'] });
    svc = { id: created.client.clientId, secret: created.clientSecret! };
  });
  after(async () => lk?.close());

  test('ClientCredentials.authorizedFetch: the API asks for a nonce (401 use_dpop_nonce), gets the request once more with it, and accepts the proof', async () => {
    const api = await startDpopApi(lk.issuer);
    try {
      const client = new LatchkeyClient({ issuer: lk.issuer, clientId: svc.id, clientSecret: svc.secret, dpop: true });
      const source = new ClientCredentials({ client, scope: 'orders:read' });
      const res = await source.authorizedFetch(`${api.url}/orders`);
      assert.equal(res.status, 200);
      assert.deepEqual(await res.json(), { orders: [] });
      assert.deepEqual(api.answers.map((a) => a.status), [401, 200]);
      assert.equal(api.answers[0]!.error, 'use_dpop_nonce');
      assert.equal(typeof api.answers[1]!.nonce, 'string');
      // The nonce is remembered for the API's origin: the next request is accepted at once.
      assert.equal((await source.authorizedFetch(`${api.url}/orders`)).status, 200);
      assert.deepEqual(api.answers.map((a) => a.status), [401, 200, 200]);
    } finally {
      await api.close();
    }
  });

  test("@latchkey/resource-server's Fastify middleware (DPoP required, with nonces) accepts the SDK's proofs after one use_dpop_nonce", async () => {
    const app = Fastify();
    const seen: number[] = [];
    app.addHook('onResponse', async (_request, reply) => void seen.push(reply.statusCode));
    const auth = bearerAuth(createValidator({ issuer: lk.issuer, audience: API }), {
      realm: 'orders',
      dpop: { mode: 'required', nonce: createDpopNonces(randomBytes(32), 60) },
    });
    app.get('/orders', { preHandler: [auth] }, async (request) => ({ boundTo: (request.auth.payload.cnf as { jkt?: string } | undefined)?.jkt ?? null }));
    const url = await app.listen({ port: 0, host: '127.0.0.1' });
    try {
      const client = new LatchkeyClient({ issuer: lk.issuer, clientId: svc.id, clientSecret: svc.secret, dpop: true });
      const res = await new ClientCredentials({ client, scope: 'orders:read' }).authorizedFetch(`${url}/orders`);
      assert.equal(res.status, 200, await res.clone().text());
      assert.deepEqual(await res.json(), { boundTo: await client.dpopThumbprint() });
      assert.deepEqual(seen, [401, 200], 'one use_dpop_nonce, then accepted');
      // The same token without its proof (as Bearer) is refused by the library.
      const token = (await new ClientCredentials({ client, scope: 'orders:read' }).getToken()).accessToken;
      const asBearer = await fetch(`${url}/orders`, { headers: { authorization: `Bearer ${token}` } });
      assert.equal(asBearer.status, 401);
    } finally {
      await app.close();
    }
  });

  test('a second use_dpop_nonce from the API is returned as it is, not retried again', async () => {
    const api = await startDpopApi(lk.issuer, { nonceEveryTime: true });
    try {
      const client = new LatchkeyClient({ issuer: lk.issuer, clientId: svc.id, clientSecret: svc.secret, dpop: true });
      const res = await new ClientCredentials({ client, scope: 'orders:read' }).authorizedFetch(`${api.url}/orders`);
      assert.equal(res.status, 401);
      assert.match(res.headers.get('www-authenticate') ?? '', /use_dpop_nonce/);
      assert.deepEqual(api.answers.map((a) => a.error), ['use_dpop_nonce', 'use_dpop_nonce']);
    } finally {
      await api.close();
    }
  });

  test('the API refuses a proof by another key than the token is bound to (the check the test API relies on)', async () => {
    const api = await startDpopApi(lk.issuer);
    try {
      const owner = new LatchkeyClient({ issuer: lk.issuer, clientId: svc.id, clientSecret: svc.secret, dpop: true });
      const stolen = await owner.clientCredentialsGrant({ scope: 'orders:read' });
      const thief = new LatchkeyClient({ issuer: lk.issuer, clientId: svc.id, clientSecret: svc.secret, dpop: true });
      const res = await thief.session(stolen).authorizedFetch(`${api.url}/orders`);
      assert.equal(res.status, 401);
      assert.equal(api.answers.at(-1)?.error, 'invalid_dpop_proof');
    } finally {
      await api.close();
    }
  });
});

describe('DPoP server nonces (RFC 9449 §8, §9)', () => {
  let lk: Latchkey;
  let svc: { id: string; secret: string };

  before(async () => {
    lk = await startLatchkey({ settings: { dpopNonce: true } });
    const created = await lk.running.registry.createClient({ name: 'svc-nonce', type: 'confidential', grantTypes: ['client_credentials'], scopes: ['orders:read'] });
    svc = { id: created.client.clientId, secret: created.clientSecret! };
  });
  after(async () => lk?.close());

  test('use_dpop_nonce at the token endpoint is retried once with the nonce; the nonce is then remembered', async () => {
    const recorder = recordingFetch();
    const client = new LatchkeyClient({ issuer: lk.issuer, clientId: svc.id, clientSecret: svc.secret, dpop: true, fetch: recorder.fetch });
    const tokens = await client.clientCredentialsGrant({ scope: 'orders:read' });
    assert.equal(tokens.tokenType, 'DPoP');
    const [first, second] = recorder.to('/token');
    assert.equal(first?.status, 400);
    assert.equal(first?.error, 'use_dpop_nonce');
    assert.equal(decodeJwt(first!.proof!).nonce, undefined);
    assert.equal(second?.status, 200);
    assert.equal(typeof decodeJwt(second!.proof!).nonce, 'string');
    await client.clientCredentialsGrant({ scope: 'orders:read' });
    assert.equal(recorder.to('/token').length, 3, 'the next request carried the remembered nonce');
  });

  test('a second use_dpop_nonce is not retried: the error is the server\'s', async () => {
    // Every DPoP-Nonce the client sees is replaced by one the server never issued.
    const recorder = recordingFetch((response) => {
      if (!response.headers.has('dpop-nonce')) return response;
      const headers = new Headers(response.headers);
      headers.set('dpop-nonce', 'not-a-nonce-of-this-server');
      return new Response(response.body, { status: response.status, headers });
    });
    const client = new LatchkeyClient({ issuer: lk.issuer, clientId: svc.id, clientSecret: svc.secret, dpop: true, fetch: recorder.fetch });
    await assert.rejects(client.clientCredentialsGrant(), (err: unknown) => err instanceof OAuthError && err.error === 'use_dpop_nonce' && err.status === 400);
    assert.deepEqual(
      recorder.to('/token').map((c) => c.error),
      ['use_dpop_nonce', 'use_dpop_nonce'],
      'two requests, not three',
    );
  });

  test("userinfo, on the issuer's origin, is sent the nonce the token endpoint gave: accepted at once", async () => {
    const recorder = recordingFetch();
    const client = new LatchkeyClient({ issuer: lk.issuer, clientId: lk.seed.publicClient, dpop: true, fetch: recorder.fetch });
    const pending = await client.createAuthorizationRequest({ redirectUri: lk.seed.redirectUri, scope: 'openid orders:read' });
    const tokens = await client.handleCallback(await authorizeInBrowser(new FormBrowser(), lk.issuer, pending.url), pending);
    const res = await client.session(tokens).authorizedFetch(`${lk.issuer}/userinfo`);
    assert.equal(res.status, 200, await res.clone().text());
    await res.body?.cancel();
    const calls = recorder.to('/userinfo');
    assert.equal(calls.length, 1);
    assert.equal(typeof decodeJwt(calls[0]!.proof!).nonce, 'string');
  });
});
