import assert from 'node:assert/strict';
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import Fastify from 'fastify';
import { calculateJwkThumbprint, decodeJwt, exportJWK, SignJWT, type JWTPayload } from 'jose';
import * as oauth from 'oauth4webapi';
import * as client from 'openid-client';
import { createDpopNonces, createValidator } from '@latchkey/resource-server';
import { bearerAuth, requireScopes } from '@latchkey/resource-server/fastify';
import {
  backends,
  dpopProver,
  FormBrowser,
  freePort,
  type RunningServer,
  seedUserFlow,
  startServer,
  type TestDatabase,
  type UserFlowSeed,
} from '@latchkey/testing';
import { driveAuthorization } from './drive-browser.ts';

/**
 * Interop for DPoP (RFC 9449): `openid-client` 6.9.0 (getDPoPHandle, randomDPoPKeyPair) and
 * `oauth4webapi` 3.8.8 (DPoP, generateKeyPair, isDPoPNonceError), pinned in packages/server's
 * devDependencies, sign the proofs with their own keys and their own code: client credentials, the
 * code flow with PKCE (with `dpop_jkt`, and with PAR carrying the proof, RFC 9449 §10 and §10.1),
 * refresh and userinfo; and an orders API behind `@latchkey/resource-server`'s Fastify middleware, on
 * its own socket, takes the protected-resource requests they make and refuses the token as Bearer, a
 * replayed proof, and proofs for another URL or by another key.
 *
 * Each suite runs twice per storage backend: against a server without nonces, where every call is one
 * request whose proof has no nonce, and against one with `dpopNonce: true` (RFC 9449 §8), where the
 * first proof of a new key is refused with use_dpop_nonce and the library retries with the nonce of
 * the DPoP-Nonce header (openid-client on its own; with oauth4webapi the caller retries on
 * isDPoPNonceError, as its documentation says). The API then asks for its own nonces too (§9).
 *
 * The issuer is http://127.0.0.1:<port>, hence the libraries' allowInsecureRequests switches.
 */

/** One request a library sent and the answer it got, as a fetch wrapped around the library saw them. */
interface Exchange {
  /** The URL without its query. */
  url: string;
  authorization: string | undefined;
  /** The request's DPoP header, and its claims when it had one. */
  dpop: string | undefined;
  proof: JWTPayload | undefined;
  status: number;
  /** The answer's OAuth error: the JSON body's `error`, or the one in WWW-Authenticate. */
  error: string | undefined;
  /** The answer's DPoP-Nonce header. */
  nonce: string | undefined;
}

/** The fetch both libraries take (their customFetch): url and fetch options. */
type LibraryFetch = (url: string, options: { method: string; headers: Record<string, string>; body?: unknown }) => Promise<Response>;

interface Recorder {
  fetch: LibraryFetch;
  /** What was sent to `url` (query ignored), in order. */
  at(url: string): Exchange[];
}

function recorder(): Recorder {
  const log: Exchange[] = [];
  return {
    async fetch(url, options) {
      const response = await fetch(url, options as RequestInit);
      const headers = new Headers(options.headers);
      const dpop = headers.get('dpop') ?? undefined;
      let error: string | undefined;
      if (response.status >= 400) {
        try {
          error = (JSON.parse(await response.clone().text()) as { error?: string }).error;
        } catch {
          error = undefined;
        }
        error ??= /error="([^"]+)"/.exec(response.headers.get('www-authenticate') ?? '')?.[1];
      }
      const bare = new URL(url);
      bare.search = '';
      log.push({
        url: bare.href,
        authorization: headers.get('authorization') ?? undefined,
        dpop,
        proof: dpop === undefined ? undefined : decodeJwt(dpop),
        status: response.status,
        error,
        nonce: response.headers.get('dpop-nonce') ?? undefined,
      });
      return response;
    },
    at: (url) => log.filter((e) => e.url === url),
  };
}

