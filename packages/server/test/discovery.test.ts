import assert from 'node:assert/strict';
import { connect, createServer as createTcpServer, type Socket } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { exportJWK, generateKeyPair, SignJWT } from 'jose';
import { backends, freePort, postForm, type RunningServer, seedOrdersApi, sqlite, startServer, type TestDatabase } from '@latchkey/testing';

for (const backend of await backends()) {
  describe(`discovery and JWKS (${backend.name})`, { skip: backend.skip }, () => {
    let db: TestDatabase;
    let s: RunningServer;

    before(async () => {
      db = await backend.create();
      s = await startServer(db);
      await seedOrdersApi(s);
    });
    after(async () => {
      await s?.close();
      await db?.drop();
    });

    const getJson = async (path: string) => {
      const res = await fetch(`${s.url}${path}`);
      return { status: res.status, headers: res.headers, body: (await res.json()) as any };
    };

    test('RFC 8414 metadata: issuer equals the configured issuer and the URL it was fetched from', async () => {
      const { status, body } = await getJson('/.well-known/oauth-authorization-server');
      assert.equal(status, 200);
      assert.equal(body.issuer, s.settings.issuer);
      assert.equal(body.issuer, s.url, 'RFC 8414 §3.3 / OIDC Discovery §4.3');
    });

    test('metadata lists only what the server does, and every endpoint it names answers', async () => {
      for (const path of ['/.well-known/oauth-authorization-server', '/.well-known/openid-configuration']) {
        const { body } = await getJson(path);
        assert.equal(body.issuer, s.issuer);
        assert.equal(body.token_endpoint, `${s.issuer}/token`);
        assert.equal(body.jwks_uri, `${s.issuer}/jwks`);
        assert.equal(body.introspection_endpoint, `${s.issuer}/introspect`);
        assert.equal(body.revocation_endpoint, `${s.issuer}/revoke`);
        assert.equal(body.authorization_endpoint, `${s.issuer}/authorize`);
        assert.deepEqual(body.grant_types_supported, [
          'authorization_code',
          'client_credentials',
          'urn:ietf:params:oauth:grant-type:device_code',
          'refresh_token',
          'urn:ietf:params:oauth:grant-type:token-exchange',
        ]);
        assert.deepEqual(body.token_endpoint_auth_methods_supported, ['client_secret_basic', 'client_secret_post', 'private_key_jwt', 'none']);
        assert.deepEqual(body.introspection_endpoint_auth_methods_supported, ['client_secret_basic', 'client_secret_post', 'private_key_jwt']);
        assert.deepEqual(body.revocation_endpoint_auth_methods_supported, ['client_secret_basic', 'client_secret_post', 'private_key_jwt', 'none']);
        // RFC 8414 §2: private_key_jwt assertions are signed asymmetrically; none and HS* are refused.
        assert.deepEqual(body.token_endpoint_auth_signing_alg_values_supported, ['ES256', 'PS256', 'RS256', 'EdDSA', 'Ed25519']);
        // OAuth 2.1 §10.1: the code flow only; docs/security.md B23: S256 only; docs/security.md A12: RFC 9207.
        assert.deepEqual(body.response_types_supported, ['code']);
        assert.deepEqual(body.code_challenge_methods_supported, ['S256']);
        assert.equal(body.authorization_response_iss_parameter_supported, true);
        for (const scope of ['openid', 'profile', 'email', 'offline_access']) assert.ok(body.scopes_supported.includes(scope), scope);
        assert.ok(body.scopes_supported.includes('orders:read'));
        assert.ok(body.scopes_supported.includes('orders:write'));
        assert.ok(!body.grant_types_supported.includes('password'));
        assert.ok(!body.grant_types_supported.includes('implicit'));
      }
      const oidc = (await getJson('/.well-known/openid-configuration')).body;
      assert.equal(oidc.userinfo_endpoint, `${s.issuer}/userinfo`);
      assert.equal(oidc.end_session_endpoint, `${s.issuer}/logout`);
      assert.deepEqual(oidc.subject_types_supported, ['public']);
      assert.deepEqual(oidc.id_token_signing_alg_values_supported, ['RS256', 'ES256']);
      assert.deepEqual(oidc.prompt_values_supported, ['none', 'login', 'consent']);
      const plain = (await getJson('/.well-known/oauth-authorization-server')).body;
      assert.equal(plain.userinfo_endpoint, undefined, 'OIDC members only in the OIDC document');
      // The userinfo endpoint exists and challenges a request without a token (RFC 6750 §3).
      const userinfo = await fetch(oidc.userinfo_endpoint);
      assert.equal(userinfo.status, 401);
      assert.equal(userinfo.headers.get('www-authenticate'), 'Bearer realm="latchkey", DPoP algs="ES256 ES384 PS256 RS256 EdDSA"');
      // The authorization endpoint exists: without a client it shows an error page, not a 404.
      const authorize = await fetch(oidc.authorization_endpoint, { redirect: 'manual' });
      assert.equal(authorize.status, 400);
      assert.match(authorize.headers.get('content-type') ?? '', /text\/html/);
      // Each advertised endpoint exists: POST endpoints answer an empty POST with an OAuth error, not 404.
      const { body } = await getJson('/.well-known/oauth-authorization-server');
      for (const endpoint of [body.token_endpoint, body.introspection_endpoint, body.revocation_endpoint]) {
        const res = await postForm(endpoint, {});
        assert.ok(res.status === 400 || res.status === 401, `${endpoint}: ${res.status}`);
        assert.ok(res.body.error);
      }
      assert.equal((await fetch(body.jwks_uri)).status, 200);
    });

    test('every advertised auth method and grant type can be registered and is accepted at the token endpoint', async () => {
      const { body } = await getJson('/.well-known/oauth-authorization-server');
      const signer = await generateKeyPair('ES256');
      const publicJwk = { ...(await exportJWK(signer.publicKey)), kid: 'k1' };
      const assertion = (id: string) =>
        new SignJWT({ jti: crypto.randomUUID() })
          .setProtectedHeader({ alg: 'ES256', kid: 'k1' })
          .setIssuer(id)
          .setSubject(id)
          .setAudience(body.token_endpoint)
          .setExpirationTime('1m')
          .sign(signer.privateKey);
      for (const method of body.token_endpoint_auth_methods_supported) {
        const created = await s.registry.createClient({
          name: `m-${method}`,
          type: method === 'none' ? 'public' : 'confidential',
          // client_credentials and token exchange are for confidential clients only.
          grantTypes: body.grant_types_supported.filter(
            (g: string) => method !== 'none' || !['client_credentials', 'urn:ietf:params:oauth:grant-type:token-exchange'].includes(g),
          ),
          scopes: ['orders:read'],
          tokenEndpointAuthMethod: method,
          redirectUris: ['https://app.example/callback'],
          ...(method === 'private_key_jwt' ? { jwks: { keys: [publicJwk] } } : {}),
        });
        const id = created.client.clientId;
        const secret = created.clientSecret!;
        // Every grant type is recognised: a request with no code or refresh token is invalid_request,
        // never unsupported_grant_type, and client credentials succeed for confidential clients.
        for (const grantType of created.client.grantTypes) {
          const form = { grant_type: grantType };
          const res =
            method === 'client_secret_basic'
              ? await postForm(body.token_endpoint, form, { basic: [id, secret] })
              : method === 'none'
                ? await postForm(body.token_endpoint, { ...form, client_id: id })
                : method === 'private_key_jwt'
                  ? await postForm(body.token_endpoint, {
                      ...form,
                      client_assertion_type: 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer',
                      client_assertion: await assertion(id),
                    })
                  : await postForm(body.token_endpoint, { ...form, client_id: id, client_secret: secret });
          if (grantType === 'client_credentials') assert.equal(res.status, 200, `${method}: ${res.text}`);
          else assert.equal(res.body.error, 'invalid_request', `${method} ${grantType}: ${res.text}`);
        }
      }
    });

    test('JWKS holds public keys only, each with kid, alg and use', async () => {
      const { status, headers, body } = await getJson('/jwks');
      assert.equal(status, 200);
      assert.match(headers.get('content-type') ?? '', /application\/jwk-set\+json/);
      assert.ok(body.keys.length >= 2);
      const algs = new Set<string>();
      for (const key of body.keys) {
        for (const privateMember of ['d', 'p', 'q', 'dp', 'dq', 'qi', 'k', 'oth']) {
          assert.equal(key[privateMember], undefined, `no ${privateMember} in ${key.kid}`);
        }
        assert.ok(typeof key.kid === 'string' && key.kid.length > 0);
        assert.equal(key.use, 'sig');
        assert.ok(['ES256', 'RS256'].includes(key.alg));
        algs.add(key.alg);
      }
      assert.deepEqual([...algs].sort(), ['ES256', 'RS256'], 'an ES256 key and an RS256 key (OIDC needs RS256)');
      const rsa = body.keys.find((k: any) => k.alg === 'RS256');
      assert.equal(Buffer.from(rsa.n, 'base64url').length * 8, 2048);
    });

    test('unknown paths answer JSON 404, never HTML or a stack', async () => {
      const res = await fetch(`${s.url}/nope`);
      assert.equal(res.status, 404);
      const body = (await res.json()) as any;
      assert.equal(body.error, 'not_found');
    });

    test('healthz answers, readyz reports the database', async () => {
      assert.equal((await fetch(`${s.url}/healthz`)).status, 200);
      const ready = await fetch(`${s.url}/readyz`);
      assert.equal(ready.status, 200);
      assert.equal(((await ready.json()) as any).status, 'ready');
    });
  });
}

