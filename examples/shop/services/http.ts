/**
 * The little the demo's node:http services share: reading a JSON body, answering JSON, running the
 * resource-server middleware (its Express entry works on Node's own request and response), listening
 * and closing.
 */
import { createServer, type IncomingMessage, type RequestListener, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
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

/** How the token was held to its sender: `bearerAuth` has already checked it against the connection's certificate. */
export function boundTo(claims: AccessTokenClaims): string {
  const cnf = claims.payload.cnf as Record<string, unknown> | undefined;
  return typeof cnf?.['x5t#S256'] === 'string' ? ', bound to the certificate it came with over mutual TLS' : '';
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

/** A second, https listener that asks every client for a certificate (RFC 8705 §3). */
export interface MtlsListener {
  port: number;
  /** The server's certificate and key (PEM). */
  cert: string;
  key: string;
}

export interface RunningMtlsService extends RunningService {
  /** The https URL of the mutual-TLS listener. */
  mtlsUrl: string;
}

/**
 * Serves `handle` on host:port; errors become JSON answers (HttpError) or a bare 500. With `mtls`, the
 * same routes are also served over https on a second port, where clients are asked for a certificate.
 * Any certificate is accepted there: what it proves is decided per token by the resource-server's
 * binding check (a certificate-bound token only with its certificate), as at Latchkey's own listener.
 */
export async function listen(name: string, host: string, port: number, handle: Handler): Promise<RunningService>;
export async function listen(name: string, host: string, port: number, handle: Handler, mtls: MtlsListener): Promise<RunningMtlsService>;
export async function listen(name: string, host: string, port: number, handle: Handler, mtls?: MtlsListener): Promise<RunningService | RunningMtlsService> {
  const listener: RequestListener = (req, res) => {
    const path = new URL(req.url ?? '/', 'http://service').pathname;
    handle(req, res, path).catch((err: unknown) => {
      if (res.headersSent) return void res.destroy();
      if (err instanceof HttpError) return sendJson(res, err.status, { error: err.error, error_description: err.message });
      console.error(`[${name}] unexpected error`, err);
      sendJson(res, 500, { error: 'server_error' });
    });
  };
  const server = await start(createServer(listener), port, host);
  const url = `http://${host}:${(server.address() as AddressInfo).port}`;
  if (!mtls) return { url, close: () => closeServer(server) };
  let tlsServer: Server;
  try {
    tlsServer = await start(createHttpsServer({ cert: mtls.cert, key: mtls.key, requestCert: true, rejectUnauthorized: false }, listener), mtls.port, host);
  } catch (err) {
    await closeServer(server);
    throw err;
  }
  return {
    url,
    mtlsUrl: `https://${host}:${(tlsServer.address() as AddressInfo).port}`,
    close: async () => {
      await Promise.all([closeServer(server), closeServer(tlsServer)]);
    },
  };
}

type Handler = (req: Request, res: ServerResponse, path: string) => Promise<void>;

function start(server: Server, port: number, host: string): Promise<Server> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve(server);
    });
  });
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
