import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import { after, before, describe, test } from 'node:test';
import { randomUUID } from 'node:crypto';
import { exportJWK, generateKeyPair, SignJWT } from 'jose';
import { backends, postForm, seedOrdersApi, sqlite, startServer, type RunningServer, type TestDatabase } from '@latchkey/testing';

/** An OTLP attribute as the JSON encoding carries it (OTLP/HTTP, JSON Protobuf encoding). */
interface OtlpAttribute {
  key: string;
  value: { stringValue?: string; intValue?: number | string; boolValue?: boolean };
}

interface OtlpSpan {
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  name: string;
  attributes: OtlpAttribute[];
  /** The `service.name` of the resource the span came with. */
  service: string;
}

/** An in-process OTLP collector: accepts OTLP/HTTP JSON at /v1/traces and keeps every span. */
async function startCollector(): Promise<{ url: string; spans: OtlpSpan[]; posts: () => number; close(): Promise<void> }> {
  const spans: OtlpSpan[] = [];
  let posts = 0;
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      if (req.method !== 'POST' || req.url !== '/v1/traces' || !String(req.headers['content-type']).startsWith('application/json')) {
        res.writeHead(404).end();
        return;
      }
      posts++;
      const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as {
        resourceSpans: { resource: { attributes: OtlpAttribute[] }; scopeSpans: { spans: Omit<OtlpSpan, 'service'>[] }[] }[];
      };
      for (const resourceSpans of body.resourceSpans) {
        const service = resourceSpans.resource.attributes.find((a) => a.key === 'service.name')?.value.stringValue ?? '';
        for (const scope of resourceSpans.scopeSpans) for (const span of scope.spans) spans.push({ ...span, attributes: span.attributes ?? [], service });
      }
      res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  return {
    url: `http://127.0.0.1:${port}`,
    spans,
    posts: () => posts,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

function attribute(span: OtlpSpan, key: string): string | number | boolean | undefined {
  const value = span.attributes.find((a) => a.key === key)?.value;
  if (value === undefined) return undefined;
  if (value.intValue !== undefined) return Number(value.intValue);
  return value.stringValue ?? value.boolValue;
}

/**
 * OpenTelemetry traces (README "Metrics and traces"): with LATCHKEY_OTLP_ENDPOINT, a span per request
 * named by method and route, with the client and the outcome, and a child span per database
 * statement; exported on close. Without it, nothing, even beside a traced server in the same process.
 */
for (const backend of await backends()) {
  describe(`traces over OTLP (${backend.name})`, { skip: backend.skip }, () => {
    let collector: Awaited<ReturnType<typeof startCollector>>;
    let tracedDb: TestDatabase;
    let plainDb: TestDatabase;
    let traced: RunningServer;
    let plain: RunningServer;

    before(async () => {
      collector = await startCollector();
      tracedDb = await backend.create();
      plainDb = await backend.create();
      traced = await startServer(tracedDb, { otlpEndpoint: collector.url, otlpServiceName: 'latchkey-traced' });
      plain = await startServer(plainDb);
    });
    after(async () => {
      await traced?.close();
      await plain?.close();
      await collector?.close();
      await tracedDb?.drop();
      await plainDb?.drop();
    });

    test('a request span with its client, status and outcome, and child spans for its database statements', async () => {
      const client = await seedOrdersApi(traced);
      const plainClient = await seedOrdersApi(plain);
      const issued = await postForm(`${traced.url}/token`, { grant_type: 'client_credentials' }, { basic: [client.clientId, client.clientSecret] });
      assert.equal(issued.status, 200);
      const refused = await postForm(`${traced.url}/token`, { grant_type: 'client_credentials' }, { basic: [client.clientId, 'not-the-secret'] });
      assert.equal(refused.status, 401);
      // The untraced server, in the same process, at the same time.
      const untraced = await postForm(`${plain.url}/token`, { grant_type: 'client_credentials' }, { basic: [plainClient.clientId, plainClient.clientSecret] });
      assert.equal(untraced.status, 200);
      await plain.close();
      // Closing flushes the batch of spans to the collector.
      await traced.close();

      const requests = collector.spans.filter((s) => s.name === 'POST /token');
      assert.equal(requests.length, 2, collector.spans.map((s) => s.name).join(', '));
      const [ok, failed] = [...requests].sort((a, b) => Number(attribute(a, 'http.response.status_code')) - Number(attribute(b, 'http.response.status_code')));
      assert.equal(ok!.service, 'latchkey-traced');
      assert.equal(attribute(ok!, 'http.request.method'), 'POST');
      assert.equal(attribute(ok!, 'http.route'), '/token');
      assert.equal(attribute(ok!, 'http.response.status_code'), 200);
      assert.equal(attribute(ok!, 'oauth.client_id'), client.clientId);
      assert.equal(attribute(ok!, 'latchkey.outcome'), 'success');
      assert.equal(attribute(failed!, 'http.response.status_code'), 401);
      assert.equal(attribute(failed!, 'latchkey.outcome'), 'invalid_client');

      // The database statements of the token request are its children, in its trace.
      const system = backend.name === 'postgres' ? 'postgresql' : 'sqlite';
      const children = collector.spans.filter((s) => s.parentSpanId === ok!.spanId);
      const statements = children.filter((s) => attribute(s, 'db.system') === system);
      assert.ok(statements.length > 0, `no database span under the request: ${children.map((s) => s.name).join(', ')}`);
      assert.ok(statements.every((s) => s.traceId === ok!.traceId));
      assert.ok(statements.some((s) => attribute(s, 'db.operation') === 'select'));

      // The untraced server exported nothing, and no span carries a secret or a token.
      const exported = JSON.stringify(collector.spans);
      assert.ok(!exported.includes(plainClient.clientId), "the untraced server's request was exported");
      for (const secret of [client.clientSecret, 'not-the-secret', issued.body.access_token as string]) {
        assert.ok(!exported.includes(secret), 'a secret in a span');
      }
      assert.ok(!/\bfrom "|insert into|\bwhere\b/i.test(exported), 'SQL text in a span');
    });
  });
}

describe('traces of outbound fetches', () => {
  test("a client's jwks_uri fetched during a token request is a child span, its URL without the query", async () => {
    const collector = await startCollector();
    const db = await sqlite.create();
    const { publicKey, privateKey } = await generateKeyPair('ES256');
    const jwks = { keys: [{ ...(await exportJWK(publicKey)), kid: 'k1', alg: 'ES256', use: 'sig' }] };
    const keys: Server = createServer((_req, res) => res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(jwks)));
    await new Promise<void>((resolve) => keys.listen(0, '127.0.0.1', resolve));
    const jwksUri = `http://127.0.0.1:${(keys.address() as { port: number }).port}/jwks?key=not-for-traces`;
    try {
      const running = await startServer(db, { otlpEndpoint: collector.url, allowLoopbackJwksUri: true });
      await running.registry.createResource({ identifier: 'https://api.example.com', scopes: ['orders:read'] });
      const { client } = await running.registry.createClient({
        name: 'signer',
        type: 'confidential',
        grantTypes: ['client_credentials'],
        scopes: ['orders:read'],
        tokenEndpointAuthMethod: 'private_key_jwt',
        jwksUri,
      });
      const assertion = await new SignJWT({ jti: randomUUID() })
        .setProtectedHeader({ alg: 'ES256', kid: 'k1' })
        .setIssuer(client.clientId)
        .setSubject(client.clientId)
        .setAudience(running.issuer)
        .setIssuedAt()
        .setExpirationTime('1m')
        .sign(privateKey);
      const res = await postForm(`${running.url}/token`, {
        grant_type: 'client_credentials',
        client_assertion_type: 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer',
        client_assertion: assertion,
      });
      assert.equal(res.status, 200, res.text);
      await running.close();

      const request = collector.spans.find((s) => s.name === 'POST /token');
      assert.ok(request, collector.spans.map((s) => s.name).join(', '));
      const fetchSpan = collector.spans.find((s) => s.parentSpanId === request.spanId && s.name === 'GET');
      assert.ok(fetchSpan, 'no fetch span under the request');
      assert.equal(attribute(fetchSpan, 'url.full'), jwksUri.slice(0, jwksUri.indexOf('?')));
      assert.equal(attribute(fetchSpan, 'server.address'), '127.0.0.1');
      assert.equal(attribute(fetchSpan, 'http.response.status_code'), 200);
      assert.ok(!JSON.stringify(collector.spans).includes('not-for-traces'), 'the query is not exported');
    } finally {
      await new Promise<void>((resolve) => keys.close(() => resolve()));
      await collector.close();
      await db.drop();
    }
  });
});

describe('traces off', () => {
  test('without LATCHKEY_OTLP_ENDPOINT nothing is sent, whatever the requests', async () => {
    const collector = await startCollector();
    const [backend] = await backends();
    const db = await backend!.create();
    // The exporter's own environment variables do not turn tracing on: only Latchkey's setting does.
    process.env.OTEL_EXPORTER_OTLP_ENDPOINT = collector.url;
    try {
      const running = await startServer(db);
      const client = await seedOrdersApi(running);
      const res = await postForm(`${running.url}/token`, { grant_type: 'client_credentials' }, { basic: [client.clientId, client.clientSecret] });
      assert.equal(res.status, 200);
      await running.close();
      assert.equal(running.server.context.tracing, undefined);
      assert.equal(collector.posts(), 0);
    } finally {
      delete process.env.OTEL_EXPORTER_OTLP_ENDPOINT;
      await collector.close();
      await db.drop();
    }
  });
});
