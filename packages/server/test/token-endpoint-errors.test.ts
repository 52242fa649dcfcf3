import assert from 'node:assert/strict';
import { request as httpRequest } from 'node:http';
import { after, before, describe, test } from 'node:test';
import { backends, basicAuth, postForm, type RunningServer, seedOrdersApi, startServer, storeClient, type TestDatabase } from '@latchkey/testing';

/**
 * RFC 6749 §5.2 error responses at POST /token (docs/security.md D32, D33, D35, D36, E41): the exact error
 * code and status, a JSON body, Cache-Control: no-store, and never a 500 or internals.
 */

interface Reply {
  status: number;
  headers: Headers;
  body: any;
  text: string;
}

/** A request with exactly the headers and bytes given (fetch would add a content-type of its own). */
function raw(
  url: string,
  options: { method?: string; headers?: Record<string, string>; body?: string | Buffer } = {},
): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(url, { method: options.method ?? 'POST', headers: options.headers ?? {} }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        const headers = new Headers();
        for (const [k, v] of Object.entries(res.headers)) {
          if (v !== undefined) headers.set(k, Array.isArray(v) ? v.join(', ') : v);
        }
        let body: any;
        try {
          body = text ? JSON.parse(text) : undefined;
        } catch {
          body = undefined;
        }
        resolve({ status: res.statusCode ?? 0, headers, body, text });
      });
      res.on('error', reject);
    });
    // The server may answer (413) and close before it has read a large body: that is not a failure here.
    req.on('error', (err: NodeJS.ErrnoException) => {
      if (err.code !== 'EPIPE' && err.code !== 'ECONNRESET') reject(err);
    });
    if (options.body !== undefined) req.end(options.body);
    else req.end();
  });
}

