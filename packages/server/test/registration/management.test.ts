import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { sha256 } from '../../src/lib/random.ts';
import { backends, FormBrowser, type Latchkey, pkcePair, postForm, rawExchange, startServer, walkAuthorization } from '@latchkey/testing';
import { assertInvalidToken, assertRegistrationError, bearer, register, registrationServer, sendJson, webApp, type JsonReply } from './support.ts';

/**
 * RFC 7592 client configuration endpoint: read, update (full replacement, a new registration access
 * token each time) and delete, with the right token and with wrong ones (docs/security.md L80).
 */

/** What the client sends back on update: what it was told, less what RFC 7592 §2.2 forbids. */
function updateBody(info: Record<string, unknown>, changes: Record<string, unknown> = {}): Record<string, unknown> {
  const { registration_access_token: _t, registration_client_uri: _u, client_secret_expires_at: _e, client_id_issued_at: _i, ...rest } = info;
  return { ...rest, ...changes };
}

for (const backend of await backends()) {
  describe(`registration management, RFC 7592 (${backend.name})`, { skip: backend.skip }, () => {
    let lk: Latchkey;

    before(async () => {
      lk = await registrationServer(backend, { registration: 'open' });
    });
    after(async () => {
      await lk?.close();
    });

    async function registered(changes: Record<string, unknown> = {}): Promise<Record<string, any>> {
      const res = await register(lk, webApp(changes));
      assert.equal(res.status, 201, res.text);
      return res.body;
    }
    const read = (info: Record<string, any>, token: string = info.registration_access_token) =>
      sendJson(info.registration_client_uri, 'GET', undefined, bearer(token));
    const update = (info: Record<string, any>, body: unknown, token: string = info.registration_access_token) =>
      sendJson(info.registration_client_uri, 'PUT', body, bearer(token));
    const remove = (info: Record<string, any>, token: string = info.registration_access_token) =>
      sendJson(info.registration_client_uri, 'DELETE', undefined, bearer(token));

    test('read (§2.1): the same client information, without the secret, never cached', async () => {
      const info = await registered({ client_uri: 'https://notes-app.example/' });
      const res = await read(info);
      assert.equal(res.status, 200, res.text);
      assert.equal(res.headers.get('cache-control'), 'no-store');
      const { client_secret: _secret, ...expected } = info;
      assert.deepEqual(res.body, expected);
    });

    test('a delete with a body that is not JSON: 400 invalid_request (it carries no metadata), and nothing is deleted', async () => {
      const info = await registered();
      const url = new URL(info.registration_client_uri);
      for (const method of ['DELETE']) {
        const raw = await rawExchange(
          Number(url.port),
          [`${method} ${url.pathname} HTTP/1.1\r\nHost: ${url.host}\r\nAuthorization: Bearer ${info.registration_access_token}\r\nContent-Type: text/plain\r\nContent-Length: 5\r\nConnection: close\r\n\r\nhello`],
          0,
        );
        assert.equal(raw.status, 400, `${method}: ${raw.response}`);
        assert.equal(raw.body?.error, 'invalid_request', method);
      }
      assert.equal((await read(info)).status, 200, 'still registered');
    });

    test('L80: a wrong, missing or other client\'s token, or an unknown client: 401 invalid_token with a Bearer challenge', async () => {
      const a = await registered();
      const b = await registered();
      const unknown = { ...a, registration_client_uri: `${lk.issuer}/register/0123456789abcdef0123456789abcdef` };
      const operatorClient = { ...a, registration_client_uri: `${lk.issuer}/register/${lk.shop}` };
      const cases: [string, () => Promise<JsonReply>][] = [
        ['read, wrong token', () => read(a, 'x'.repeat(43))],
        ['read, the other client\'s token', () => read(a, b.registration_access_token)],
        ['read, no token', () => sendJson(a.registration_client_uri, 'GET')],
        ['read, Basic with the client secret', () => sendJson(a.registration_client_uri, 'GET', undefined, { authorization: `Basic ${Buffer.from(`${a.client_id}:${a.client_secret}`).toString('base64')}` })],
        ['read, the client secret as the token', () => read(a, a.client_secret)],
        ['read, an unknown client', () => read(unknown)],
        ['read, an operator\'s client', () => read(operatorClient)],
        ['update, wrong token', () => update(a, updateBody(a, { client_name: 'Taken over' }), b.registration_access_token)],
        ['delete, wrong token', () => remove(a, b.registration_access_token)],
        ['delete, no token', () => sendJson(a.registration_client_uri, 'DELETE')],
      ];
      for (const [label, call] of cases) assertInvalidToken(await call(), label);
      assert.equal((await lk.running.registry.getClient(a.client_id)).name, 'Notes Web', 'nothing changed');
    });

    test('update (§2.2): the body replaces the registration; omitted members are gone; the token is replaced; the secret stays', async () => {
      const info = await registered({ logo_uri: 'https://notes-app.example/logo.png', contacts: ['a@notes-app.example'] });
      const { logo_uri: _logo, contacts: _contacts, ...withoutDisplay } = updateBody(info);
      const res = await update(info, {
        ...withoutDisplay,
        client_name: 'Notes Web 2',
        redirect_uris: ['https://notes-app.example/callback2', 'https://notes-app.example/callback'],
        client_secret: info.client_secret,
      });
      assert.equal(res.status, 200, res.text);
      assert.equal(res.body.client_name, 'Notes Web 2');
      assert.deepEqual(res.body.redirect_uris, ['https://notes-app.example/callback2', 'https://notes-app.example/callback']);
      assert.equal(res.body.logo_uri, undefined, 'an omitted member is deleted');
      assert.equal(res.body.contacts, undefined);
      assert.equal(res.body.client_secret, undefined, 'the secret is unchanged, so it is not sent again');
      assert.equal(res.body.client_id_issued_at, info.client_id_issued_at);
      assert.notEqual(res.body.registration_access_token, info.registration_access_token);
      const stored = await lk.running.server.context.storage.registrations.find(info.client_id);
      assert.equal(stored?.accessTokenHash, sha256(res.body.registration_access_token));
      assertInvalidToken(await read(info), 'the old registration access token');
      assert.equal((await read(res.body)).status, 200, 'the new one works');
      const token = await postForm(`${lk.issuer}/token`, { grant_type: 'client_credentials' }, { basic: [info.client_id, info.client_secret] });
      assert.equal(token.body?.error, 'unauthorized_client', `the old secret still authenticates: ${token.text}`);
    });

    test('update: from none to client_secret_post issues a secret; back to none removes it', async () => {
      const info = await registered({ token_endpoint_auth_method: 'none' });
      const toPost = await update(info, updateBody(info, { token_endpoint_auth_method: 'client_secret_post' }));
      assert.equal(toPost.status, 200, toPost.text);
      assert.match(toPost.body.client_secret, /^[A-Za-z0-9_-]{43}$/);
      assert.equal(toPost.body.client_secret_expires_at, 0);
      assert.equal((await lk.running.registry.getClient(info.client_id)).type, 'confidential');
      const toNone = await update(toPost.body, updateBody(toPost.body, { token_endpoint_auth_method: 'none', client_secret: undefined }));
      assert.equal(toNone.status, 200, toNone.text);
      assert.equal(toNone.body.client_secret_expires_at, undefined);
      const client = await lk.running.registry.getClient(info.client_id);
      assert.equal(client.type, 'public');
      assert.equal(client.secretHash, null);
    });

    test('update: client_id missing or different, a wrong client_secret, server-provided members, bad metadata: 400 and nothing changes', async () => {
      const info = await registered();
      const cases: [string, Record<string, unknown>, string][] = [
        ['no client_id', updateBody(info, { client_id: undefined }), 'invalid_client_metadata'],
        ['another client_id', updateBody(info, { client_id: 'someone-else' }), 'invalid_client_metadata'],
        ['a wrong client_secret', updateBody(info, { client_secret: 'guess' }), 'invalid_client_metadata'],
        ['registration_access_token', updateBody(info, { registration_access_token: info.registration_access_token }), 'invalid_client_metadata'],
        ['registration_client_uri', updateBody(info, { registration_client_uri: info.registration_client_uri }), 'invalid_client_metadata'],
        ['client_secret_expires_at', updateBody(info, { client_secret_expires_at: 0 }), 'invalid_client_metadata'],
        ['client_id_issued_at', updateBody(info, { client_id_issued_at: 1 }), 'invalid_client_metadata'],
        ['a closed scope', updateBody(info, { scope: 'notes:write' }), 'invalid_client_metadata'],
        ['an http redirect URI', updateBody(info, { redirect_uris: ['http://evil.example/cb'] }), 'invalid_redirect_uri'],
        ['a software statement', updateBody(info, { software_statement: 'nope' }), 'invalid_software_statement'],
      ];
      for (const [label, body, error] of cases) assertRegistrationError(await update(info, body), error, label);
      assertRegistrationError(await update(info, '[1, 2'), 'invalid_client_metadata', 'malformed JSON');
      assert.equal((await read(info)).status, 200, 'the token was not replaced by a refused update');
      assert.equal((await lk.running.registry.getClient(info.client_id)).name, 'Notes Web');
    });

    test('update forgets consents given to the client as it was: the user is asked again, and sees the client as it now is', async () => {
      const info = await registered({ token_endpoint_auth_method: 'none', scope: 'notes:read' });
      const storage = lk.running.server.context.storage;
      const authorize = () => {
        const { challenge } = pkcePair();
        return `${lk.issuer}/authorize?${new URLSearchParams({
          response_type: 'code',
          client_id: info.client_id,
          redirect_uri: 'https://notes-app.example/callback',
          scope: 'notes:read',
          code_challenge: challenge,
          code_challenge_method: 'S256',
        })}`;
      };
      const browser = new FormBrowser();
      assert.equal((await walkAuthorization(browser, lk.issuer, authorize())).sawConsent, true, 'asked the first time');
      assert.equal((await walkAuthorization(browser, lk.issuer, authorize())).sawConsent, false, 'remembered');
      assert.deepEqual(await storage.consents.find(lk.seed.user.id, info.client_id), ['notes:read']);
      const res = await update(info, updateBody(info, { client_name: 'Totally Different Notes' }));
      assert.equal(res.status, 200, res.text);
      assert.deepEqual(await storage.consents.find(lk.seed.user.id, info.client_id), []);
      const again = await walkAuthorization(browser, lk.issuer, authorize());
      assert.equal(again.sawConsent, true, 'asked again after the update');
      assert.match(again.consentPage?.text ?? '', /Totally Different Notes/);
    });

    test('delete (§2.3): 204; the client, its grants and its tokens are gone; the id is never reused; the token no longer works', async () => {
      const info = await registered({ token_endpoint_auth_method: 'none', grant_types: ['authorization_code', 'refresh_token'], scope: 'notes:read' });
      const { verifier, challenge } = pkcePair();
      const walked = await walkAuthorization(
        new FormBrowser(),
        lk.issuer,
        `${lk.issuer}/authorize?${new URLSearchParams({
          response_type: 'code',
          client_id: info.client_id,
          redirect_uri: 'https://notes-app.example/callback',
          scope: 'notes:read',
          code_challenge: challenge,
          code_challenge_method: 'S256',
        })}`,
      );
      const tokens = await postForm(`${lk.issuer}/token`, {
        grant_type: 'authorization_code',
        code: walked.callback.searchParams.get('code')!,
        code_verifier: verifier,
        redirect_uri: 'https://notes-app.example/callback',
        client_id: info.client_id,
      });
      assert.equal(tokens.status, 200, tokens.text);

      const res = await remove(info);
      assert.equal(res.status, 204, res.text);
      assert.equal(res.text, '');
      await assert.rejects(lk.running.registry.getClient(info.client_id), /no client/);
      assertInvalidToken(await read(info), 'read after delete');
      assertInvalidToken(await remove(info), 'delete again');
      const introspected = await postForm(`${lk.issuer}/introspect`, { token: tokens.body.access_token }, { basic: lk.apiClient });
      assert.equal(introspected.body.active, false, 'its access token was revoked');
      const refreshed = await postForm(`${lk.issuer}/token`, { grant_type: 'refresh_token', refresh_token: tokens.body.refresh_token, client_id: info.client_id });
      assert.equal(refreshed.status, 401, refreshed.text);
      await assert.rejects(
        lk.running.registry.createClient({ clientId: info.client_id, name: 'squatter', type: 'public', grantTypes: ['authorization_code'], scopes: [], redirectUris: ['https://x.example/cb'] }),
        /deleted client/,
      );
    });

    test('with registration turned off, a registered client still reads, updates and deletes its registration', async () => {
      const info = await registered();
      const off = await startServer(lk.db, { registration: 'off' });
      try {
        const uri = info.registration_client_uri.replace(lk.issuer, off.issuer);
        assert.equal((await sendJson(`${off.issuer}/register`, 'POST', webApp())).status, 404, 'no new registrations');
        const read = await sendJson(uri, 'GET', undefined, bearer(info.registration_access_token));
        assert.equal(read.status, 200, read.text);
        const updated = await sendJson(uri, 'PUT', updateBody(read.body, { client_name: 'Still here' }), bearer(info.registration_access_token));
        assert.equal(updated.status, 200, updated.text);
        assert.equal((await sendJson(uri, 'DELETE', undefined, bearer(updated.body.registration_access_token))).status, 204);
      } finally {
        await off.close();
      }
    });

    test('no request was answered with a server error', () => {
      assert.ok(!lk.running.logs().includes('"request failed"'), 'a request failed with a 500');
    });
  });
}
