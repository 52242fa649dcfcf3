/**
 * The little the demo's node:http services share: reading a JSON body, answering JSON, running the
 * resource-server middleware (its Express entry works on Node's own request and response), listening
 * and closing.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { AccessTokenClaims } from '@latchkey/resource-server';

export type Request = IncomingMessage & { auth?: AccessTokenClaims; body?: unknown };
type Middleware = (req: Request, res: ServerResponse, next: (err?: unknown) => void) => void;

/** What a service reports as it works (the demo prints it: one line per step of a flow). */
export type EventLog = (service: string, message: string) => void;

const MAX_BODY_BYTES = 64 * 1024; // 64 KiB

/** Runs connect-style middlewares in order; resolves to the verified claims, or undefined once one has answered. */
export async function guard(req: Request, res: ServerResponse, ...middlewares: Middleware[]): Promise<AccessTokenClaims | undefined> {
  for (const middleware of middlewares) {
    const passed = await new Promise<boolean>((resolve, reject) => {
      res.once('finish', () => resolve(false));
      middleware(req, res, (err) => (err ? reject(err) : resolve(true)));
    });
    if (!passed || res.writableEnded) return undefined;
  }
  return req.auth;
}

export async function readJson(req: IncomingMessage): Promise<Record<string, unknown>> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > MAX_BODY_BYTES) throw new HttpError(413, 'payload_too_large', 'the body is too large');
    chunks.push(chunk as Buffer);
  }
  try {
    const value: unknown = JSON.parse(Buffer.concat(chunks).toString('utf8') || '{}');
    if (typeof value === 'object' && value !== null && !Array.isArray(value)) return value as Record<string, unknown>;
  } catch {
    // answered below
  }
  throw new HttpError(400, 'invalid_request', 'the body must be a JSON object');
}

export function sendJson(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store' });
  res.end(JSON.stringify(body));
}

/** An answer a handler gives by throwing. */
export class HttpError extends Error {
  readonly status: number;
  readonly error: string;

  constructor(
    status: number,
    error: string,
    description: string,
  ) {
    super(description);
    this.status = status;
    this.error = error;
  }
}

/** The bearer token of a request that passed bearerAuth (which read it from this header). */
export function bearerToken(req: IncomingMessage): string {
  const match = /^bearer +(\S+)$/i.exec(req.headers.authorization ?? '');
  if (!match) throw new Error('no bearer token in the Authorization header');
  return match[1]!;
}

export interface RunningService {
  url: string;
  close(): Promise<void>;
}

/** Serves `handle` on host:port; errors become JSON answers (HttpError) or a bare 500. */
export async function listen(
  name: string,
  host: string,
  port: number,
  handle: (req: Request, res: ServerResponse, path: string) => Promise<void>,
): Promise<RunningService> {
  const server: Server = createServer((req, res) => {
    const path = new URL(req.url ?? '/', 'http://service').pathname;
    handle(req, res, path).catch((err: unknown) => {
      if (res.headersSent) return void res.destroy();
      if (err instanceof HttpError) return sendJson(res, err.status, { error: err.error, error_description: err.message });
      console.error(`[${name}] unexpected error`, err);
      sendJson(res, 500, { error: 'server_error' });
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const { port: bound } = server.address() as AddressInfo;
  return {
    url: `http://${host}:${bound}`,
    close: () => closeServer(server),
  };
}

/** Stops accepting, ends idle keep-alive connections at once, and the rest after a short grace. */
export function closeServer(server: Server): Promise<void> {
  return new Promise((resolve) => {
    const grace = setTimeout(() => server.closeAllConnections(), 2_000);
    server.close(() => {
      clearTimeout(grace);
      resolve();
    });
    server.closeIdleConnections();
  });
}
