import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { completeFlow, FormBrowser, REDIRECT_URI, type RunningServer, seedUserFlow, sqlite, startServer, type TestDatabase, type UserFlowSeed } from '@latchkey/testing';
import { createValidator, TokenValidationError, type ValidationCheck } from '../src/index.ts';

/** Tokens from a real sign-in (authorization code + PKCE): the user's access token passes, the ID token never does. */
describe('user tokens', () => {
  let db: TestDatabase;
  let s: RunningServer;
  let seed: UserFlowSeed;
  let es256Client: string;

  const refused = (promise: Promise<unknown>, check: ValidationCheck) =>
    assert.rejects(promise, (err: unknown) => err instanceof TokenValidationError && err.check === check);

  before(async () => {
    db = await sqlite.create();
    s = await startServer(db);
    seed = await seedUserFlow(s);
    const created = await s.registry.createClient({
      name: 'ES256 app',
      type: 'public',
      grantTypes: ['authorization_code'],
      scopes: ['openid', 'orders:read'],
      redirectUris: [REDIRECT_URI],
      idTokenSignedResponseAlg: 'ES256',
    });
    es256Client = created.client.clientId;
  });
  after(async () => {
    await s?.close();
    await db?.drop();
  });

  test("a user's access token resolves to the user's claims", async () => {
    const { tokens } = await completeFlow(new FormBrowser(), s, { clientId: seed.publicClient, scope: 'openid orders:read' });
    const claims = await createValidator({ issuer: s.issuer, audience: seed.api }).validate(tokens.access_token);
    assert.equal(claims.sub, seed.user.id);
    assert.equal(claims.client_id, seed.publicClient);
    assert.ok(claims.scope.includes('orders:read'));
    assert.ok(claims.aud.includes(seed.api));
  });

  test('an ID token is not an access token: refused by typ, even signed ES256 by the issuer (RFC 9068 §4)', async () => {
    const { tokens } = await completeFlow(new FormBrowser(), s, { clientId: es256Client, scope: 'openid orders:read' });
    assert.ok(tokens.id_token);
    // Its aud is the client: a validator for an API named like the client would otherwise accept it.
    await refused(createValidator({ issuer: s.issuer, audience: es256Client }).validate(tokens.id_token), 'typ');
  });

  test('an RS256 ID token is refused by the algorithm list, and by typ when RS256 is allowed', async () => {
    const { tokens } = await completeFlow(new FormBrowser(), s, { clientId: seed.publicClient, scope: 'openid orders:read' });
    assert.ok(tokens.id_token);
    await refused(createValidator({ issuer: s.issuer, audience: seed.publicClient }).validate(tokens.id_token), 'algorithm');
    await refused(createValidator({ issuer: s.issuer, audience: seed.publicClient, algorithms: ['ES256', 'RS256'] }).validate(tokens.id_token), 'typ');
  });
});
