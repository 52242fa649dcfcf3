import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { SignJWT } from 'jose';
import { sha256 } from '../../src/lib/random.ts';
import { backends, type Latchkey } from '@latchkey/testing';
import { assertRegistrationError, NOTES, register, registrationServer, sendJson, webApp } from './support.ts';

/**
 * The RFC 7591 §3 registration endpoint with LATCHKEY_REGISTRATION=open and =off: what a registration
 * answers (§3.2.1), every error of §3.2.2 with its status, how members are read (§2), CORS, and that
 * secrets and registration access tokens are stored only as hashes (docs/security.md L77, L80).
 */

for (const backend of await backends()) {
  describe(`dynamic client registration, open (${backend.name})`, { skip: backend.skip }, () => {
    let lk: Latchkey;

    before(async () => {
      lk = await registrationServer(backend, { registration: 'open' });
    });
    after(async () => {
      await lk?.close();
    });

    const clientCount = async () => (await lk.running.registry.listClients()).length;

    test('L77: discovery lists the registration endpoint when registration is on', async () => {
      for (const path of ['/.well-known/oauth-authorization-server', '/.well-known/openid-configuration']) {
        const doc = (await sendJson(`${lk.issuer}${path}`, 'GET')).body;
        assert.equal(doc.registration_endpoint, `${lk.issuer}/register`, path);
      }
    });

    test('a registration answers 201 with the client information response: id, secret, registration token and URI, the metadata echoed', async () => {
      const res = await register(lk, webApp({
        client_uri: 'https://notes-app.example/',
        logo_uri: 'https://notes-app.example/logo.png',
        policy_uri: 'https://notes-app.example/privacy',
        tos_uri: 'https://notes-app.example/terms',
        contacts: ['dev@notes-app.example'],
        software_id: 'notes-web',
        software_version: '1.2.3',
      }));
      assert.equal(res.status, 201, res.text);
      assert.equal(res.headers.get('cache-control'), 'no-store');
      assert.equal(res.headers.get('pragma'), 'no-cache');
      const info = res.body;
      assert.match(info.client_id, /^[0-9a-f]{32}$/);
      assert.match(info.client_secret, /^[A-Za-z0-9_-]{43}$/);
      assert.equal(info.client_secret_expires_at, 0);
      assert.ok(Math.abs(info.client_id_issued_at - Date.now() / 1000) < 300);
      assert.match(info.registration_access_token, /^[A-Za-z0-9_-]{43}$/);
      assert.equal(info.registration_client_uri, `${lk.issuer}/register/${info.client_id}`);
      assert.deepEqual(
        {
          token_endpoint_auth_method: info.token_endpoint_auth_method,
          grant_types: info.grant_types,
          response_types: info.response_types,
          redirect_uris: info.redirect_uris,
          scope: info.scope,
          client_name: info.client_name,
          client_uri: info.client_uri,
          logo_uri: info.logo_uri,
          policy_uri: info.policy_uri,
          tos_uri: info.tos_uri,
          contacts: info.contacts,
          software_id: info.software_id,
          software_version: info.software_version,
        },
        {
          token_endpoint_auth_method: 'client_secret_basic',
          grant_types: ['authorization_code', 'refresh_token'],
          response_types: ['code'],
          redirect_uris: ['https://notes-app.example/callback'],
          scope: 'openid notes:read',
          client_name: 'Notes Web',
          client_uri: 'https://notes-app.example/',
          logo_uri: 'https://notes-app.example/logo.png',
          policy_uri: 'https://notes-app.example/privacy',
          tos_uri: 'https://notes-app.example/terms',
          contacts: ['dev@notes-app.example'],
          software_id: 'notes-web',
          software_version: '1.2.3',
        },
      );
      const client = await lk.running.registry.getClient(info.client_id);
      assert.equal(client.source, 'dynamic-registration');
      assert.equal(client.type, 'confidential');
      assert.deepEqual(client.audiences.map((a) => a.identifier), [NOTES]);
    });

    test('L77: first_party in the request is ignored: the client is never first-party; unknown members are ignored and not echoed', async () => {
      const res = await register(lk, webApp({ first_party: true, firstParty: true, frobnicate: { deep: [1] }, 'client_name#fr': 'Notes en ligne' }));
      assert.equal(res.status, 201, res.text);
      assert.equal(res.body.first_party, undefined);
      assert.equal(res.body.frobnicate, undefined);
      assert.equal(res.body['client_name#fr'], undefined);
      assert.equal((await lk.running.registry.getClient(res.body.client_id)).firstParty, false);
    });

    test('defaults (RFC 7591 §2): client_secret_basic, the code grant, response type code, every open scope with openid profile email', async () => {
      const res = await register(lk, { redirect_uris: ['https://defaults.example/cb'] });
      assert.equal(res.status, 201, res.text);
      assert.equal(res.body.token_endpoint_auth_method, 'client_secret_basic');
      assert.deepEqual(res.body.grant_types, ['authorization_code']);
      assert.deepEqual(res.body.response_types, ['code']);
      assert.equal(res.body.scope, 'openid profile email notes:read');
      assert.equal(res.body.client_name, undefined, 'a name that was not given is not echoed');
      assert.equal((await lk.running.registry.getClient(res.body.client_id)).name, 'Unnamed application');
    });

    test('a public client (none) gets no secret; a client_secret_post client gets one', async () => {
      const pub = await register(lk, webApp({ token_endpoint_auth_method: 'none' }));
      assert.equal(pub.status, 201, pub.text);
      assert.equal(pub.body.client_secret, undefined);
      assert.equal(pub.body.client_secret_expires_at, undefined);
      assert.equal((await lk.running.registry.getClient(pub.body.client_id)).type, 'public');
      const post = await register(lk, webApp({ token_endpoint_auth_method: 'client_secret_post' }));
      assert.equal(post.status, 201, post.text);
      assert.equal(typeof post.body.client_secret, 'string');
      assert.equal(post.body.token_endpoint_auth_method, 'client_secret_post');
    });

    test('L80: the client secret and the registration access token are stored only as SHA-256 hashes', async () => {
      const res = await register(lk, webApp());
      assert.equal(res.status, 201, res.text);
      const { client_id: clientId, client_secret: secret, registration_access_token: token } = res.body;
      const kysely = lk.running.server.context.storage.db.kysely;
      const client = await kysely.selectFrom('clients').selectAll().where('client_id', '=', clientId).executeTakeFirstOrThrow();
      const registration = await kysely.selectFrom('client_registrations').selectAll().where('client_id', '=', clientId).executeTakeFirstOrThrow();
      assert.equal(client.secret_hash, sha256(secret));
      assert.equal(registration.access_token_hash, sha256(token));
      const rows = JSON.stringify([
        await kysely.selectFrom('clients').selectAll().execute(),
        await kysely.selectFrom('client_registrations').selectAll().execute(),
      ]);
      assert.ok(!rows.includes(secret), 'the secret is nowhere in clear');
      assert.ok(!rows.includes(token), 'the registration access token is nowhere in clear');
    });

    test('invalid_redirect_uri (400): http on a public host, javascript:, a fragment, userinfo, none for the code grant, not a list', async () => {
      const cases: [string, unknown][] = [
        ['http on a public host', ['http://notes-app.example/callback']],
        ['javascript:', ['JavaScript:alert(1)']],
        ['a fragment', ['https://notes-app.example/cb#x']],
        ['userinfo', ['https://user@notes-app.example/cb']],
        ['a wildcard', ['https://*.notes-app.example/cb']],
        ['none at all', []],
        ['not a list', 'https://notes-app.example/cb'],
        ['a list of numbers', [1, 2]],
      ];
      const before = await clientCount();
      for (const [label, redirectUris] of cases) {
        assertRegistrationError(await register(lk, webApp({ redirect_uris: redirectUris })), 'invalid_redirect_uri', label);
      }
      assertRegistrationError(await register(lk, webApp({ redirect_uris: undefined })), 'invalid_redirect_uri', 'missing');
      assertRegistrationError(
        await register(lk, webApp({ post_logout_redirect_uris: ['http://notes-app.example/bye'] })),
        'invalid_redirect_uri',
        'a post-logout redirect URI',
      );
      assert.equal(await clientCount(), before, 'nothing was stored');
    });

    test('invalid_client_metadata (400): methods, grants, response types, scopes, display URLs, keys, types and lengths', async () => {
      const privateJwk = { kty: 'EC', crv: 'P-256', x: 'f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU', y: 'x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0', d: 'jpsQnnGQmL-YBIffH1136cLyH7VG1vnpnt5ljQ7etTE' };
      const cases: [string, Record<string, unknown>][] = [
        ['client_secret_jwt is not offered', { token_endpoint_auth_method: 'client_secret_jwt' }],
        ['a method that is not a string', { token_endpoint_auth_method: ['none'] }],
        ['the password grant', { grant_types: ['password'] }],
        ['the implicit grant', { grant_types: ['implicit'] }],
        ['client_credentials, not allowed by the operator', { grant_types: ['client_credentials'], redirect_uris: [], response_types: [] }],
        ['the device grant', { grant_types: ['urn:ietf:params:oauth:grant-type:device_code'] }],
        ['token exchange', { grant_types: ['urn:ietf:params:oauth:grant-type:token-exchange'] }],
        ['no grant at all', { grant_types: [] }],
        ['refresh_token without the code grant', { grant_types: ['refresh_token'], response_types: [] }],
        ['response type token', { response_types: ['token'] }],
        ['response type id_token', { response_types: ['code', 'id_token'] }],
        ['no code response type with the code grant', { response_types: [] }],
        ['a scope not open to registered clients', { scope: 'notes:write' }],
        ['a scope of an API with no open scope', { scope: 'orders:read' }],
        ['an unknown scope', { scope: 'openid launch:missiles' }],
        ['an OpenID Connect scope Latchkey does not serve', { scope: 'openid address' }],
        ['scope as a list', { scope: ['notes:read'] }],
        ['an http logo_uri', { logo_uri: 'http://notes-app.example/logo.png' }],
        ['a javascript: client_uri', { client_uri: 'javascript:alert(1)' }],
        ['a relative policy_uri', { policy_uri: '/privacy' }],
        ['a tos_uri with userinfo', { tos_uri: 'https://a@notes-app.example/terms' }],
        ['a client_name too long', { client_name: 'n'.repeat(201) }],
        ['a client_name that is a number', { client_name: 42 }],
        ['a client_name with control characters', { client_name: 'Notes\u0007' }],
        ['contacts that are not a list', { contacts: 'dev@notes-app.example' }],
        ['too many contacts', { contacts: Array.from({ length: 6 }, (_, i) => `dev${i}@notes-app.example`) }],
        ['jwks without private_key_jwt', { jwks: { keys: [] } }],
        ['private_key_jwt without keys', { token_endpoint_auth_method: 'private_key_jwt' }],
        ['jwks and jwks_uri both', { token_endpoint_auth_method: 'private_key_jwt', jwks: { keys: [] }, jwks_uri: 'https://notes-app.example/jwks' }],
        ['a jwks_uri over http to a public host', { token_endpoint_auth_method: 'private_key_jwt', jwks_uri: 'http://notes-app.example/jwks' }],
        ['a file: jwks_uri', { token_endpoint_auth_method: 'private_key_jwt', jwks_uri: 'file:///etc/passwd' }],
        ['a private key in jwks', { token_endpoint_auth_method: 'private_key_jwt', jwks: { keys: [privateJwk] } }],
        ['an empty jwks', { token_endpoint_auth_method: 'private_key_jwt', jwks: { keys: [] } }],
        ['an HMAC ID token algorithm', { id_token_signed_response_alg: 'HS256' }],
      ];
      const before = await clientCount();
      for (const [label, changes] of cases) {
        assertRegistrationError(await register(lk, webApp(changes)), 'invalid_client_metadata', label);
      }
      assert.equal(await clientCount(), before, 'nothing was stored');
    });

    test('invalid_client_metadata (400) for a body that is not a JSON object: malformed, an array, a string, form-encoded, no body', async () => {
      const url = `${lk.issuer}/register`;
      for (const [label, res] of [
        ['malformed JSON', await sendJson(url, 'POST', '{"redirect_uris": [')],
        ['an array', await sendJson(url, 'POST', '[]')],
        ['a string', await sendJson(url, 'POST', '"client"')],
        ['null', await sendJson(url, 'POST', 'null')],
        ['form-encoded', await sendJson(url, 'POST', 'redirect_uris=https://a.example/cb', { 'content-type': 'application/x-www-form-urlencoded' })],
        ['text/plain', await sendJson(url, 'POST', '{}', { 'content-type': 'text/plain' })],
        ['no body', await sendJson(url, 'POST')],
      ] as const) {
        assertRegistrationError(res, 'invalid_client_metadata', label);
      }
    });

    test('a software_statement: invalid_software_statement when it is not a JWT, unapproved_software_statement when it is (none is approved)', async () => {
      for (const [label, statement] of [['text', 'not-a-jwt'], ['a number', 42], ['two parts', 'eyJhbGciOiJub25lIn0.e30'], ['garbage parts', 'a.b.c']] as const) {
        assertRegistrationError(await register(lk, webApp({ software_statement: statement })), 'invalid_software_statement', label);
      }
      const statement = await new SignJWT({ software_id: 'notes-web', iss: 'https://notes-app.example' })
        .setProtectedHeader({ alg: 'HS256' })
        .sign(new TextEncoder().encode('a secret only the client knows, 32+ bytes long'));
      assertRegistrationError(await register(lk, webApp({ software_statement: statement })), 'unapproved_software_statement', 'a signed statement');
    });

    test('only POST: other methods on the registration endpoint get 405 with Allow', async () => {
      for (const method of ['GET', 'PUT', 'DELETE', 'PATCH']) {
        const res = await sendJson(`${lk.issuer}/register`, method);
        assert.equal(res.status, 405, method);
        assert.equal(res.headers.get('allow'), 'POST', method);
      }
      const res = await sendJson(`${lk.issuer}/register/abc`, 'POST', {});
      assert.equal(res.status, 405);
      assert.equal(res.headers.get('allow'), 'GET, PUT, DELETE');
    });

    test('CORS: the registration endpoint and the client URIs answer any origin, without credentials', async () => {
      const origin = 'https://some-spa.example';
      const preflight = await fetch(`${lk.issuer}/register`, {
        method: 'OPTIONS',
        headers: { origin, 'access-control-request-method': 'POST', 'access-control-request-headers': 'content-type, authorization' },
      });
      assert.equal(preflight.status, 204);
      assert.equal(preflight.headers.get('access-control-allow-origin'), '*');
      assert.equal(preflight.headers.get('access-control-allow-methods'), 'POST');
      assert.match(preflight.headers.get('access-control-allow-headers') ?? '', /Authorization/);
      assert.match(preflight.headers.get('access-control-allow-headers') ?? '', /Content-Type/);
      assert.equal(preflight.headers.get('access-control-allow-credentials'), null);
      const managed = await fetch(`${lk.issuer}/register/some-client`, { method: 'OPTIONS', headers: { origin, 'access-control-request-method': 'PUT' } });
      assert.equal(managed.headers.get('access-control-allow-methods'), 'GET, PUT, DELETE');
      const res = await register(lk, webApp(), { origin });
      assert.equal(res.status, 201, res.text);
      assert.equal(res.headers.get('access-control-allow-origin'), '*');
      assert.equal(res.headers.get('access-control-allow-credentials'), null);
    });

    test('no request was answered with a server error', () => {
      assert.ok(!lk.running.logs().includes('"request failed"'), 'a request failed with a 500');
    });
  });

  describe(`dynamic client registration, off (${backend.name})`, { skip: backend.skip }, () => {
    let lk: Latchkey;

    before(async () => {
      lk = await registrationServer(backend, {});
    });
    after(async () => {
      await lk?.close();
    });

    test('L77: off by default: no registration endpoint (404), none in discovery, nothing stored', async () => {
      assert.equal(lk.running.settings.registration, 'off');
      const before = (await lk.running.registry.listClients()).length;
      const res = await register(lk, webApp());
      assert.equal(res.status, 404, res.text);
      assert.equal((await lk.running.registry.listClients()).length, before);
      const doc = (await sendJson(`${lk.issuer}/.well-known/oauth-authorization-server`, 'GET')).body;
      assert.equal(doc.registration_endpoint, undefined);
      assert.ok(!('registration_endpoint' in (await sendJson(`${lk.issuer}/.well-known/openid-configuration`, 'GET')).body));
    });
  });
}
