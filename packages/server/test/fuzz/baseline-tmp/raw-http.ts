import { connect } from 'node:net';
import fc from 'fast-check';
import type { RequestCounter } from './fuzz-run.ts';
import { ignored, judge, type Answer } from './oracle.ts';
import type { FuzzRequest, Param } from './http-model.ts';
import type { World } from './world.ts';

/**
 * Requests that only a real socket can carry: what Node's HTTP parser refuses before any route runs
 * (control characters in headers, bad framing, oversized headers, malformed request lines) and what
 * it merges (duplicate headers). Each goes on its own connection; the answer is judged like any other
 * (oracle.ts): no 5xx, JSON errors in the RFC shape (the server's clientErrorReply), pages in HTML.
 */

export interface RawSpec {
  method: string;
  target: string;
  version: string;
  headers: [string, string][];
  body: string;
  framing: 'content-length' | 'chunked' | 'bad-chunked' | 'both' | 'none' | 'double-length' | 'negative-length';
}

const TARGETS = [
  '/token',
  '/introspect',
  '/revoke',
  '/device_authorization',
  '/userinfo',
  '/authorize?response_type=code&client_id=x',
  '/login',
  '/consent',
  '/device',
  '/device/login',
  '/nowhere',
  'http://127.0.0.1/token',
  '*',
  '/token?client_secret=s',
  '/userinfo?access_token=abc',
  '/token#frag',
  '/to ken',
  '/token\u0000',
  '/t\u00e9',
  '/%',
  `/${'x'.repeat(20_000)}`,
  '',
  '//',
  '/../../etc/passwd',
];

const headerPair = fc.oneof(
  fc.constantFrom<[string, string]>(
    ['Authorization', 'Basic YTpi'],
    ['Authorization', 'Bearer abc'],
    ['Authorization', 'Basic YTpi\u0000'],
    ['Authorization', 'Bearer a\u0007b'],
    ['Content-Type', 'application/x-www-form-urlencoded'],
    ['Content-Type', 'application/json'],
    ['Content-Type', 'application/x-www-form-urlencoded\u0000'],
    ['Cookie', 'latchkey_session=abc'],
    ['Cookie', 'latchkey_session=\u0001'],
    ['X-Forwarded-For', '1.2.3.4, 5.6.7.8'],
    ['Expect', '100-continue'],
    ['Expect', 'something-else'],
    ['Host', 'evil.example'],
    ['Host', ''],
    ['Transfer-Encoding', 'gzip'],
    ['Transfer-Encoding', 'chunked, identity'],
    ['Content-Encoding', 'gzip'],
    ['Bad Header', 'x'],
    ['X-Obs-Fold', 'a\r\n b'],
    ['X-Newline', 'a\nb'],
    [':authority', 'x'],
    ['X-Long', 'x'.repeat(20_000)],
    ['X-Long', 'y'.repeat(70_000)],
  ),
  fc.tuple(fc.string({ minLength: 1, maxLength: 10 }), fc.string({ maxLength: 30 })),
);

export const rawRequest: fc.Arbitrary<RawSpec> = fc.record({
  method: fc.constantFrom('GET', 'POST', 'POST', 'POST', 'HEAD', 'PUT', 'OPTIONS', 'get', 'P OST', 'GE\u0000T', 'CONNECT', 'FOO'),
  target: fc.constantFrom(...TARGETS),
  version: fc.constantFrom('HTTP/1.1', 'HTTP/1.1', 'HTTP/1.1', 'HTTP/1.0', 'HTTP/2.0', 'HTTP/1.x', 'http/1.1', ''),
  headers: fc.array(headerPair, { maxLength: 5 }),
  body: fc.oneof(
    fc.constantFrom('', 'grant_type=client_credentials', 'token=abc', 'a=%FF&b=%00', '{"grant_type":"client_credentials"}', 'x'.repeat(70_000)),
    fc.string({ maxLength: 60 }),
  ),
  framing: fc.constantFrom('content-length', 'content-length', 'chunked', 'bad-chunked', 'both', 'none', 'double-length', 'negative-length'),
});

function serialize(spec: RawSpec): Buffer {
  const body = Buffer.from(spec.body, 'utf8');
  const lines = [`${spec.method} ${spec.target}${spec.version ? ` ${spec.version}` : ''}`, 'Host: 127.0.0.1', 'Connection: close'];
  for (const [name, value] of spec.headers) lines.push(`${name}: ${value}`);
  let payload: Buffer = body;
  switch (spec.framing) {
    case 'content-length':
      lines.push(`Content-Length: ${body.length}`);
      break;
    case 'chunked':
      lines.push('Transfer-Encoding: chunked');
      payload = Buffer.concat([Buffer.from(`${body.length.toString(16)}\r\n`), body, Buffer.from('\r\n0\r\n\r\n')]);
      break;
    case 'bad-chunked':
      lines.push('Transfer-Encoding: chunked');
      payload = Buffer.concat([Buffer.from('zz\r\n'), body, Buffer.from('\r\n0\r\n\r\n')]);
      break;
    case 'both':
      lines.push('Transfer-Encoding: chunked', `Content-Length: ${body.length}`);
      payload = Buffer.concat([Buffer.from(`${body.length.toString(16)}\r\n`), body, Buffer.from('\r\n0\r\n\r\n')]);
      break;
    case 'double-length':
      lines.push(`Content-Length: ${body.length}`, `Content-Length: ${body.length + 1}`);
      break;
    case 'negative-length':
      lines.push('Content-Length: -1');
      break;
    case 'none':
      payload = Buffer.alloc(0);
      break;
  }
  return Buffer.concat([Buffer.from(`${lines.join('\r\n')}\r\n\r\n`, 'latin1'), payload]);
}

