import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { basicAuth, postForm, type RunningServer, seedOrdersApi, sqlite, startServer, type TestDatabase } from '@latchkey/testing';

describe('logs never contain secrets, tokens or credentials', () => {
  let db: TestDatabase;
  let s: RunningServer;
  before(async () => {
    db = await sqlite.create();
    s = await startServer(db, { logLevel: 'trace' });
  });
  after(async () => {
    await s?.close();
    await db?.drop();
  });

  test('through every endpoint, with good and bad credentials', async () => {
    const { clientId, clientSecret } = await seedOrdersApi(s);
    const post = await s.registry.createClient({
      name: 'poster',
      type: 'confidential',
      grantTypes: ['client_credentials'],
      scopes: ['orders:read'],
      tokenEndpointAuthMethod: 'client_secret_post',
    });
    const ok = await postForm(`${s.url}/token`, { grant_type: 'client_credentials' }, { basic: [clientId, clientSecret] });
    const token = ok.body.access_token as string;
    await postForm(`${s.url}/token`, { grant_type: 'client_credentials', client_id: post.client.clientId, client_secret: post.clientSecret! });
    await postForm(`${s.url}/token`, { grant_type: 'client_credentials' }, { basic: [clientId, 'wrong-secret-value-123'] });
    await postForm(`${s.url}/token?client_secret=${clientSecret}`, { grant_type: 'client_credentials' });
    await postForm(`${s.url}/introspect`, { token }, { basic: [clientId, clientSecret] });
    await postForm(`${s.url}/revoke`, { token }, { basic: [clientId, clientSecret] });
    await fetch(`${s.url}/token`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ client_secret: clientSecret }) });
    await fetch(`${s.url}/nope?access_token=${token}`, { headers: { authorization: basicAuth(clientId, clientSecret) } });

    const logs = s.logs();
    assert.ok(logs.includes('"path":"/token"'), 'requests are logged');
    assert.ok(logs.includes('invalid_client'), 'refusals are logged with their error code');
    for (const secret of [clientSecret, post.clientSecret!, 'wrong-secret-value-123', token, token.split('.')[2]!, basicAuth(clientId, clientSecret)]) {
      assert.ok(!logs.includes(secret), `log contains a secret: ${secret.slice(0, 12)}…`);
    }
    for (const line of logs.trim().split('\n')) JSON.parse(line);
  });
});
