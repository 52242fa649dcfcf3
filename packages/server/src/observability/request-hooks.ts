import { context, SpanKind, SpanStatusCode, type Context, type Span } from '@opentelemetry/api';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { ServerMetrics } from './metrics.ts';
import { withRequestSpan, type Tracing } from './tracing.ts';

/** The label and span name of a request no route matched: never the raw path (unbounded, and it may hold secrets). */
const UNMATCHED = 'unmatched';

interface RequestObservation {
  metrics: ServerMetrics | undefined;
  span?: Span;
  spanContext?: Context;
}

const observations = new WeakMap<FastifyRequest, RequestObservation>();

/**
 * Request metrics (latchkey_server_requests_total, latchkey_server_request_duration_seconds) and
 * one span per request, named by method and route pattern (OpenTelemetry HTTP semantic conventions:
 * `http.request.method`, `http.route`, `http.response.status_code`). Added only when metrics are
 * served or tracing is on: otherwise a request meets none of these hooks.
 */
export function registerRequestObservation(app: FastifyInstance, metrics: ServerMetrics | undefined, tracing: Tracing | undefined): void {
  if (metrics === undefined && tracing === undefined) return;
  app.addHook('onRequest', (request, _reply, done) => {
    const observation: RequestObservation = { metrics };
    observations.set(request, observation);
    if (tracing === undefined) return done();
    const route = routeOf(request);
    const span = tracing.tracer.startSpan(`${request.method} ${route}`, {
      kind: SpanKind.SERVER,
      attributes: { 'http.request.method': request.method, 'http.route': route },
    });
    observation.span = span;
    observation.spanContext = withRequestSpan(context.active(), tracing.tracer, span);
    // What follows this hook runs in the span's context, so database calls and fetches become its children.
    context.with(observation.spanContext, done);
  });
  if (tracing !== undefined) {
    // Should a body parser continue in its stream's own context, the handler is put back in the span's.
    app.addHook('preHandler', (request, _reply, done) => {
      const spanContext = observations.get(request)?.spanContext;
      if (spanContext === undefined) return done();
      context.with(spanContext, done);
    });
    // A client that went away before the answer: its span ends too, or it would never be exported.
    app.addHook('onRequestAbort', async (request) => {
      const span = observations.get(request)?.span;
      if (span === undefined) return;
      span.setAttribute('latchkey.outcome', 'aborted');
      span.end();
    });
  }
  app.addHook('onResponse', async (request, reply) => {
    const observation = observations.get(request);
    if (observation === undefined) return;
    const route = routeOf(request);
    const status = reply.statusCode;
    observation.metrics?.requests.inc({ route, method: request.method, status: String(status) });
    observation.metrics?.requestDuration.observe({ route, method: request.method }, reply.elapsedTime / 1000);
    const span = observation.span;
    // (Not recording: ended already, the request was aborted.)
    if (span === undefined || !span.isRecording()) return;
    span.setAttribute('http.response.status_code', status);
    if (status < 400) span.setAttribute('latchkey.outcome', 'success');
    if (status >= 500) span.setStatus({ code: SpanStatusCode.ERROR });
    span.end();
  });
}

/** The route pattern that served `request` (`/token`, `/clients/:id`), or `unmatched`. */
function routeOf(request: FastifyRequest): string {
  return request.routeOptions.url ?? UNMATCHED;
}

/**
 * An OAuth error answer (http/error-reply.ts): counted by its RFC error code in
 * latchkey_server_errors_total, and the request span's outcome.
 */
export function recordErrorAnswer(request: FastifyRequest, error: string): void {
  const observation = observations.get(request);
  if (observation === undefined) return;
  observation.metrics?.errors.inc({ error });
  observation.span?.setAttribute('latchkey.outcome', error);
}