describe('an issuer with a path', () => {
  let db: TestDatabase;
  let s: RunningServer;
  before(async () => {
    db = await sqlite.create();
    const port = await freePort();
    s = await startServer(db, { port, issuer: `http://127.0.0.1:${port}/tenant-a` });
  });
  after(async () => {
    await s?.close();
    await db?.drop();
  });

  test('RFC 8414 §3.1: metadata at /.well-known/oauth-authorization-server/tenant-a; OIDC at /tenant-a/.well-known/openid-configuration', async () => {
    const rfc = (await (await fetch(`${s.url}/.well-known/oauth-authorization-server/tenant-a`)).json()) as any;
    assert.equal(rfc.issuer, `${s.url}/tenant-a`);
    assert.equal(rfc.token_endpoint, `${s.url}/tenant-a/token`);
    const oidc = (await (await fetch(`${s.url}/tenant-a/.well-known/openid-configuration`)).json()) as any;
    assert.equal(oidc.issuer, `${s.url}/tenant-a`);
    assert.equal((await fetch(`${s.url}/tenant-a/jwks`)).status, 200);
    assert.equal((await fetch(`${s.url}/.well-known/oauth-authorization-server`)).status, 404);
  });
});

describe('readyz when the database is gone', () => {
  test('answers 503 once the database no longer responds', async () => {
    const db = await sqlite.create();
    const s = await startServer(db);
    try {
      await s.server.context.storage.close();
      const res = await fetch(`${s.url}/readyz`);
      assert.equal(res.status, 503);
      assert.equal((await fetch(`${s.url}/healthz`)).status, 200, 'liveness does not depend on the database');
    } finally {
      await s.server.app.close();
      await db.drop();
    }
  });
});

