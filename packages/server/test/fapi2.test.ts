import assert from 'node:assert/strict';
import { generateKeyPairSync, randomBytes, randomUUID, type KeyObject } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { decodeJwt, decodeProtectedHeader, exportJWK, generateKeyPair, SignJWT, type CryptoKey, type JWK } from 'jose';
import { AUTHORIZATION_CODE_TTL_SECONDS } from '../src/config/defaults.ts';
import { FAPI2_MAX_CODE_LIFETIME_SECONDS } from '../src/profiles/fapi2.ts';
import { sha256 } from '../src/lib/random.ts';
import {
  backends,
  dpopProver,
  FormBrowser,
  pkcePair,
  postForm,
  REDIRECT_URI,
  type DpopProver,
  type RunningServer,
  seedUserFlow,
  startServer,
  type TestDatabase,
  type UserFlowSeed,
  walkAuthorization,
} from '@latchkey/testing';

/**
 * The FAPI 2.0 Security Profile (Final, February 2025) for a client registered with `profile: fapi2`:
 * one test per authorization server requirement of §5.3.2 and §5.4.1, named after it, and a whole
 * flow (PAR with private_key_jwt and a DPoP proof, PKCE, code, DPoP-bound tokens, userinfo with DPoP).
 * The mutual TLS variants (tls_client_auth, certificate-bound tokens) wait for RFC 8705 support.
 */

const ASSERTION_TYPE = 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer';
const nowSeconds = () => Math.floor(Date.now() / 1000);

interface ClientKey {
  alg: string;
  privateKey: CryptoKey | KeyObject;
  jwk: JWK;
}

async function clientKey(alg: 'ES256' | 'PS256' | 'RS256', kid: string): Promise<ClientKey> {
  const { privateKey, publicKey } = await generateKeyPair(alg, { extractable: true });
  return { alg, privateKey, jwk: { ...(await exportJWK(publicKey)), kid, alg, use: 'sig' } };
}

/** An RSA key as a KeyObject, which signs RS256 and PS256 alike (a CryptoKey is tied to one). */
async function rsaClientKey(kid: string): Promise<ClientKey> {
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  return { alg: 'RS256', privateKey, jwk: { ...(await exportJWK(publicKey)), kid, use: 'sig' } };
}