/** No stack frames, file paths, exception names or framework codes in a response body. */
function assertNoInternals(text: string): void {
  assert.doesNotMatch(text, /^\s*at\s/m, 'no stack frame line');
  assert.doesNotMatch(text, /\bat [^\s"]+ \(/, 'no "at fn (" stack frame');
  assert.doesNotMatch(text, /\b[A-Za-z]*Error:/, 'no "Error:" internals');
  assert.doesNotMatch(text, /file:\/\/|node:internal|node_modules|\/work\/|\.ts:\d+/, 'no source paths');
  assert.doesNotMatch(text, /FST_[A-Z_]+/, 'no Fastify error codes');
}

/** RFC 6749 §5.2: the error code, the status, a JSON object with error and error_description, no-store. */
function assertOAuthError(res: Reply, status: number, error: string, label = ''): void {
  const ctx = `${label} -> ${res.status} ${res.text}`;
  assert.equal(res.status, status, ctx);
  assert.match(res.headers.get('content-type') ?? '', /^application\/json\b/, ctx);
  assert.equal(res.headers.get('cache-control'), 'no-store', ctx);
  assert.ok(res.body !== null && typeof res.body === 'object' && !Array.isArray(res.body), ctx);
  assert.equal(res.body.error, error, ctx);
  assert.equal(typeof res.body.error_description, 'string', ctx);
  assert.ok(res.body.error_description.length > 0, ctx);
  // RFC 6749 §5.2: error_description "MUST NOT include characters outside the set %x20-21 / %x23-5B / %x5D-7E".
  assert.match(res.body.error_description, /^[\x20-\x21\x23-\x5B\x5D-\x7E]+$/, `error_description charset: ${ctx}`);
  for (const key of Object.keys(res.body)) {
    assert.ok(['error', 'error_description', 'error_uri'].includes(key), `unexpected member ${key}: ${ctx}`);
  }
  assertNoInternals(res.text);
}

for (const backend of await backends()) {
  describe(`token endpoint errors (${backend.name})`, { skip: backend.skip }, () => {
    let db: TestDatabase;
    let s: RunningServer;
    let client: { clientId: string; clientSecret: string };
    let multi: { clientId: string; clientSecret: string };
    const noGrant = { clientId: 'no-grant.client', clientSecret: 'no-grant-secret-0123456789abcdef' };
    const publicClient = { clientId: 'public.client' };

    before(async () => {
      db = await backend.create();
      s = await startServer(db);
      client = await seedOrdersApi(s);
      await s.registry.createResource({ identifier: 'https://billing.example.com', scopes: ['billing:read'] });
      const created = await s.registry.createClient({
        name: 'multi',
        type: 'confidential',
        grantTypes: ['client_credentials'],
        scopes: ['orders:read', 'billing:read'],
      });
      multi = { clientId: created.client.clientId, clientSecret: created.clientSecret! };

      // The Registry only registers client_credentials clients, and refuses public ones for it, so a
      // client without the grant and a public client are set up at the storage level.
      await storeClient(s, {
        clientId: noGrant.clientId,
        type: 'confidential',
        method: 'client_secret_basic',
        secret: noGrant.clientSecret,
        grantTypes: [],
      });
      // Even a row claiming the grant must not let a public client through (RFC 6749 §4.4).
      await storeClient(s, { clientId: publicClient.clientId, type: 'public', method: 'none', grantTypes: ['client_credentials'] });
    });
    after(async () => {
      await s?.close();
      await db?.drop();
    });

    const creds = (): [string, string] => [client.clientId, client.clientSecret];
    const token = (form: Record<string, string | string[]>, basic: [string, string] | null = creds()) =>
      postForm(`${s.url}/token`, form, basic ? { basic } : {});
    const FORM = { 'content-type': 'application/x-www-form-urlencoded' };

    test('the valid request the error cases are variations of succeeds', async () => {
      const res = await token({ grant_type: 'client_credentials' });
      assert.equal(res.status, 200, res.text);
      assert.equal(res.body.token_type, 'Bearer');
      assert.equal(res.headers.get('cache-control'), 'no-store');
    });

    describe('invalid_request', () => {
      test('missing grant_type', async () => {
        assertOAuthError(await token({}), 400, 'invalid_request', 'no grant_type');
        assertOAuthError(await token({ scope: 'orders:read' }), 400, 'invalid_request', 'other params, no grant_type');
        assertOAuthError(await token({}, null), 400, 'invalid_request', 'no grant_type, no client');
      });

      test('grant_type sent without a value is treated as omitted (RFC 6749 §3.1)', async () => {
        const res = await token({ grant_type: '' });
        assertOAuthError(res, 400, 'invalid_request', 'grant_type=');
        assert.doesNotMatch(res.body.error_description, /not supported/);
      });

      test('a repeated grant_type is invalid_request, even with the same value', async () => {
        assertOAuthError(await token({ grant_type: ['client_credentials', 'client_credentials'] }), 400, 'invalid_request', 'same');
        assertOAuthError(await token({ grant_type: ['client_credentials', 'password'] }), 400, 'invalid_request', 'different');
      });

      test('a repeated scope, client_id or client_secret is invalid_request', async () => {
        assertOAuthError(
          await token({ grant_type: 'client_credentials', scope: ['orders:read', 'orders:read'] }),
          400,
          'invalid_request',
          'scope twice',
        );
        assertOAuthError(
          await token({ grant_type: 'client_credentials', client_id: [client.clientId, client.clientId] }),
          400,
          'invalid_request',
          'client_id twice (with Basic)',
        );
        const post = await s.registry.createClient({
          name: 'poster',
          type: 'confidential',
          grantTypes: ['client_credentials'],
          scopes: ['orders:read'],
          tokenEndpointAuthMethod: 'client_secret_post',
        });
        assertOAuthError(
          await token(
            { grant_type: 'client_credentials', client_id: post.client.clientId, client_secret: [post.clientSecret!, post.clientSecret!] },
            null,
          ),
          400,
          'invalid_request',
          'client_secret twice',
        );
        // The same client without the repetition is fine: the refusal is about the repetition.
        const ok = await token(
          { grant_type: 'client_credentials', client_id: post.client.clientId, client_secret: post.clientSecret! },
          null,
        );
        assert.equal(ok.status, 200, ok.text);
      });

      test('empty-valued parameters are treated as omitted (RFC 6749 §3.1)', async () => {
        // An empty duplicate is not a repetition.
        const dup = await token({ grant_type: ['', 'client_credentials'] });
        assert.equal(dup.status, 200, dup.text);
        // An empty scope means "no scope requested": the default, not invalid_scope and not an empty scope.
        const scope = await token({ grant_type: 'client_credentials', scope: '' });
        assert.equal(scope.status, 200, scope.text);
        assert.equal(scope.body.scope, 'orders:read');
        const resource = await token({ grant_type: 'client_credentials', resource: '' });
        assert.equal(resource.status, 200, resource.text);
        // Empty client_secret / client_id next to Basic are not a second authentication method.
        const extra = await token({ grant_type: 'client_credentials', client_id: '', client_secret: '' });
        assert.equal(extra.status, 200, extra.text);
      });

      test('client_secret in the query string is invalid_request (OAuth 2.1 §2.4.1)', async () => {
        const url = `${s.url}/token?client_secret=${encodeURIComponent(client.clientSecret)}`;
        const res = await postForm(url, { grant_type: 'client_credentials' }, { basic: creds() });
        assertOAuthError(res, 400, 'invalid_request', 'query client_secret with Basic');
        const alone = await postForm(`${s.url}/token?client_id=${client.clientId}&client_secret=${client.clientSecret}`, {
          grant_type: 'client_credentials',
        });
        assertOAuthError(alone, 400, 'invalid_request', 'query credentials only');
        const empty = await postForm(`${s.url}/token?client_secret=`, { grant_type: 'client_credentials' }, { basic: creds() });
        assertOAuthError(empty, 400, 'invalid_request', 'query client_secret=');
      });
    });

    describe('unsupported_grant_type', () => {
      const unsupported = [
        'password',
        'implicit',
        'token',
        'urn:ietf:params:oauth:grant-type:jwt-bearer',
        'urn:example:not-a-grant',
        'CLIENT_CREDENTIALS',
        'client_credentials ',
        ' client_credentials',
        '__proto__',
        'constructor',
        'toString',
        'garbage!"\\<>{}',
        '\u00e9\u4e2d\u{1F600}',
        'client_credentials\u0000',
        'a\r\nX-Injected: 1',
        'x'.repeat(5000),
      ];
      for (const grantType of unsupported) {
        test(`grant_type=${JSON.stringify(grantType.slice(0, 60))}`, async () => {
          const res = await token({ grant_type: grantType });
          assertOAuthError(res, 400, 'unsupported_grant_type', grantType.slice(0, 60));
          assert.equal(res.headers.get('x-injected'), null);
          assert.equal(res.body.access_token, undefined);
        });
      }

      test('password with username and password is refused, never issues a token', async () => {
        const res = await token({ grant_type: 'password', username: 'alice', password: 'pw', scope: 'orders:read' });
        assertOAuthError(res, 400, 'unsupported_grant_type', 'password');
      });

      test('an unsupported grant is refused whether or not the client authenticates', async () => {
        assertOAuthError(await token({ grant_type: 'implicit' }, null), 400, 'unsupported_grant_type', 'no auth');
      });
    });

    describe('unauthorized_client and public clients', () => {
      test('a confidential client not allowed client_credentials is unauthorized_client (400)', async () => {
        const res = await token({ grant_type: 'client_credentials' }, [noGrant.clientId, noGrant.clientSecret]);
        assertOAuthError(res, 400, 'unauthorized_client', 'grantTypes []');
        assert.equal(res.headers.get('www-authenticate'), null, 'not an authentication failure');
      });

      test('a public client cannot use client_credentials (RFC 6749 §4.4): unauthorized_client, no token', async () => {
        // The public client identifies itself (method none); the grant then refuses it.
        const res = await token({ grant_type: 'client_credentials', client_id: publicClient.clientId }, null);
        assertOAuthError(res, 400, 'unauthorized_client', 'public client_id only');
        // A secret for a client that has none is failed authentication.
        const withSecret = await token(
          { grant_type: 'client_credentials', client_id: publicClient.clientId, client_secret: 'anything' },
          null,
        );
        assertOAuthError(withSecret, 401, 'invalid_client', 'public with a secret');
        const basic = await token({ grant_type: 'client_credentials' }, [publicClient.clientId, 'anything']);
        assertOAuthError(basic, 401, 'invalid_client', 'public with Basic');
      });
    });

    describe('invalid_scope and invalid_target', () => {
      test('an unknown, not-allowed or malformed scope is invalid_scope', async () => {
        for (const scope of ['nope:never', 'orders:write', 'orders:read billing:read', 'orders:read "quoted"', 'back\\slash', 'openid']) {
          assertOAuthError(await token({ grant_type: 'client_credentials', scope }), 400, 'invalid_scope', scope);
        }
      });

      test('a scope outside the named resource is invalid_scope', async () => {
        const res = await token(
          { grant_type: 'client_credentials', resource: 'https://api.example.com', scope: 'billing:read' },
          [multi.clientId, multi.clientSecret],
        );
        assertOAuthError(res, 400, 'invalid_scope', 'billing:read on api');
      });

      test('a resource not allowed, unknown, relative or with a fragment is invalid_target (RFC 8707 §2)', async () => {
        for (const resource of ['https://billing.example.com', 'https://unknown.example.com', '/relative', 'not a uri', 'https://api.example.com#f']) {
          assertOAuthError(await token({ grant_type: 'client_credentials', resource }), 400, 'invalid_target', resource);
        }
      });

      test('several allowed audiences and no choice is invalid_target', async () => {
        const res = await token({ grant_type: 'client_credentials' }, [multi.clientId, multi.clientSecret]);
        assertOAuthError(res, 400, 'invalid_target', 'ambiguous');
        const chosen = await token({ grant_type: 'client_credentials', resource: 'https://billing.example.com' }, [
          multi.clientId,
          multi.clientSecret,
        ]);
        assert.equal(chosen.status, 200, chosen.text);
      });
    });

    describe('malformed requests', () => {
      const body = 'grant_type=client_credentials';
      const auth = () => ({ authorization: basicAuth(...creds()) });

      test('the form body sent raw, with a charset parameter, is accepted', async () => {
        for (const type of ['application/x-www-form-urlencoded', 'application/x-www-form-urlencoded; charset=UTF-8']) {
          const res = await raw(`${s.url}/token`, { headers: { ...auth(), 'content-type': type }, body });
          assert.equal(res.status, 200, `${type}: ${res.text}`);
        }
      });

      test('a media type other than application/x-www-form-urlencoded is 400 invalid_request', async () => {
        const types = [
          'application/json',
          'text/plain',
          'text/plain;charset=UTF-8',
          'multipart/form-data; boundary=xyz',
          'application/xml',
          'application/octet-stream',
          'application/x-www-form-urlencodedx',
          'x-www-form-urlencoded',
        ];
        for (const type of types) {
          const res = await raw(`${s.url}/token`, { headers: { ...auth(), 'content-type': type }, body });
          assertOAuthError(res, 400, 'invalid_request', type);
        }
        const json = await raw(`${s.url}/token`, {
          headers: { ...auth(), 'content-type': 'application/json' },
          body: JSON.stringify({ grant_type: 'client_credentials' }),
        });
        assertOAuthError(json, 400, 'invalid_request', 'JSON body');
        const multipart = await raw(`${s.url}/token`, {
          headers: { ...auth(), 'content-type': 'multipart/form-data; boundary=XyZ' },
          body: '--XyZ\r\nContent-Disposition: form-data; name="grant_type"\r\n\r\nclient_credentials\r\n--XyZ--\r\n',
        });
        assertOAuthError(multipart, 400, 'invalid_request', 'multipart body');
      });

      test('a body with no content-type, and no body at all, are 400 invalid_request', async () => {
        assertOAuthError(await raw(`${s.url}/token`, { headers: auth(), body }), 400, 'invalid_request', 'no content-type');
        assertOAuthError(
          await raw(`${s.url}/token`, { headers: { ...auth(), 'content-length': '0' } }),
          400,
          'invalid_request',
          'empty, no content-type',
        );
        assertOAuthError(
          await raw(`${s.url}/token`, { headers: { ...auth(), ...FORM, 'content-length': '0' } }),
          400,
          'invalid_request',
          'empty form',
        );
      });

      test('a body over the 64 KiB limit is 413 invalid_request', async () => {
        assert.equal(s.settings.bodyLimitBytes, 64 * 1024);
        const big = `grant_type=client_credentials&pad=${'a'.repeat(64 * 1024)}`;
        assertOAuthError(await raw(`${s.url}/token`, { headers: { ...auth(), ...FORM }, body: big }), 413, 'invalid_request', '65 KiB');
        // Chunked, so the size is only known while reading.
        const chunked = await raw(`${s.url}/token`, {
          headers: { ...auth(), ...FORM, 'transfer-encoding': 'chunked' },
          body: `grant_type=client_credentials&pad=${'b'.repeat(200 * 1024)}`,
        });
        assertOAuthError(chunked, 413, 'invalid_request', 'chunked 200 KiB');
        // Just under the limit is parsed normally: the limit is the configured one, not smaller.
        const under = `grant_type=client_credentials&pad=${'c'.repeat(60 * 1024)}`;
        const ok = await raw(`${s.url}/token`, { headers: { ...auth(), ...FORM }, body: under });
        assert.equal(ok.status, 200, ok.text.slice(0, 200));
      });

      test('invalid percent-encoding is a 4xx OAuth error, never a 500', async () => {
        assertOAuthError(
          await raw(`${s.url}/token`, { headers: { ...auth(), ...FORM }, body: 'grant_type=%zz' }),
          400,
          'unsupported_grant_type',
          '%zz',
        );
        assertOAuthError(
          await raw(`${s.url}/token`, { headers: { ...auth(), ...FORM }, body: 'grant_type=client_credentials&scope=%E0%A4%A' }),
          400,
          'invalid_scope',
          'truncated UTF-8 in scope',
        );
        assertOAuthError(
          await raw(`${s.url}/token`, { headers: FORM, body: 'grant_type=client_credentials&client_id=%zz&client_secret=%' }),
          401,
          'invalid_client',
          'bad encoding in credentials',
        );
        // An encoded NUL reaches the client lookup as a NUL: PostgreSQL text cannot hold one.
        assertOAuthError(
          await raw(`${s.url}/token`, { headers: FORM, body: 'grant_type=client_credentials&client_id=%00&client_secret=%00' }),
          401,
          'invalid_client',
          'NUL in credentials',
        );
        // A malformed escape in an unknown parameter's name is ignored like the parameter.
        const ignored = await raw(`${s.url}/token`, { headers: { ...auth(), ...FORM }, body: 'grant_type=client_credentials&%=%&%%=1' });
        assert.equal(ignored.status, 200, ignored.text);
      });

      test('binary garbage is a 4xx OAuth error, never a 500', async () => {
        const garbage = Buffer.from(Array.from({ length: 4096 }, (_, i) => (i * 7919 + 13) % 256).filter((b) => b !== 0x26 && b !== 0x3d));
        assertOAuthError(await raw(`${s.url}/token`, { headers: { ...auth(), ...FORM }, body: garbage }), 400, 'invalid_request', 'garbage');
        const invalidUtf8 = Buffer.from([0xff, 0xfe, 0xc3, 0x28, 0xa0, 0xa1, 0xe2, 0x28, 0xa1, 0xf0, 0x28, 0x8c, 0xbc]);
        assertOAuthError(await raw(`${s.url}/token`, { headers: { ...auth(), ...FORM }, body: invalidUtf8 }), 400, 'invalid_request', 'bad UTF-8');
        const grantThenGarbage = Buffer.concat([Buffer.from('grant_type='), invalidUtf8]);
        assertOAuthError(
          await raw(`${s.url}/token`, { headers: { ...auth(), ...FORM }, body: grantThenGarbage }),
          400,
          'unsupported_grant_type',
          'garbage grant_type',
        );
        const garbageOctetStream = await raw(`${s.url}/token`, {
          headers: { ...auth(), 'content-type': 'application/octet-stream' },
          body: garbage,
        });
        assertOAuthError(garbageOctetStream, 400, 'invalid_request', 'garbage octet-stream');
      });

      for (const method of ['GET', 'PUT', 'DELETE', 'PATCH']) {
        test(`${method} /token is 405 with Allow: POST`, async () => {
          const res = await raw(`${s.url}/token?grant_type=client_credentials`, {
            method,
            headers: auth(),
            ...(method === 'GET' || method === 'DELETE' ? {} : { body: '' }),
          });
          assert.equal(res.status, 405, res.text);
          assert.equal(res.headers.get('allow'), 'POST');
          assert.equal(res.headers.get('cache-control'), 'no-store');
          assert.equal(res.body?.error, 'invalid_request');
          assert.equal(res.body?.access_token, undefined);
          assertNoInternals(res.text);
        });
      }

      test('GET /token with credentials in the query never issues a token', async () => {
        const res = await fetch(
          `${s.url}/token?grant_type=client_credentials&client_id=${client.clientId}&client_secret=${client.clientSecret}`,
        );
        assert.equal(res.status, 405);
        assert.equal(res.headers.get('allow'), 'POST');
      });
    });

    test('no request in this suite was handled as an unexpected server failure', () => {
      const lines = s
        .logs()
        .split('\n')
        .filter((l) => l.trim() !== '')
        .map((l) => JSON.parse(l) as { level: number; msg?: string });
      assert.ok(lines.some((l) => l.msg === 'request refused'), 'the refusals above were logged');
      const failures = lines.filter((l) => l.level >= 50 || l.msg === 'request failed');
      assert.deepEqual(failures, []);
    });
  });
}