/**
 * The requests of one library call made with a key that has no nonce yet. Without nonces: one request,
 * its proof without a nonce. With nonces (RFC 9449 §8, §9): the proof refused with use_dpop_nonce and
 * a DPoP-Nonce header, then the library's retry, a new proof carrying that nonce.
 */
function assertFirstProofs(exchanges: Exchange[], nonces: boolean, refusalStatus: 400 | 401): void {
  const summary = JSON.stringify(exchanges.map((e) => ({ status: e.status, error: e.error, nonce: e.proof?.nonce })));
  if (!nonces) {
    assert.equal(exchanges.length, 1, summary);
    assert.ok(exchanges[0]!.proof, 'the request carried a DPoP proof');
    assert.equal(exchanges[0]!.proof.nonce, undefined);
    return;
  }
  assert.equal(exchanges.length, 2, summary);
  const [refused, retry] = exchanges as [Exchange, Exchange];
  assert.equal(refused.status, refusalStatus, summary);
  assert.equal(refused.error, 'use_dpop_nonce', summary);
  assert.equal(refused.proof?.nonce, undefined);
  assert.ok(refused.nonce, 'the refusal names the nonce in DPoP-Nonce');
  assert.equal(retry.proof?.nonce, refused.nonce);
  assert.notEqual(retry.proof?.jti, refused.proof?.jti, 'the retry is a new proof');
  assert.ok(retry.status < 300, summary);
}

/** The `cnf.jkt` of a JWT access token (RFC 9449 §6.1). */
const boundTo = (accessToken: string) => (decodeJwt(accessToken).cnf as { jkt?: string } | undefined)?.jkt;

/** RFC 7638 thumbprint of a key pair's public key, computed here rather than by the library. */
const thumbprintOf = async (keyPair: oauth.CryptoKeyPair) => calculateJwkThumbprint(await exportJWK(keyPair.publicKey), 'sha256');

/** The OAuth error code of a library's rejection (a ResponseBodyError, or a challenge's error). */
function oauthErrorOf(err: unknown): string | undefined {
  if (err instanceof oauth.ResponseBodyError) return err.error;
  if (err instanceof oauth.WWWAuthenticateChallengeError) return err.cause.find((c) => c.parameters.error)?.parameters.error;
  return undefined;
}

async function rejectsWithError(promise: Promise<unknown>, code: string): Promise<void> {
  await assert.rejects(promise, (err: unknown) => {
    assert.equal(oauthErrorOf(err), code, String(err));
    return true;
  });
}

/** An orders API on Fastify behind the resource-server library, on its own socket, answering whose token it took. */
async function startOrdersApi(issuer: string, audience: string, nonces: boolean) {
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const app = Fastify();
  const auth = bearerAuth(createValidator({ issuer, audience }), {
    realm: 'orders',
    dpop: {
      // Bearer is taken too: a refusal of the bound token as Bearer is about the binding, not the mode.
      mode: 'allowed',
      publicUrl: url,
      ...(nonces ? { nonce: createDpopNonces(randomBytes(32), 60) } : {}),
    },
  });
  app.get('/orders', { preHandler: [auth, requireScopes('orders:read')] }, async (request) => ({
    sub: request.auth.sub,
    jkt: (request.auth.payload.cnf as { jkt?: string } | undefined)?.jkt ?? null,
  }));
  await app.listen({ port, host: '127.0.0.1' });
  return { url, orders: `${url}/orders`, close: () => app.close() };
}

/** A proof signed with `keyPair` (the library's own key) for whatever URL and method, made with jose. */
async function proofWith(keyPair: oauth.CryptoKeyPair, claims: { htm: string; htu: string; accessToken: string; nonce?: string | undefined }) {
  return new SignJWT({
    htm: claims.htm,
    htu: claims.htu,
    ath: createHash('sha256').update(claims.accessToken).digest('base64url'),
    jti: randomUUID(),
    ...(claims.nonce !== undefined ? { nonce: claims.nonce } : {}),
  })
    .setProtectedHeader({ alg: 'ES256', typ: 'dpop+jwt', jwk: await exportJWK(keyPair.publicKey) })
    .setIssuedAt()
    .sign(keyPair.privateKey);
}

