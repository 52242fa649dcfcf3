import { createHash } from 'node:crypto';
import { watch, type FSWatcher } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { basename, dirname } from 'node:path';
import type { Duplex } from 'node:stream';
import pino, { type DestinationStream, type Logger } from 'pino';
import { Agent } from 'undici';
import { OWN_PATHS, type GatewayConfig } from './config/defaults.ts';
import { loadConfigFile } from './config/load.ts';
import { ConfigError } from './config/parse.ts';
import { upstreamHeaders } from './lib/headers.ts';
import { Metrics, type Outcome } from './lib/metrics.ts';
import { parseTarget } from './lib/path.ts';
import { proxyHttp, proxyUpgrade, writeRawResponse, type ProxyResult, type ProxyTarget } from './lib/proxy.ts';
import { RateLimiter } from './lib/rate-limit.ts';
import { clientErrorReply, rejection, rejectionFromReply, type Rejection } from './lib/reply.ts';
import { SigningKey } from './lib/signing-key.ts';
import { peerAddress, TrustedProxies } from './lib/trusted-proxies.ts';
import { compileRoutes, IssuerClients, RouteTable, type CompiledRoute } from './routes.ts';

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
  /** `http://host:port`, once listening. */
  readonly url: string;
  readonly metrics: Metrics;
  readonly logger: Logger;
  listen(): Promise<string>;
  /** Reads the configuration file again; on any problem keeps the current routes, logs why, and resolves false. */
  reload(): Promise<boolean>;
  /** Stops accepting, lets requests in flight finish (up to a grace period), closes upgraded sockets. */
  close(): Promise<void>;
}

/** Everything a configuration decides, swapped in one assignment on reload. */
interface State {
  config: GatewayConfig;
  table: RouteTable;
  clients: IssuerClients;
  trusted: TrustedProxies;
  limiter: RateLimiter | undefined;
  /** Lower-case identity header prefix. */
  identityPrefix: string;
}

/** What to do with a request: forward it, or answer it here. */
type Decision =
  | { route: CompiledRoute; clientId: string; target: ProxyTarget }
  | { route: CompiledRoute | undefined; clientId?: string; rejection: Rejection };

const WATCH_DEBOUNCE_MS = 250;
const CLOSE_GRACE_MS = 5_000;

/**
 * A gateway for a checked configuration (see loadConfigFile). Throws a ConfigError when the
 * resource-server package refuses an option, and an Error when the signing key cannot be loaded.
 */
