import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { backends, postForm, type RunningServer, startServer, type TestDatabase } from '@latchkey/testing';
import { createAdminClient } from '../src/admin/bootstrap.ts';
import { clientJson, resourceJson } from '../src/admin/representations.ts';
import { registeredAdminRoutes } from '../src/http/admin-routes.ts';

for (const backend of await backends()) {
  describe(`admin API (${backend.name})`, { skip: backend.skip }, () => {
    let db: TestDatabase;
    let s: RunningServer;
    let writer: string;
    let reader: string;
    let writerClient: { id: string; secret: string };

    const tokenFor = async (id: string, secret: string, resource = 'urn:latchkey:admin') => {
      const res = await postForm(`${s.url}/token`, { grant_type: 'client_credentials', resource }, { basic: [id, secret] });
      assert.equal(res.status, 200, res.text);
      return res.body.access_token as string;
    };
    const api = async (method: string, path: string, options: { token?: string | null; body?: unknown; ifMatch?: string } = {}) => {
      const headers: Record<string, string> = {};
      const token = options.token === undefined ? writer : options.token;
      if (token !== null) headers.authorization = `Bearer ${token}`;
      if (options.body !== undefined) headers['content-type'] = 'application/json';
      if (options.ifMatch !== undefined) headers['if-match'] = options.ifMatch;
      const res = await fetch(`${s.url}/admin/v1${path}`, { method, headers, body: options.body === undefined ? undefined : JSON.stringify(options.body) });
      const text = await res.text();
      return { status: res.status, headers: res.headers, text, body: text ? (JSON.parse(text) as Record<string, any>) : undefined };
    };
    const assertProblem = (res: { status: number; headers: Headers; body?: Record<string, any> }, status: number) => {
      assert.equal(res.status, status, JSON.stringify(res.body));
      assert.match(res.headers.get('content-type') ?? '', /^application\/problem\+json/);
      assert.equal(res.body!.status, status);
      for (const member of ['type', 'title', 'detail']) assert.equal(typeof res.body![member], 'string', member);
    };

    before(async () => {
      db = await backend.create();
      s = await startServer(db);
      // The first administrator, as `latchkey admin create-client` makes it.
      const w = await createAdminClient(s.registry, { name: 'automation' });
      writerClient = { id: w.client.clientId, secret: w.clientSecret };
      writer = await tokenFor(w.client.clientId, w.clientSecret);
      const r = await createAdminClient(s.registry, { name: 'dashboards', readOnly: true });
      reader = await tokenFor(r.client.clientId, r.clientSecret);
    });
    after(async () => {
      await s?.close();
      await db?.drop();
    });

    test('the built-in resource exists and cannot be deleted', async () => {
      const res = await api('GET', `/resources/${encodeURIComponent('urn:latchkey:admin')}`);
      assert.equal(res.status, 200);
      assert.deepEqual(res.body!.scopes, ['admin:read', 'admin:write']);
      const del = await api('DELETE', `/resources/${encodeURIComponent('urn:latchkey:admin')}`, { ifMatch: res.headers.get('etag')! });
      assertProblem(del, 422);
      await assert.rejects(s.registry.deleteResource('urn:latchkey:admin'), /built in/);
    });

    test('resources: create, read, update with If-Match, delete; the CLI sees the same object', async () => {
      const created = await api('POST', '/resources', { body: { identifier: 'https://orders.example', scopes: ['orders:read', 'orders:write'], scope_descriptions: { 'orders:read': 'Read orders' } } });
      assert.equal(created.status, 201, created.text);
      assert.equal(created.headers.get('location'), `/admin/v1/resources/${encodeURIComponent('https://orders.example')}`);
      assert.equal(created.headers.get('cache-control'), 'no-store');
      assert.deepEqual(created.body, resourceJson(await s.registry.getResource('https://orders.example')));
      assertProblem(await api('POST', '/resources', { body: { identifier: 'https://orders.example', scopes: ['x:y'] } }), 409);

      const path = `/resources/${encodeURIComponent('https://orders.example')}`;
      const read = await api('GET', path);
      const etag = read.headers.get('etag')!;
      assert.match(etag, /^"[A-Za-z0-9_-]+"$/);
      assertProblem(await api('PATCH', path, { body: { default_scopes: ['orders:read'] } }), 428);
      assertProblem(await api('PATCH', path, { body: { default_scopes: ['orders:read'] }, ifMatch: '"stale"' }), 412);
      const patched = await api('PATCH', path, { body: { default_scopes: ['orders:read'] }, ifMatch: etag });
      assert.equal(patched.status, 200, patched.text);
      assert.deepEqual(patched.body!.default_scopes, ['orders:read']);
      assert.notEqual(patched.headers.get('etag'), etag);
      // The CLI's function sees the change.
      assert.deepEqual(resourceJson(await s.registry.getResource('https://orders.example')).default_scopes, ['orders:read']);
      // The old ETag is stale now.
      assertProblem(await api('DELETE', path, { ifMatch: etag }), 412);
      const del = await api('DELETE', path, { ifMatch: patched.headers.get('etag')! });
      assert.equal(del.status, 204);
      assertProblem(await api('GET', path), 404);
    });

    test('clients: create (secret once), read, update, exchange policy, rotate secret, delete', async () => {
      await s.registry.createResource({ identifier: 'https://notes.example', scopes: ['notes:read'] });
      const bad = await api('POST', '/clients', { body: { name: 'x', type: 'confidential', grant_types: 'client_credentials' } });
      assertProblem(bad, 400);
      assert.equal(bad.body!.field, 'grant_types');
      assertProblem(await api('POST', '/clients', { body: { name: 'x', type: 'public', grant_types: ['client_credentials'] } }), 422);

      const created = await api('POST', '/clients', { body: { name: 'notes-svc', type: 'confidential', client_id: 'notes-svc', grant_types: ['client_credentials'], scopes: ['notes:read'] } });
      assert.equal(created.status, 201, created.text);
      assert.equal(typeof created.body!.client_secret, 'string');
      const token = await tokenFor('notes-svc', created.body!.client_secret, 'https://notes.example');
      assert.ok(token);

      const read = await api('GET', '/clients/notes-svc');
      assert.equal(read.status, 200);
      assert.equal(read.body!.client_secret, undefined, 'a read never shows the secret');
      assert.doesNotMatch(read.text, new RegExp(created.body!.client_secret));
      assert.deepEqual({ ...read.body, token_exchange: undefined }, { ...clientJson(await s.registry.getClient('notes-svc')), token_exchange: undefined });

      const patched = await api('PATCH', '/clients/notes-svc', { body: { require_second_factor: true }, ifMatch: read.headers.get('etag')! });
      assert.equal(patched.status, 200, patched.text);
      assert.equal((await s.registry.getClient('notes-svc')).requireSecondFactor, true);

      const rotated = await api('POST', '/clients/notes-svc/rotate-secret');
      assert.equal(rotated.status, 200);
      assert.notEqual(rotated.body!.client_secret, created.body!.client_secret);
      const old = await postForm(`${s.url}/token`, { grant_type: 'client_credentials' }, { basic: ['notes-svc', created.body!.client_secret] });
      assert.equal(old.status, 401);

      const current = await api('GET', '/clients/notes-svc');
      const del = await api('DELETE', '/clients/notes-svc', { ifMatch: current.headers.get('etag')! });
      assert.equal(del.status, 204);
      await assert.rejects(s.registry.getClient('notes-svc'), /no client/);
    });

    test('lists are paginated with an opaque cursor', async () => {
      for (let i = 0; i < 7; i++) await s.registry.createResource({ identifier: `https://page${i}.example`, scopes: [`page${i}:read`] });
      const seen: string[] = [];
      let cursor: string | null = null;
      let pages = 0;
      do {
        const res = await api('GET', `/resources?limit=3${cursor ? `&cursor=${cursor}` : ''}`);
        assert.equal(res.status, 200, res.text);
        assert.ok(res.body!.items.length <= 3);
        seen.push(...res.body!.items.map((r: { identifier: string }) => r.identifier));
        cursor = res.body!.next_cursor;
        pages++;
      } while (cursor);
      const all = (await s.registry.listResources()).map((r) => r.identifier).sort();
      assert.deepEqual(seen, all);
      assert.ok(pages >= 3);
      const limit = await api('GET', '/resources?limit=500');
      assertProblem(limit, 400);
      assert.equal(limit.body!.field, 'limit');
      assertProblem(await api('GET', '/resources?cursor=not-a-cursor'), 400);
    });

    test('keys: list with ages, rotate, revoke', async () => {
      const list = await api('GET', '/keys');
      assert.equal(list.status, 200);
      assert.ok(list.body!.items.length >= 1);
      assert.equal(typeof list.body!.items[0].age_seconds, 'number');
      const rotated = await api('POST', '/keys/rotate', { body: { alg: 'ES256' } });
      assert.equal(rotated.status, 200, rotated.text);
      const kid = rotated.body!.rotated[0].kid as string;
      const key = await api('GET', `/keys/${kid}`);
      assert.equal(key.body!.status, 'next');
      const revoked = await api('DELETE', `/keys/${kid}`, { ifMatch: key.headers.get('etag')! });
      assert.equal(revoked.status, 200, revoked.text);
      assert.notEqual((await s.registry.listResources()).length, 0);
      const after = await api('GET', `/keys/${kid}`);
      assert.notEqual(after.body?.status, 'next', 'a revoked key is no longer the next signer');
      assertProblem(await api('POST', '/keys/rotate', { body: { alg: 'HS256' } }), 422);
    });

    test('a read-only token reads but may not write (403 insufficient_scope)', async () => {
      assert.equal((await api('GET', '/clients', { token: reader })).status, 200);
      const res = await api('POST', '/resources', { token: reader, body: { identifier: 'https://ro.example', scopes: ['ro:x'] } });
      assertProblem(res, 403);
      assert.match(res.headers.get('www-authenticate') ?? '', /^Bearer .*error="insufficient_scope".*scope="admin:write"/);
    });

    test('no token, a token for another API, an expired or revoked one: 401 invalid_token', async () => {
      const none = await api('GET', '/clients', { token: null });
      assertProblem(none, 401);
      assert.equal(none.headers.get('www-authenticate'), 'Bearer realm="latchkey-admin"');
      const garbage = await api('GET', '/clients', { token: 'eyJhbGciOiJub25lIn0.e30.x' });
      assertProblem(garbage, 401);
      assert.match(garbage.headers.get('www-authenticate') ?? '', /error="invalid_token"/);

      // A token of the same client for another resource.
      await s.registry.createResource({ identifier: 'https://other.example', scopes: ['other:read'] });
      const c = await s.registry.createClient({ name: 'other', type: 'confidential', grantTypes: ['client_credentials'], scopes: ['other:read'] });
      const otherToken = await tokenFor(c.client.clientId, c.clientSecret!, 'https://other.example');
      assertProblem(await api('GET', '/clients', { token: otherToken }), 401);

      // Revoked (RFC 7009).
      const token = await tokenFor(writerClient.id, writerClient.secret);
      assert.equal((await api('GET', '/clients', { token })).status, 200);
      const revoke = await postForm(`${s.url}/revoke`, { token }, { basic: [writerClient.id, writerClient.secret] });
      assert.equal(revoke.status, 200);
      assertProblem(await api('GET', '/clients', { token }), 401);

      // Expired: a clock an hour on.
      const expiring = await tokenFor(writerClient.id, writerClient.secret);
      const realNow = Date.now;
      Date.now = () => realNow() + 3600 * 1000;
      try {
        assertProblem(await api('GET', '/clients', { token: expiring }), 401);
      } finally {
        Date.now = realNow;
      }
    });

    test('errors are problem details: unknown route, malformed JSON, wrong media type', async () => {
      assertProblem(await api('GET', '/nothing-here'), 404);
      const res = await fetch(`${s.url}/admin/v1/resources`, { method: 'POST', headers: { authorization: `Bearer ${writer}`, 'content-type': 'application/json' }, body: '{"identifier":' });
      assert.equal(res.status, 400);
      assert.match(res.headers.get('content-type') ?? '', /^application\/problem\+json/);
      const form = await fetch(`${s.url}/admin/v1/resources`, { method: 'POST', headers: { authorization: `Bearer ${writer}`, 'content-type': 'application/x-www-form-urlencoded' }, body: 'a=b' });
      assert.equal(form.status, 415);
    });

    test('the OpenAPI document lists exactly the registered routes', async () => {
      const res = await api('GET', '/openapi.json', { token: null });
      assert.equal(res.status, 200);
      const doc = res.body!;
      assert.equal(doc.openapi, '3.1.0');
      const documented = Object.entries(doc.paths as Record<string, Record<string, unknown>>)
        .flatMap(([path, item]) => Object.keys(item).map((method) => `${method.toUpperCase()} ${path}`))
        .sort();
      const routes = registeredAdminRoutes(s.server.app).map((r) => `${r.method} ${r.path}`).sort();
      assert.ok(routes.length > 10, routes.join('\n'));
      assert.deepEqual(documented, routes);
      // Every $ref points at a schema the document has.
      for (const [, name] of res.text.matchAll(/"#\/components\/schemas\/([A-Za-z]+)"/g)) assert.ok(doc.components.schemas[name!], name);
    });
  });
}
