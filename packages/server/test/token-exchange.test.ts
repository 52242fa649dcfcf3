import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { createRemoteJWKSet, decodeJwt, jwtVerify } from 'jose';
import { ACCESS_TOKEN_TYPE, TOKEN_EXCHANGE_GRANT_TYPE } from '../src/registry/grant-types.ts';
import { signCompact } from '../src/tokens/jws-sign.ts';
import { UserRegistry } from '../src/users/user-registry.ts';
import { backends, completeFlow, dbEnv, FormBrowser, postForm, REDIRECT_URI, runLatchkey, type RunningServer, seedUserFlow, startServer, storeClient, type TestDatabase, type UserFlowSeed } from '@latchkey/testing';

/**
 * RFC 8693 token exchange (docs/security.md H57-H60). The microservice pattern of a service acting for its user: the orders service
 * receives Alice's token for the orders API and exchanges it for a token for the notifications API,
 * with Alice still the subject and the orders service recorded as the actor (`act`). Exchange is
 * allowed only by an explicit per-client policy; the new token is never wider than the policy or the
 * subject token.
 */

const ORDERS = 'https://api.example.com';
const NOTIFICATIONS = 'https://notifications.example';
const BILLING = 'https://billing.example';
const VAULT = 'https://vault.example';
const JWT_TYPE = 'urn:ietf:params:oauth:token-type:jwt';

type Credentials = [string, string];

