import { context, createContextKey, SpanKind, SpanStatusCode, trace, type Attributes, type Context, type Span, type Tracer } from '@opentelemetry/api';

/**
 * OpenTelemetry traces, off unless LATCHKEY_OTLP_ENDPOINT is set (README "Metrics and traces"). Each
 * server has a tracer provider of its own (observability/otlp-export.ts), never registered as the
 * process's global one: two servers in one process (the tests, or an application embedding Latchkey)
 * each export their own spans or none. The server's tracer travels in the request's OpenTelemetry
 * context next to its span, so code below (database calls, lib/outbound-fetch.ts) opens child spans
 * only inside a traced request; with tracing off there is no context value and nothing is created.
 * Only @opentelemetry/api is loaded here; the SDK only when tracing is on.
 */
export interface Tracing {
  tracer: Tracer;
  /** Exports what is still buffered and stops the exporter (server close). */
  shutdown(): Promise<void>;
}

/** The context key under which a traced request carries the tracer of its server. */
const TRACER_KEY = createContextKey('latchkey tracer');

/** `parent` carrying `span` and the tracer that made it, for child spans. */
export function withRequestSpan(parent: Context, tracer: Tracer, span: Span): Context {
  return trace.setSpan(parent, span).setValue(TRACER_KEY, tracer);
}

/** The tracer of the traced request this code runs in, or undefined (tracing off, or no request). */
export function activeTracer(): Tracer | undefined {
  return context.active().getValue(TRACER_KEY) as Tracer | undefined;
}

/** Adds attributes to the current request's span, when there is one (tracing on). */
export function annotateSpan(attributes: Attributes): void {
  if (activeTracer() === undefined) return;
  trace.getActiveSpan()?.setAttributes(attributes);
}

/**
 * Runs `run` in a child span of the traced request, or simply runs it when there is none. `finish`
 * adds what the result shows (a status code) before the span ends; a thrown error marks it failed.
 */
export async function inChildSpan<T>(
  name: string,
  attributes: Attributes,
  run: () => Promise<T>,
  finish?: (result: T, span: Span) => void,
): Promise<T> {
  const tracer = activeTracer();
  if (tracer === undefined) return run();
  return tracer.startActiveSpan(name, { kind: SpanKind.CLIENT, attributes }, async (span) => {
    try {
      const result = await run();
      finish?.(result, span);
      return result;
    } catch (err) {
      span.setStatus({ code: SpanStatusCode.ERROR, message: err instanceof Error ? err.name : 'error' });
      throw err;
    } finally {
      span.end();
    }
  });
}
