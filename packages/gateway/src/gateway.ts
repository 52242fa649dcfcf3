import { readFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerOptions, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import pino, { type DestinationStream, type Logger } from 'pino';
import { Agent } from 'undici';
import type { GatewayConfig } from './config/defaults.ts';
import { record } from './access-log.ts';
import { ConfigReloader } from './config-watcher.ts';
import { Metrics } from './lib/metrics.ts';
import { parseTarget } from './lib/path.ts';
import { proxyHttp, proxyUpgrade, writeRawResponse } from './lib/proxy.ts';
import { clientErrorReply } from './lib/reply.ts';
import { SigningKey } from './lib/signing-key.ts';
import { serveOwnEndpoint } from './own-endpoints.ts';
import { decide } from './pipeline.ts';
import { buildState, logWarnings, type Runtime, type State } from './state.ts';

export interface GatewayOptions {
  /** Where the JSON log lines go (default: stdout). */
  logDestination?: DestinationStream;
  /** pino level (default: info). */
  logLevel?: string;
  /** The configuration file: reload() reads it again. */
  configFile?: string;
  /** Reload when the configuration file changes (fs.watch on its directory, debounced). */
  watch?: boolean;
  /** Quiet time after the last change before reloading, in milliseconds. */
  watchDebounceMs?: number;
}

export interface Gateway {
  /** `http://host:port` (`https://` with listen.tls), once listening. */
  readonly url: string;
  readonly metrics: Metrics;
  readonly logger: Logger;
  listen(): Promise<string>;
  /** Reads the configuration file again; on any problem keeps the current routes, logs why, and resolves false. */
  reload(): Promise<boolean>;
  /** Stops accepting, lets requests in flight finish (up to a grace period), closes upgraded sockets. */
  close(): Promise<void>;
}

const CLOSE_GRACE_MS = 5_000;

/**
 * A gateway for a checked configuration (see loadConfigFile). Throws a ConfigError when the
 * resource-server package refuses an option, and an Error when the signing key cannot be loaded.
 * The parts: state.ts (what a configuration decides), pipeline.ts (what to do with a request),
 * own-endpoints.ts, access-log.ts, config-watcher.ts (reloads), lib/proxy.ts (forwarding); here, the
 * HTTP server and its lifecycle.
 */
export async function createGateway(initial: GatewayConfig, options: GatewayOptions = {}): Promise<Gateway> {
  const logger = pino({ base: { service: 'latchkey-gateway' }, level: options.logLevel ?? 'info' }, options.logDestination ?? process.stdout);
  const loadedKey = await SigningKey.load(initial.signing.keyFile, initial.signing.algorithm);
  for (const warning of loadedKey.warnings) logger.warn(warning);
  const runtime: Runtime = { logger, metrics: new Metrics(), signingKey: loadedKey.key };

  let state = buildState(runtime, initial, undefined);
  logWarnings(logger, initial);
  logger.info({ routes: state.table.size, signingKey: { kid: runtime.signingKey.kid, source: runtime.signingKey.source } }, 'gateway configured');
  const reloader = new ConfigReloader(runtime, options.configFile, { get: () => state, set: (next) => (state = next) });
  if (options.watch) reloader.watch(options.watchDebounceMs);

  const agent = new Agent({ connect: { timeout: initial.upstreamTimeoutSeconds * 1000 } });
  const upgraded = new Set<Duplex>();
  const track = (socket: Duplex) => {
    upgraded.add(socket);
    socket.once('close', () => upgraded.delete(socket));
  };

  async function handleRequest(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const startedMs = performance.now();
    const current: State = state;
    const target = parseTarget(req.url ?? '');
    if (!('error' in target) && (await serveOwnEndpoint(runtime, target.path, req, res, current))) return;
    const decision = await decide(req, current, target);
    const path = 'error' in target ? undefined : target.path;
    if ('rejection' in decision) {
      const { status, headers, body } = decision.rejection;
      res.writeHead(status, { ...headers, 'content-length': String(Buffer.byteLength(body)) }).end(body);
      record(runtime, req, path, decision, decision.rejection.status, decision.rejection.outcome, startedMs);
      return;
    }
    const result = await proxyHttp(agent, req, res, decision.target);
    record(runtime, req, path, decision, result.status, result.outcome, startedMs, result);
  }

  async function handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): Promise<void> {
    const startedMs = performance.now();
    const target = parseTarget(req.url ?? '');
    const decision = await decide(req, state, target);
    const path = 'error' in target ? undefined : target.path;
    if ('rejection' in decision) {
      writeRawResponse(socket, decision.rejection.status, decision.rejection.headers, decision.rejection.body);
      record(runtime, req, path, decision, decision.rejection.status, decision.rejection.outcome, startedMs);
      return;
    }
    track(socket);
    const result = await proxyUpgrade(req, socket, head, decision.target, track);
    record(runtime, req, path, decision, result.status, result.outcome, startedMs, result);
  }

  // Slow clients cannot hold connections: the request head and the whole request each have a time
  // limit (408, then the connection closes), checked every second rather than Node's default 30 s.
  const httpOptions: ServerOptions = {
    headersTimeout: initial.headersTimeoutSeconds * 1000,
    requestTimeout: initial.requestTimeoutSeconds * 1000,
    keepAliveTimeout: initial.keepAliveTimeoutSeconds * 1000,
    connectionsCheckingInterval: 1000,
  };
  const onRequest = (req: IncomingMessage, res: ServerResponse) => {
    // The idle limit below is for connections that never send a request; a request in flight has its own.
    req.socket.setTimeout(0);
    handleRequest(req, res).catch((err: unknown) => {
      logger.error({ err }, 'unexpected error while handling a request');
      if (!res.headersSent) {
        res.writeHead(500, { 'content-type': 'application/json; charset=utf-8' }).end(JSON.stringify({ error: 'server_error' }));
      } else {
        res.destroy();
      }
    });
  };
  const tls = initial.listen.tls;
  const server: Server = tls
    ? createHttpsServer({
        ...httpOptions,
        cert: readFileSync(tls.certFile),
        key: readFileSync(tls.keyFile),
        ...(tls.clientCaFile ? { ca: readFileSync(tls.clientCaFile) } : {}),
        // RFC 8705 §3: ask for a client certificate, for certificate-bound tokens; a connection without
        // one (or with one from another CA) still reaches the gateway, whose token checks decide.
        requestCert: true,
        rejectUnauthorized: false,
      }, onRequest)
    : createServer(httpOptions, onRequest);
  // Node's header timeout only starts with a request's first byte: a connection that never sends one
  // is closed by this idle limit (between requests Node applies the keep-alive timeout instead).
  server.setTimeout(initial.headersTimeoutSeconds * 1000);
  server.on('clientError', clientErrorReply);
  server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    req.socket.setTimeout(0);
    socket.on('error', () => socket.destroy());
    handleUpgrade(req, socket, head).catch((err: unknown) => {
      logger.error({ err }, 'unexpected error while handling an upgrade');
      writeRawResponse(socket, 500, { 'content-type': 'application/json; charset=utf-8' }, JSON.stringify({ error: 'server_error' }));
    });
  });

  let url = '';
  return {
    get url() {
      return url;
    },
    metrics: runtime.metrics,
    logger,
    async listen() {
      const { host, port } = state.config.listen;
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(port, host, () => {
          server.off('error', reject);
          resolve();
        });
      });
      const address = server.address() as AddressInfo;
      url = `${tls ? 'https' : 'http'}://${address.family === 'IPv6' ? `[${address.address}]` : address.address}:${address.port}`;
      logger.info({ address: url, issuer: state.config.issuer }, 'latchkey-gateway is ready');
      return url;
    },
    reload: () => reloader.reload(false),
    async close() {
      reloader.close();
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeIdleConnections();
      for (const socket of upgraded) socket.destroy();
      const grace = setTimeout(() => server.closeAllConnections(), CLOSE_GRACE_MS);
      await closed;
      clearTimeout(grace);
      await agent.close();
    },
  };
}
