import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { decodeJwt } from 'jose';
import { authorizeInBrowser, FormBrowser, type Latchkey, startLatchkey } from '@latchkey/testing';
import { LatchkeyClient, OAuthError, TOKEN_EXCHANGE_GRANT_TYPE, TOKEN_TYPES, UnsupportedFeatureError, type FetchLike } from '../src/index.ts';

/**
 * Token exchange (RFC 8693) through the SDK, against Latchkey: the orders service receives Alice's token
 * for the orders API and exchanges it for a token for the notifications API, Alice still the subject and
 * the service the actor.
 */

const ORDERS = 'https://api.example.com';
const NOTIFICATIONS = 'https://notifications.example';

describe('token exchange', () => {
  let lk: Latchkey;
  let ordersService: LatchkeyClient;
  let noPolicy: LatchkeyClient;
  let aliceToken: string;

  before(async () => {
    lk = await startLatchkey();
    const { registry } = lk.running;
    await registry.createResource({ identifier: NOTIFICATIONS, scopes: ['notifications:send', 'notifications:read'] });
    const service = await registry.createClient({
      name: 'orders-service',
      type: 'confidential',
      grantTypes: [TOKEN_EXCHANGE_GRANT_TYPE, 'client_credentials'],
      scopes: ['orders:read'],
      introspectFor: [ORDERS],
    });
    await registry.allowTokenExchange(service.client.clientId, NOTIFICATIONS, ['notifications:send']);
    ordersService = new LatchkeyClient({ issuer: lk.issuer, clientId: service.client.clientId, clientSecret: service.clientSecret! });
    const other = await registry.createClient({ name: 'no-policy', type: 'confidential', grantTypes: [TOKEN_EXCHANGE_GRANT_TYPE], scopes: [], introspectFor: [ORDERS] });
    noPolicy = new LatchkeyClient({ issuer: lk.issuer, clientId: other.client.clientId, clientSecret: other.clientSecret! });

    // The exchanged token's scopes come from the subject token: Alice's token must carry notifications:send.
    const shopClient = await registry.createClient({
      name: 'Shop',
      type: 'public',
      grantTypes: ['authorization_code'],
      scopes: ['openid', 'orders:read', 'notifications:send'],
      redirectUris: [lk.seed.redirectUri],
      firstParty: true,
    });
    const shop = new LatchkeyClient({ issuer: lk.issuer, clientId: shopClient.client.clientId });
    const pending = await shop.createAuthorizationRequest({ redirectUri: lk.seed.redirectUri, scope: 'openid orders:read notifications:send' });
    aliceToken = (await shop.handleCallback(await authorizeInBrowser(new FormBrowser(), lk.issuer, pending.url), pending)).accessToken;
  });
  after(async () => lk?.close());

  test("a service exchanges the user's token for one for another API: same subject, the service as actor", async () => {
    const exchanged = await ordersService.exchangeToken({
      subjectToken: aliceToken,
      subjectTokenType: TOKEN_TYPES.accessToken,
      audience: NOTIFICATIONS,
      scope: 'notifications:send',
      requestedTokenType: TOKEN_TYPES.accessToken,
    });
    assert.equal(exchanged.issuedTokenType, TOKEN_TYPES.accessToken);
    assert.equal(exchanged.tokenType, 'Bearer');
    assert.equal(exchanged.scope, 'notifications:send');
    assert.ok(exchanged.expiresAt! > Date.now() / 1000);
    const claims = decodeJwt(exchanged.accessToken);
    assert.equal(claims.sub, lk.seed.user.id);
    assert.equal(claims.aud, NOTIFICATIONS);
    assert.deepEqual(claims.act, { sub: ordersService.clientId });
  });

  test('an actor token and resource indicators are sent as RFC 8693 §2.1 names them', async () => {
    const actor = await ordersService.clientCredentialsGrant({ scope: 'orders:read' });
    const exchanged = await ordersService.exchangeToken({
      subjectToken: aliceToken,
      subjectTokenType: TOKEN_TYPES.accessToken,
      actorToken: actor.accessToken,
      actorTokenType: TOKEN_TYPES.accessToken,
      resource: NOTIFICATIONS,
    });
    assert.equal(decodeJwt(exchanged.accessToken).aud, NOTIFICATIONS);
    await assert.rejects(ordersService.exchangeToken({ subjectToken: aliceToken, subjectTokenType: TOKEN_TYPES.accessToken, actorToken: actor.accessToken }), TypeError);
  });

  test('the server refusing the exchange is an OAuthError: no policy (unauthorized_client), a bad subject token (invalid_request)', async () => {
    await assert.rejects(
      noPolicy.exchangeToken({ subjectToken: aliceToken, subjectTokenType: TOKEN_TYPES.accessToken, audience: NOTIFICATIONS }),
      (err: unknown) => err instanceof OAuthError && err.error === 'unauthorized_client',
    );
    await assert.rejects(
      ordersService.exchangeToken({ subjectToken: 'not-a-token', subjectTokenType: TOKEN_TYPES.accessToken, audience: NOTIFICATIONS }),
      (err: unknown) => err instanceof OAuthError && err.error === 'invalid_request' && err.status === 400,
    );
  });

  test('a server without token exchange (it answers unsupported_grant_type) gives UnsupportedFeatureError', async () => {
    // Latchkey before issue 6 answered exactly this for the token-exchange grant type.
    const olderServer: FetchLike = async (input, init) => {
      const grant = init?.body instanceof URLSearchParams ? init.body.get('grant_type') : null;
      if (grant === TOKEN_EXCHANGE_GRANT_TYPE) {
        return Response.json({ error: 'unsupported_grant_type', error_description: 'the grant type is not supported' }, { status: 400 });
      }
      return fetch(input, init);
    };
    const client = new LatchkeyClient({ issuer: lk.issuer, clientId: ordersService.clientId, clientSecret: 'unused', fetch: olderServer });
    await assert.rejects(client.exchangeToken({ subjectToken: aliceToken, subjectTokenType: TOKEN_TYPES.accessToken }), (err: unknown) => {
      assert.ok(err instanceof UnsupportedFeatureError);
      assert.equal(err.feature, 'token_exchange');
      assert.equal(err.reason, 'server');
      assert.ok(err.cause instanceof OAuthError && err.cause.error === 'unsupported_grant_type');
      return true;
    });
  });
});