for (const backend of await backends()) {
  describe(`FAPI 2.0 Security Profile (${backend.name})`, { skip: backend.skip }, () => {
    let db: TestDatabase;
    let s: RunningServer;
    let seed: UserFlowSeed;
    /** The FAPI client: confidential, private_key_jwt with an ES256 key, https redirect URI. */
    let fapi: string;
    let key: ClientKey;
    /** A FAPI client whose RSA key may sign both RS256 and PS256. */
    let rsaClient: string;
    let rsaKey: ClientKey;
    let dpop: DpopProver;

    /** What a FAPI client is registered with, changed by `over`. */
    const fapiInput = (over: Record<string, unknown> = {}) => ({
      name: 'Bank App',
      type: 'confidential' as const,
      grantTypes: ['authorization_code', 'refresh_token'],
      scopes: ['openid', 'profile', 'offline_access', 'orders:read'],
      redirectUris: [REDIRECT_URI],
      tokenEndpointAuthMethod: 'private_key_jwt' as const,
      jwks: { keys: [key.jwk] },
      profile: 'fapi2' as const,
      ...over,
    });

    before(async () => {
      db = await backend.create();
      // 600 s, the longest LATCHKEY_PAR_TTL_SECONDS allows, shows what §5.3.2.2 item 12 changes.
      s = await startServer(db, { parTtlSeconds: 600 });
      seed = await seedUserFlow(s);
      key = await clientKey('ES256', 'bank-1');
      rsaKey = await rsaClientKey('rsa-1');
      fapi = (await s.registry.createClient(fapiInput())).client.clientId;
      rsaClient = (await s.registry.createClient(fapiInput({ name: 'RSA Bank App', jwks: { keys: [rsaKey.jwk] } }))).client.clientId;
      dpop = await dpopProver();
    });
    after(async () => {
      await s?.close();
      await db?.drop();
    });

    const parUrl = () => `${s.issuer}/par`;
    const tokenUrl = () => `${s.issuer}/token`;

    /** A client assertion (RFC 7523) for `clientId`, aud the issuer as a string unless changed. */
    const assertion = (clientId = fapi, options: { signer?: ClientKey; alg?: string; claims?: Record<string, unknown> } = {}) => {
      const signer = options.signer ?? key;
      return new SignJWT({ iss: clientId, sub: clientId, aud: s.issuer, iat: nowSeconds(), exp: nowSeconds() + 60, jti: randomUUID(), ...options.claims })
        .setProtectedHeader({ alg: options.alg ?? signer.alg, kid: signer.jwk.kid! })
        .sign(signer.privateKey);
    };
    const clientAuth = async (clientId = fapi, options: Parameters<typeof assertion>[1] = {}) => ({
      client_assertion_type: ASSERTION_TYPE,
      client_assertion: await assertion(clientId, options),
    });

    /** A pushed authorization request's parameters, PKCE S256 included. */
    const request = (over: Record<string, string> = {}) => {
      const { verifier, challenge } = pkcePair();
      const params: Record<string, string> = {
        response_type: 'code',
        client_id: fapi,
        redirect_uri: REDIRECT_URI,
        scope: 'openid profile offline_access orders:read',
        state: 'state-fapi',
        nonce: 'nonce-fapi',
        code_challenge: challenge,
        code_challenge_method: 'S256',
        ...over,
      };
      for (const [k, v] of Object.entries(params)) if (v === '') delete params[k];
      return { params, verifier };
    };

    const push = async (params: Record<string, string>, options: { proof?: boolean; clientId?: string } = {}) =>
      postForm(parUrl(), { ...params, ...(await clientAuth(options.clientId ?? fapi)) }, options.proof === false ? {} : { headers: { dpop: await dpop.proof({ htu: parUrl() }) } });

    /** PAR, the browser at /authorize with the request_uri, login and consent: the callback URL. */
    const authorize = async (over: Record<string, string> = {}) => {
      const { params, verifier } = request(over);
      const res = await push(params);
      assert.equal(res.status, 201, res.text);
      const url = `${s.issuer}/authorize?${new URLSearchParams({ client_id: fapi, request_uri: res.body.request_uri }).toString()}`;
      const walked = await walkAuthorization(new FormBrowser(), s.issuer, url);
      return { callback: walked.callback, verifier };
    };

    /** The code exchanged with private_key_jwt, with a DPoP proof unless `proof` is false. */
    const exchange = async (code: string, verifier: string, options: { proof?: boolean } = {}) =>
      postForm(
        tokenUrl(),
        { grant_type: 'authorization_code', code, code_verifier: verifier, redirect_uri: REDIRECT_URI, ...(await clientAuth()) },
        options.proof === false ? {} : { headers: { dpop: await dpop.proof({ htu: tokenUrl() }) } },
      );

    /** A whole flow up to the tokens. */
    const tokens = async () => {
      const { callback, verifier } = await authorize();
      const code = callback.searchParams.get('code');
      assert.ok(code, callback.href);
      const res = await exchange(code, verifier);
      assert.equal(res.status, 200, res.text);
      return res.body as { access_token: string; token_type: string; refresh_token: string; id_token: string };
    };

    const refusedAtRegistration = async (over: Record<string, unknown>, message: RegExp) => {
      await assert.rejects(s.registry.createClient(fapiInput(over)), (err: Error) => {
        assert.equal(err.name, 'RegistryError');
        assert.match(err.message, /^FAPI 2\.0 profile: /);
        assert.match(err.message, message);
        return true;
      });
    };

    test('a whole FAPI 2.0 flow: PAR with private_key_jwt and a DPoP proof, PKCE S256, login, code, DPoP-bound tokens, userinfo with DPoP', async () => {
      const { callback, verifier } = await authorize();
      assert.equal(`${callback.origin}${callback.pathname}`, REDIRECT_URI);
      const code = callback.searchParams.get('code')!;
      const res = await exchange(code, verifier);
      assert.equal(res.status, 200, res.text);
      assert.equal(res.body.token_type, 'DPoP');
      assert.deepEqual(decodeJwt(res.body.access_token).cnf, { jkt: dpop.jkt });
      assert.equal(decodeProtectedHeader(res.body.id_token).alg, 'ES256');
      assert.ok(res.body.refresh_token);
      const userinfoUrl = `${s.issuer}/userinfo`;
      const info = await fetch(userinfoUrl, {
        headers: { authorization: `DPoP ${res.body.access_token}`, dpop: await dpop.proof({ htm: 'GET', htu: userinfoUrl, accessToken: res.body.access_token }) },
      });
      assert.equal(info.status, 200);
      assert.equal(((await info.json()) as { sub: string }).sub, seed.user.id);
    });

    test('FAPI 2.0 §5.3.2.1 item 3: shall only support confidential clients (a public client is refused the profile)', async () => {
      await refusedAtRegistration({ type: 'public', tokenEndpointAuthMethod: 'none', jwks: undefined }, /confidential/);
    });

    test('FAPI 2.0 §5.3.2.1 item 4 and 5: shall only issue sender-constrained access tokens (DPoP or MTLS): a token request without a proof is refused', async () => {
      const { callback, verifier } = await authorize();
      const code = callback.searchParams.get('code')!;
      const bare = await exchange(code, verifier, { proof: false });
      assert.equal(bare.status, 400, bare.text);
      assert.equal(bare.body.error, 'invalid_request');
      assert.match(bare.body.error_description, /sender-constrained/);
      assert.equal(bare.body.access_token, undefined);
      // Nothing was spent: the code still works with a proof, and the token is DPoP-bound.
      const bound = await exchange(code, verifier);
      assert.equal(bound.status, 200, bound.text);
      assert.equal(bound.body.token_type, 'DPoP');
      // A refresh is a token request too.
      const refresh = await postForm(tokenUrl(), { grant_type: 'refresh_token', refresh_token: bound.body.refresh_token, ...(await clientAuth()) });
      assert.equal(refresh.status, 400, refresh.text);
      assert.equal(refresh.body.error, 'invalid_request');
    });

    test('FAPI 2.0 §5.3.2.1 item 6: shall authenticate clients using MTLS or private_key_jwt (client secrets are refused the profile)', async () => {
      for (const method of ['client_secret_basic', 'client_secret_post'] as const) {
        await refusedAtRegistration({ tokenEndpointAuthMethod: method, jwks: undefined }, new RegExp(`not ${method}`));
      }
      // An existing client with a secret cannot be switched to the profile either.
      await assert.rejects(s.registry.setProfile(seed.confidential.clientId, 'fapi2'), /FAPI 2\.0 profile: .*not client_secret_basic/);
      assert.equal((await s.registry.getClient(seed.confidential.clientId)).profile, 'default');
      // A record changed behind the registry's back is still refused at the token endpoint.
      const changed = (await s.registry.createClient({ ...fapiInput({ name: 'changed' }), profile: undefined })).client.clientId;
      await s.server.context.storage.db.kysely.updateTable('clients').set({ profile: 'fapi2', token_endpoint_auth_method: 'private_key_jwt' }).where('client_id', '=', changed).execute();
      const ok = await postForm(tokenUrl(), { grant_type: 'refresh_token', refresh_token: 'x', ...(await clientAuth(changed)) }, { headers: { dpop: await dpop.proof({ htu: tokenUrl() }) } });
      assert.equal(ok.body.error, 'invalid_grant', 'private_key_jwt passes the profile check');
    });

    test('FAPI 2.0 §5.3.2.1 item 8: shall only accept its issuer identifier as a string in the aud of client assertions', async () => {
      const cc = async (aud: unknown) => postForm(parUrl(), { ...request().params, ...(await clientAuth(fapi, { claims: { aud } })) });
      for (const aud of [`${s.issuer}/token`, [s.issuer], `${s.issuer}/par`]) {
        const res = await cc(aud);
        assert.equal(res.status, 401, `${JSON.stringify(aud)}: ${res.text}`);
        assert.equal(res.body.error, 'invalid_client');
      }
      assert.equal((await cc(s.issuer)).status, 201);
    });

    test('FAPI 2.0 §5.3.2.1 item 9: shall not use refresh token rotation: the same refresh token keeps working, and no new one is issued', async () => {
      const first = await tokens();
      for (let i = 0; i < 2; i++) {
        const res = await postForm(
          tokenUrl(),
          { grant_type: 'refresh_token', refresh_token: first.refresh_token, ...(await clientAuth()) },
          { headers: { dpop: await dpop.proof({ htu: tokenUrl() }) } },
        );
        assert.equal(res.status, 200, res.text);
        assert.equal(res.body.refresh_token, undefined, 'no new refresh token');
        assert.equal(res.body.token_type, 'DPoP');
      }
      const row = await s.server.context.storage.db.kysely.selectFrom('refresh_tokens').selectAll().where('token_hash', '=', sha256(first.refresh_token)).executeTakeFirst();
      assert.equal(row?.consumed_at, null, 'never consumed');
    });

    test(`FAPI 2.0 §5.3.2.1 item 11: shall issue authorization codes with a maximum lifetime of 60 seconds`, async () => {
      assert.ok(AUTHORIZATION_CODE_TTL_SECONDS <= FAPI2_MAX_CODE_LIFETIME_SECONDS);
      const { callback } = await authorize();
      const code = callback.searchParams.get('code')!;
      const row = await s.server.context.storage.db.kysely.selectFrom('authorization_codes').selectAll().where('code_hash', '=', sha256(code)).executeTakeFirstOrThrow();
      assert.ok(Number(row.expires_at) - Number(row.created_at) <= 60, `${row.created_at} .. ${row.expires_at}`);
    });

    test('FAPI 2.0 §5.3.2.1 item 13: shall accept JWTs with an iat 0-10 s in the future and reject one more than 60 s ahead', async () => {
      const at = async (iatAhead: number) => {
        const auth = await clientAuth(fapi, { claims: { iat: nowSeconds() + iatAhead } });
        const proof = await dpop.proof({ htu: parUrl(), iat: nowSeconds() + iatAhead });
        return postForm(parUrl(), { ...request().params, ...auth }, { headers: { dpop: proof } });
      };
      assert.equal((await at(8)).status, 201, 'iat 8 s ahead');
      const ahead = await at(61);
      assert.equal(ahead.status, 401, ahead.text);
    });

    test('FAPI 2.0 §5.3.2.2 item 3: shall reject authorization requests sent without PAR', async () => {
      const { params } = request();
      const page = await new FormBrowser().get(`${s.issuer}/authorize?${new URLSearchParams(params).toString()}`);
      assert.equal(page.status, 303, page.text.slice(0, 200));
      const url = new URL(page.location!);
      assert.equal(url.searchParams.get('error'), 'invalid_request');
      assert.match(url.searchParams.get('error_description')!, /pushed/);
      assert.equal(url.searchParams.get('code'), null);
    });

    test('FAPI 2.0 §5.3.2.2 item 5: shall require PKCE with S256 as the code challenge method', async () => {
      const without = await push(request({ code_challenge: '', code_challenge_method: '' }).params);
      assert.equal(without.status, 400, without.text);
      assert.equal(without.body.error, 'invalid_request');
      const plain = await push(request({ code_challenge: 'a'.repeat(43), code_challenge_method: 'plain' }).params);
      assert.equal(plain.status, 400, plain.text);
      assert.equal(plain.body.error, 'invalid_request');
    });

    test('FAPI 2.0 §5.3.2.2 item 6: shall require the redirect_uri parameter in pushed authorization requests', async () => {
      const res = await push(request({ redirect_uri: '' }).params);
      assert.equal(res.status, 400, res.text);
      assert.equal(res.body.error, 'invalid_request');
      assert.match(res.body.error_description, /redirect_uri/);
      // Latchkey's own rule for other clients: with one redirect URI registered, it may be left out.
      const other = await postForm(parUrl(), { ...request({ redirect_uri: '', client_id: seed.confidential.clientId }).params }, { basic: [seed.confidential.clientId, seed.confidential.clientSecret] });
      assert.equal(other.status, 201, other.text);
    });

    test('FAPI 2.0 §5.3.2.2 item 7: shall return an iss parameter in the authorization response (RFC 9207)', async () => {
      const { callback } = await authorize();
      assert.equal(callback.searchParams.get('iss'), s.issuer);
    });

    test('FAPI 2.0 §5.3.2.2 item 8: shall not allow redirect URIs that use the http scheme', async () => {
      await refusedAtRegistration({ redirectUris: ['http://127.0.0.1:8080/cb'] }, /https/);
    });

    test('FAPI 2.0 §5.3.2.2 item 12: shall issue request_uri with expires_in values of less than 600 seconds', async () => {
      const res = await push(request().params);
      assert.equal(res.status, 201, res.text);
      assert.ok(res.body.expires_in < 600, String(res.body.expires_in));
      // Another client gets the configured 600.
      const other = await postForm(parUrl(), request({ client_id: seed.publicClient }).params);
      assert.equal(other.body.expires_in, 600);
    });

    test('FAPI 2.0 §5.4.1: ID tokens only with PS256, ES256 or EdDSA: RS256 is refused, ES256 is the default', async () => {
      await refusedAtRegistration({ idTokenSignedResponseAlg: 'RS256' }, /ES256, not RS256/);
      assert.equal((await s.registry.getClient(fapi)).idTokenSignedResponseAlg, 'ES256');
      const { id_token } = await tokens();
      assert.equal(decodeProtectedHeader(id_token).alg, 'ES256');
    });

    test('FAPI 2.0 §5.4.1: client assertions only with PS256, ES256 or EdDSA: RS256 is refused with the same key', async () => {
      const pushWith = async (alg: string) =>
        postForm(parUrl(), { ...request({ client_id: rsaClient }).params, ...(await clientAuth(rsaClient, { signer: rsaKey, alg })) });
      const rs256 = await pushWith('RS256');
      assert.equal(rs256.status, 401, rs256.text);
      assert.equal(rs256.body.error, 'invalid_client');
      assert.equal((await pushWith('PS256')).status, 201);
    });

    test('FAPI 2.0 §5.4.1: DPoP proofs only with PS256, ES256 or EdDSA: an RS256 proof is refused', async () => {
      const { privateKey, publicKey } = await generateKeyPair('RS256', { extractable: true });
      const jwk = await exportJWK(publicKey);
      const proof = await new SignJWT({ htm: 'POST', htu: tokenUrl(), iat: nowSeconds(), jti: randomBytes(16).toString('base64url') })
        .setProtectedHeader({ alg: 'RS256', typ: 'dpop+jwt', jwk })
        .sign(privateKey);
      const res = await postForm(tokenUrl(), { grant_type: 'refresh_token', refresh_token: 'x', ...(await clientAuth()) }, { headers: { dpop: proof } });
      assert.equal(res.status, 400, res.text);
      assert.equal(res.body.error, 'invalid_dpop_proof');
      // The same kind of proof is fine from a client without the profile.
      const other = await postForm(tokenUrl(), { grant_type: 'refresh_token', refresh_token: 'x' }, { basic: [seed.confidential.clientId, seed.confidential.clientSecret], headers: { dpop: await new SignJWT({ htm: 'POST', htu: tokenUrl(), iat: nowSeconds(), jti: randomUUID() }).setProtectedHeader({ alg: 'RS256', typ: 'dpop+jwt', jwk }).sign(privateKey) } });
      assert.equal(other.body.error, 'invalid_grant', other.text);
    });

    test('the profile is the operator\'s: a self-registered client cannot have it', async () => {
      await assert.rejects(s.registry.createClient(fapiInput({ source: 'dynamic-registration', jwks: { keys: [key.jwk] } })), /only an operator/);
    });
  });
}
