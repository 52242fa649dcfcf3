/**
 * Fuzz suite of the gateway (issue 11): generated requests over real HTTP to a gateway in front of a
 * real Latchkey server and an upstream that echoes what it receives, on every route kind (claims,
 * exchange, introspection, passthrough) and the gateway's own endpoints: odd paths (dot segments,
 * encoded slashes, ; parameters, bad escapes), every kind of Authorization header (valid tokens,
 * forged JWTs, other schemes, malformed Bearer), forged identity and forwarding headers.
 * Properties: no 5xx (the issuer and the upstream are up); every refusal in the RFC 6749 §5.2 JSON
 * shape with the RFC 6750 challenge (WWW-Authenticate: Bearer on 401 and 403, and on a 400 about the
 * token), Allow on 405, Retry-After on 429, no internal detail; and what reaches the upstream never
 * carries the identity or forwarding headers the client forged, nor (except passthrough) its token.
 *
 *   LATCHKEY_FUZZ_SEED=123 npm test -- packages/gateway/test/fuzz.test.ts
 *   LATCHKEY_FUZZ_SEED=123 LATCHKEY_FUZZ_PATH='17:2' node --conditions=@latchkey/source --import tsx --test packages/gateway/test/fuzz.test.ts
 */
import assert from 'node:assert/strict';
import { Agent, request } from 'node:http';
import { after, before, describe, test } from 'node:test';
import fc from 'fast-check';
import { forge, type ForgeContext } from '../../server/test/fuzz/forge.ts';
import { ignored } from '../../server/test/fuzz/oracle.ts';
import { announceSeed, fuzz, RequestCounter, runs } from '../../server/test/fuzz/fuzz-run.ts';
import { authorizationHeader, headerName, hostile, hostileText, jwtForgery, type Hostile, type JwtForgery } from '../../server/test/fuzz/hostile.ts';
import { asHeaderName, asHeaderValue, formEncode } from '../../server/test/fuzz/http-model.ts';
import { generateSigningKey } from '../../server/test/fuzz/jwt.ts';
import { parseTarget } from '../src/lib/path.ts';
import { baseConfig, startGateway, startUpstream, type RunningGateway, type Upstream } from './helpers.ts';
import { API, INVENTORY, type Latchkey, startLatchkey } from '@latchkey/testing';

const SHARE = 4_000;

/** Route prefixes, the gateway's own paths, and paths no route has. */
const PREFIXES = ['/orders', '/orders', '/orders', '/inventory', '/inventory', '/audited', '/audited', '/legacy', '/healthz', '/metrics', '/.well-known/jwks.json', '/nowhere', '/', '/ORDERS', '/orders.json', '/ordersx'];

/** Path segments that upstreams and gateways have read differently. */
const SEGMENTS = ['', 'x', '42', 'items', '.', '..', '%2e', '%2e%2e', '.%2e', '%2F', '%2f', '%5C', '%00', '%0a', '%7f', '%41', '%7e', '%', '%zz', '%2', '%C3%A9', '%FF', ';x', 'a;b', '%3B', '*', '~', '@', ':', '%252e%252e', 'admin'];

type TokenChoice =
  | { none: true }
  | { valid: 'reader' | 'writer' | 'stocker' | 'user' | 'stranger' | 'limited'; scheme: string }
  | { forged: JwtForgery; from: 'reader' | 'user' | 'stranger'; scheme: string }
  | { header: Hostile };

interface GatewaySpec {
  method: string;
  prefix: string;
  segments: string[];
  query: string | undefined;
  token: TokenChoice;
  /** Identity and forwarding headers the client forges, and others. */
  headers: [string, Hostile][];
  forgeIdentity: boolean;
  body: string | undefined;
}

const scheme = fc.constantFrom('Bearer ', 'Bearer ', 'Bearer ', 'bearer ', 'BEARER ', 'Bearer  ', 'Basic ', 'DPoP ');
const tokenChoice: fc.Arbitrary<TokenChoice> = fc.oneof(
  { weight: 1, arbitrary: fc.constant({ none: true as const }) },
  { weight: 5, arbitrary: fc.record({ valid: fc.constantFrom('reader', 'writer', 'stocker', 'user', 'stranger', 'limited') as fc.Arbitrary<'reader'>, scheme }) },
  { weight: 4, arbitrary: fc.record({ forged: jwtForgery, from: fc.constantFrom('reader', 'user', 'stranger') as fc.Arbitrary<'reader'>, scheme }) },
  { weight: 2, arbitrary: fc.record({ header: authorizationHeader }) },
);

