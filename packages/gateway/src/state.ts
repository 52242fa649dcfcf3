import type { Logger } from 'pino';
import type { GatewayConfig } from './config/defaults.ts';
import type { Metrics } from './lib/metrics.ts';
import { RateLimiter } from './lib/rate-limit.ts';
import type { SigningKey } from './lib/signing-key.ts';
import { TrustedProxies } from './lib/trusted-proxies.ts';
import { compileRoutes, IssuerClients, type RouteTable } from './routes.ts';

/** Everything a configuration decides, swapped in one assignment on reload. */
export interface State {
  config: GatewayConfig;
  table: RouteTable;
  clients: IssuerClients;
  trusted: TrustedProxies;
  limiter: RateLimiter | undefined;
  /** Lower-case identity header prefix. */
  identityPrefix: string;
}

/** What every configuration shares: the process's logger, metrics and signing key. */
export interface Runtime {
  logger: Logger;
  metrics: Metrics;
  signingKey: SigningKey;
}

/**
 * The state of a configuration. From the previous one it keeps what did not change: the issuer's
 * clients (their JWKS and caches) and the rate limiter's buckets. Throws a ConfigError when the
 * resource-server package refuses an option.
 */
export function buildState(runtime: Runtime, config: GatewayConfig, previous: State | undefined): State {
  const clients = new IssuerClients(runtime.metrics, previous?.clients);
  const table = compileRoutes(config, clients, runtime.metrics, {
    identityHeaderPrefix: config.identityHeaderPrefix,
    realm: config.realm,
    publicUrl: config.publicUrl,
    signingKey: runtime.signingKey,
    tokenTtlSeconds: config.signing.tokenTtlSeconds,
    onGatewayError: (err) =>
      runtime.logger.error({ err: err.message }, 'the issuer refused the gateway\'s token exchange: check the gateway client and its token exchange policy'),
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

/** Startup (and reload) warnings for settings that are allowed but risky. */
export function logWarnings(logger: Logger, config: GatewayConfig): void {
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
