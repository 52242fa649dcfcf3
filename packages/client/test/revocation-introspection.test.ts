import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { sqlite } from '../../server/test/helpers/backends.ts';
import { LatchkeyClient, OAuthError } from '../src/index.ts';
import { startLatchkey, type Latchkey } from './helpers/latchkey.ts';

/** Revocation (RFC 7009) and introspection (RFC 7662) through the SDK, against Latchkey. */
describe('revocation and introspection', () => {
  let lk: Latchkey;
  let svc: LatchkeyClient;
  let other: LatchkeyClient;

  before(async () => {
    lk = await startLatchkey(sqlite);
    const make = async (name: string) => {
      const created = await lk.running.registry.createClient({ name, type: 'confidential', grantTypes: ['client_credentials'], scopes: ['orders:read'] });
      return new LatchkeyClient({ issuer: lk.issuer, clientId: created.client.clientId, clientSecret: created.clientSecret! });
    };
    svc = await make('svc-a');
    other = await make('svc-b');
  });
  after(async () => lk?.close());

  test('an active token introspects with its claims; after revocation it is exactly { active: false }', async () => {
    const { accessToken } = await svc.clientCredentialsGrant({ scope: 'orders:read' });
    const active = await svc.introspect(accessToken, { tokenTypeHint: 'access_token' });
    assert.equal(active.active, true);
    assert.equal(active.client_id, svc.clientId);
    assert.equal(active.scope, 'orders:read');
    assert.equal(active.aud, 'https://api.example.com');
    assert.equal(active.iss, lk.issuer);
    await svc.revoke(accessToken, { tokenTypeHint: 'access_token' });
    assert.deepEqual(await svc.introspect(accessToken), { active: false });
  });

  test('revoking an unknown token succeeds (RFC 7009 §2.2)', async () => {
    await svc.revoke('no-such-token');
  });

  test("another client's token: revocation is refused (unauthorized_client), introspection says inactive", async () => {
    const { accessToken } = await svc.clientCredentialsGrant();
    await assert.rejects(other.revoke(accessToken), (err: unknown) => err instanceof OAuthError && err.error === 'unauthorized_client' && err.status === 400);
    assert.deepEqual(await other.introspect(accessToken), { active: false });
    assert.equal((await svc.introspect(accessToken)).active, true, 'still active');
  });

  test('a public client may revoke its tokens but not introspect (invalid_client, 401)', async () => {
    const publicClient = new LatchkeyClient({ issuer: lk.issuer, clientId: lk.seed.publicClient });
    await publicClient.revoke('no-such-token');
    await assert.rejects(publicClient.introspect('anything'), (err: unknown) => err instanceof OAuthError && err.error === 'invalid_client' && err.status === 401);
  });
});
