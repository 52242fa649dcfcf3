import { request as httpRequest, STATUS_CODES, type IncomingMessage, type ServerResponse } from 'node:http';
import { request as httpsRequest } from 'node:https';
import type { Socket } from 'node:net';
import { EventEmitter } from 'node:events';
import type { Duplex, Readable } from 'node:stream';
import { errors, type Agent } from 'undici';
import { downstreamHeaders } from './headers.ts';

/** Where and how a request goes upstream. */
export interface ProxyTarget {
  /** `http://host:port` */
  origin: string;
  /** Path and query. */
  path: string;
  /** Flat name/value list (see upstreamHeaders). */
  headers: string[];
  /** Time limit for the upstream's response headers. */
  timeoutMs: number;
}

export interface ProxyResult {
  status: number;
  outcome: 'forwarded' | 'upstream_error';
  /** Time to the upstream's response headers; undefined when there was no response. */
  upstreamSeconds: number | undefined;
  error?: unknown;
}

/**
 * Sends the request upstream through undici and streams both bodies: the request body goes out as the
 * client sends it and the response comes back as the upstream sends it, neither held in memory.
 * Redirects are passed back, never followed. A client that goes away aborts the upstream request.
 */
export async function proxyHttp(agent: Agent, req: IncomingMessage, res: ServerResponse, target: ProxyTarget): Promise<ProxyResult> {
  // undici takes an EventEmitter as the signal: lighter than an AbortController on every request.
  const abort = new EventEmitter();
  res.once('close', () => {
    if (!res.writableFinished) abort.emit('abort');
  });
  // RFC 9112 §6.3: a request has a body when it says so with Transfer-Encoding or a non-zero Content-Length.
  const hasBody = req.headers['transfer-encoding'] !== undefined || (req.headers['content-length'] ?? '0') !== '0';
  const started = performance.now();
  let upstream: Awaited<ReturnType<Agent['request']>>;
  try {
    upstream = await agent.request({
      origin: target.origin,
      path: target.path,
      method: req.method!,
      headers: target.headers,
      body: hasBody ? req : null,
      signal: abort,
      headersTimeout: target.timeoutMs,
    });
  } catch (error) {
    const timeout = error instanceof errors.HeadersTimeoutError || error instanceof errors.ConnectTimeoutError;
    const status = timeout ? 504 : 502;
    if (!res.headersSent && !res.destroyed) {
      const body = JSON.stringify({
        error: timeout ? 'gateway_timeout' : 'bad_gateway',
        error_description: timeout ? 'the upstream did not answer in time' : 'the upstream could not be reached',
      });
      res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store' }).end(body);
    }
    return { status, outcome: 'upstream_error', upstreamSeconds: undefined, error };
  }
  const upstreamSeconds = (performance.now() - started) / 1000;
  res.writeHead(upstream.statusCode, downstreamHeaders(upstream.headers));
  const streamed = await relay(upstream.body, res);
  return { status: upstream.statusCode, outcome: 'forwarded', upstreamSeconds, ...(streamed ? { error: streamed } : {}) };
}

/**
 * Streams the upstream's body to the client, with backpressure (pipe). Resolves when the response is
 * finished, or with the error that cut it short: the upstream failing mid-body ends the client's
 * connection (it must not see a truncated body as complete), the client leaving ends the upstream's.
 */
function relay(body: Readable, res: ServerResponse): Promise<Error | undefined> {
  return new Promise((resolve) => {
    body.once('error', (err) => {
      res.destroy(err);
      resolve(err);
    });
    res.once('close', () => {
      if (res.writableFinished) return resolve(undefined);
      body.destroy();
      resolve(new Error('the client closed the connection before the response was complete'));
    });
    body.pipe(res);
  });
}

/**
 * Forwards a protocol upgrade (WebSocket, RFC 6455 §4) with node:http: when the upstream answers 101,
 * its response goes to the client and the two sockets are joined; any other answer is passed back and
 * the connection closed. Returns when the upgrade is decided (not when the socket closes).
 */