const gatewaySpec: fc.Arbitrary<GatewaySpec> = fc.record({
  method: fc.constantFrom('GET', 'GET', 'GET', 'GET', 'GET', 'POST', 'POST', 'PUT', 'DELETE', 'PATCH', 'HEAD', 'OPTIONS'),
  prefix: fc.constantFrom(...PREFIXES),
  segments: fc.oneof(
    { weight: 2, arbitrary: fc.array(fc.constantFrom('x', '42', 'items', '~', '%41', '%C3%A9', '*'), { maxLength: 3 }) },
    { weight: 1, arbitrary: fc.array(fc.oneof({ weight: 4, arbitrary: fc.constantFrom(...SEGMENTS) }, { weight: 1, arbitrary: hostileText.map((t) => formEncode(t).slice(0, 40)) }), { maxLength: 4 }) },
  ),
  query: fc.option(fc.oneof(hostileText.map((t) => formEncode(t).slice(0, 200)), fc.constantFrom('a=1&a=2', 'access_token=x', '%zz', '?', '&&', 'x=%00')), { nil: undefined }),
  token: tokenChoice,
  headers: fc.array(fc.tuple(headerName, hostile), { maxLength: 3 }),
  forgeIdentity: fc.boolean(),
  body: fc.option(fc.string({ maxLength: 200 }), { nil: undefined }),
});

/** Values the client forges: none of them may reach the upstream. */
const FORGED_IDENTITY: [string, string][] = [
  ['x-auth-subject', 'forged-admin'],
  ['x-auth-client-id', 'forged-client'],
  ['x-auth-scopes', 'forged:everything'],
  ['x-auth-token', 'forged.token.value'],
  ['X-Auth-Subject', 'forged-admin-2'],
  ['x-forwarded-for', '203.0.113.66'],
  ['x-forwarded-host', 'forged.example'],
  ['forwarded', 'for=203.0.113.67;host=forged.example'],
];

interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