const postgres = (await backends()).find((b) => b.name === 'postgres')!;

describe('readyz when PostgreSQL stops answering (postgres)', { skip: postgres.skip }, () => {
  test('answers 503 within a few seconds, never hangs', async () => {
    const db = await postgres.create();
    const target = new URL(db.databaseUrl!);
    // A TCP proxy in front of PostgreSQL that can stop passing bytes, like a hung database or network.
    let frozen = false;
    const sockets = new Set<Socket>();
    const proxy = createTcpServer((client) => {
      const upstream = connect(Number(target.port || 5432), target.hostname);
      for (const [from, to] of [[client, upstream], [upstream, client]] as const) {
        sockets.add(from);
        from.on('data', (chunk) => {
          if (!frozen) to.write(chunk);
        });
        from.on('error', () => {});
        from.on('close', () => to.destroy());
      }
    });
    await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve));
    const viaProxy = new URL(db.databaseUrl!);
    viaProxy.host = `127.0.0.1:${(proxy.address() as { port: number }).port}`;
    const s = await startServer({ ...db, databaseUrl: viaProxy.toString() });
    try {
      assert.equal((await fetch(`${s.url}/readyz`)).status, 200);
      frozen = true;
      const started = Date.now();
      const res = await fetch(`${s.url}/readyz`);
      assert.equal(res.status, 503);
      assert.ok(Date.now() - started < 5000, `answered in ${Date.now() - started} ms`);
    } finally {
      for (const socket of sockets) socket.destroy();
      await s.close();
      proxy.close();
      await db.drop();
    }
  });
});