export function proxyUpgrade(
  req: IncomingMessage,
  socket: Duplex,
  head: Buffer,
  target: ProxyTarget,
  track: (socket: Duplex) => void,
): Promise<ProxyResult> {
  return new Promise((resolve) => {
    const url = new URL(target.origin);
    const started = performance.now();
    const headers = [...target.headers, 'connection', 'Upgrade', 'upgrade', String(req.headers.upgrade)];
    const upstreamRequest = (url.protocol === 'https:' ? httpsRequest : httpRequest)({
      protocol: url.protocol,
      hostname: url.hostname.replace(/^\[|\]$/g, ''),
      port: url.port || undefined,
      method: req.method,
      path: target.path,
      headers,
      agent: false,
      timeout: target.timeoutMs,
    });
    const seconds = () => (performance.now() - started) / 1000;
    // The client left before the upstream answered.
    const abandon = () => upstreamRequest.destroy();
    socket.once('close', abandon);
    upstreamRequest.once('upgrade', (response: IncomingMessage, upstreamSocket: Socket, upstreamHead: Buffer) => {
      socket.off('close', abandon);
      upstreamSocket.setTimeout(0);
      track(upstreamSocket);
      socket.write(head101(response));
      if (upstreamHead.length > 0) socket.write(upstreamHead);
      if (head.length > 0) upstreamSocket.write(head);
      const close = () => {
        socket.destroy();
        upstreamSocket.destroy();
      };
      socket.once('error', close).once('close', close);
      upstreamSocket.once('error', close).once('close', close);
      upstreamSocket.pipe(socket).pipe(upstreamSocket);
      resolve({ status: 101, outcome: 'forwarded', upstreamSeconds: seconds() });
    });
    upstreamRequest.once('response', (response: IncomingMessage) => {
      socket.off('close', abandon);
      // The upstream declined the upgrade: its answer goes back, then the connection closes.
      const lines = [`HTTP/1.1 ${response.statusCode} ${STATUS_CODES[response.statusCode!] ?? ''}`];
      for (const [name, value] of Object.entries(downstreamHeaders(response.headers))) {
        for (const v of [value].flat()) lines.push(`${name}: ${v}`);
      }
      lines.push('connection: close');
      socket.write(`${lines.join('\r\n')}\r\n\r\n`);
      response.pipe(socket);
      resolve({ status: response.statusCode!, outcome: 'forwarded', upstreamSeconds: seconds() });
    });
    upstreamRequest.once('timeout', () => upstreamRequest.destroy(new errors.HeadersTimeoutError()));
    upstreamRequest.once('error', (error) => {
      const timeout = error instanceof errors.HeadersTimeoutError;
      const status = timeout ? 504 : 502;
      writeRawResponse(socket, status, { 'content-type': 'application/json; charset=utf-8' }, JSON.stringify({ error: timeout ? 'gateway_timeout' : 'bad_gateway' }));
      resolve({ status, outcome: 'upstream_error', upstreamSeconds: undefined, error });
    });
    upstreamRequest.end();
  });
}

/** The upstream's 101 response, as it goes to the client (its Upgrade and Connection included). */
function head101(response: IncomingMessage): string {
  const lines = ['HTTP/1.1 101 Switching Protocols'];
  for (let i = 0; i < response.rawHeaders.length; i += 2) lines.push(`${response.rawHeaders[i]}: ${response.rawHeaders[i + 1]}`);
  return `${lines.join('\r\n')}\r\n\r\n`;
}

/** An HTTP response written straight to a socket (upgrade requests have no ServerResponse), then closed. */
export function writeRawResponse(socket: Duplex, status: number, headers: Record<string, string>, body: string): void {
  if (!socket.writable) {
    socket.destroy();
    return;
  }
  const lines = [`HTTP/1.1 ${status} ${STATUS_CODES[status] ?? ''}`];
  for (const [name, value] of Object.entries(headers)) {
    if (name !== 'content-length' && name !== 'connection') lines.push(`${name}: ${value}`);
  }
  lines.push(`content-length: ${Buffer.byteLength(body)}`, 'connection: close');
  socket.end(`${lines.join('\r\n')}\r\n\r\n${body}`);
}