const ERRORS = new Map<string, number[]>([
  ['invalid_request', [400, 408, 413, 431]],
  ['invalid_token', [401]],
  ['invalid_dpop_proof', [401]],
  ['insufficient_scope', [403]],
  ['not_found', [404]],
  ['method_not_allowed', [405]],
  ['too_many_requests', [429]],
]);
const DESCRIPTION = /^[\x20-\x21\x23-\x5B\x5D-\x7E]*$/;
// RFC 9449 §7.1: the routes take DPoP too, so the Bearer challenge is followed by a DPoP one.
const CHALLENGE = /^Bearer realm="[\x20-\x21\x23-\x5B\x5D-\x7E]*"(?:, [a-z_]+="[\x20-\x21\x23-\x5B\x5D-\x7E]*")*, DPoP realm="[\x20-\x21\x23-\x5B\x5D-\x7E]*"(?:, [a-z_]+="[\x20-\x21\x23-\x5B\x5D-\x7E]*")*$/;
const INTERNALS = /\bat (?:async )?[\w$.<>]+ \(|node_modules|\/src\/[\w/-]+\.ts|TypeError|ReferenceError|RangeError|ECONNREFUSED|ERR_[A-Z_]{6,}/;

describe('fuzz: the gateway answers generated requests with no 5xx, RFC 6750 errors, and never forwards forged identity headers', () => {
  let latchkey: Latchkey;
  let upstream: Upstream;
  let gw: RunningGateway;
  let agent: Agent;
  const tokens = new Map<string, string>();
  const counter = new RequestCounter();
  const statuses = new RequestCounter();
  let forging: ForgeContext;

  before(async () => {
    announceSeed('gateway');
    latchkey = await startLatchkey();
    upstream = await startUpstream();
    const limited = await latchkey.running.registry.createClient({ name: 'limited', type: 'confidential', grantTypes: ['client_credentials'], scopes: ['orders:read'] });
    gw = await startGateway(
      baseConfig(
        latchkey,
        [
          { name: 'orders', prefix: '/orders', upstream: `${upstream.url}/v1`, audience: API, methods: { GET: ['orders:read'], POST: ['orders:write'] }, stripPrefix: true, forward: { mode: 'claims', audience: 'https://orders.internal' } },
          { name: 'inventory', prefix: '/inventory', upstream: upstream.url, audience: API, methods: { GET: ['inventory:read'] }, forward: { mode: 'exchange', audience: INVENTORY, scopes: ['inventory:read'] } },
          { name: 'audited', prefix: '/audited', upstream: upstream.url, audience: API, validation: 'introspection', methods: { GET: ['orders:read'], POST: ['orders:write'] } },
          { name: 'legacy', prefix: '/legacy', upstream: upstream.url, audience: API, methods: { GET: ['orders:read'] }, forward: { mode: 'passthrough' } },
        ],
        { rateLimit: { requestsPerSecond: 1000, burst: 1000, clients: { [limited.client.clientId]: { requestsPerSecond: 1, burst: 2 } } } },
      ),
    );
    agent = new Agent({ keepAlive: true, maxSockets: 1 });
    tokens.set('reader', await latchkey.token(latchkey.reader, 'orders:read'));
    tokens.set('writer', await latchkey.token(latchkey.writer, 'orders:read orders:write'));
    tokens.set('stocker', await latchkey.token(latchkey.stocker, 'orders:read inventory:read'));
    tokens.set('stranger', await latchkey.token(latchkey.stranger, 'other:read'));
    tokens.set('limited', await latchkey.token([limited.client.clientId, limited.clientSecret!], 'orders:read'));
    tokens.set('user', await latchkey.userToken());
    const jwks = (await (await fetch(`${latchkey.issuer}/jwks`)).json()) as { keys: Record<string, unknown>[] };
    forging = { issuerJwks: async () => jwks, rogue: generateSigningKey('ES256', 'rogue-key'), otherClientId: latchkey.stranger[0] };
  });

  after(async () => {
    agent?.destroy();
    await gw?.close();
    await upstream?.close();
    await latchkey?.close();
  });

  async function authorization(choice: TokenChoice): Promise<string | undefined> {
    if ('none' in choice) return undefined;
    if ('valid' in choice) return `${choice.scheme}${tokens.get(choice.valid)!}`;
    if ('forged' in choice) return `${choice.scheme}${await forge(forging, tokens.get(choice.from)!, choice.forged)}`;
    const h = choice.header;
    if ('text' in h) return h.text;
    if ('raw' in h) return h.raw;
    if ('repeat' in h) return h.repeat.repeat(Math.min(h.times, 8000));
    return `Bearer ${await forge(forging, tokens.get('reader')!, h.jwt)}`;
  }

  function hostileHeader(value: Hostile): string {
    if ('text' in value) return value.text;
    if ('raw' in value) return value.raw;
    if ('repeat' in value) return value.repeat.repeat(Math.min(value.times, 4000));
    return 'eyJhbGciOiJub25lIn0.e30.';
  }

  function send(method: string, path: string, headers: [string, string][], body: string | undefined): Promise<Answer> {
    return new Promise((resolve, reject) => {
      const url = new URL(gw.url);
      // Repeated headers as arrays (sent as repeated lines); Node adds Host.
      const object: Record<string, string | string[]> = {};
      for (const [name, value] of headers) {
        const existing = object[name];
        object[name] = existing === undefined ? value : Array.isArray(existing) ? [...existing, value] : [existing, value];
      }
      const req = request({ host: url.hostname, port: url.port, method, path, agent, headers: object });
      req.on('response', (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') }));
        res.on('error', reject);
      });
      req.on('error', reject);
      req.end(body);
    });
  }

  async function check(spec: GatewaySpec): Promise<void> {
    const path = `${spec.prefix}${spec.segments.length ? `/${spec.segments.join('/')}` : ''}${spec.query !== undefined ? `?${spec.query}` : ''}`.replace(/[^\x21-\xff]/g, '');
    const headers: [string, string][] = [];
    const auth = await authorization(spec.token);
    if (auth !== undefined) headers.push(['authorization', asHeaderValue(auth)]);
    for (const [name, value] of spec.headers) {
      const n = asHeaderName(name);
      // Framing headers would only desynchronise this client from the gateway (the raw-socket share covers framing).
      if (['content-length', 'transfer-encoding', 'host', 'connection', 'expect', 'upgrade'].includes(n)) continue;
      headers.push([n, asHeaderValue(hostileHeader(value))]);
    }
    if (spec.forgeIdentity) headers.push(...FORGED_IDENTITY);
    const body = spec.method === 'GET' || spec.method === 'HEAD' ? undefined : spec.body;
    // Node's client frames a DELETE or OPTIONS body only with an explicit length.
    if (body !== undefined) headers.push(['content-length', String(Buffer.byteLength(body))]);
    let answer: Answer;
    let problems: string[];
    try {
      answer = await send(spec.method, path, headers, body);
      problems = judge(spec, path, answer, auth);
    } catch (err) {
      const message = (err as Error).message;
      // A body after the head of an answer to HEAD is what Node's client reports this way.
      if (spec.method !== 'HEAD' || !/Parse Error/.test(message)) throw err;
      answer = { status: 0, headers: {}, body: '(unreadable)' };
      problems = [`an answer to HEAD that carries a body (RFC 9110 §9.3.2: none allowed): Node's HTTP client fails with "${message}"`];
    }
    counter.add(`gateway ${spec.prefix}`);
    statuses.add(String(answer.status));
    problems = problems.filter((p) => !ignored(p));
    if (problems.length > 0) {
      throw new Error(
        `${problems.map((p) => `- ${p}`).join('\n')}\n\nrequest:\n  ${spec.method} ${path}\n${headers.map(([n, v]) => `  ${n}: ${JSON.stringify(v.slice(0, 300))}`).join('\n')}` +
          `\n\nanswer:\n  ${answer.status} ${JSON.stringify(answer.headers)}\n  ${answer.body.slice(0, 800)}`,
      );
    }
  }

  function judge(spec: GatewaySpec, path: string, answer: Answer, auth: string | undefined): string[] {
    const problems: string[] = [];
    const head = spec.method === 'HEAD';
    const challenge = String(answer.headers['www-authenticate'] ?? '');
    const type = String(answer.headers['content-type'] ?? '');
    if (answer.status >= 500) problems.push(`status ${answer.status}`);
    const leak = INTERNALS.exec(answer.body);
    if (leak && !answer.body.startsWith('{"method"')) problems.push(`internal detail in the body: ${JSON.stringify(leak[0])}`);

    // The upstream's echo: what it received.
    if (answer.status === 200 && answer.body.startsWith('{"method"')) {
      const received = JSON.parse(answer.body) as { headers: Record<string, string> };
      for (const [name, value] of FORGED_IDENTITY) {
        const got = received.headers[name.toLowerCase()];
        if (spec.forgeIdentity && got !== undefined && got.includes(value)) problems.push(`the upstream received the forged ${name}: ${got}`);
      }
      const token = auth?.replace(/^\S+\s+/, '');
      if (!spec.prefix.startsWith('/legacy') && token && received.headers.authorization?.includes(token)) problems.push("the caller's token reached the upstream (not a passthrough route)");
      return problems;
    }
    if (answer.status < 400) return problems;

    let error: string | undefined;
    if (head || answer.body === '') {
      if (answer.status !== 401 && answer.status !== 405 && !head) problems.push(`a ${answer.status} without a body`);
    } else {
      if (!type.startsWith('application/json')) problems.push(`an error that is not JSON (${type})`);
      let body: Record<string, unknown> | undefined;
      try {
        body = JSON.parse(answer.body) as Record<string, unknown>;
      } catch {
        problems.push('an error body that is not JSON');
      }
      if (body) {
        error = typeof body.error === 'string' ? body.error : undefined;
        const extra = Object.keys(body).filter((k) => k !== 'error' && k !== 'error_description');
        if (extra.length) problems.push(`an error body with other members: ${extra.join(', ')}`);
        if (!error || !ERRORS.has(error)) problems.push(`an error code the gateway does not document: ${String(body.error)}`);
        else if (!ERRORS.get(error)!.includes(answer.status)) problems.push(`error ${error} with status ${answer.status}`);
        if (body.error_description !== undefined && (typeof body.error_description !== 'string' || !DESCRIPTION.test(body.error_description))) {
          problems.push(`an error_description with characters RFC 6749 §5.2 forbids: ${JSON.stringify(body.error_description)}`);
        }
      }
    }
    // Node's parser answered before the gateway saw a request (no Date header): nothing more to judge.
    if (answer.headers.date === undefined) return problems;
    const targetOk = !('error' in parseTarget(path));
    const onRoute = targetOk && ['/orders', '/inventory', '/audited', '/legacy'].some((p) => path === p || path.startsWith(`${p}/`) || path.startsWith(`${p}?`));
    if (answer.status === 401 || answer.status === 403 || (answer.status === 400 && onRoute)) {
      // RFC 6750 §3: a refusal about the token carries the Bearer challenge, naming the error.
      if (!CHALLENGE.test(challenge)) problems.push(`a ${answer.status} without well-formed WWW-Authenticate Bearer and DPoP challenges: ${challenge}`);
      if (error !== undefined && !challenge.includes(`error="${error}"`)) problems.push(`a challenge that does not name the error ${error}: ${challenge}`);
      if (answer.status === 401 && !head && answer.body === '' && /error=/.test(challenge)) problems.push('a 401 with an error in the challenge but no body');
    }
    if (answer.status === 405 && !answer.headers.allow) problems.push('a 405 without Allow');
    if (answer.status === 429 && !answer.headers['retry-after']) problems.push('a 429 without Retry-After');
    if (answer.headers['cache-control'] !== 'no-store' && answer.status !== 405) problems.push('an error without Cache-Control: no-store');
    return problems;
  }

  test('routes of every mode and the own endpoints: odd paths, every Authorization, forged identity headers', async (t) => {
    await fuzz(t.name, gatewaySpec, runs(SHARE), check);
  });

  test('the run sent its share of requests, and the gateway logged no unexpected error', () => {
    console.log(`# fuzz (gateway): ${counter.total} requests\n# ${counter.report().replace(/\n/g, '\n# ')}`);
    console.log(`# answers: ${statuses.report().replace(/\n/g, ', ')}`);
    assert.ok(counter.total >= runs(SHARE), `only ${counter.total} requests were sent`);
    const errors = gw.logs().filter((l) => Number(l.level) >= 50);
    assert.deepEqual(errors.slice(0, 3), [], 'the gateway logged errors');
  });
});
