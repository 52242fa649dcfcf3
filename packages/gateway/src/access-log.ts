import type { IncomingMessage } from 'node:http';
import type { Outcome } from './lib/metrics.ts';
import type { ProxyResult } from './lib/proxy.ts';
import type { Decision } from './pipeline.ts';
import type { Runtime } from './state.ts';

/** Metrics and the access log line of one request. Never the token, never the query string. */
export function record(runtime: Runtime, req: IncomingMessage, path: string | undefined, decision: Decision | undefined, status: number, outcome: Outcome, startedMs: number, result?: ProxyResult): void {
  const route = decision?.route?.config.name ?? '';
  const { metrics, logger } = runtime;
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
