import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { promisify } from 'node:util';
import { decodeJwt, exportJWK, generateKeyPair } from 'jose';
import {
  backends,
  completeFlow,
  dpopProver,
  exchangeCode,
  FormBrowser,
  postForm,
  REPO_ROOT,
  pkcePair,
  runAuthorization,
  walkAuthorization,
  seedUserFlow,
  startServer,
  type DpopProver,
  type RunningServer,
  type TestDatabase,
  type UserFlowSeed,
} from '@latchkey/testing';

/** The README's example: a DPoP-bound token with nothing but jose, retrying once on use_dpop_nonce. */
async function runTokenExample(issuer: string, client: { clientId: string; clientSecret: string }): Promise<string[]> {
  const { stdout } = await promisify(execFile)(process.execPath, [join(REPO_ROOT, 'examples/dpop/token.mjs'), issuer], {
    env: { ...process.env, CLIENT_ID: client.clientId, CLIENT_SECRET: client.clientSecret },
  });
  return stdout.trim().split('\n');
}

/**
 * DPoP (RFC 9449) at the authorization server: proofs at the token endpoint for each grant, bound
 * access tokens (`token_type` DPoP, `cnf.jkt`), introspection, userinfo, code binding with
 * `dpop_jkt`, bound refresh tokens of public clients, per-client enforcement, and every refusal with
 * its RFC error code.
 */
