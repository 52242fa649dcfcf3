import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { request, type IncomingHttpHeaders } from 'node:http';
import { after, before, describe, test } from 'node:test';
import WebSocket, { WebSocketServer } from 'ws';
import { baseConfig, startGateway, startUpstream, type RunningGateway, type Upstream } from './helpers.ts';
import { API, type Latchkey, startLatchkey } from '@latchkey/testing';

/**
 * Bodies stream through the gateway in both directions (nothing is buffered whole), and WebSocket
 * upgrades pass through after the same checks as any request.
 */
describe('streaming and WebSocket', () => {
  let latchkey: Latchkey;
  let files: Upstream;
  let sockets: Upstream;
  let wss: WebSocketServer;
  /** Headers of the upgrade requests the WebSocket upstream accepted. */
  const upgrades: IncomingHttpHeaders[] = [];
  let gw: RunningGateway;
  let token: string;

  /** Resolved by the upload handler when the first bytes arrive; released by the test for downloads. */
  let firstBytesArrived: () => void;
  let firstBytes: Promise<void>;
  let releaseDownload: () => void;

  before(async () => {
    latchkey = await startLatchkey();
    files = await startUpstream((req, res) => {
      if (req.url === '/files/download') {
        res.writeHead(200, { 'content-type': 'application/octet-stream' });
        res.write('first chunk;');
        // The rest only once the client has seen the first chunk: a buffering proxy would hang here.
        new Promise<void>((resolve) => (releaseDownload = resolve)).then(() => res.end('second chunk'));
        return;
      }
      const hash = createHash('sha256');
      let length = 0;
      req.on('data', (chunk: Buffer) => {
        if (length === 0) firstBytesArrived();
        hash.update(chunk);
        length += chunk.length;
      });
      req.on('end', () => res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ length, sha256: hash.digest('hex') })));
    });
    sockets = await startUpstream((_req, res) => res.writeHead(404).end());
    wss = new WebSocketServer({ server: sockets.server });
    wss.on('connection', (ws, req) => {
      upgrades.push(req.headers);
      ws.on('message', (data, binary) => ws.send(binary ? data : `echo: ${String(data)}`));
    });
    gw = await startGateway(
      baseConfig(latchkey, [
        { prefix: '/files', upstream: files.url, audience: API, methods: { GET: ['orders:read'], PUT: ['orders:read'] } },
        { prefix: '/ws', upstream: sockets.url, audience: API, methods: { GET: ['orders:read'] } },
      ]),
    );
    token = await latchkey.token(latchkey.reader, 'orders:read');
  });
  after(async () => {
    await gw?.close();
    wss?.close();
    await Promise.all([files?.close(), sockets?.close()]);
    await latchkey?.close();
  });

  test('a streamed upload: the upstream gets the first bytes before the client has sent the rest', async () => {
    firstBytes = new Promise((resolve) => (firstBytesArrived = resolve));
    const rest = randomBytes(4 * 1024 * 1024);
    const first = Buffer.from('first bytes;');
    const req = request(`${gw.url}/files/upload`, { method: 'PUT', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/octet-stream' } });
    const response = once(req, 'response');
    req.write(first); // chunked: no Content-Length
    await firstBytes;
    req.end(rest);
    const [res] = (await response) as [import('node:http').IncomingMessage];
    const chunks: Buffer[] = [];
    for await (const chunk of res) chunks.push(chunk as Buffer);
    assert.equal(res.statusCode, 200);
    const body = JSON.parse(Buffer.concat(chunks).toString()) as { length: number; sha256: string };
    assert.equal(body.length, first.length + rest.length);
    assert.equal(body.sha256, createHash('sha256').update(first).update(rest).digest('hex'));
  });

  test('a streamed download: the client reads the first chunk while the upstream is still sending', async () => {
    const res = await fetch(`${gw.url}/files/download`, { headers: { authorization: `Bearer ${token}` } });
    assert.equal(res.status, 200);
    const reader = res.body!.getReader();
    const { value } = await reader.read();
    assert.equal(Buffer.from(value!).toString(), 'first chunk;');
    releaseDownload();
    let rest = '';
    for (let r = await reader.read(); !r.done; r = await reader.read()) rest += Buffer.from(r.value).toString();
    assert.equal(rest, 'second chunk');
  });

  test('a WebSocket echo through the gateway, with the verified identity and no forged one', async () => {
    const ws = new WebSocket(`${gw.url.replace('http:', 'ws:')}/ws/echo`, {
      headers: { authorization: `Bearer ${token}`, 'X-Auth-Subject': 'admin', 'X-Forwarded-For': '203.0.113.9' },
    });
    await once(ws, 'open');
    ws.send('hello');
    const [text] = await once(ws, 'message');
    assert.equal(String(text), 'echo: hello');
    const binary = randomBytes(64 * 1024);
    ws.send(binary);
    const [echoed] = await once(ws, 'message');
    assert.ok(Buffer.from(echoed as Buffer).equals(binary));
    ws.close();
    await once(ws, 'close');
    const seen = upgrades.at(-1)!;
    assert.equal(seen['x-auth-subject'], latchkey.reader[0]);
    assert.equal(seen['x-forwarded-for'], '127.0.0.1');
    assert.equal(seen.authorization, undefined);
    assert.ok(seen['x-auth-token']);
  });

  test('a WebSocket upgrade without a token is refused with 401 and a Bearer challenge; nothing reaches the upstream', async () => {
    const before = upgrades.length;
    const ws = new WebSocket(`${gw.url.replace('http:', 'ws:')}/ws/echo`);
    ws.on('error', () => {});
    const [, res] = (await once(ws, 'unexpected-response')) as [unknown, import('node:http').IncomingMessage];
    assert.equal(res.statusCode, 401);
    assert.equal(res.headers['www-authenticate'], 'Bearer realm="gateway", DPoP realm="gateway", algs="ES256 ES384 PS256 RS256 EdDSA"');
    res.resume();
    ws.terminate();
    assert.equal(upgrades.length, before);
  });
});