export async function createGateway(initial: GatewayConfig, options: GatewayOptions = {}): Promise<Gateway> {
  const logger = pino({ base: { service: 'latchkey-gateway' }, level: options.logLevel ?? 'info' }, options.logDestination ?? process.stdout);
  const metrics = new Metrics();
  const loadedKey = await SigningKey.load(initial.signing.keyFile, initial.signing.algorithm);
  const signingKey = loadedKey.key;
  for (const warning of loadedKey.warnings) logger.warn(warning);

  function buildState(config: GatewayConfig, previous: State | undefined): State {
    const clients = new IssuerClients(metrics, previous?.clients);
    const table = compileRoutes(config, clients, metrics, {
      identityHeaderPrefix: config.identityHeaderPrefix,
      realm: config.realm,
      publicUrl: config.publicUrl,
      signingKey,
      tokenTtlSeconds: config.signing.tokenTtlSeconds,
      onGatewayError: (err) => logger.error({ err: err.message }, 'the issuer refused the gateway\'s token exchange: check the gateway client and its token exchange policy'),
    });
    let limiter: RateLimiter | undefined;
    if (config.rateLimit) {
      limiter = previous?.limiter ?? new RateLimiter(config.rateLimit);
      limiter.update(config.rateLimit);
    }
    return {
      config,
      table,
      clients,
      trusted: new TrustedProxies(config.trustedProxies),
      limiter,
      identityPrefix: config.identityHeaderPrefix.toLowerCase(),
    };
  }

  let state = buildState(initial, undefined);
  logWarnings(logger, initial);
  logger.info({ routes: state.table.size, signingKey: { kid: signingKey.kid, source: signingKey.source } }, 'gateway configured');

  const agent = new Agent({ connect: { timeout: initial.upstreamTimeoutSeconds * 1000 } });
  const upgraded = new Set<Duplex>();
  const track = (socket: Duplex) => {
    upgraded.add(socket);
    socket.once('close', () => upgraded.delete(socket));
  };

  /** Route, method, token, rate limit, forwarding mode: the first that fails answers. */
  async function decide(req: IncomingMessage, current: State, target: ReturnType<typeof parseTarget>): Promise<Decision> {
    if ('error' in target) return { route: undefined, rejection: rejection(400, 'bad_request', 'invalid_request', target.error) };
    const route = current.table.match(target.path);
    if (!route) return { route, rejection: rejection(404, 'not_found', 'not_found', 'no route for this path') };
    const authenticate = route.methods.get(req.method!);
    if (!authenticate) {
      return {
        route,
        rejection: rejection(405, 'method_not_allowed', 'method_not_allowed', 'this route does not allow the method', {
          headers: { allow: route.allow },
          reason: 'method_not_allowed',
        }),
      };
    }
    const auth = await authenticate(req.headers.authorization);
    if (!auth.ok) {
      const outcome = auth.reply.status === 503 ? 'unavailable' : 'denied';
      return { route, clientId: auth.clientId, rejection: rejectionFromReply(auth.reply, outcome, auth.reason) };
    }
    const clientId = auth.claims.client_id;
    const retryAfter = current.limiter?.take(clientId);
    if (retryAfter !== undefined) {
      return {
        route,
        clientId,
        rejection: rejection(429, 'rate_limited', 'too_many_requests', 'the client sent too many requests; try again later', {
          headers: { 'retry-after': String(retryAfter) },
          reason: 'rate_limited',
        }),
      };
    }
    const forwarding = await route.forward(auth.claims, auth.token);
    if (!forwarding.ok) return { route, clientId, rejection: forwarding.rejection };
    const headers = upstreamHeaders(req.rawHeaders, {
      identityPrefix: current.identityPrefix,
      trustedPeer: current.trusted.has(req.socket.remoteAddress),
      peer: peerAddress(req.socket.remoteAddress),
      preserveHost: route.config.preserveHost,
      add: forwarding.add,
    });
    return {
      route,
      clientId,
      target: {
        origin: route.origin,
        path: RouteTable.upstreamPath(route, target.path, target.query),
        headers,
        timeoutMs: current.config.upstreamTimeoutSeconds * 1000,
      },
    };
  }

  /** Metrics and the access log line of one request. Never the token, never the query string. */
  function record(req: IncomingMessage, path: string | undefined, decision: Decision | undefined, status: number, outcome: Outcome, startedMs: number, result?: ProxyResult): void {
    const route = decision?.route?.config.name ?? '';
    metrics.requests.inc({ route, outcome });
    const reason = decision && 'rejection' in decision ? decision.rejection.reason : undefined;
    if (reason !== undefined) metrics.denials.inc({ route, reason });
    if (result?.upstreamSeconds !== undefined) metrics.upstreamDuration.observe({ route }, result.upstreamSeconds);
    logger.info(
      {
        route: route || undefined,
        method: req.method,
        path,
        status,
        outcome,
        reason,
        clientId: decision?.clientId,
        ms: Math.round(performance.now() - startedMs),
        ...(result?.error ? { upstreamError: (result.error as Error).message } : {}),
      },
      'request',
    );
  }

  async function handleRequest(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const startedMs = performance.now();
    const current = state;
    const target = parseTarget(req.url ?? '');
    if (!('error' in target) && (await serveOwnEndpoint(target.path, req, res, current))) return;
    const decision = await decide(req, current, target);
    const path = 'error' in target ? undefined : target.path;
    if ('rejection' in decision) {
      const { status, headers, body } = decision.rejection;
      res.writeHead(status, { ...headers, 'content-length': String(Buffer.byteLength(body)) }).end(body);
      record(req, path, decision, decision.rejection.status, decision.rejection.outcome, startedMs);
      return;
    }
    const result = await proxyHttp(agent, req, res, decision.target);
    record(req, path, decision, result.status, result.outcome, startedMs, result);
  }

  async function handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): Promise<void> {
    const startedMs = performance.now();
    const current = state;
    const target = parseTarget(req.url ?? '');
    const decision = await decide(req, current, target);
    const path = 'error' in target ? undefined : target.path;
    if ('rejection' in decision) {
      writeRawResponse(socket, decision.rejection.status, decision.rejection.headers, decision.rejection.body);
      record(req, path, decision, decision.rejection.status, decision.rejection.outcome, startedMs);
      return;
    }
    track(socket);
    const result = await proxyUpgrade(req, socket, head, decision.target, track);
    record(req, path, decision, result.status, result.outcome, startedMs, result);
  }

  /** /healthz, /metrics and the JWKS; false for any other path. */
  async function serveOwnEndpoint(path: string, req: IncomingMessage, res: ServerResponse, current: State): Promise<boolean> {
    let body: string;
    let headers: Record<string, string>;
    if (path === OWN_PATHS.health) {
      body = JSON.stringify({ status: 'ok' });
      headers = { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store' };
    } else if (path === OWN_PATHS.jwks) {
      body = JSON.stringify(signingKey.jwks());
      headers = { 'content-type': 'application/jwk-set+json', 'cache-control': 'public, max-age=300' };
    } else if (path === OWN_PATHS.metrics && current.config.metrics) {
      body = await metrics.registry.metrics();
      headers = { 'content-type': metrics.registry.contentType, 'cache-control': 'no-store' };
    } else {
      return false;
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { allow: 'GET, HEAD' }).end();
      return true;
    }
    res.writeHead(200, { ...headers, 'content-length': String(Buffer.byteLength(body)) }).end(req.method === 'HEAD' ? undefined : body);
    return true;
  }

  // Slow clients cannot hold connections: the request head and the whole request each have a time
  // limit (408, then the connection closes), checked every second rather than Node's default 30 s.
  const server: Server = createServer({
    headersTimeout: initial.headersTimeoutSeconds * 1000,
    requestTimeout: initial.requestTimeoutSeconds * 1000,
    keepAliveTimeout: initial.keepAliveTimeoutSeconds * 1000,
    connectionsCheckingInterval: 1000,
  }, (req, res) => {
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
  });
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

  /** Applies a new configuration, or keeps the current one and says why. */
  function apply(config: GatewayConfig): boolean {
    let next: State;
    try {
      next = buildState(config, state);
    } catch (err) {
      if (!(err instanceof ConfigError)) throw err;
      return reloadFailed(err);
    }
    const previous = state.config;
    if (JSON.stringify(config.listen) !== JSON.stringify(previous.listen)) logger.warn('listen changed: it takes effect at the next restart');
    if (JSON.stringify(config.signing) !== JSON.stringify(previous.signing)) logger.warn('signing changed: it takes effect at the next restart');
    for (const option of ['headersTimeoutSeconds', 'requestTimeoutSeconds', 'keepAliveTimeoutSeconds'] as const) {
      if (config[option] !== previous[option]) logger.warn(`${option} changed: it takes effect at the next restart`);
    }
    if (config.upstreamTimeoutSeconds !== previous.upstreamTimeoutSeconds) {
      logger.warn('upstreamTimeoutSeconds changed: response timeouts apply now, connect timeouts at the next restart');
    }
    state = next;
    metrics.configReloads.inc({ result: 'success' });
    logWarnings(logger, config);
    logger.info({ routes: next.table.size }, 'configuration reloaded');
    return true;
  }

  function reloadFailed(err: unknown): false {
    metrics.configReloads.inc({ result: 'failure' });
    const problems = err instanceof ConfigError ? err.problems : [(err as Error).message];
    logger.error({ file: options.configFile, problems }, 'configuration reload failed: keeping the previous routes');
    return false;
  }

  let lastText: string | undefined;
  async function reload(onlyIfChanged = false): Promise<boolean> {
    if (options.configFile === undefined) throw new Error('the gateway was not started from a configuration file');
    let config: GatewayConfig;
    try {
      const loaded = loadConfigFile(options.configFile);
      const digest = createHash('sha256').update(loaded.text).digest('hex');
      if (onlyIfChanged && digest === lastText) return true;
      lastText = digest;
      config = loaded.config;
    } catch (err) {
      return reloadFailed(err);
    }
    return apply(config);
  }

  let watcher: FSWatcher | undefined;
  let debounce: NodeJS.Timeout | undefined;
  if (options.watch && options.configFile !== undefined) {
    const file = options.configFile;
    try {
      lastText = createHash('sha256').update(loadConfigFile(file).text).digest('hex');
    } catch {
      lastText = undefined;
    }
    // The directory, not the file: editors and config management replace files by renaming over them.
    watcher = watch(dirname(file), (_event, name) => {
      if (name !== null && name !== basename(file)) return;
      clearTimeout(debounce);
      debounce = setTimeout(() => void reload(true), options.watchDebounceMs ?? WATCH_DEBOUNCE_MS);
    });
    watcher.on('error', (err) => logger.error({ err: err.message }, 'watching the configuration file failed; SIGHUP still reloads'));
  }

  let url = '';
  return {
    get url() {
      return url;
    },
    metrics,
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
      url = `http://${address.family === 'IPv6' ? `[${address.address}]` : address.address}:${address.port}`;
      logger.info({ address: url, issuer: state.config.issuer }, 'latchkey-gateway is ready');
      return url;
    },
    reload: () => reload(false),
    async close() {
      watcher?.close();
      clearTimeout(debounce);
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

/** Startup (and reload) warnings for settings that are allowed but risky: style habit 10. */
function logWarnings(logger: Logger, config: GatewayConfig): void {
  if (new URL(config.issuer).protocol === 'http:') logger.warn({ issuer: config.issuer }, 'the issuer uses http: acceptable on localhost for development only');
  for (const route of config.routes) {
    if (route.forward.mode === 'passthrough') {
      logger.warn(
        { route: route.name, upstream: route.upstream },
        'passthrough: this route forwards the caller\'s own access token; the upstream can replay it wherever its audience is accepted. Prefer claims or exchange mode',
      );
    }
  }
}
