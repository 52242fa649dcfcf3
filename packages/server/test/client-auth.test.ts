import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { backends, postForm, type RunningServer, seedOrdersApi, startServer, storeClient, type TestDatabase } from '@latchkey/testing';

/**
 * Client authentication at /token, /introspect and /revoke: docs/security.md D 32-37 and 39 (RFC 6749 §2.3,
 * §5.2; OAuth 2.1 §2.4; RFC 7591 §2 token_endpoint_auth_method).
 */

type Reply = Awaited<ReturnType<typeof postForm>>;

const sha256 = (value: string) => createHash('sha256').update(value, 'utf8').digest('base64url');
const b64 = (value: string | Buffer) => Buffer.from(value).toString('base64');

/** RFC 6749 §5.2 error response: exact code and status, JSON with error and error_description, no-store, no internals. */
function assertOAuthError(res: Reply, status: number, error: string, label = ''): void {
  const ctx = `${label} -> ${res.status} ${res.text}`;
  assert.equal(res.status, status, ctx);
  assert.match(res.headers.get('content-type') ?? '', /^application\/json\b/, ctx);
  assert.equal(res.headers.get('cache-control'), 'no-store', ctx);
  assert.equal(res.body?.error, error, ctx);
  assert.equal(typeof res.body.error_description, 'string', ctx);
  assert.equal(res.body.access_token, undefined, ctx);
  assert.doesNotMatch(res.text, /^\s*at\s|\bat [^\s"]+ \(|\b[A-Za-z]*Error:|node_modules|FST_/m, `internals: ${ctx}`);
}

/** 401 invalid_client with an HTTP Basic challenge (RFC 6749 §5.2, RFC 9110 §15.5.2). */
function assertInvalidClient(res: Reply, label = ''): void {
  assertOAuthError(res, 401, 'invalid_client', label);
  assert.match(res.headers.get('www-authenticate') ?? '', /^Basic\b/, `WWW-Authenticate: ${label}`);
  assert.match(res.headers.get('www-authenticate') ?? '', /realm="[^"]+"/, `realm: ${label}`);
}

for (const backend of await backends()) {
  describe(`client authentication (${backend.name})`, { skip: backend.skip }, () => {
    let db: TestDatabase;
    let s: RunningServer;
    /** Registered for client_secret_basic (the default). */
    let basicClient: { clientId: string; clientSecret: string };
    /** Registered for client_secret_post. */
    let postClient: { clientId: string; clientSecret: string };
    /** A public client; the Registry cannot create one yet (only client_credentials is registrable). */
    const publicClient = { clientId: 'public-app.example' };
    /** A client whose secret needs form-encoding (set at storage level: registry secrets are base64url). */
    const oddClient = { clientId: 'svc.reporting~v2-x_y', clientSecret: 'p+ss:w%rd é/&=ü~' };

    before(async () => {
      db = await backend.create();
      s = await startServer(db);
      basicClient = await seedOrdersApi(s);
      const created = await s.registry.createClient({
        name: 'poster',
        type: 'confidential',
        grantTypes: ['client_credentials'],
        scopes: ['orders:read'],
        tokenEndpointAuthMethod: 'client_secret_post',
      });
      postClient = { clientId: created.client.clientId, clientSecret: created.clientSecret! };

      await storeClient(s, { clientId: publicClient.clientId, type: 'public', method: 'none', grantTypes: [] });
      await storeClient(s, {
        clientId: oddClient.clientId,
        type: 'confidential',
        method: 'client_secret_basic',
        secret: oddClient.clientSecret,
        grantTypes: ['client_credentials'],
      });
    });
    after(async () => {
      await s?.close();
      await db?.drop();
    });

    const GRANT = { grant_type: 'client_credentials' };
    const tokenBasic = (id: string, secret: string, form: Record<string, string | string[]> = {}, query = '') =>
      postForm(`${s.url}/token${query}`, { ...GRANT, ...form }, { basic: [id, secret] });
    const tokenWithAuthorization = (authorization: string, form: Record<string, string> = {}) =>
      postForm(`${s.url}/token`, { ...GRANT, ...form }, { headers: { authorization } });
    const tokenPost = (form: Record<string, string | string[]>) => postForm(`${s.url}/token`, { ...GRANT, ...form });

    describe('token endpoint', () => {
      test('controls: each client authenticates with its registered method', async () => {
        const basic = await tokenBasic(basicClient.clientId, basicClient.clientSecret);
        assert.equal(basic.status, 200, basic.text);
        const post = await tokenPost({ client_id: postClient.clientId, client_secret: postClient.clientSecret });
        assert.equal(post.status, 200, post.text);
      });

      test('no client authentication at all is 401 invalid_client (OAuth 2.1 §3.2)', async () => {
        assertInvalidClient(await tokenPost({}), 'nothing');
        assertInvalidClient(await tokenWithAuthorization('Bearer abc.def.ghi'), 'Bearer instead of Basic');
        assertInvalidClient(await tokenWithAuthorization('Digest username="x"'), 'other scheme');
      });

      test('a confidential client sending client_id alone is 401 invalid_client', async () => {
        assertInvalidClient(await tokenPost({ client_id: basicClient.clientId }), 'basic client, id only');
        assertInvalidClient(await tokenPost({ client_id: postClient.clientId }), 'post client, id only');
      });

      test('an unknown client is 401 invalid_client, with Basic and with the body', async () => {
        assertInvalidClient(await tokenBasic('no-such-client', 'whatever'), 'unknown, Basic');
        assertInvalidClient(await tokenPost({ client_id: 'no-such-client', client_secret: 'whatever' }), 'unknown, post');
        assertInvalidClient(await tokenPost({ client_id: 'no-such-client' }), 'unknown, id only');
      });

      test('a wrong secret is 401 invalid_client; Basic failures challenge with Basic (RFC 6749 §5.2)', async () => {
        const basic = await tokenBasic(basicClient.clientId, `${basicClient.clientSecret}x`);
        assertInvalidClient(basic, 'wrong secret, Basic');
        assertInvalidClient(await tokenBasic(basicClient.clientId, basicClient.clientSecret.slice(0, -1)), 'truncated secret');
        assertInvalidClient(await tokenBasic(basicClient.clientId, basicClient.clientSecret.toUpperCase()), 'case changed');
        assertInvalidClient(await tokenBasic(basicClient.clientId, postClient.clientSecret), "another client's secret");
        const post = await tokenPost({ client_id: postClient.clientId, client_secret: `${postClient.clientSecret}x` });
        assertInvalidClient(post, 'wrong secret, post');
      });

      test('an unknown client and a wrong secret cannot be told apart', async () => {
        const unknown = await tokenBasic('no-such-client', 'whatever');
        const wrong = await tokenBasic(basicClient.clientId, 'whatever');
        assert.equal(unknown.status, wrong.status);
        assert.deepEqual(unknown.body, wrong.body);
        assert.equal(unknown.headers.get('www-authenticate'), wrong.headers.get('www-authenticate'));
      });

      test('malformed Basic credentials are 401 invalid_client with a Basic challenge, never a 500', async () => {
        const valid = b64(`${basicClient.clientId}:${basicClient.clientSecret}`);
        const malformed: Record<string, string> = {
          'Basic alone': 'Basic',
          'Basic and spaces': 'Basic    ',
          'not base64': 'Basic !!!not-base64!!!',
          'base64 with a bad length': `Basic ${valid.slice(0, -1)}`,
          'base64 in the wrong place': `Basic ${valid.slice(0, 4)}=${valid.slice(4)}`,
          'two tokens': `Basic ${valid} ${valid}`,
          'no colon': `Basic ${b64(basicClient.clientId + basicClient.clientSecret)}`,
          'empty id': `Basic ${b64(`:${basicClient.clientSecret}`)}`,
          'empty secret': `Basic ${b64(`${basicClient.clientId}:`)}`,
          'only a colon': `Basic ${b64(':')}`,
          'bad percent-encoding in the id': `Basic ${b64(`%zz:${basicClient.clientSecret}`)}`,
          'bad percent-encoding in the secret': `Basic ${b64(`${basicClient.clientId}:%E0%A4%A`)}`,
          'lone percent': `Basic ${b64(`${basicClient.clientId}%:x`)}`,
          'invalid UTF-8': `Basic ${b64(Buffer.from([0xff, 0xfe, 0x3a, 0xc3, 0x28]))}`,
          'NUL bytes': `Basic ${b64(`\u0000:\u0000`)}`,
        };
        for (const [label, authorization] of Object.entries(malformed)) {
          assertInvalidClient(await tokenWithAuthorization(authorization), label);
        }
      });

      test('a NUL in the client id is 401 invalid_client on every backend, never a 500', async () => {
        assertInvalidClient(await tokenWithAuthorization(`Basic ${b64('\u0000:x')}`), 'Basic NUL id');
        assertInvalidClient(await tokenBasic(`${basicClient.clientId}\u0000`, basicClient.clientSecret), 'Basic id + NUL');
        assertInvalidClient(await tokenPost({ client_id: '\u0000', client_secret: 'x' }), 'post NUL id');
        assertInvalidClient(await tokenPost({ client_id: `${postClient.clientId}\u0000`, client_secret: postClient.clientSecret }), 'post id + NUL');
        assertInvalidClient(await tokenPost({ client_id: 'a\u0000b' }), 'id only with NUL');
      });

      test('the Basic scheme name is case-insensitive (RFC 9110 §11.1)', async () => {
        const credentials = b64(`${basicClient.clientId}:${basicClient.clientSecret}`);
        for (const scheme of ['basic', 'BASIC', 'bAsIc']) {
          const res = await tokenWithAuthorization(`${scheme} ${credentials}`);
          assert.equal(res.status, 200, `${scheme}: ${res.text}`);
        }
      });

      test('Basic credentials are form-decoded (RFC 6749 §2.3.1): ids with . ~ - _ and secrets needing encoding', async () => {
        // The helper form-encodes both parts: "+", ":", "%", "/", "&", "=", space and non-ASCII in the secret.
        const encoded = await tokenBasic(oddClient.clientId, oddClient.clientSecret);
        assert.equal(encoded.status, 200, encoded.text);
        // Unreserved characters percent-encoded anyway decode to the same id.
        const pctId = oddClient.clientId.replace(/[._~-]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
        assert.notEqual(pctId, oddClient.clientId);
        const pctSecret = encodeURIComponent(oddClient.clientSecret);
        const pct = await tokenWithAuthorization(`Basic ${b64(`${pctId}:${pctSecret}`)}`);
        assert.equal(pct.status, 200, pct.text);
        // Not decoding would be wrong: the raw secret, unencoded, has a "+" that decodes to a space.
        assertInvalidClient(await tokenWithAuthorization(`Basic ${b64(`${oddClient.clientId}:p+ss:w%25rd é/&=ü~`)}`), 'raw +');
        // The split is at the first colon: a colon in the secret survives when encoded.
        assert.ok(oddClient.clientSecret.includes(':'));
      });

      test('a client id with . ~ - registered through the Registry authenticates with Basic', async () => {
        const created = await s.registry.createClient({
          clientId: 'a.b~c-d_e',
          name: 'dotted',
          type: 'confidential',
          grantTypes: ['client_credentials'],
          scopes: ['orders:read'],
        });
        assert.equal(created.client.clientId, 'a.b~c-d_e');
        const res = await tokenBasic('a.b~c-d_e', created.clientSecret!);
        assert.equal(res.status, 200, res.text);
        const { payload } = decodeJwt(res.body.access_token);
        assert.equal(payload.client_id, 'a.b~c-d_e');
      });

      test('Basic plus client_secret in the body is invalid_request (OAuth 2.1 §2.4)', async () => {
        const both = await tokenBasic(basicClient.clientId, basicClient.clientSecret, { client_secret: basicClient.clientSecret });
        assertOAuthError(both, 400, 'invalid_request', 'Basic + client_secret');
        const full = await tokenBasic(basicClient.clientId, basicClient.clientSecret, {
          client_id: basicClient.clientId,
          client_secret: basicClient.clientSecret,
        });
        assertOAuthError(full, 400, 'invalid_request', 'Basic + client_id + client_secret');
        const otherClient = await tokenBasic(basicClient.clientId, basicClient.clientSecret, {
          client_id: postClient.clientId,
          client_secret: postClient.clientSecret,
        });
        assertOAuthError(otherClient, 400, 'invalid_request', "Basic + another client's post credentials");
        // A malformed or wrong Basic next to body credentials is refused too, never a token for either.
        const wrongBasic = await tokenBasic(basicClient.clientId, 'wrong', {
          client_id: postClient.clientId,
          client_secret: postClient.clientSecret,
        });
        assert.ok([400, 401].includes(wrongBasic.status), wrongBasic.text);
        assert.equal(wrongBasic.body.access_token, undefined);
      });

      test('Basic plus a different client_id in the body is invalid_request; the same client_id is fine', async () => {
        assertOAuthError(
          await tokenBasic(basicClient.clientId, basicClient.clientSecret, { client_id: postClient.clientId }),
          400,
          'invalid_request',
          'different client_id',
        );
        assertOAuthError(
          await tokenBasic(basicClient.clientId, basicClient.clientSecret, { client_id: 'no-such-client' }),
          400,
          'invalid_request',
          'unknown client_id',
        );
        const same = await tokenBasic(basicClient.clientId, basicClient.clientSecret, { client_id: basicClient.clientId });
        assert.equal(same.status, 200, same.text);
      });

      test('client_secret in the query string is invalid_request, even with valid Basic', async () => {
        const res = await tokenBasic(basicClient.clientId, basicClient.clientSecret, {}, `?client_secret=${basicClient.clientSecret}`);
        assertOAuthError(res, 400, 'invalid_request', 'query secret');
        const post = await postForm(`${s.url}/token?client_secret=${postClient.clientSecret}`, { ...GRANT, client_id: postClient.clientId });
        assertOAuthError(post, 400, 'invalid_request', 'query secret, id in body');
      });

      test('the registered token_endpoint_auth_method is enforced, both ways', async () => {
        const postForBasic = await tokenPost({ client_id: basicClient.clientId, client_secret: basicClient.clientSecret });
        assertInvalidClient(postForBasic, 'basic client using client_secret_post');
        const basicForPost = await tokenBasic(postClient.clientId, postClient.clientSecret);
        assertInvalidClient(basicForPost, 'post client using client_secret_basic');
      });

      test('a public client cannot authenticate with a secret, and is refused client_credentials', async () => {
        const idOnly = await tokenPost({ client_id: publicClient.clientId });
        assert.equal(idOnly.status, 400, idOnly.text);
        assert.equal(idOnly.body.error, 'unauthorized_client', 'identified, but the grant is for confidential clients');
        assertInvalidClient(await tokenPost({ client_id: publicClient.clientId, client_secret: 'x' }), 'public, post');
        assertInvalidClient(await tokenBasic(publicClient.clientId, 'x'), 'public, Basic');
      });

      test('a rotated secret: the old one is invalid_client at once, the new one works', async () => {
        const c = await s.registry.createClient({ name: 'rotating', type: 'confidential', grantTypes: ['client_credentials'], scopes: ['orders:read'] });
        const oldSecret = c.clientSecret!;
        assert.equal((await tokenBasic(c.client.clientId, oldSecret)).status, 200);
        const newSecret = await s.registry.rotateSecret(c.client.clientId);
        assert.notEqual(newSecret, oldSecret);
        assertInvalidClient(await tokenBasic(c.client.clientId, oldSecret), 'old secret');
        const fresh = await tokenBasic(c.client.clientId, newSecret);
        assert.equal(fresh.status, 200, fresh.text);
        const row = await s.server.context.storage.db.kysely
          .selectFrom('clients')
          .select(['secret_hash', 'secret_rotated_at'])
          .where('client_id', '=', c.client.clientId)
          .executeTakeFirstOrThrow();
        assert.equal(row.secret_hash, sha256(newSecret));
        assert.notEqual(row.secret_rotated_at, null);
      });

      test('secrets are stored as their SHA-256, never in clear (D39)', async () => {
        const kysely = s.server.context.storage.db.kysely;
        const rows = await kysely.selectFrom('clients').selectAll().execute();
        const byId = new Map(rows.map((r) => [r.client_id, r]));
        for (const { clientId, clientSecret } of [basicClient, postClient]) {
          const row = byId.get(clientId);
          assert.ok(row, clientId);
          assert.ok(row.secret_hash);
          assert.notEqual(row.secret_hash, clientSecret);
          assert.equal(row.secret_hash, sha256(clientSecret), 'base64url SHA-256 of the secret');
          assert.match(row.secret_hash, /^[A-Za-z0-9_-]{43}$/, '32 bytes, base64url');
          // The secret appears nowhere in the row, in any column.
          assert.ok(!JSON.stringify(row).includes(clientSecret), 'secret not in the row');
        }
        assert.equal(byId.get(publicClient.clientId)?.secret_hash, null, 'public clients have no secret');
        // Nothing in any client row of the database holds a clear secret.
        const dump = JSON.stringify(rows);
        for (const secret of [basicClient.clientSecret, postClient.clientSecret]) assert.ok(!dump.includes(secret));
      });

      test('a deleted client is invalid_client with credentials that worked before', async () => {
        const c = await s.registry.createClient({ name: 'doomed', type: 'confidential', grantTypes: ['client_credentials'], scopes: ['orders:read'] });
        assert.equal((await tokenBasic(c.client.clientId, c.clientSecret!)).status, 200);
        await s.registry.deleteClient(c.client.clientId);
        assertInvalidClient(await tokenBasic(c.client.clientId, c.clientSecret!), 'deleted');
      });
    });

    describe('introspection and revocation endpoints', () => {
      let accessToken: string;
      before(async () => {
        const res = await tokenBasic(basicClient.clientId, basicClient.clientSecret);
        assert.equal(res.status, 200, res.text);
        accessToken = res.body.access_token;
      });

      test('controls: an authenticated client introspects and revokes', async () => {
        const intro = await postForm(`${s.url}/introspect`, { token: 'not-a-token' }, { basic: [basicClient.clientId, basicClient.clientSecret] });
        assert.equal(intro.status, 200, intro.text);
        assert.deepEqual(intro.body, { active: false });
        const rev = await postForm(`${s.url}/revoke`, { token: 'not-a-token' }, { basic: [basicClient.clientId, basicClient.clientSecret] });
        assert.equal(rev.status, 200, rev.text);
      });

      for (const path of ['/introspect', '/revoke']) {
        test(`${path}: no client authentication is 401 invalid_client`, async () => {
          assertInvalidClient(await postForm(`${s.url}${path}`, { token: accessToken }), 'no auth');
          assertInvalidClient(
            await postForm(`${s.url}${path}`, { token: accessToken }, { headers: { authorization: `Bearer ${accessToken}` } }),
            'the token as Bearer',
          );
        });

        test(`${path}: unknown client, wrong secret and malformed Basic are 401 invalid_client`, async () => {
          assertInvalidClient(await postForm(`${s.url}${path}`, { token: accessToken }, { basic: ['no-such-client', 'x'] }), 'unknown');
          assertInvalidClient(
            await postForm(`${s.url}${path}`, { token: accessToken }, { basic: [basicClient.clientId, 'wrong'] }),
            'wrong secret',
          );
          assertInvalidClient(
            await postForm(`${s.url}${path}`, { token: accessToken }, { headers: { authorization: 'Basic' } }),
            'Basic alone',
          );
          assertInvalidClient(
            await postForm(`${s.url}${path}`, { token: accessToken, client_id: basicClient.clientId, client_secret: basicClient.clientSecret }),
            'basic client using post',
          );
        });

        test(`${path}: a NUL in the client id is 401 invalid_client, never a 500`, async () => {
          assertInvalidClient(await postForm(`${s.url}${path}`, { token: accessToken }, { basic: ['\u0000', 'x'] }), 'Basic');
          assertInvalidClient(await postForm(`${s.url}${path}`, { token: accessToken, client_id: 'x\u0000', client_secret: 'x' }), 'post');
          assertInvalidClient(await postForm(`${s.url}${path}`, { token: accessToken, client_id: '\u0000' }), 'id only');
        });

        test(`${path}: two authentication methods or a query-string secret are invalid_request`, async () => {
          const both = await postForm(
            `${s.url}${path}`,
            { token: accessToken, client_secret: basicClient.clientSecret },
            { basic: [basicClient.clientId, basicClient.clientSecret] },
          );
          assertOAuthError(both, 400, 'invalid_request', 'Basic + client_secret');
          const query = await postForm(
            `${s.url}${path}?client_secret=${basicClient.clientSecret}`,
            { token: accessToken },
            { basic: [basicClient.clientId, basicClient.clientSecret] },
          );
          assertOAuthError(query, 400, 'invalid_request', 'query secret');
        });
      }

      test("/introspect does not accept public-client authentication ('none'), /revoke does (RFC 7662 §2.1, RFC 7009 §2.1)", async () => {
        const intro = await postForm(`${s.url}/introspect`, { token: accessToken, client_id: publicClient.clientId });
        assertInvalidClient(intro, 'public at /introspect');
        const rev = await postForm(`${s.url}/revoke`, { token: 'not-a-token', client_id: publicClient.clientId });
        assert.equal(rev.status, 200, rev.text);
        // A confidential client cannot downgrade to 'none' at /revoke either.
        assertInvalidClient(await postForm(`${s.url}/revoke`, { token: accessToken, client_id: basicClient.clientId }), 'confidential as none');
        // The token is still active: none of the refused calls revoked it.
        const check = await postForm(`${s.url}/introspect`, { token: accessToken }, { basic: [basicClient.clientId, basicClient.clientSecret] });
        assert.equal(check.body.active, true, check.text);
      });
    });

    test('no request in this suite was handled as an unexpected server failure', () => {
      const lines = s
        .logs()
        .split('\n')
        .filter((l) => l.trim() !== '')
        .map((l) => JSON.parse(l) as { level: number; msg?: string });
      assert.ok(lines.some((l) => l.msg === 'request refused'));
      assert.deepEqual(
        lines.filter((l) => l.level >= 50 || l.msg === 'request failed'),
        [],
      );
    });
  });
}

function decodeJwt(token: string): { payload: Record<string, unknown> } {
  const part = token.split('.')[1];
  assert.ok(part, 'a JWS compact token');
  return { payload: JSON.parse(Buffer.from(part, 'base64url').toString('utf8')) as Record<string, unknown> };
}
