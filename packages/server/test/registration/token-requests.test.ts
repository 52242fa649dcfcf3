import assert from 'node:assert/strict';
import { createServer as createHttpServer, type Server } from 'node:http';
import { after, before, describe, test } from 'node:test';
import { decodeJwt } from 'jose';
import { backends, FormBrowser, type Latchkey, pkcePair, postForm, startServer, walkAuthorization } from '@latchkey/testing';
import { ASSERTION_TYPE, clientAssertion, NOTES, register, registrationServer, signingKey, type SigningKey, webApp } from './support.ts';

/**
 * Clients that registered themselves then get tokens like any other: the code flow with PKCE (the
 * consent page is always shown, docs/security.md L77) for none, client_secret_basic and
 * client_secret_post, and client_credentials (where the operator allows it) with private_key_jwt,
 * keys inline or at a jwks_uri.
 */

const REDIRECT = 'https://notes-app.example/callback';

for (const backend of await backends()) {
  describe(`registered clients get tokens (${backend.name})`, { skip: backend.skip }, () => {
    let lk: Latchkey;
    let jwksServer: Server;
    let jwksUrl: string;
    let servedKey: SigningKey;

    before(async () => {
      lk = await registrationServer(backend, {
        registration: 'open',
        registrationAllowClientCredentials: true,
        allowLoopbackJwksUri: true,
      });
      servedKey = await signingKey('served');
      jwksServer = createHttpServer((_req, res) => {
        res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ keys: [servedKey.publicJwk] }));
      });
      await new Promise<void>((resolve) => jwksServer.listen(0, '127.0.0.1', resolve));
      jwksUrl = `http://127.0.0.1:${(jwksServer.address() as { port: number }).port}/jwks`;
    });
    after(async () => {
      await new Promise((resolve) => jwksServer?.close(resolve));
      await lk?.close();
    });

    /** Walks /authorize as Alice (login, consent) and exchanges the code; `credentials` adds client authentication. */
    async function codeFlow(clientId: string, scope: string, credentials: { basic?: [string, string]; post?: string } = {}) {
      const { verifier, challenge } = pkcePair();
      const url = `${lk.issuer}/authorize?${new URLSearchParams({
        response_type: 'code',
        client_id: clientId,
        redirect_uri: REDIRECT,
        scope,
        state: 'st',
        code_challenge: challenge,
        code_challenge_method: 'S256',
      })}`;
      const walked = await walkAuthorization(new FormBrowser(), lk.issuer, url);
      assert.equal(`${walked.callback.origin}${walked.callback.pathname}`, REDIRECT);
      const code = walked.callback.searchParams.get('code');
      assert.ok(code, `no code in ${walked.callback}`);
      const form: Record<string, string> = { grant_type: 'authorization_code', code, code_verifier: verifier, redirect_uri: REDIRECT };
      if (!credentials.basic) form.client_id = clientId;
      if (credentials.post) form.client_secret = credentials.post;
      const res = await postForm(`${lk.issuer}/token`, form, credentials.basic ? { basic: credentials.basic } : {});
      assert.equal(res.status, 200, res.text);
      return { walked, tokens: res.body };
    }

    const lastUsedAt = async (clientId: string) => (await lk.running.server.context.storage.registrations.find(clientId))?.lastUsedAt;

    test('L77: a public client (none, PKCE) walks the code flow; the consent page is shown although it sent first_party; its refresh token works', async () => {
      const reg = await register(lk, webApp({ token_endpoint_auth_method: 'none', first_party: true, scope: 'notes:read' }));
      assert.equal(reg.status, 201, reg.text);
      const clientId = reg.body.client_id;
      assert.equal(await lastUsedAt(clientId), null, 'no token yet');
      const { walked, tokens } = await codeFlow(clientId, 'notes:read');
      assert.equal(walked.sawLogin, true);
      assert.equal(walked.sawConsent, true, 'a registered client never skips consent');
      const claims = decodeJwt(tokens.access_token);
      assert.equal(claims.aud, NOTES);
      assert.equal(claims.scope, 'notes:read');
      assert.equal(claims.client_id, clientId);
      assert.ok((await lastUsedAt(clientId)) !== null, 'the registration is marked as used');
      const refreshed = await postForm(`${lk.issuer}/token`, { grant_type: 'refresh_token', refresh_token: tokens.refresh_token, client_id: clientId });
      assert.equal(refreshed.status, 200, refreshed.text);
    });

    test('RP-Initiated Logout §3: a self-registered post_logout_redirect_uri is followed only with an id_token_hint (no open redirect)', async () => {
      const bye = 'https://phish.example/bye';
      const reg = await register(lk, webApp({ token_endpoint_auth_method: 'none', scope: 'openid notes:read', post_logout_redirect_uris: [bye] }));
      assert.equal(reg.status, 201, reg.text);
      const clientId = reg.body.client_id;
      const logout = (query: Record<string, string>) => fetch(`${lk.issuer}/logout?${new URLSearchParams(query)}`, { redirect: 'manual' });
      const bare = await logout({ client_id: clientId, post_logout_redirect_uri: bye, state: 'x' });
      assert.equal(bare.status, 200, 'the signed-out page, not a redirect');
      assert.equal(bare.headers.get('location'), null);
      const { tokens } = await codeFlow(clientId, 'openid notes:read');
      const hinted = await logout({ id_token_hint: tokens.id_token, post_logout_redirect_uri: bye, state: 'x' });
      assert.equal(hinted.status, 303);
      assert.equal(hinted.headers.get('location'), `${bye}?state=x`);
    });

    test('client_secret_basic: the code flow with the registered secret in the Authorization header, consent asked', async () => {
      const reg = await register(lk, webApp({ token_endpoint_auth_method: 'client_secret_basic', scope: 'openid profile notes:read' }));
      assert.equal(reg.status, 201, reg.text);
      const { walked, tokens } = await codeFlow(reg.body.client_id, 'openid notes:read', { basic: [reg.body.client_id, reg.body.client_secret] });
      assert.equal(walked.sawConsent, true);
      assert.equal(decodeJwt(tokens.id_token).aud, reg.body.client_id);
      // With openid, the access token is for the API and for userinfo.
      assert.ok((decodeJwt(tokens.access_token).aud as string[]).includes(NOTES));
    });

    test('client_secret_post: the code flow with the secret in the body; basic is refused for it', async () => {
      const reg = await register(lk, webApp({ token_endpoint_auth_method: 'client_secret_post' }));
      assert.equal(reg.status, 201, reg.text);
      const { walked } = await codeFlow(reg.body.client_id, 'notes:read', { post: reg.body.client_secret });
      assert.equal(walked.sawConsent, true);
      const basic = await postForm(`${lk.issuer}/token`, { grant_type: 'client_credentials' }, { basic: [reg.body.client_id, reg.body.client_secret] });
      assert.equal(basic.status, 401, 'the registered method is the only one accepted');
    });

    test('a registered client gets only what it registered: a scope it did not register is invalid_scope at /authorize', async () => {
      const reg = await register(lk, webApp({ token_endpoint_auth_method: 'none', scope: 'notes:read' }));
      const { challenge } = pkcePair();
      const url = `${lk.issuer}/authorize?${new URLSearchParams({
        response_type: 'code',
        client_id: reg.body.client_id,
        redirect_uri: REDIRECT,
        scope: 'notes:write',
        state: 'st',
        code_challenge: challenge,
        code_challenge_method: 'S256',
      })}`;
      const page = await new FormBrowser().get(url);
      assert.ok(page.status === 302 || page.status === 303, `${page.status}`);
      assert.equal(new URL(page.location!).searchParams.get('error'), 'invalid_scope');
    });

    test('private_key_jwt with inline jwks: client_credentials (allowed by the operator) with a signed assertion', async () => {
      const key = await signingKey('inline');
      const reg = await register(lk, {
        client_name: 'Notes sync',
        token_endpoint_auth_method: 'private_key_jwt',
        jwks: { keys: [key.publicJwk] },
        grant_types: ['client_credentials'],
        scope: 'notes:read',
      });
      assert.equal(reg.status, 201, reg.text);
      assert.equal(reg.body.client_secret, undefined, 'a private_key_jwt client gets no secret');
      assert.deepEqual(reg.body.response_types, []);
      assert.deepEqual(reg.body.jwks, { keys: [key.publicJwk] });
      const res = await postForm(`${lk.issuer}/token`, {
        grant_type: 'client_credentials',
        scope: 'notes:read',
        client_id: reg.body.client_id,
        client_assertion_type: ASSERTION_TYPE,
        client_assertion: await clientAssertion(reg.body.client_id, lk.issuer, key),
      });
      assert.equal(res.status, 200, res.text);
      assert.equal(decodeJwt(res.body.access_token).aud, NOTES);
      const wrongScope = await postForm(`${lk.issuer}/token`, {
        grant_type: 'client_credentials',
        scope: 'notes:write',
        client_id: reg.body.client_id,
        client_assertion_type: ASSERTION_TYPE,
        client_assertion: await clientAssertion(reg.body.client_id, lk.issuer, key),
      });
      assert.equal(wrongScope.status, 400, wrongScope.text);
      assert.equal(wrongScope.body.error, 'invalid_scope');
    });

    test('private_key_jwt with a jwks_uri: the keys are fetched through the SSRF guard (loopback allowed here) when the client authenticates', async () => {
      const reg = await register(lk, {
        token_endpoint_auth_method: 'private_key_jwt',
        jwks_uri: jwksUrl,
        grant_types: ['client_credentials'],
        scope: 'notes:read',
      });
      assert.equal(reg.status, 201, reg.text);
      assert.equal(reg.body.jwks_uri, jwksUrl);
      const res = await postForm(`${lk.issuer}/token`, {
        grant_type: 'client_credentials',
        client_id: reg.body.client_id,
        client_assertion_type: ASSERTION_TYPE,
        client_assertion: await clientAssertion(reg.body.client_id, lk.issuer, servedKey),
      });
      assert.equal(res.status, 200, res.text);
    });

    test('client_credentials with client_secret_basic, where the operator allows the grant', async () => {
      const reg = await register(lk, { grant_types: ['client_credentials'], scope: 'notes:read' });
      assert.equal(reg.status, 201, reg.text);
      const res = await postForm(`${lk.issuer}/token`, { grant_type: 'client_credentials' }, { basic: [reg.body.client_id, reg.body.client_secret] });
      assert.equal(res.status, 200, res.text);
      assert.equal(decodeJwt(res.body.access_token).scope, 'notes:read');
    });

    test('what the operator takes back applies at once: a scope closed later, and the client_credentials setting turned off', async () => {
      const reg = await register(lk, { grant_types: ['client_credentials'], scope: 'notes:read' });
      assert.equal(reg.status, 201, reg.text);
      const basic: [string, string] = [reg.body.client_id, reg.body.client_secret];
      const ask = (issuer = lk.issuer) => postForm(`${issuer}/token`, { grant_type: 'client_credentials', scope: 'notes:read' }, { basic });
      assert.equal((await ask()).status, 200);
      await lk.running.registry.updateResourceScopes(NOTES, { openScopes: [] });
      try {
        const closed = await ask();
        assert.equal(closed.status, 400, closed.text);
        assert.equal(closed.body.error, 'invalid_scope');
      } finally {
        await lk.running.registry.updateResourceScopes(NOTES, { openScopes: ['notes:read'] });
      }
      assert.equal((await ask()).status, 200, 'open again');
      // Another node of the same deployment, where the operator no longer allows the grant.
      const strict = await startServer(lk.db, { registration: 'open', registrationAllowClientCredentials: false });
      try {
        const refused = await ask(strict.issuer);
        assert.equal(refused.status, 400, refused.text);
        assert.equal(refused.body.error, 'unauthorized_client');
      } finally {
        await strict.close();
      }
    });
  });
}