/** Sends the bytes on a new connection and reads until the server closes it (or 5 s pass). */
function exchange(url: string, bytes: Buffer): Promise<Buffer> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    const socket = connect({ host: hostname, port: Number(port) }, () => socket.end(bytes));
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error('no answer within 5 s'));
    }, 5000);
    socket.on('data', (c: Buffer) => chunks.push(c));
    socket.on('error', () => {
      // A reset after the answer (the server closes while we still write) is fine.
    });
    socket.on('close', () => {
      clearTimeout(timer);
      resolve(Buffer.concat(chunks));
    });
  });
}

function parseAnswer(bytes: Buffer): Answer | undefined {
  let raw = bytes;
  // Interim answers (100 Continue to an Expect header) come first.
  while (/^HTTP\/1\.[01] 1\d\d /.test(raw.toString('latin1', 0, 16))) {
    const end = raw.indexOf('\r\n\r\n');
    if (end < 0) return undefined;
    raw = raw.subarray(end + 4);
  }
  const text = raw.toString('latin1');
  const end = text.indexOf('\r\n\r\n');
  if (end < 0) return undefined;
  const [statusLine, ...headerLines] = text.slice(0, end).split('\r\n');
  const status = /^HTTP\/1\.[01] (\d{3})/.exec(statusLine ?? '');
  if (!status) return undefined;
  const headers: Record<string, string | string[]> = {};
  for (const line of headerLines) {
    const colon = line.indexOf(':');
    const name = line.slice(0, colon).trim().toLowerCase();
    const value = line.slice(colon + 1).trim();
    const existing = headers[name];
    headers[name] = existing === undefined ? value : Array.isArray(existing) ? [...existing, value] : [existing, value];
  }
  let body = raw.subarray(Buffer.byteLength(text.slice(0, end + 4), 'latin1'));
  if (String(headers['transfer-encoding'] ?? '').includes('chunked')) {
    const parts: Buffer[] = [];
    let rest = body;
    for (;;) {
      const lineEnd = rest.indexOf('\r\n');
      if (lineEnd < 0) break;
      const size = parseInt(rest.subarray(0, lineEnd).toString(), 16);
      if (!(size > 0)) break;
      parts.push(rest.subarray(lineEnd + 2, lineEnd + 2 + size));
      rest = rest.subarray(lineEnd + 2 + size + 2);
    }
    body = Buffer.concat(parts);
  } else if (headers['content-length'] !== undefined) {
    body = body.subarray(0, Number(headers['content-length']));
  }
  return { statusCode: Number(status[1]), headers, body: body.toString('utf8') };
}

/** The raw request as the oracle sees requests: its query and form parameters. */
function asFuzzRequest(spec: RawSpec): FuzzRequest {
  const [path = '', query = ''] = spec.target.split('?');
  const params: Param[] = [];
  for (const [name, value] of new URLSearchParams(query)) params.push({ where: 'query', name, value });
  const isForm = spec.headers.some(([n, v]) => n.toLowerCase() === 'content-type' && v.startsWith('application/x-www-form-urlencoded'));
  if (isForm) for (const [name, value] of new URLSearchParams(spec.body)) params.push({ where: 'form', name, value });
  return { endpoint: 'raw', method: spec.method, path, params, body: spec.body, contentType: null };
}

export async function sendRawRequests(world: World, counter: RequestCounter, spec: RawSpec): Promise<void> {
  const raw = await exchange(world.running.url, serialize(spec));
  counter.add('raw http');
  const printable = JSON.stringify(serialize(spec).toString('latin1').slice(0, 600));
  if (raw.length === 0) return; // closed without an answer: what Node does with some garbage, and no 5xx
  const answer = parseAnswer(raw);
  if (!answer) throw new Error(`an answer that is not HTTP/1.1: ${JSON.stringify(raw.toString('latin1').slice(0, 300))}\nrequest: ${printable}`);
  // Answers before any route: Node's parser's (the server's clientErrorReply, no Date header), and
  // Node's 417 to an Expect header it does not know (RFC 9110 §10.1.1), which has no body.
  const beforeRouting = answer.headers.date === undefined || (answer.statusCode === 417 && answer.body === '');
  const verdict = judge(world, asFuzzRequest(spec), answer, { beforeRouting });
  // RFC 9110 §9.3.2: an answer to HEAD has no content (Node's own client fails on one that has).
  const problems = [...verdict.problems];
  if (spec.method === 'HEAD' && answer.body !== '') problems.push('an answer to HEAD that carries a body (RFC 9110 §9.3.2)');
  const shown = problems.filter((p) => !ignored(p));
  if (shown.length > 0) {
    throw new Error(`${shown.map((p) => `- ${p}`).join('\n')}\nrequest: ${printable}\nanswer: ${JSON.stringify(raw.toString('latin1').slice(0, 800))}`);
  }
}
