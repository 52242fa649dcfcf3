import { createHash } from 'node:crypto';
import {
  ConfigurationError,
  createIntrospector,
  createValidator,
  protectedResourceMetadata,
  type AccessTokenClaims,
  type Introspector,
  type ProtectedResourceMetadata,
  type Validator,
} from '@latchkey/resource-server';
import { createAuthenticator, type Authenticate } from './auth.ts';
import { OWN_PATHS, type GatewayConfig, type RouteConfig } from './config/defaults.ts';
import { ConfigError } from './config/parse.ts';
import { createForwarder, type Forwarder, type ForwarderContext } from './forward.ts';
import type { Metrics } from './lib/metrics.ts';
import { underPrefix } from './lib/path.ts';
import { TokenExchanger } from './lib/token-exchange.ts';

export interface CompiledRoute {
  config: RouteConfig;
  /** The upstream's origin (`http://orders.internal:8081`) and base path without a trailing slash. */
  origin: string;
  basePath: string;
  /** Allowed methods, each with its authenticator (HEAD shares GET's unless listed). */
  methods: ReadonlyMap<string, Authenticate>;
  /** The `Allow` header of a 405 (RFC 9110 §15.5.6). */
  allow: string;
  forward: Forwarder;
  /** Its protected resource metadata (RFC 9728), where the gateway serves it, and its URL; with resourceMetadata only. */
  metadata: { path: string; url: string; document: ProtectedResourceMetadata } | undefined;
}

/** The routes of one configuration; the longest matching prefix wins. */
export class RouteTable {
  private readonly routes: CompiledRoute[];
  private readonly metadata: Map<string, ProtectedResourceMetadata>;

  constructor(routes: CompiledRoute[]) {
    this.routes = [...routes].sort((a, b) => b.config.prefix.length - a.config.prefix.length);
    this.metadata = new Map(routes.flatMap((route) => (route.metadata ? [[route.metadata.path, route.metadata.document]] : [])));
  }

  match(path: string): CompiledRoute | undefined {
    return this.routes.find((route) => underPrefix(path, route.config.prefix));
  }

  /** The metadata document served at exactly `path`, if any. */
  metadataAt(path: string): ProtectedResourceMetadata | undefined {
    return this.metadata.get(path);
  }

  get size(): number {
    return this.routes.length;
  }

  /** The path the upstream receives: its base path, then the request's path (without the prefix if stripped). */
  static upstreamPath(route: CompiledRoute, path: string, query: string): string {
    const rest = route.config.stripPrefix && route.config.prefix !== '/' ? path.slice(route.config.prefix.length) : path;
    return `${`${route.basePath}${rest}` || '/'}${query}`;
  }
}

/**
 * The clients of the issuer (validators, introspectors, the token exchanger). A reload builds a new
 * set from the previous one, reusing each client whose settings did not change, so a reload keeps the
 * JWKS and the caches instead of starting cold.
 */
export class IssuerClients {
  private readonly validators = new Map<string, Validator>();
  private readonly introspectors = new Map<string, Introspector>();
  private readonly exchangers = new Map<string, TokenExchanger>();

  private readonly metrics: Metrics;
  private readonly previous?: IssuerClients;

  constructor(
    metrics: Metrics,
    previous?: IssuerClients,
  ) {
    this.metrics = metrics;
    this.previous = previous;
  }

  validator(config: GatewayConfig, audience: string): Validator {
    const key = JSON.stringify([
      config.issuer, audience, config.allowInsecureIssuer, config.algorithms, config.clockToleranceSeconds,
      config.jwksCacheSeconds, config.jwksCooldownSeconds, config.issuerTimeoutSeconds,
    ]);
    return this.reuse(this.validators, this.previous?.validators, key, () =>
      createValidator({
        issuer: config.issuer,
        audience,
        allowInsecureIssuer: config.allowInsecureIssuer,
        algorithms: config.algorithms,
        clockToleranceSeconds: config.clockToleranceSeconds,
        jwksCacheSeconds: config.jwksCacheSeconds,
        jwksCooldownSeconds: config.jwksCooldownSeconds,
        httpTimeoutSeconds: config.issuerTimeoutSeconds,
        onJwksFetch: (result) => this.metrics.jwksRefreshes.inc({ result }),
      }),
    );
  }

  introspector(config: GatewayConfig, audience: string): Introspector {
    const { clientId, clientSecret } = config.client!;
    const key = JSON.stringify([
      config.issuer, audience, config.allowInsecureIssuer, clientId, sha256(clientSecret), config.introspectionCacheSeconds,
      config.issuerTimeoutSeconds,
    ]);
    return this.reuse(this.introspectors, this.previous?.introspectors, key, () =>
      createIntrospector({
        issuer: config.issuer,
        clientId,
        clientSecret,
        audience,
        allowInsecureIssuer: config.allowInsecureIssuer,
        cacheSeconds: config.introspectionCacheSeconds,
        httpTimeoutSeconds: config.issuerTimeoutSeconds,
        onCacheLookup: (hit) => (hit ? this.metrics.cacheHits : this.metrics.cacheMisses).inc({ cache: 'introspection' }),
      }),
    );
  }

