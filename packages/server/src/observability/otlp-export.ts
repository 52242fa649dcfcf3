import { context, type ContextManager } from '@opentelemetry/api';
import type { Tracing } from './tracing.ts';

/**
 * Starts OpenTelemetry tracing when LATCHKEY_OTLP_ENDPOINT is set (README "Metrics and traces"): a
 * tracer provider of this server's own, exporting OTLP/HTTP JSON through a batch processor; never
 * registered as the process's global provider. Its exporter is the OpenTelemetry library's, to the
 * operator's collector, not a URL a client gave (so not lib/outbound-fetch.ts). Undefined when
 * tracing is off; traces go to `${endpoint}/v1/traces`.
 */
export async function startTracing(settings: { otlpEndpoint: string | undefined; otlpServiceName: string }): Promise<Tracing | undefined> {
  if (settings.otlpEndpoint === undefined) return undefined;
  // The SDK is loaded only when tracing is on.
  const [{ AsyncLocalStorageContextManager }, { OTLPTraceExporter }, { resourceFromAttributes }, { BatchSpanProcessor, NodeTracerProvider }] =
    await Promise.all([
      import('@opentelemetry/context-async-hooks'),
      import('@opentelemetry/exporter-trace-otlp-http'),
      import('@opentelemetry/resources'),
      import('@opentelemetry/sdk-trace-node'),
    ]);
  enableContextPropagation(() => new AsyncLocalStorageContextManager());
  const exporter = new OTLPTraceExporter({ url: tracesUrl(settings.otlpEndpoint) });
  const provider = new NodeTracerProvider({
    resource: resourceFromAttributes({ 'service.name': settings.otlpServiceName }),
    spanProcessors: [new BatchSpanProcessor(exporter)],
  });
  return {
    tracer: provider.getTracer('latchkey'),
    shutdown: () => provider.shutdown(),
  };
}

/**
 * The OTLP/HTTP traces URL of a collector's base URL, as OTEL_EXPORTER_OTLP_ENDPOINT is read
 * (OpenTelemetry Protocol Exporter specification, "Endpoint URLs for OTLP/HTTP"): `/v1/traces` appended.
 */
export function tracesUrl(endpoint: string): string {
  return `${endpoint.replace(/\/+$/, '')}/v1/traces`;
}

/**
 * Child spans need the request's context to follow it through awaits: an AsyncLocalStorage context
 * manager, set once per process. An application that set its own keeps it (setGlobalContextManager
 * refuses a second one).
 */
let propagationEnabled = false;
function enableContextPropagation(create: () => ContextManager): void {
  if (propagationEnabled) return;
  propagationEnabled = true;
  const manager = create().enable();
  if (!context.setGlobalContextManager(manager)) manager.disable();
}

