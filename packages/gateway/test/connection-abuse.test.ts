import assert from 'node:assert/strict';
import { connect, type Socket } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { API, dribble, head, type Latchkey, rawExchange, startLatchkey } from '@latchkey/testing';
import { baseConfig, get, startGateway, startUpstream, type RunningGateway, type Upstream } from './helpers.ts';

/**
 * Connection abuse at the gateway (issue 11): idle connections, slow headers, a slow body streaming to
 * an upstream, oversized headers: refused or closed within `headersTimeoutSeconds` and
 * `requestTimeoutSeconds`, in the JSON shape of the gateway's other refusals, while normal requests
 * keep being served.
 */
describe('connection abuse at the gateway', () => {
  const HEADERS_S = 2;
  const REQUEST_S = 3;
  const CHECK_MS = 1000;
  const SLACK_MS = 700;
  let latchkey: Latchkey;
  let upstream: Upstream;
  let gw: RunningGateway;
  let port: number;
  let token: string;

  before(async () => {
    latchkey = await startLatchkey();
    upstream = await startUpstream();
    gw = await startGateway(
      baseConfig(
        latchkey,
        [{ name: 'orders', prefix: '/orders', upstream: upstream.url, audience: API, forward: { mode: 'passthrough' }, methods: { GET: ['orders:read'], POST: ['orders:read'] } }],
        { headersTimeoutSeconds: HEADERS_S, requestTimeoutSeconds: REQUEST_S, keepAliveTimeoutSeconds: 2 },
      ),
    );
    port = Number(new URL(gw.url).port);
    token = await latchkey.token(latchkey.reader, 'orders:read');
  });
  after(async () => {
    await gw?.close();
    await upstream?.close();
    await latchkey?.close();
  });

  const served = async () => {
    const res = await get(`${gw.url}/orders`, token);
    assert.equal(res.status, 200);
  };
  const assertJsonError = (outcome: { status: number | undefined; body: any; response: string }, status: number) => {
    assert.equal(outcome.status, status, outcome.response.slice(0, 300));
    assert.equal(outcome.body?.error, 'invalid_request', outcome.response.slice(0, 300));
    assert.match(outcome.response, /\r\nconnection: close\r\n/i);
  };

  test('idle connections are closed within the header timeout while normal requests are served', async () => {
    const sockets: Socket[] = [];
    let closed = 0;
    await Promise.all(
      Array.from({ length: 100 }, () =>
        new Promise<void>((resolve) => {
          const socket = connect(port, '127.0.0.1', () => resolve());
          socket.on('error', () => {});
          socket.on('close', () => closed++);
          sockets.push(socket);
        }),
      ),
    );
    await served();
    const deadline = Date.now() + HEADERS_S * 1000 + CHECK_MS + SLACK_MS + 1000;
    while (closed < sockets.length && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    for (const socket of sockets) socket.destroy();
    assert.equal(closed, sockets.length, `${sockets.length - closed} idle connections still open`);
  });

  test('slow headers: 408 invalid_request, closed within the header timeout', async () => {
    const outcome = await rawExchange(port, dribble(head('GET', '/orders', { Host: '127.0.0.1', Authorization: `Bearer ${token}` })), 200);
    assertJsonError(outcome, 408);
    assert.ok(outcome.closedAfterMs <= HEADERS_S * 1000 + CHECK_MS + SLACK_MS, `closed after ${outcome.closedAfterMs} ms`);
    await served();
  });

  test('a slow body streaming to the upstream: 408 or closed within the request timeout', async () => {
    const body = 'x'.repeat(40);
    const outcome = await rawExchange(
      port,
      [head('POST', '/orders', { Host: '127.0.0.1', Authorization: `Bearer ${token}`, 'Content-Length': String(body.length) }), ...dribble(body)],
      300,
    );
    assert.ok(outcome.closedAfterMs <= REQUEST_S * 1000 + CHECK_MS + SLACK_MS, `closed after ${outcome.closedAfterMs} ms`);
    assert.ok(outcome.closedAfterMs >= REQUEST_S * 1000 - 100, `not before the limit (${outcome.closedAfterMs} ms)`);
    // Node answers 408 when it can; once the upstream's answer has begun, it can only close.
    if (outcome.status !== undefined && outcome.status !== 200) assertJsonError(outcome, 408);
    await served();
  });

  test('oversized headers: 431 invalid_request in the JSON shape', async () => {
    const outcome = await rawExchange(port, [head('GET', '/orders', { Host: '127.0.0.1', 'X-Big': 'a'.repeat(20_000) })], 0, 5000);
    assertJsonError(outcome, 431);
    await served();
  });

  // RFC 9112 §6.3: a transfer coding other than chunked last is answered 400 and the connection closed;
  // Node may report it after the request was answered, and then no second answer may follow.
  test('a body framed by a transfer coding other than chunked: exactly one answer, then closed', async () => {
    for (const method of ['HEAD', 'GET', 'POST']) {
      const request = head(method, '/orders', { Host: '127.0.0.1', Connection: 'close', Authorization: `Bearer ${token}`, 'Transfer-Encoding': 'gzip' });
      const outcome = await rawExchange(port, [request], 0, 5000);
      const label = `${method}: ${JSON.stringify(outcome.response.slice(0, 400))}`;
      assert.equal(outcome.response.match(/HTTP\/1\.1 \d{3} /g)?.length, 1, label);
      assert.ok(Number.isFinite(outcome.closedAfterMs), label);
    }
    await served();
  });
});
