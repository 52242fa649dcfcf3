import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/** A node:http server on a free port of 127.0.0.1. */
export async function listen(handler: (req: IncomingMessage, res: ServerResponse) => unknown): Promise<{ url: string; close(): Promise<void> }> {
  const server: Server = createServer((req, res) => {
    Promise.resolve(handler(req, res)).catch((err: unknown) => {
      if (!res.headersSent) res.writeHead(500, { 'content-type': 'text/plain' });
      res.end(String(err));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

export async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

/** What the flaky proxy does with one request: drop the connection, answer an error, or pass it on. */
export type ProxyStep = 'drop' | '503' | '500-json' | 'pass';

/**
 * A failing network in front of Latchkey: request n gets plan[n] (the last step repeats), and requests
 * that pass are forwarded to the real server and answered with its response.
 */
export async function startFlakyProxy(target: string, plan: ProxyStep[]) {
  const arrivals: number[] = [];
  const server = await listen(async (req, res) => {
    const step = plan[Math.min(arrivals.length, plan.length - 1)]!;
    arrivals.push(Date.now());
    const body = await readBody(req);
    if (step === 'drop') {
      req.socket.destroy();
      return;
    }
    if (step === '503') {
      res.writeHead(503, { 'content-type': 'text/plain' });
      res.end('upstream unavailable');
      return;
    }
    if (step === '500-json') {
      res.writeHead(500, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ error: 'server_error', error_description: 'try again' }));
      return;
    }
    const headers: Record<string, string> = {};
    for (const name of ['content-type', 'authorization', 'accept']) {
      const value = req.headers[name];
      if (typeof value === 'string') headers[name] = value;
    }
    const upstream = await fetch(`${target}${req.url}`, { method: req.method ?? 'GET', headers, ...(body ? { body } : {}) });
    res.writeHead(upstream.status, { 'content-type': upstream.headers.get('content-type') ?? 'application/json' });
    res.end(await upstream.text());
  });
  return { ...server, arrivals };
}
