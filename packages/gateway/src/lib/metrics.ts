import { Counter, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/** What became of a request; the `outcome` label of latchkey_gateway_requests_total. */
export type Outcome =
  | 'forwarded'
  | 'denied'
  | 'rate_limited'
  | 'method_not_allowed'
  | 'not_found'
  | 'bad_request'
  | 'unavailable'
  | 'upstream_error'
  | 'error';

/**
 * The gateway's Prometheus metrics, in a registry of its own (not prom-client's global one, so two
 * gateways in one process, as in the tests, do not collide). Labels have bounded values: route
 * names, fixed outcomes and reasons; never a client_id or a path.
 */
export class Metrics {
  readonly registry = new Registry();
  readonly requests = new Counter({
    name: 'latchkey_gateway_requests_total',
    help: 'Requests by route and outcome.',
    labelNames: ['route', 'outcome'] as const,
    registers: [this.registry],
  });
  readonly denials = new Counter({
    name: 'latchkey_gateway_denials_total',
    help: 'Refused requests by route and reason (the failed check, insufficient_scope, rate_limited, ...).',
    labelNames: ['route', 'reason'] as const,
    registers: [this.registry],
  });
  readonly jwksRefreshes = new Counter({
    name: 'latchkey_gateway_jwks_refreshes_total',
    help: 'Fetches of the issuer JWKS, by result.',
    labelNames: ['result'] as const,
    registers: [this.registry],
  });
  readonly cacheHits = new Counter({
    name: 'latchkey_gateway_cache_hits_total',
    help: 'Introspection results and exchanged tokens answered from the cache.',
    labelNames: ['cache'] as const,
    registers: [this.registry],
  });
  readonly cacheMisses = new Counter({
    name: 'latchkey_gateway_cache_misses_total',
    help: 'Introspection results and exchanged tokens that needed a request to the issuer.',
    labelNames: ['cache'] as const,
    registers: [this.registry],
  });
  readonly upstreamDuration = new Histogram({
    name: 'latchkey_gateway_upstream_duration_seconds',
    help: 'Time from sending a request upstream to its response headers, by route.',
    labelNames: ['route'] as const,
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
    registers: [this.registry],
  });
  readonly configReloads = new Counter({
    name: 'latchkey_gateway_config_reloads_total',
    help: 'Configuration reloads, by result (a failed reload keeps the previous routes).',
    labelNames: ['result'] as const,
    registers: [this.registry],
  });

  constructor() {
    collectDefaultMetrics({ register: this.registry, prefix: 'latchkey_gateway_' });
  }
}