for (const backend of await backends()) {
  describe(`DPoP (${backend.name})`, { skip: backend.skip }, () => {
    let db: TestDatabase;
    let s: RunningServer;
    let seed: UserFlowSeed;
    let service: { clientId: string; clientSecret: string };
    let opaqueService: { clientId: string; clientSecret: string };
    let bound: { clientId: string; clientSecret: string };
    let key: DpopProver;

    before(async () => {
      db = await backend.create();
      s = await startServer(db);
      seed = await seedUserFlow(s);
      await s.registry.createResource({ identifier: 'https://opaque.example.com', accessTokenFormat: 'opaque', scopes: ['ledger:read'] });
      const created = await s.registry.createClient({ name: 'svc', type: 'confidential', grantTypes: ['client_credentials'], scopes: ['orders:read'] });
      service = { clientId: created.client.clientId, clientSecret: created.clientSecret! };
      const opaque = await s.registry.createClient({ name: 'ledger', type: 'confidential', grantTypes: ['client_credentials'], scopes: ['ledger:read'] });
      opaqueService = { clientId: opaque.client.clientId, clientSecret: opaque.clientSecret! };
      const strict = await s.registry.createClient({
        name: 'strict',
        type: 'confidential',
        grantTypes: ['client_credentials'],
        scopes: ['orders:read'],
        dpopBoundAccessTokens: true,
      });
      bound = { clientId: strict.client.clientId, clientSecret: strict.clientSecret! };
      key = await dpopProver();
    });
    after(async () => {
      await s?.close();
      await db?.drop();
    });

    const tokenUrl = () => `${s.issuer}/token`;
    const clientCredentials = (proof: string | string[] | undefined, who = service) => {
      const headers: Record<string, string> = {};
      if (typeof proof === 'string') headers.dpop = proof;
      return postForm(tokenUrl(), { grant_type: 'client_credentials' }, { basic: [who.clientId, who.clientSecret], headers });
    };
    const assertDpopError = (res: { status: number; body: any; text: string }, error = 'invalid_dpop_proof') => {
      assert.equal(res.status, 400, res.text);
      assert.equal(res.body.error, error, res.text);
    };

    test('discovery lists dpop_signing_alg_values_supported (RFC 9449 §5.1)', async () => {
      for (const path of ['/.well-known/oauth-authorization-server', '/.well-known/openid-configuration']) {
        const body = (await (await fetch(`${s.url}${path}`)).json()) as Record<string, unknown>;
        assert.deepEqual(body.dpop_signing_alg_values_supported, ['ES256', 'ES384', 'PS256', 'RS256', 'EdDSA']);
      }
    });

    test('client_credentials with a proof: token_type DPoP and cnf.jkt of the proof key (RFC 9449 §5, §6.1)', async () => {
      const res = await clientCredentials(await key.proof({ htu: tokenUrl() }));
      assert.equal(res.status, 200, res.text);
      assert.equal(res.body.token_type, 'DPoP');
      assert.deepEqual(decodeJwt(res.body.access_token).cnf, { jkt: key.jkt });
      // Without a proof, the same client gets a bearer token with no cnf.
      const plain = await clientCredentials(undefined);
      assert.equal(plain.body.token_type, 'Bearer');
      assert.equal(decodeJwt(plain.body.access_token).cnf, undefined);
    });

    test('examples/dpop/token.mjs (README) gets a DPoP token bound to its key', async () => {
      const [json, cnf, thumbprint] = await runTokenExample(s.issuer, service);
      assert.equal(JSON.parse(json!).token_type, 'DPoP');
      const jkt = /"jkt":"([^"]+)"/.exec(cnf!)?.[1];
      assert.ok(jkt);
      assert.equal(thumbprint!.split(' ').at(-1), jkt);
    });

    test('introspection of a DPoP-bound token, JWT and opaque: token_type DPoP and cnf (RFC 9449 §6.2)', async () => {
      const jwt = await clientCredentials(await key.proof({ htu: tokenUrl() }));
      const opaque = await clientCredentials(await key.proof({ htu: tokenUrl() }), opaqueService);
      assert.equal(opaque.status, 200, opaque.text);
      assert.match(opaque.body.access_token, /^lko_/);
      assert.equal(opaque.body.token_type, 'DPoP');
      for (const [token, who] of [[jwt.body.access_token, service], [opaque.body.access_token, opaqueService]] as const) {
        const res = await postForm(`${s.issuer}/introspect`, { token }, { basic: [who.clientId, who.clientSecret] });
        assert.equal(res.body.active, true, res.text);
        assert.equal(res.body.token_type, 'DPoP');
        assert.deepEqual(res.body.cnf, { jkt: key.jkt });
      }
    });

    test('RFC 9449 §4.3: each malformed or misdirected proof is invalid_dpop_proof, and nothing is issued', async () => {
      const htu = tokenUrl();
      const other = await dpopProver();
      const { privateKey } = await generateKeyPair('ES256', { extractable: true });
      const privateJwk = await exportJWK(privateKey);
      const cases: Array<[string, string | undefined]> = [
        ['not a JWT', 'not-a-jwt'],
        ['typ JWT', await key.proof({ htu, typ: 'JWT' })],
        ['htm GET', await key.proof({ htu, htm: 'GET' })],
        ['htu of another endpoint', await key.proof({ htu: `${s.issuer}/introspect` })],
        ['htu of another host', await key.proof({ htu: 'https://evil.example/token' })],
        ['iat an hour ago', await key.proof({ htu, iat: Math.floor(Date.now() / 1000) - 3600 })],
        ['iat in the future', await key.proof({ htu, iat: Math.floor(Date.now() / 1000) + 600 })],
        ['no jti', await key.proof({ htu, claims: { jti: undefined } })],
        ['no htu', await key.proof({ htu, claims: { htu: undefined } })],
        ['a jwk of another key', await key.proof({ htu, header: { jwk: other.jwk } })],
        ['a private key in the header', await key.proof({ htu, header: { jwk: privateJwk } })],
        ['no jwk', await key.proof({ htu, header: { jwk: undefined } })],
      ];
      for (const [name, proof] of cases) {
        const res = await clientCredentials(proof);
        assertDpopError(res);
        assert.equal(res.body.access_token, undefined, name);
      }
      // A MAC (HS256) is no proof (RFC 9449 §4.3: "not a MAC or none").
      const [h, p] = (await key.proof({ htu })).split('.');
      const hs = Buffer.from(JSON.stringify({ ...JSON.parse(Buffer.from(h!, 'base64url').toString()), alg: 'HS256' })).toString('base64url');
      assertDpopError(await clientCredentials(`${hs}.${p}.AAAA`));
      const none = Buffer.from(JSON.stringify({ ...JSON.parse(Buffer.from(h!, 'base64url').toString()), alg: 'none' })).toString('base64url');
      assertDpopError(await clientCredentials(`${none}.${p}.`));
    });

    test('RFC 9449 §4.3: two DPoP header fields are refused', async () => {
      const a = await key.proof({ htu: tokenUrl() });
      const b = await key.proof({ htu: tokenUrl() });
      const res = await fetch(tokenUrl(), {
        method: 'POST',
        headers: [
          ['content-type', 'application/x-www-form-urlencoded'],
          ['authorization', `Basic ${Buffer.from(`${service.clientId}:${service.clientSecret}`).toString('base64')}`],
          ['dpop', a],
          ['dpop', b],
        ],
        body: 'grant_type=client_credentials',
      });
      assert.equal(res.status, 400);
      assert.equal(((await res.json()) as { error: string }).error, 'invalid_dpop_proof');
    });

    test('RFC 9449 §11.1: a proof is used once, on every node (the replay store is the database)', async () => {
      const proof = await key.proof({ htu: tokenUrl() });
      assert.equal((await clientCredentials(proof)).status, 200);
      assertDpopError(await clientCredentials(proof));
      // A second node on the same database refuses it too.
      const node = await startServer(db, { issuer: s.issuer });
      try {
        const fresh = await key.proof({ htu: tokenUrl() });
        assert.equal((await clientCredentials(fresh)).status, 200);
        const res = await postForm(`${node.url}/token`, { grant_type: 'client_credentials' }, { basic: [service.clientId, service.clientSecret], headers: { dpop: fresh } });
        assertDpopError(res);
      } finally {
        await node.close();
      }
    });

    test('RFC 9449 §5.2: a client registered with dpop_bound_access_tokens must send a proof', async () => {
      const res = await clientCredentials(undefined, bound);
      assertDpopError(res);
      const ok = await clientCredentials(await key.proof({ htu: tokenUrl() }), bound);
      assert.equal(ok.status, 200, ok.text);
      assert.equal(ok.body.token_type, 'DPoP');
    });

    test('authorization code bound with dpop_jkt (RFC 9449 §10): only a proof by that key redeems it', async () => {
      const browser = new FormBrowser();
      const result = await runAuthorization(browser, s, { clientId: seed.publicClient, extra: { dpop_jkt: key.jkt } });
      const code = result.callback.searchParams.get('code')!;
      assert.ok(code, result.callback.href);
      const form = { grant_type: 'authorization_code', code, code_verifier: result.verifier, redirect_uri: seed.redirectUri, client_id: seed.publicClient };
      // Without a proof, and with another key: invalid_grant, and the code is not spent.
      const without = await postForm(tokenUrl(), form);
      assert.equal(without.status, 400);
      assert.equal(without.body.error, 'invalid_grant');
      const other = await dpopProver();
      const wrong = await postForm(tokenUrl(), form, { headers: { dpop: await other.proof({ htu: tokenUrl() }) } });
      assert.equal(wrong.body.error, 'invalid_grant');
      const ok = await postForm(tokenUrl(), form, { headers: { dpop: await key.proof({ htu: tokenUrl() }) } });
      assert.equal(ok.status, 200, ok.text);
      assert.equal(ok.body.token_type, 'DPoP');
      assert.deepEqual(decodeJwt(ok.body.access_token).cnf, { jkt: key.jkt });
    });

    test('RFC 9449 §10.1: a proof sent to /par binds the code to its key; a dpop_jkt naming another key is refused', async () => {
      const parUrl = `${s.issuer}/par`;
      const { verifier, challenge } = pkcePair();
      const request = {
        response_type: 'code',
        client_id: seed.publicClient,
        redirect_uri: seed.redirectUri,
        scope: 'openid orders:read',
        state: 'st',
        code_challenge: challenge,
        code_challenge_method: 'S256',
      };
      const other = await dpopProver();
      const mismatch = await postForm(parUrl, { ...request, dpop_jkt: other.jkt }, { headers: { dpop: await key.proof({ htu: parUrl }) } });
      assert.equal(mismatch.status, 400, mismatch.text);
      assert.equal(mismatch.body.error, 'invalid_request');
      const badProof = await postForm(parUrl, request, { headers: { dpop: await key.proof({ htu: tokenUrl() }) } });
      assert.equal(badProof.body.error, 'invalid_dpop_proof');

      const pushed = await postForm(parUrl, request, { headers: { dpop: await key.proof({ htu: parUrl }) } });
      assert.equal(pushed.status, 201, pushed.text);
      const url = `${s.issuer}/authorize?${new URLSearchParams({ client_id: seed.publicClient, request_uri: pushed.body.request_uri })}`;
      const walked = await walkAuthorization(new FormBrowser(), s.issuer, url, {});
      const code = walked.callback.searchParams.get('code');
      assert.ok(code, walked.callback.href);
      const form = { grant_type: 'authorization_code', code, code_verifier: verifier, redirect_uri: seed.redirectUri, client_id: seed.publicClient };
      assert.equal((await postForm(tokenUrl(), form)).body.error, 'invalid_grant', 'the code is bound to the key of the /par proof');
      const ok = await postForm(tokenUrl(), form, { headers: { dpop: await key.proof({ htu: tokenUrl() }) } });
      assert.equal(ok.status, 200, ok.text);
      assert.deepEqual(decodeJwt(ok.body.access_token).cnf, { jkt: key.jkt });
    });

    test('a malformed dpop_jkt at /authorize is invalid_request', async () => {
      const browser = new FormBrowser();
      const result = await runAuthorization(browser, s, { clientId: seed.publicClient, extra: { dpop_jkt: 'short' } });
      assert.equal(result.callback.searchParams.get('error'), 'invalid_request');
    });

    test('RFC 9449 §5: a public client refresh token is bound to the DPoP key, through every rotation', async () => {
      const browser = new FormBrowser();
      const result = await runAuthorization(browser, s, { clientId: seed.publicClient });
      const code = result.callback.searchParams.get('code')!;
      const first = await postForm(
        tokenUrl(),
        { grant_type: 'authorization_code', code, code_verifier: result.verifier, redirect_uri: seed.redirectUri, client_id: seed.publicClient },
        { headers: { dpop: await key.proof({ htu: tokenUrl() }) } },
      );
      assert.equal(first.status, 200, first.text);
      assert.ok(first.body.refresh_token);
      const refresh = (token: string, proof?: string) =>
        postForm(tokenUrl(), { grant_type: 'refresh_token', refresh_token: token, client_id: seed.publicClient }, { headers: proof ? { dpop: proof } : {} });
      // A thief with the refresh token and no key gets nothing, and the family is not spent.
      const stolen = await refresh(first.body.refresh_token);
      assert.equal(stolen.status, 400);
      assert.equal(stolen.body.error, 'invalid_grant');
      const other = await dpopProver();
      assert.equal((await refresh(first.body.refresh_token, await other.proof({ htu: tokenUrl() }))).body.error, 'invalid_grant');
      const second = await refresh(first.body.refresh_token, await key.proof({ htu: tokenUrl() }));
      assert.equal(second.status, 200, second.text);
      assert.equal(second.body.token_type, 'DPoP');
      // The rotated token is bound to the same key.
      assert.equal((await refresh(second.body.refresh_token)).body.error, 'invalid_grant');
      const third = await refresh(second.body.refresh_token, await key.proof({ htu: tokenUrl() }));
      assert.equal(third.status, 200, third.text);
    });

    test('RFC 9449 §5: a confidential client refresh token is not bound (client authentication protects it)', async () => {
      const browser = new FormBrowser();
      const result = await runAuthorization(browser, s, { clientId: seed.confidential.clientId });
      const code = result.callback.searchParams.get('code')!;
      const first = await postForm(
        tokenUrl(),
        { grant_type: 'authorization_code', code, code_verifier: result.verifier, redirect_uri: seed.redirectUri },
        { basic: [seed.confidential.clientId, seed.confidential.clientSecret], headers: { dpop: await key.proof({ htu: tokenUrl() }) } },
      );
      assert.equal(first.body.token_type, 'DPoP');
      const second = await postForm(
        tokenUrl(),
        { grant_type: 'refresh_token', refresh_token: first.body.refresh_token },
        { basic: [seed.confidential.clientId, seed.confidential.clientSecret] },
      );
      assert.equal(second.status, 200, second.text);
      assert.equal(second.body.token_type, 'Bearer');
    });

    describe('userinfo (RFC 9449 §7)', () => {
      let token: string;
      let bearerToken: string;
      const userinfoUrl = () => `${s.issuer}/userinfo`;
      before(async () => {
        const browser = new FormBrowser();
        const result = await runAuthorization(browser, s, { clientId: seed.publicClient });
        const res = await postForm(
          tokenUrl(),
          {
            grant_type: 'authorization_code',
            code: result.callback.searchParams.get('code')!,
            code_verifier: result.verifier,
            redirect_uri: seed.redirectUri,
            client_id: seed.publicClient,
          },
          { headers: { dpop: await key.proof({ htu: tokenUrl() }) } },
        );
        token = res.body.access_token;
        bearerToken = (await completeFlow(new FormBrowser(), s, { clientId: seed.publicClient })).tokens.access_token;
      });
      const userinfo = (headers: Record<string, string>, method = 'GET') => fetch(userinfoUrl(), { method, headers });

      test('the DPoP scheme with a proof for the token answers the claims', async () => {
        const res = await userinfo({ authorization: `DPoP ${token}`, dpop: await key.proof({ htm: 'GET', htu: userinfoUrl(), accessToken: token }) });
        assert.equal(res.status, 200, await res.clone().text());
        assert.equal(((await res.json()) as { sub: string }).sub, seed.user.id);
        const post = await userinfo({ authorization: `dpop ${token}`, dpop: await key.proof({ htm: 'POST', htu: userinfoUrl(), accessToken: token }) }, 'POST');
        assert.equal(post.status, 200);
      });

      test('a DPoP-bound token presented as Bearer is refused (invalid_token) with a DPoP challenge beside the Bearer one', async () => {
        const res = await userinfo({ authorization: `Bearer ${token}` });
        assert.equal(res.status, 401);
        assert.equal(((await res.json()) as { error: string }).error, 'invalid_token');
        // RFC 9449 §7.1, §7.2: the error in the challenge of the scheme used, and the DPoP scheme offered.
        assert.match(res.headers.get('www-authenticate')!, /^Bearer realm="latchkey", error="invalid_token", error_description="[^"]+", DPoP algs="ES256 ES384 PS256 RS256 EdDSA"$/);
      });

      test('a bearer token presented with the DPoP scheme is refused (invalid_token)', async () => {
        const res = await userinfo({ authorization: `DPoP ${bearerToken}`, dpop: await key.proof({ htm: 'GET', htu: userinfoUrl(), accessToken: bearerToken }) });
        assert.equal(res.status, 401);
        assert.match(res.headers.get('www-authenticate')!, /^DPoP algs="ES256 ES384 PS256 RS256 EdDSA", error="invalid_token"/);
      });

      test('a proof by another key, without ath, for another method or URL, or replayed is refused', async () => {
        const other = await dpopProver();
        const cases: Array<[string, Record<string, string>, string]> = [
          ['another key', { dpop: await other.proof({ htm: 'GET', htu: userinfoUrl(), accessToken: token }) }, 'invalid_token'],
          ['no ath', { dpop: await key.proof({ htm: 'GET', htu: userinfoUrl() }) }, 'invalid_dpop_proof'],
          ['ath of another token', { dpop: await key.proof({ htm: 'GET', htu: userinfoUrl(), accessToken: bearerToken }) }, 'invalid_dpop_proof'],
          ['htm POST', { dpop: await key.proof({ htm: 'POST', htu: userinfoUrl(), accessToken: token }) }, 'invalid_dpop_proof'],
          ['htu of /token', { dpop: await key.proof({ htm: 'GET', htu: tokenUrl(), accessToken: token }) }, 'invalid_dpop_proof'],
          ['no proof', {}, 'invalid_dpop_proof'],
        ];
        for (const [name, headers, error] of cases) {
          const res = await userinfo({ authorization: `DPoP ${token}`, ...headers });
          assert.equal(res.status, 401, name);
          assert.equal(((await res.json()) as { error: string }).error, error, name);
          assert.match(res.headers.get('www-authenticate')!, new RegExp(`^DPoP algs="[^"]+", error="${error}"`), name);
        }
        const proof = await key.proof({ htm: 'GET', htu: userinfoUrl(), accessToken: token });
        assert.equal((await userinfo({ authorization: `DPoP ${token}`, dpop: proof })).status, 200);
        const replayed = await userinfo({ authorization: `DPoP ${token}`, dpop: proof });
        assert.equal(replayed.status, 401);
        assert.equal(((await replayed.json()) as { error: string }).error, 'invalid_dpop_proof');
      });
    });

    test('exchangeCode helper still works without DPoP (bearer flow unchanged)', async () => {
      const browser = new FormBrowser();
      const result = await runAuthorization(browser, s, { clientId: seed.publicClient });
      const res = await exchangeCode(s, { clientId: seed.publicClient, code: result.callback.searchParams.get('code')!, verifier: result.verifier });
      assert.equal(res.body.token_type, 'Bearer');
    });
  });

  describe(`DPoP server nonces (${backend.name})`, { skip: backend.skip }, () => {
    let db: TestDatabase;
    let s: RunningServer;
    let service: { clientId: string; clientSecret: string };

    before(async () => {
      db = await backend.create();
      s = await startServer(db, { dpopNonce: true });
      await s.registry.createResource({ identifier: 'https://api.example.com', scopes: ['orders:read'] });
      const created = await s.registry.createClient({ name: 'svc', type: 'confidential', grantTypes: ['client_credentials'], scopes: ['orders:read'] });
      service = { clientId: created.client.clientId, clientSecret: created.clientSecret! };
    });
    after(async () => {
      await s?.close();
      await db?.drop();
    });

    test('RFC 9449 §8: a proof without the nonce gets use_dpop_nonce and DPoP-Nonce; with it, a token', async () => {
      const key = await dpopProver();
      const url = `${s.issuer}/token`;
      const send = (proof: string) => postForm(url, { grant_type: 'client_credentials' }, { basic: [service.clientId, service.clientSecret], headers: { dpop: proof } });
      const first = await send(await key.proof({ htu: url }));
      assert.equal(first.status, 400, first.text);
      assert.equal(first.body.error, 'use_dpop_nonce');
      const nonce = first.headers.get('dpop-nonce');
      assert.ok(nonce);
      const wrong = await send(await key.proof({ htu: url, nonce: 'made-up' }));
      assert.equal(wrong.body.error, 'use_dpop_nonce');
      const ok = await send(await key.proof({ htu: url, nonce }));
      assert.equal(ok.status, 200, ok.text);
      assert.equal(ok.body.token_type, 'DPoP');
      assert.ok(ok.headers.get('dpop-nonce'), 'the next nonce comes with every answer');
      // Without DPoP, nothing changes: no nonce needed for a bearer token.
      const plain = await postForm(url, { grant_type: 'client_credentials' }, { basic: [service.clientId, service.clientSecret] });
      assert.equal(plain.body.token_type, 'Bearer');
      assert.equal(plain.headers.get('dpop-nonce'), null);
    });

    test('examples/dpop/token.mjs (README) retries once with the nonce and gets its token', async () => {
      const [json] = await runTokenExample(s.issuer, service);
      assert.equal(JSON.parse(json!).token_type, 'DPoP', json);
    });
  });
}
