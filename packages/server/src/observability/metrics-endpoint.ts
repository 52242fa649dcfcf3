import { createHash, timingSafeEqual } from 'node:crypto';
import Fastify, { type FastifyBaseLogger, type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import type { ServerContext } from '../context.ts';

/** Where the metrics are: off, on a listener of their own, or on the public port behind a token. */
export type MetricsExposure = 'off' | 'separate-port' | 'main-port';

/**
 * LATCHKEY_METRICS_PORT set: /metrics on a listener of its own (on HOST), never on the public port,
 * so that a firewall or a pod's port list decides who scrapes. Else LATCHKEY_METRICS_TOKEN set:
 * /metrics on the public port, for a bearer of that token only. Neither: no metrics are served. With
 * both, the metrics listener asks for the token too.
 */
export function metricsExposure(settings: { metricsPort: number; metricsToken: string | undefined }): MetricsExposure {
  if (settings.metricsPort > 0) return 'separate-port';
  return settings.metricsToken !== undefined ? 'main-port' : 'off';
}

/** GET /metrics on `app`: the Prometheus text format of this server's registry. */
export function registerMetricsRoute(app: FastifyInstance, ctx: ServerContext): void {
  const token = ctx.settings.metricsToken;
  // A scrape every few seconds is not worth a log line each: only warnings and errors are logged.
  app.get('/metrics', { logLevel: 'warn' }, async (request, reply) => {
    if (token !== undefined && !presentsToken(request, token)) return refuse(reply);
    const body = await ctx.metrics.registry.metrics();
    return reply.header('cache-control', 'no-store').type(ctx.metrics.registry.contentType).send(body);
  });
}

/** The listener of LATCHKEY_METRICS_PORT: /metrics and nothing else. */
export function buildMetricsApp(ctx: ServerContext): FastifyInstance {
  const app = Fastify({ loggerInstance: ctx.logger as FastifyBaseLogger, return503OnClosing: true });
  app.removeAllContentTypeParsers();
  registerMetricsRoute(app, ctx);
  app.setNotFoundHandler((_request, reply) => {
    reply.code(404).type('application/json; charset=utf-8').send({ error: 'not_found', error_description: 'this listener serves /metrics only' });
  });
  return app;
}

/**
 * RFC 6750 §2.1: `Authorization: Bearer <token>`. Both sides are hashed first, so the comparison takes
 * the same time whatever the length or content of what was sent.
 */
function presentsToken(request: FastifyRequest, token: string): boolean {
  const header = request.headers.authorization;
  const match = typeof header === 'string' ? /^Bearer +(\S+) *$/i.exec(header) : null;
  if (!match) return false;
  return timingSafeEqual(sha256(match[1]!), sha256(token));
}

function sha256(value: string): Buffer {
  return createHash('sha256').update(value, 'utf8').digest();
}

/** RFC 6750 §3: a 401 names the scheme; RFC 9110 §15.5.2 wants the challenge on every 401. */
function refuse(reply: FastifyReply): FastifyReply {
  return reply
    .code(401)
    .header('www-authenticate', 'Bearer realm="latchkey-metrics"')
    .header('cache-control', 'no-store')
    .type('application/json; charset=utf-8')
    .send({ error: 'invalid_token', error_description: 'the metrics need a bearer token' });
}