for (const backend of await backends()) {
  describe(`token exchange, RFC 8693 (${backend.name})`, { skip: backend.skip }, () => {
    let db: TestDatabase;
    let s: RunningServer;
    let seed: UserFlowSeed;
    /** A public shop app: Alice's tokens carry orders and notifications scopes. */
    let shop: string;
    /** The orders service: acts for the orders API, may exchange for notifications:send/read. */
    let ordersService: Credentials;
    /** The notifications API's own client: introspects its tokens, may exchange for notifications:send. */
    let notificationsApi: Credentials;
    /** Registered for token exchange, but with no policy. */
    let noPolicy: Credentials;
    /** A client-credentials service with an opaque-token API (the vault). */
    let vaultCaller: Credentials;
    let vaultApi: Credentials;
    let billingCaller: Credentials;
    let browser: FormBrowser;

    before(async () => {
      db = await backend.create();
      s = await startServer(db);
      seed = await seedUserFlow(s);
      await s.registry.createResource({ identifier: NOTIFICATIONS, scopes: ['notifications:send', 'notifications:read', 'notifications:admin'] });
      await s.registry.createResource({ identifier: BILLING, scopes: ['billing:read'] });
      await s.registry.createResource({ identifier: VAULT, scopes: ['vault:read'], accessTokenFormat: 'opaque' });
      const shopClient = await s.registry.createClient({
        name: 'Shop',
        type: 'public',
        grantTypes: ['authorization_code'],
        scopes: ['openid', 'orders:read', 'notifications:send', 'notifications:admin'],
        redirectUris: [REDIRECT_URI],
        firstParty: true,
      });
      shop = shopClient.client.clientId;
      const orders = await s.registry.createClient({
        name: 'orders-service',
        type: 'confidential',
        grantTypes: [TOKEN_EXCHANGE_GRANT_TYPE, 'client_credentials'],
        scopes: ['orders:read'],
        introspectFor: [ORDERS],
      });
      ordersService = [orders.client.clientId, orders.clientSecret!];
      await s.registry.allowTokenExchange(ordersService[0], NOTIFICATIONS, ['notifications:send', 'notifications:read']);
      const notif = await s.registry.createClient({
        name: 'notifications-api',
        type: 'confidential',
        grantTypes: [TOKEN_EXCHANGE_GRANT_TYPE],
        scopes: [],
        introspectFor: [NOTIFICATIONS],
      });
      notificationsApi = [notif.client.clientId, notif.clientSecret!];
      await s.registry.allowTokenExchange(notificationsApi[0], NOTIFICATIONS, ['notifications:send']);
      const none = await s.registry.createClient({ name: 'no-policy', type: 'confidential', grantTypes: [TOKEN_EXCHANGE_GRANT_TYPE], scopes: [], introspectFor: [ORDERS] });
      noPolicy = [none.client.clientId, none.clientSecret!];
      const vc = await s.registry.createClient({ name: 'vault-caller', type: 'confidential', grantTypes: ['client_credentials', TOKEN_EXCHANGE_GRANT_TYPE], scopes: ['vault:read'] });
      vaultCaller = [vc.client.clientId, vc.clientSecret!];
      await s.registry.allowTokenExchange(vaultCaller[0], VAULT, ['vault:read']);
      const va = await s.registry.createClient({ name: 'vault-api', type: 'confidential', grantTypes: [TOKEN_EXCHANGE_GRANT_TYPE], scopes: [], introspectFor: [VAULT] });
      vaultApi = [va.client.clientId, va.clientSecret!];
      await s.registry.allowTokenExchange(vaultApi[0], VAULT, ['vault:read']);
      const bc = await s.registry.createClient({ name: 'billing-caller', type: 'confidential', grantTypes: ['client_credentials'], scopes: ['billing:read'] });
      billingCaller = [bc.client.clientId, bc.clientSecret!];
      browser = new FormBrowser();
    });
    after(async () => {
      await s?.close();
      await db?.drop();
    });

    /** Alice logs in to the shop: her access token for the orders API (and the others the scope names). */
    const aliceToken = async (scope = 'openid orders:read notifications:send notifications:admin') => {
      const { tokens } = await completeFlow(browser, s, { clientId: shop, scope });
      return tokens;
    };
    const exchange = (as: Credentials, form: Record<string, string | string[]>) =>
      postForm(`${s.issuer}/token`, { grant_type: TOKEN_EXCHANGE_GRANT_TYPE, subject_token_type: ACCESS_TOKEN_TYPE, ...form }, { basic: as });
    const clientToken = async (as: Credentials, scope: string) => {
      const res = await postForm(`${s.issuer}/token`, { grant_type: 'client_credentials', scope }, { basic: as });
      assert.equal(res.status, 200, res.text);
      return res.body.access_token as string;
    };
    const introspect = (token: string, as: Credentials) => postForm(`${s.issuer}/introspect`, { token }, { basic: as });
    /** A token signed with the server's own key, for claims the server never issues by itself. */
    const mint = async (claims: Record<string, unknown>) => {
      const now = Math.floor(Date.now() / 1000);
      const signer = await s.server.context.keys.signer('ES256');
      return signCompact(signer, 'at+jwt', { iss: s.issuer, iat: now, exp: now + 300, jti: randomUUID(), client_id: shop, ...claims });
    };
    const refused = (res: { status: number; body: any; text: string }, error: string) => {
      assert.equal(res.status, 400, res.text);
      assert.equal(res.body.error, error, res.text);
      assert.equal(res.body.access_token, undefined);
    };

    test('microservice pattern 2: the orders service exchanges Alice\'s token for a notifications:send token, Alice staying the subject', async () => {
      const alice = await aliceToken();
      const res = await exchange(ordersService, { subject_token: alice.access_token, resource: NOTIFICATIONS, scope: 'notifications:send' });
      assert.equal(res.status, 200, res.text);
      assert.equal(res.headers.get('cache-control'), 'no-store');
      // RFC 8693 §2.2.1 (docs/security.md H60): issued_token_type is REQUIRED.
      assert.equal(res.body.issued_token_type, ACCESS_TOKEN_TYPE);
      assert.equal(res.body.token_type, 'Bearer');
      assert.equal(res.body.scope, 'notifications:send');
      assert.equal(res.body.refresh_token, undefined);
      assert.ok(res.body.expires_in > 0 && res.body.expires_in <= alice.expires_in, 'never outlives the subject token');

      // The notifications API verifies it on its own, as in the README.
      const { payload, protectedHeader } = await jwtVerify(res.body.access_token, createRemoteJWKSet(new URL(`${s.issuer}/jwks`)), {
        issuer: s.issuer,
        audience: NOTIFICATIONS,
        typ: 'at+jwt',
        algorithms: ['ES256'],
        requiredClaims: ['sub', 'client_id', 'jti', 'iat', 'exp'],
      });
      assert.equal(protectedHeader.typ, 'at+jwt');
      assert.equal(payload.aud, NOTIFICATIONS);
      assert.equal(payload.sub, seed.user.id);
      assert.equal(payload.client_id, ordersService[0]);
      assert.equal(payload.scope, 'notifications:send');
      // RFC 8693 §4.1: the orders service acted for Alice.
      assert.deepEqual(payload.act, { sub: ordersService[0] });
      assert.notEqual(payload.jti, decodeJwt(alice.access_token).jti);

      // The notifications API's own client introspects it (RFC 7662, --introspect-for) and sees `act`.
      const seen = await introspect(res.body.access_token, notificationsApi);
      assert.equal(seen.body.active, true, seen.text);
      assert.equal(seen.body.sub, seed.user.id);
      assert.equal(seen.body.aud, NOTIFICATIONS);
      assert.equal(seen.body.client_id, ordersService[0]);
      assert.deepEqual(seen.body.act, { sub: ordersService[0] });
      // It is not a token for the orders API.
      assert.equal(await jwtVerify(res.body.access_token, createRemoteJWKSet(new URL(`${s.issuer}/jwks`)), { audience: ORDERS }).catch(() => 'refused'), 'refused');
    });

    test('audience names the target like resource; without scope the token gets what both policy and subject allow', async () => {
      const alice = await aliceToken();
      const res = await exchange(ordersService, { subject_token: alice.access_token, audience: NOTIFICATIONS });
      assert.equal(res.status, 200, res.text);
      // Policy: send, read; Alice's token: send, admin. The intersection is send.
      assert.equal(res.body.scope, 'notifications:send');
      // With one target in the policy, neither resource nor audience is needed; a scope alone also names it.
      const bare = await exchange(ordersService, { subject_token: alice.access_token });
      assert.equal(bare.status, 200, bare.text);
      assert.equal(decodeJwt(bare.body.access_token).aud, NOTIFICATIONS);
      const byScope = await exchange(ordersService, { subject_token: alice.access_token, scope: 'notifications:send' });
      assert.equal(byScope.status, 200, byScope.text);
      // requested_token_type may name the one type issued.
      const typed = await exchange(ordersService, { subject_token: alice.access_token, requested_token_type: ACCESS_TOKEN_TYPE });
      assert.equal(typed.status, 200, typed.text);
    });

    test('H57: a client without a policy, or not registered for the grant, is unauthorized_client', async () => {
      const alice = await aliceToken();
      refused(await exchange(noPolicy, { subject_token: alice.access_token, resource: NOTIFICATIONS }), 'unauthorized_client');
      refused(await exchange(billingCaller, { subject_token: alice.access_token, resource: NOTIFICATIONS }), 'unauthorized_client');
      // Taking the policy back ends it.
      await s.registry.allowTokenExchange(noPolicy[0], NOTIFICATIONS, ['notifications:send']);
      assert.equal((await exchange(noPolicy, { subject_token: alice.access_token, resource: NOTIFICATIONS })).status, 200);
      await s.registry.disallowTokenExchange(noPolicy[0], NOTIFICATIONS);
      refused(await exchange(noPolicy, { subject_token: alice.access_token, resource: NOTIFICATIONS }), 'unauthorized_client');
    });

    test('H57: public clients cannot register for token exchange, and are refused at the token endpoint', async () => {
      await assert.rejects(
        s.registry.createClient({ name: 'spa', type: 'public', grantTypes: [TOKEN_EXCHANGE_GRANT_TYPE], scopes: [] }),
        /public clients cannot use token exchange/,
      );
      await storeClient(s, { clientId: 'public-exchanger', type: 'public', method: 'none', grantTypes: [TOKEN_EXCHANGE_GRANT_TYPE] });
      await assert.rejects(s.registry.allowTokenExchange('public-exchanger', NOTIFICATIONS, ['notifications:send']), /only confidential clients/);
      const alice = await aliceToken();
      const res = await postForm(`${s.issuer}/token`, {
        grant_type: TOKEN_EXCHANGE_GRANT_TYPE,
        client_id: 'public-exchanger',
        subject_token: alice.access_token,
        subject_token_type: ACCESS_TOKEN_TYPE,
      });
      refused(res, 'unauthorized_client');
    });

    test('H59: an audience or resource outside the policy is invalid_target', async () => {
      const alice = await aliceToken();
      for (const target of [BILLING, ORDERS, 'https://unknown.example', 'not a uri']) {
        refused(await exchange(ordersService, { subject_token: alice.access_token, resource: target }), 'invalid_target');
        refused(await exchange(ordersService, { subject_token: alice.access_token, audience: target }), 'invalid_target');
      }
      refused(await exchange(ordersService, { subject_token: alice.access_token, audience: [NOTIFICATIONS, BILLING] }), 'invalid_target');
    });

    test('H60: scopes wider than the subject token or than the policy are invalid_scope', async () => {
      const alice = await aliceToken();
      // In the policy, not in Alice's token.
      refused(await exchange(ordersService, { subject_token: alice.access_token, resource: NOTIFICATIONS, scope: 'notifications:read' }), 'invalid_scope');
      refused(
        await exchange(ordersService, { subject_token: alice.access_token, resource: NOTIFICATIONS, scope: 'notifications:send notifications:read' }),
        'invalid_scope',
      );
      // In Alice's token, not in the policy.
      refused(await exchange(ordersService, { subject_token: alice.access_token, resource: NOTIFICATIONS, scope: 'notifications:admin' }), 'invalid_scope');
      refused(await exchange(ordersService, { subject_token: alice.access_token, scope: 'orders:read' }), 'invalid_scope');
      refused(await exchange(ordersService, { subject_token: alice.access_token, resource: NOTIFICATIONS, scope: 'openid' }), 'invalid_scope');
      refused(await exchange(ordersService, { subject_token: alice.access_token, scope: 'no-such:scope' }), 'invalid_scope');
      refused(await exchange(ordersService, { subject_token: alice.access_token, scope: '   ' }), 'invalid_scope');
      // Nothing in common: no scope requested and an empty intersection.
      const ordersOnly = await aliceToken('openid orders:read');
      refused(await exchange(ordersService, { subject_token: ordersOnly.access_token, resource: NOTIFICATIONS }), 'invalid_scope');
    });

    test('H58: actor_token_type exactly when actor_token; only access tokens are taken and issued (invalid_request)', async () => {
      const alice = await aliceToken();
      const own = await clientToken(ordersService, 'orders:read');
      const cases: Record<string, string>[] = [
        { subject_token: alice.access_token, actor_token: own },
        { subject_token: alice.access_token, actor_token_type: ACCESS_TOKEN_TYPE },
        { subject_token: alice.access_token, actor_token: own, actor_token_type: JWT_TYPE },
        { subject_token: alice.access_token, subject_token_type: JWT_TYPE },
        { subject_token: alice.access_token, subject_token_type: 'urn:ietf:params:oauth:token-type:id_token' },
        { subject_token: alice.access_token, subject_token_type: '' },
        { subject_token: alice.access_token, requested_token_type: 'urn:ietf:params:oauth:token-type:refresh_token' },
        { subject_token: alice.access_token, requested_token_type: JWT_TYPE },
        {},
        { subject_token: '' },
      ];
      for (const form of cases) refused(await exchange(ordersService, { resource: NOTIFICATIONS, ...form }), 'invalid_request');
      refused(await exchange(ordersService, { subject_token: [alice.access_token, alice.access_token], resource: NOTIFICATIONS }), 'invalid_request');
      // With both, the exchange works and the actor is the actor token's subject.
      const ok = await exchange(ordersService, { subject_token: alice.access_token, actor_token: own, actor_token_type: ACCESS_TOKEN_TYPE });
      assert.equal(ok.status, 200, ok.text);
      assert.deepEqual(decodeJwt(ok.body.access_token).act, { sub: ordersService[0] });
    });

    test('H58: an expired, revoked, garbage or ID-token subject token is refused (RFC 8693 §2.2.2: invalid_request)', async () => {
      const alice = await aliceToken();
      const expired = await mint({ sub: seed.user.id, aud: ORDERS, scope: 'notifications:send', exp: Math.floor(Date.now() / 1000) - 1 });
      const revokedTokens = await aliceToken();
      const revoke = await postForm(`${s.issuer}/revoke`, { token: revokedTokens.access_token, client_id: shop });
      assert.equal(revoke.status, 200, revoke.text);
      const wrongIssuer = await mint({ sub: seed.user.id, aud: ORDERS, scope: 'notifications:send', iss: 'https://evil.example' });
      const [header, payload] = alice.access_token.split('.');
      const forged = `${header}.${payload}.${Buffer.alloc(64).toString('base64url')}`;
      for (const subject of [expired, revokedTokens.access_token, 'garbage', 'lko_unknown', alice.id_token!, wrongIssuer, forged, 'x'.repeat(10_000)]) {
        const res = await exchange(ordersService, { subject_token: subject, resource: NOTIFICATIONS });
        refused(res, 'invalid_request');
        assert.equal(res.body.error_description, 'the subject token is invalid, expired or revoked');
      }
      // Garbage as the actor token is refused the same way.
      const res = await exchange(ordersService, { subject_token: alice.access_token, actor_token: 'garbage', actor_token_type: ACCESS_TOKEN_TYPE });
      refused(res, 'invalid_request');
    });

    test('a subject token must have been issued to the client or for an API it acts for', async () => {
      // A billing token, issued to another client for an API the orders service does not act for.
      const billing = await clientToken(billingCaller, 'billing:read');
      await s.registry.allowTokenExchange(ordersService[0], BILLING, ['billing:read']);
      try {
        refused(await exchange(ordersService, { subject_token: billing, resource: BILLING }), 'invalid_request');
      } finally {
        await s.registry.disallowTokenExchange(ordersService[0], BILLING);
      }
      // An actor token must be the exchanging client's own.
      const alice = await aliceToken();
      refused(
        await exchange(ordersService, { subject_token: alice.access_token, actor_token: billing, actor_token_type: ACCESS_TOKEN_TYPE }),
        'invalid_request',
      );
    });

    test('H58: a delegated token (one with act) is no actor token: it proves no one\'s identity', async () => {
      const alice = await aliceToken();
      const first = await exchange(ordersService, { subject_token: alice.access_token, resource: NOTIFICATIONS });
      assert.equal(first.status, 200, first.text);
      // The exchanged token names alice as sub and the orders service in act: offering it as the
      // actor of another exchange would name alice as an actor who never acted.
      refused(
        await exchange(ordersService, { subject_token: alice.access_token, actor_token: first.body.access_token, actor_token_type: ACCESS_TOKEN_TYPE }),
        'invalid_request',
      );
    });

    test('H60: act nests when the subject token already has one (JWT)', async () => {
      const alice = await aliceToken();
      const first = await exchange(ordersService, { subject_token: alice.access_token, resource: NOTIFICATIONS });
      assert.equal(first.status, 200, first.text);
      // The notifications API (acting for its tokens) exchanges the exchanged token again.
      const second = await exchange(notificationsApi, { subject_token: first.body.access_token, resource: NOTIFICATIONS });
      assert.equal(second.status, 200, second.text);
      const { payload } = await jwtVerify(second.body.access_token, createRemoteJWKSet(new URL(`${s.issuer}/jwks`)), {
        issuer: s.issuer,
        audience: NOTIFICATIONS,
        typ: 'at+jwt',
      });
      assert.equal(payload.sub, seed.user.id);
      assert.equal(payload.client_id, notificationsApi[0]);
      assert.deepEqual(payload.act, { sub: notificationsApi[0], act: { sub: ordersService[0] } });
      assert.ok(second.body.expires_in <= first.body.expires_in);
      // A chain cannot grow without end.
      let act: Record<string, unknown> = { sub: 'a0' };
      for (let i = 1; i < 5; i++) act = { sub: `a${i}`, act };
      const deep = await mint({ sub: seed.user.id, aud: ORDERS, scope: 'notifications:send', act });
      refused(await exchange(ordersService, { subject_token: deep, resource: NOTIFICATIONS }), 'invalid_request');
    });

    test('opaque targets: the exchanged token is opaque and keeps act, which introspection shows and the next exchange nests', async () => {
      const subject = await clientToken(vaultCaller, 'vault:read');
      assert.ok(subject.startsWith('lko_'));
      const first = await exchange(vaultCaller, { subject_token: subject, resource: VAULT });
      assert.equal(first.status, 200, first.text);
      assert.ok(first.body.access_token.startsWith('lko_'));
      assert.equal(first.body.issued_token_type, ACCESS_TOKEN_TYPE);
      const seen = await introspect(first.body.access_token, vaultApi);
      assert.equal(seen.body.active, true, seen.text);
      assert.equal(seen.body.sub, vaultCaller[0]);
      assert.deepEqual(seen.body.act, { sub: vaultCaller[0] });
      const second = await exchange(vaultApi, { subject_token: first.body.access_token, resource: VAULT });
      assert.equal(second.status, 200, second.text);
      const nested = await introspect(second.body.access_token, vaultApi);
      assert.deepEqual(nested.body.act, { sub: vaultApi[0], act: { sub: vaultCaller[0] } });
      // A token that was not exchanged has no act.
      assert.equal((await introspect(subject, vaultApi)).body.act, undefined);
    });

    test('§4.4: may_act in the subject token names the only party that may act', async () => {
      const forOrders = { sub: seed.user.id, aud: [ORDERS, NOTIFICATIONS], scope: 'notifications:send' };
      const allowed = await mint({ ...forOrders, may_act: { sub: ordersService[0] } });
      const ok = await exchange(ordersService, { subject_token: allowed, resource: NOTIFICATIONS });
      assert.equal(ok.status, 200, ok.text);
      assert.deepEqual(decodeJwt(ok.body.access_token).act, { sub: ordersService[0] });
      const someoneElse = await mint({ ...forOrders, may_act: { sub: 'operator-bob' } });
      refused(await exchange(ordersService, { subject_token: someoneElse, resource: NOTIFICATIONS }), 'invalid_request');
      refused(await exchange(ordersService, { subject_token: await mint({ ...forOrders, may_act: 'operator-bob' }), resource: NOTIFICATIONS }), 'invalid_request');
      // With an actor token whose subject is the party may_act names, the exchange works, and act names it.
      const bob = await mint({ sub: 'operator-bob', aud: ORDERS, scope: 'orders:read', client_id: ordersService[0] });
      const asBob = await exchange(ordersService, { subject_token: someoneElse, actor_token: bob, actor_token_type: ACCESS_TOKEN_TYPE });
      assert.equal(asBob.status, 200, asBob.text);
      assert.deepEqual(decodeJwt(asBob.body.access_token).act, { sub: 'operator-bob' });
    });

    test('CLI: clients allow-exchange, show and disallow-exchange', async () => {
      const created = await runLatchkey(
        ['clients', 'create', '--name', 'gateway', '--type', 'confidential', '--grant-types', TOKEN_EXCHANGE_GRANT_TYPE, '--introspect-for', ORDERS, '--json'],
        dbEnv(db),
      );
      assert.equal(created.code, 0, created.stderr);
      const id = JSON.parse(created.stdout).client_id as string;
      const allow = await runLatchkey(['clients', 'allow-exchange', id, '--audience', NOTIFICATIONS, '--scopes', 'notifications:send,notifications:read'], dbEnv(db));
      assert.equal(allow.code, 0, allow.stderr);
      assert.match(allow.stdout, /may exchange tokens for https:\/\/notifications\.example with scopes notifications:read notifications:send/);
      const show = await runLatchkey(['clients', 'show', id], dbEnv(db));
      assert.match(show.stdout, /exchanges: +https:\/\/notifications\.example \(notifications:read notifications:send\)/);
      const json = await runLatchkey(['clients', 'show', id, '--json'], dbEnv(db));
      assert.deepEqual(JSON.parse(json.stdout).token_exchange, [{ audience: NOTIFICATIONS, scopes: ['notifications:read', 'notifications:send'] }]);
      const wrongScope = await runLatchkey(['clients', 'allow-exchange', id, '--audience', NOTIFICATIONS, '--scopes', 'orders:read'], dbEnv(db));
      assert.equal(wrongScope.code, 1);
      assert.match(wrongScope.stderr, /does not belong to/);
      const notRegistered = await runLatchkey(['clients', 'allow-exchange', billingCaller[0], '--audience', NOTIFICATIONS, '--scopes', 'notifications:send'], dbEnv(db));
      assert.equal(notRegistered.code, 1);
      assert.match(notRegistered.stderr, /not registered for the urn:ietf:params:oauth:grant-type:token-exchange grant/);
      const disallow = await runLatchkey(['clients', 'disallow-exchange', id, '--audience', NOTIFICATIONS], dbEnv(db));
      assert.equal(disallow.code, 0, disallow.stderr);
      assert.match((await runLatchkey(['clients', 'show', id], dbEnv(db))).stdout, /exchanges: +\(none\)/);
    });

    test('a policy goes with its API: deleting the resource deletes it', async () => {
      await s.registry.createResource({ identifier: 'https://temp.example', scopes: ['temp:read'] });
      await s.registry.allowTokenExchange(ordersService[0], 'https://temp.example', ['temp:read']);
      assert.ok((await s.registry.tokenExchangePolicies(ordersService[0])).some((p) => p.audience === 'https://temp.example'));
      await s.registry.deleteResource('https://temp.example');
      assert.deepEqual(
        (await s.registry.tokenExchangePolicies(ordersService[0])).map((p) => p.audience),
        [NOTIFICATIONS],
      );
    });

    test('signing Alice out everywhere revokes the tokens exchanged from hers, and hers can no longer be exchanged', async () => {
      const alice = await aliceToken();
      const exchanged = await exchange(ordersService, { subject_token: alice.access_token, resource: NOTIFICATIONS });
      assert.equal(exchanged.status, 200, exchanged.text);
      assert.equal((await introspect(exchanged.body.access_token, notificationsApi)).body.active, true);
      const users = new UserRegistry(s.server.context.storage);
      await users.signOutEverywhere(seed.user.username);
      assert.deepEqual((await introspect(exchanged.body.access_token, notificationsApi)).body, { active: false });
      refused(await exchange(ordersService, { subject_token: alice.access_token, resource: NOTIFICATIONS }), 'invalid_request');
    });
  });
}