/** Sends the API a request the way a client with `headers` would, and reads the answer's error. */
async function callApi(url: string, headers: Record<string, string>) {
  const response = await fetch(url, { headers });
  const text = await response.text();
  const challenge = response.headers.get('www-authenticate') ?? '';
  return { status: response.status, text, challenge, error: /error="([^"]+)"/.exec(challenge)?.[1] };
}

const MODES = [
  { name: 'no nonces', dpopNonce: false },
  { name: 'server nonces', dpopNonce: true },
] as const;

for (const backend of await backends()) {
  for (const mode of MODES) {
    describe(`interop: DPoP with openid-client and oauth4webapi (${backend.name}, ${mode.name})`, { skip: backend.skip }, () => {
      let db: TestDatabase;
      let s: RunningServer;
      let seed: UserFlowSeed;
      let service: { clientId: string; clientSecret: string };
      let api: Awaited<ReturnType<typeof startOrdersApi>>;
      /** Alice's browser: logged in once, her consents remembered. */
      let browser: FormBrowser;
      const nonces = mode.dpopNonce;

      before(async () => {
        db = await backend.create();
        s = await startServer(db, { dpopNonce: mode.dpopNonce });
        seed = await seedUserFlow(s);
        const svc = await s.registry.createClient({ name: 'svc-a', type: 'confidential', grantTypes: ['client_credentials'], scopes: ['orders:read'] });
        service = { clientId: svc.client.clientId, clientSecret: svc.clientSecret! };
        api = await startOrdersApi(s.issuer, seed.api, mode.dpopNonce);
        browser = new FormBrowser();
      });
      after(async () => {
        await api?.close();
        await s?.close();
        await db?.drop();
      });

      const endpoint = (path: string) => `${s.issuer}${path}`;

      /**
       * The checks of the API that the library's own request passed: the same bound token as Bearer is
       * refused (RFC 9449 §7.2), the library's request sent again is a replay (§11.1), and a proof by
       * the library's key for another URL or method (§4.3) or a proof by another key (§7.1) is refused, while the
       * same hand-made proof for the right URL is taken, so each refusal is about the one thing changed.
       */
      async function assertApiRefusals(rec: Recorder, keyPair: oauth.CryptoKeyPair, accessToken: string) {
        const taken = rec.at(api.orders).at(-1)!;
        assert.equal(taken.status, 200);
        assert.equal(taken.authorization, `DPoP ${accessToken}`);

        const asBearer = await callApi(api.orders, { authorization: `Bearer ${accessToken}` });
        assert.equal(asBearer.status, 401, asBearer.text);
        assert.equal(asBearer.error, 'invalid_token');
        assert.match(asBearer.text, /bound to a DPoP key/);

        const replay = await callApi(api.orders, { authorization: taken.authorization, dpop: taken.dpop! });
        assert.equal(replay.status, 401, replay.text);
        assert.equal(replay.error, 'invalid_dpop_proof');
        assert.match(replay.text, /used before/);

        // The API's current nonce, from its refusals of the library's first proofs (none without nonces).
        const nonce = rec.at(api.orders).findLast((e) => e.nonce !== undefined)?.nonce;
        assert.equal(nonce !== undefined, nonces);
        const proof = (htu: string, htm = 'GET') => proofWith(keyPair, { htm, htu, accessToken, nonce });
        const otherUrl = await callApi(api.orders, { authorization: `DPoP ${accessToken}`, dpop: await proof(`${api.url}/invoices`) });
        assert.equal(otherUrl.status, 401, otherUrl.text);
        assert.equal(otherUrl.error, 'invalid_dpop_proof');
        assert.match(otherUrl.text, /another URL/);
        const otherMethod = await callApi(api.orders, { authorization: `DPoP ${accessToken}`, dpop: await proof(api.orders, 'POST') });
        assert.equal(otherMethod.status, 401, otherMethod.text);
        assert.equal(otherMethod.error, 'invalid_dpop_proof');
        assert.match(otherMethod.text, /another HTTP method/);
        const otherKey = await dpopProver();
        const stranger = await otherKey.proof({ htm: 'GET', htu: api.orders, accessToken, ...(nonce !== undefined ? { nonce } : {}) });
        const byStranger = await callApi(api.orders, { authorization: `DPoP ${accessToken}`, dpop: stranger });
        assert.equal(byStranger.status, 401, byStranger.text);
        assert.equal(byStranger.error, 'invalid_dpop_proof');
        assert.match(byStranger.text, /not signed with the key the access token is bound to/);

        const control = await callApi(api.orders, { authorization: `DPoP ${accessToken}`, dpop: await proof(api.orders) });
        assert.equal(control.status, 200, control.text);
      }

      describe('openid-client 6.9.0', () => {
        /** `discovery` as an application calls it; every later request goes through `rec`. */
        const discover = async (clientId: string, auth: client.ClientAuth, rec: Recorder) => {
          const config = await client.discovery(new URL(s.issuer), clientId, undefined, auth, {
            execute: [client.allowInsecureRequests, client.enableNonRepudiationChecks],
          });
          config[client.customFetch] = rec.fetch;
          return config;
        };

        /** The browser half of a code flow from a URL the library built (with PAR or without). */
        const authorize = async (config: client.Configuration, build: (parameters: Record<string, string>) => Promise<URL>) => {
          const verifier = client.randomPKCECodeVerifier();
          const state = client.randomState();
          const nonce = client.randomNonce();
          const url = await build({
            redirect_uri: seed.redirectUri,
            scope: 'openid profile email offline_access orders:read',
            state,
            nonce,
            code_challenge: await client.calculatePKCECodeChallenge(verifier),
            code_challenge_method: 'S256',
          });
          const callback = await driveAuthorization(browser, s.issuer, url);
          return { callback, checks: { pkceCodeVerifier: verifier, expectedState: state, expectedNonce: nonce } };
        };

        test("client credentials with a proof: token_type DPoP, cnf.jkt the thumbprint of the library's key", async () => {
          const rec = recorder();
          const config = await discover(service.clientId, client.ClientSecretBasic(service.clientSecret), rec);
          const keyPair = await client.randomDPoPKeyPair();
          const DPoP = client.getDPoPHandle(config, keyPair);
          assert.ok(config.serverMetadata().dpop_signing_alg_values_supported?.includes('ES256'));
          const tokens = await client.clientCredentialsGrant(config, { scope: 'orders:read' }, { DPoP });
          assert.equal(tokens.token_type, 'dpop');
          assert.equal(boundTo(tokens.access_token), await thumbprintOf(keyPair));
          assertFirstProofs(rec.at(endpoint('/token')), nonces, 400);
        });

        test('code flow with PKCE and dpop_jkt, refresh and userinfo, each with a proof by the same key', async () => {
          const rec = recorder();
          const config = await discover(seed.publicClient, client.None(), rec);
          const keyPair = await client.randomDPoPKeyPair();
          const DPoP = client.getDPoPHandle(config, keyPair);
          const jkt = await thumbprintOf(keyPair);
          assert.equal(await DPoP.calculateThumbprint(), jkt);
          // RFC 9449 §10: dpop_jkt binds the code to the key.
          const { callback, checks } = await authorize(config, async (p) => client.buildAuthorizationUrl(config, { ...p, dpop_jkt: jkt }));

          // Another key cannot redeem the bound code, and does not spend it.
          const other = client.getDPoPHandle(config, await client.randomDPoPKeyPair());
          await rejectsWithError(client.authorizationCodeGrant(config, callback, checks, undefined, { DPoP: other }), 'invalid_grant');

          const tokens = await client.authorizationCodeGrant(config, callback, checks, undefined, { DPoP });
          assert.equal(tokens.token_type, 'dpop');
          assert.equal(boundTo(tokens.access_token), jkt);
          assert.equal(tokens.claims()?.sub, seed.user.id);
          assert.ok(tokens.refresh_token);
          const exchanges = rec.at(endpoint('/token'));
          assertFirstProofs(exchanges.slice(-(nonces ? 2 : 1)), nonces, 400);

          // RFC 9449 §5: a public client's refresh token is bound to the key: another key is refused
          // (and the token not spent), the library's key gets a new bound access token.
          await rejectsWithError(client.refreshTokenGrant(config, tokens.refresh_token, undefined, { DPoP: other }), 'invalid_grant');
          const refreshed = await client.refreshTokenGrant(config, tokens.refresh_token, undefined, { DPoP });
          assert.equal(refreshed.token_type, 'dpop');
          assert.equal(boundTo(refreshed.access_token), jkt);
          assert.notEqual(refreshed.refresh_token, tokens.refresh_token);

          // RFC 9449 §7: userinfo takes the DPoP scheme with a proof carrying ath; as Bearer it is refused.
          const info = await client.fetchUserInfo(config, refreshed.access_token, seed.user.id, { DPoP });
          assert.equal(info.email, 'alice@example.com');
          const [userinfo] = rec.at(endpoint('/userinfo'));
          assert.equal(userinfo?.authorization, `DPoP ${refreshed.access_token}`);
          assert.equal(userinfo.proof?.ath, createHash('sha256').update(refreshed.access_token).digest('base64url'));
          assert.equal(userinfo.proof?.htm, 'GET');
          await rejectsWithError(client.fetchUserInfo(config, refreshed.access_token, seed.user.id), 'invalid_token');
        });

        test('PAR with a proof (buildAuthorizationUrlWithPAR): the code is bound to the key of the pushed proof', async () => {
          const rec = recorder();
          const config = await discover(seed.confidential.clientId, client.ClientSecretBasic(seed.confidential.clientSecret), rec);
          const keyPair = await client.randomDPoPKeyPair();
          const DPoP = client.getDPoPHandle(config, keyPair);
          const { callback, checks } = await authorize(config, (p) => client.buildAuthorizationUrlWithPAR(config, p, { DPoP }));
          const pushed = rec.at(endpoint('/par'));
          assertFirstProofs(pushed, nonces, 400);
          assert.equal(pushed.at(-1)?.status, 201);
          assert.equal(pushed.at(-1)?.proof?.htu, endpoint('/par'));

          // RFC 9449 §10.1: the pushed proof bound the code, though no dpop_jkt was sent.
          const other = client.getDPoPHandle(config, await client.randomDPoPKeyPair());
          await rejectsWithError(client.authorizationCodeGrant(config, callback, checks, undefined, { DPoP: other }), 'invalid_grant');
          const tokens = await client.authorizationCodeGrant(config, callback, checks, undefined, { DPoP });
          assert.equal(tokens.token_type, 'dpop');
          assert.equal(boundTo(tokens.access_token), await thumbprintOf(keyPair));
        });

        test('the resource-server library takes fetchProtectedResource with its proof, and refuses Bearer, a replay, another URL or method, another key', async () => {
          const rec = recorder();
          const config = await discover(service.clientId, client.ClientSecretBasic(service.clientSecret), rec);
          const keyPair = await client.randomDPoPKeyPair();
          const DPoP = client.getDPoPHandle(config, keyPair);
          const tokens = await client.clientCredentialsGrant(config, { scope: 'orders:read' }, { DPoP });
          const response = await client.fetchProtectedResource(config, tokens.access_token, new URL(api.orders), 'GET', undefined, undefined, { DPoP });
          assert.equal(response.status, 200);
          assert.deepEqual(await response.json(), { sub: service.clientId, jkt: await thumbprintOf(keyPair) });
          // The API's nonces are its own (§9): the library retried there too.
          assertFirstProofs(rec.at(api.orders), nonces, 401);
          await assertApiRefusals(rec, keyPair, tokens.access_token);
        });
      });

      describe('oauth4webapi 3.8.8', () => {
        const INSECURE = { [oauth.allowInsecureRequests]: true } as const;
        let as: oauth.AuthorizationServer;
        before(async () => {
          const issuer = new URL(s.issuer);
          as = await oauth.processDiscoveryResponse(issuer, await oauth.discoveryRequest(issuer, INSECURE));
        });

        /** The library's documented nonce handling: the handle keeps the nonce, the caller retries once on isDPoPNonceError. */
        const retryOnNonce = async <T>(attempt: () => Promise<T>): Promise<T> => {
          try {
            return await attempt();
          } catch (err) {
            if (!oauth.isDPoPNonceError(err)) throw err;
            return attempt();
          }
        };
        const options = (rec: Recorder, DPoP: oauth.DPoPHandle) => ({ ...INSECURE, [oauth.customFetch]: rec.fetch, DPoP });
        const newKey = () => oauth.generateKeyPair('ES256');

        const publicClient = (): oauth.Client => ({ client_id: seed.publicClient, token_endpoint_auth_method: 'none' });
        const serviceClient = (): oauth.Client => ({ client_id: service.clientId });
        const clientCredentials = (rec: Recorder, DPoP: oauth.DPoPHandle) =>
          retryOnNonce(async () =>
            oauth.processClientCredentialsResponse(
              as,
              serviceClient(),
              await oauth.clientCredentialsGrantRequest(as, serviceClient(), oauth.ClientSecretBasic(service.clientSecret), { scope: 'orders:read' }, options(rec, DPoP)),
            ),
          );

        test("client credentials with a proof: token_type DPoP, cnf.jkt the thumbprint of the library's key", async () => {
          const rec = recorder();
          const keyPair = await newKey();
          const DPoP = oauth.DPoP(serviceClient(), keyPair);
          const tokens = await clientCredentials(rec, DPoP);
          assert.equal(tokens.token_type, 'dpop');
          assert.equal(boundTo(tokens.access_token), await thumbprintOf(keyPair));
          assertFirstProofs(rec.at(endpoint('/token')), nonces, 400);
        });

        /** A code flow of the public client: the authorization URL from `push` (PAR) or built with dpop_jkt, the code exchanged with `DPoP`. */
        const signIn = async (rec: Recorder, DPoP: oauth.DPoPHandle, push: boolean) => {
          const c = publicClient();
          const verifier = oauth.generateRandomCodeVerifier();
          const state = oauth.generateRandomState();
          const nonce = oauth.generateRandomNonce();
          const parameters = {
            response_type: 'code',
            redirect_uri: seed.redirectUri,
            scope: 'openid email offline_access orders:read',
            state,
            nonce,
            code_challenge: await oauth.calculatePKCECodeChallenge(verifier),
            code_challenge_method: 'S256',
          };
          const url = new URL(as.authorization_endpoint!);
          url.searchParams.set('client_id', c.client_id);
          if (push) {
            const pushed = await retryOnNonce(async () =>
              oauth.processPushedAuthorizationResponse(as, c, await oauth.pushedAuthorizationRequest(as, c, oauth.None(), parameters, options(rec, DPoP))),
            );
            url.searchParams.set('request_uri', pushed.request_uri);
          } else {
            for (const [name, value] of Object.entries(parameters)) url.searchParams.set(name, value);
            url.searchParams.set('dpop_jkt', await DPoP.calculateThumbprint());
          }
          const callback = await driveAuthorization(browser, s.issuer, url);
          const params = oauth.validateAuthResponse(as, c, callback, state);
          const exchange = (handle: oauth.DPoPHandle) =>
            retryOnNonce(async () =>
              oauth.processAuthorizationCodeResponse(
                as,
                c,
                await oauth.authorizationCodeGrantRequest(as, c, oauth.None(), params, seed.redirectUri, verifier, options(rec, handle)),
                { expectedNonce: nonce, requireIdToken: true },
              ),
            );
          return { client: c, exchange };
        };

        test('code flow with PKCE and dpop_jkt, refresh and userinfo, each with a proof by the same key', async () => {
          const rec = recorder();
          const keyPair = await newKey();
          const DPoP = oauth.DPoP(publicClient(), keyPair);
          const jkt = await thumbprintOf(keyPair);
          const { client: c, exchange } = await signIn(rec, DPoP, false);

          await rejectsWithError(exchange(oauth.DPoP(publicClient(), await newKey())), 'invalid_grant');
          const tokens = await exchange(DPoP);
          assert.equal(tokens.token_type, 'dpop');
          assert.equal(boundTo(tokens.access_token), jkt);
          assert.equal(oauth.getValidatedIdTokenClaims(tokens)?.sub, seed.user.id);
          assert.ok(tokens.refresh_token);
          assertFirstProofs(rec.at(endpoint('/token')).slice(-(nonces ? 2 : 1)), nonces, 400);

          const refresh = (handle: oauth.DPoPHandle) =>
            retryOnNonce(async () =>
              oauth.processRefreshTokenResponse(as, c, await oauth.refreshTokenGrantRequest(as, c, oauth.None(), tokens.refresh_token!, options(rec, handle))),
            );
          await rejectsWithError(refresh(oauth.DPoP(publicClient(), await newKey())), 'invalid_grant');
          const refreshed = await refresh(DPoP);
          assert.equal(refreshed.token_type, 'dpop');
          assert.equal(boundTo(refreshed.access_token), jkt);

          const userinfo = (handle?: oauth.DPoPHandle) =>
            retryOnNonce(async () =>
              oauth.processUserInfoResponse(
                as,
                c,
                seed.user.id,
                await oauth.userInfoRequest(as, c, refreshed.access_token, handle ? options(rec, handle) : { ...INSECURE, [oauth.customFetch]: rec.fetch }),
              ),
            );
          const info = await userinfo(DPoP);
          assert.equal(info.email, 'alice@example.com');
          const [sent] = rec.at(endpoint('/userinfo'));
          assert.equal(sent?.authorization, `DPoP ${refreshed.access_token}`);
          assert.equal(sent.proof?.ath, createHash('sha256').update(refreshed.access_token).digest('base64url'));
          // RFC 9449 §7.2: without the proof the library sends the bound token as Bearer, and it is refused.
          await rejectsWithError(userinfo(), 'invalid_token');
          assert.match(rec.at(endpoint('/userinfo')).at(-1)?.authorization ?? '', /^Bearer /);
        });

        test('PAR with a proof (pushedAuthorizationRequest): the code is bound to the key of the pushed proof', async () => {
          const rec = recorder();
          const keyPair = await newKey();
          const DPoP = oauth.DPoP(publicClient(), keyPair);
          const { exchange } = await signIn(rec, DPoP, true);
          const pushed = rec.at(endpoint('/par'));
          assertFirstProofs(pushed, nonces, 400);
          assert.equal(pushed.at(-1)?.status, 201);

          await rejectsWithError(exchange(oauth.DPoP(publicClient(), await newKey())), 'invalid_grant');
          const tokens = await exchange(DPoP);
          assert.equal(tokens.token_type, 'dpop');
          assert.equal(boundTo(tokens.access_token), await thumbprintOf(keyPair));
        });

        test('the resource-server library takes protectedResourceRequest with its proof, and refuses Bearer, a replay, another URL or method, another key', async () => {
          const rec = recorder();
          const keyPair = await newKey();
          const DPoP = oauth.DPoP(serviceClient(), keyPair);
          const tokens = await clientCredentials(rec, DPoP);
          const response = await retryOnNonce(() =>
            oauth.protectedResourceRequest(tokens.access_token, 'GET', new URL(api.orders), new Headers(), null, options(rec, DPoP)),
          );
          assert.equal(response.status, 200);
          assert.deepEqual(await response.json(), { sub: service.clientId, jkt: await thumbprintOf(keyPair) });
          assertFirstProofs(rec.at(api.orders), nonces, 401);
          await assertApiRefusals(rec, keyPair, tokens.access_token);
        });
      });
    });
  }
}
