import type { FastifyInstance } from 'fastify';
import type { ServerContext } from '../context.ts';
import { databaseQueryObserver } from './database-queries.ts';
import { buildMetricsApp, metricsExposure, registerMetricsRoute } from './metrics-endpoint.ts';
import { registerRequestObservation } from './request-hooks.ts';
import { startTracing } from './otlp-export.ts';

/** The server's metrics listener and tracer, started with it and closed with it (server.ts). */
export interface ServerObservability {
  /** Starts the metrics listener of LATCHKEY_METRICS_PORT, if any; resolves to its address. */
  listen(host: string): Promise<string | undefined>;
  /** Closes the metrics listener and exports the spans still buffered. */
  close(): Promise<void>;
}

/**
 * Sets up what LATCHKEY_METRICS_* and LATCHKEY_OTLP_* ask for, before the apps are built: with
 * neither, the database and the requests are not observed at all (README "Metrics and traces").
 */
export async function startObservability(ctx: ServerContext): Promise<ServerObservability> {
  const exposure = metricsExposure(ctx.settings);
  if (exposure !== 'off') ctx.metrics.collectProcessMetrics();
  ctx.tracing = await startTracing(ctx.settings);
  if (exposure !== 'off' || ctx.tracing) {
    ctx.storage.db.observeQueries(databaseQueryObserver(ctx.storage.db.dialect, exposure === 'off' ? undefined : ctx.metrics));
  }
  const metricsApp = exposure === 'separate-port' ? buildMetricsApp(ctx) : undefined;
  return {
    async listen(host) {
      if (!metricsApp) return undefined;
      const address = await metricsApp.listen({ port: ctx.settings.metricsPort, host });
      ctx.logger.info({ address: `${address}/metrics` }, 'metrics listener is ready');
      return address;
    },
    async close() {
      await metricsApp?.close();
      ctx.storage.db.observeQueries(undefined);
      await ctx.tracing?.shutdown().catch((err: unknown) => ctx.logger.warn({ err }, 'could not export the last traces'));
    },
  };
}

/**
 * The hooks of one HTTP app (http/app.ts): request metrics and spans; on the main listener, /metrics
 * when it is served there behind LATCHKEY_METRICS_TOKEN.
 */
export function observeApp(app: FastifyInstance, ctx: ServerContext, options: { main: boolean }): void {
  const exposure = metricsExposure(ctx.settings);
  registerRequestObservation(app, exposure === 'off' ? undefined : ctx.metrics, ctx.tracing);
  if (options.main && exposure === 'main-port') registerMetricsRoute(app, ctx);
}