  exchanger(config: GatewayConfig): TokenExchanger {
    const { clientId, clientSecret } = config.client!;
    const key = JSON.stringify([config.issuer, clientId, sha256(clientSecret), config.issuerTimeoutSeconds, config.allowInsecureIssuer]);
    return this.reuse(this.exchangers, this.previous?.exchangers, key, () =>
      new TokenExchanger({
        issuer: config.issuer,
        clientId,
        clientSecret,
        timeoutSeconds: config.issuerTimeoutSeconds,
        allowInsecureIssuer: config.allowInsecureIssuer,
        onLookup: (hit) => (hit ? this.metrics.cacheHits : this.metrics.cacheMisses).inc({ cache: 'exchange' }),
      }),
    );
  }

  private reuse<T>(own: Map<string, T>, previous: Map<string, T> | undefined, key: string, create: () => T): T {
    let client = own.get(key) ?? previous?.get(key);
    if (client === undefined) client = create();
    own.set(key, client);
    return client;
  }
}

function sha256(value: string): string {
  return createHash('sha256').update(value).digest('base64url');
}

export type RouteContext = Omit<ForwarderContext, 'exchanger' | 'resourceMetadata' | 'dpop'>;

/**
 * Builds the route table of a configuration. Throws a ConfigError when the resource-server package
 * refuses an option (an algorithm, a scope), so a bad file fails at startup or reload, not on a request.
 */
export function compileRoutes(config: GatewayConfig, clients: IssuerClients, metrics: Metrics, ctx: RouteContext): RouteTable {
  const compiled = config.routes.map((route, i) => {
    try {
      return compileRoute(config, route, clients, metrics, ctx);
    } catch (err) {
      if (err instanceof ConfigurationError) throw new ConfigError([`routes[${i}] (${route.name}): ${err.message}`]);
      throw err;
    }
  });
  return new RouteTable(compiled);
}

function compileRoute(config: GatewayConfig, route: RouteConfig, clients: IssuerClients, metrics: Metrics, ctx: RouteContext): CompiledRoute {
  const verify: (token: string) => Promise<AccessTokenClaims> =
    route.validation === 'jwt' ? clients.validator(config, route.audience).validate : clients.introspector(config, route.audience).introspect;
  const metadata = config.resourceMetadata ? routeMetadata(config, route) : undefined;
  const methods = new Map<string, Authenticate>();
  for (const [method, scopes] of Object.entries(route.methods)) {
    methods.set(method, createAuthenticator(verify, scopes, config.realm, metadata?.url, route.dpop));
  }
  // RFC 9110 §9.3.2: HEAD is GET without the body, so it needs what GET needs.
  if (methods.has('GET') && !methods.has('HEAD')) methods.set('HEAD', methods.get('GET')!);
  const upstream = new URL(route.upstream);
  return {
    config: route,
    origin: upstream.origin,
    basePath: upstream.pathname.replace(/\/+$/, ''),
    methods,
    allow: [...methods.keys()].join(', '),
    forward: createForwarder(route.forward, {
      ...ctx,
      resourceMetadata: metadata?.url,
      dpop: route.dpop,
      exchanger: route.forward.mode === 'exchange' ? clients.exchanger(config) : undefined,
    }),
    metadata,
  };
}

/**
 * A route's protected resource metadata (RFC 9728 §2): the resource is the audience its callers'
 * tokens must carry (what a client asks the issuer for, RFC 8707), the issuer its authorization
 * server, the scopes its methods require; the gateway reads tokens from the header only. Served at the
 * well-known path followed by the route's prefix, on publicUrl's origin. The package checks the
 * audience is an https URL without a fragment (a ConfigurationError otherwise).
 */
function routeMetadata(config: GatewayConfig, route: RouteConfig): NonNullable<CompiledRoute['metadata']> {
  const scopes = [...new Set(Object.values(route.methods).flat())];
  const document = protectedResourceMetadata({
    resource: route.audience,
    authorizationServers: [config.issuer],
    ...(scopes.length > 0 ? { scopesSupported: scopes } : {}),
    bearerMethodsSupported: ['header'],
  });
  const path = `${OWN_PATHS.resourceMetadata}${route.prefix === '/' ? '' : route.prefix}`;
  // Serialised by URL: nothing in it needs escaping in the challenge's quoted-string.
  return { path, url: new URL(path, new URL(config.publicUrl!).origin).href, document };
}
