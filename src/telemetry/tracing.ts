/*
 * The gateway's OpenTelemetry traces: one tracer provider exporting OTLP/HTTP JSON in batches, used with explicit
 * contexts. Nothing is registered globally (no global provider, propagator or context manager): the gateway hands
 * each span's context to the code that makes its children, so an embedder's own OpenTelemetry set-up is untouched.
 */
import { ROOT_CONTEXT, defaultTextMapGetter, defaultTextMapSetter, trace, type Context, type Span, type Tracer } from '@opentelemetry/api';
import type { Config } from '../config.js';

/** Headers as node:http gives them (or any string map). */
export type HeaderCarrier = Readonly<Record<string, string | string[] | undefined>>;

export interface Tracing {
  readonly tracer: Tracer;
  /** The caller's trace context from W3C `traceparent` / `tracestate` headers; ROOT_CONTEXT when it sent none (or a bad one). */
  extract(headers: HeaderCarrier): Context;
  /** `traceparent` (and `tracestate`) naming `span` as the parent of what the receiver does. */
  headersFor(span: Span): Record<string, string>;
  /** Exports what is still buffered, then stops; gives up after `deadlineMs`. */
  shutdown(deadlineMs: number): Promise<void>;
}

/**
 * Undefined when no OTLP endpoint is configured: then no span is ever made (callers check for it). The SDK and the
 * exporter are imported only then: they are a good part of a start's module loading, for a feature that is off
 * by default.
 */
export async function createTracing(config: Config['tracing']): Promise<Tracing | undefined> {
  if (!config) return undefined;
  const [{ W3CTraceContextPropagator }, { OTLPTraceExporter }, { resourceFromAttributes }, { BasicTracerProvider, BatchSpanProcessor }] = await Promise.all([
    import('@opentelemetry/core'),
    import('@opentelemetry/exporter-trace-otlp-http'),
    import('@opentelemetry/resources'),
    import('@opentelemetry/sdk-trace-base'),
  ]);
  const exporter = new OTLPTraceExporter({ url: config.url, headers: config.headers });
  const provider = new BasicTracerProvider({
    resource: resourceFromAttributes({ 'service.name': config.serviceName }),
    spanProcessors: [new BatchSpanProcessor(exporter, { scheduledDelayMillis: config.scheduleDelayMs })],
  });
  const tracer = provider.getTracer('ai-gateway');
  const propagator = new W3CTraceContextPropagator();
  let stopping: Promise<void> | undefined;
  return {
    tracer,
    extract: (headers) => propagator.extract(ROOT_CONTEXT, headers, defaultTextMapGetter),
    headersFor(span) {
      const out: Record<string, string> = {};
      propagator.inject(trace.setSpan(ROOT_CONTEXT, span), out, defaultTextMapSetter);
      return out;
    },
    shutdown(deadlineMs) {
      stopping ??= (async () => {
        let timer: NodeJS.Timeout | undefined;
        // an unreachable collector must not hold the stop past its deadline: what is not out by then is lost
        const deadline = new Promise<void>((resolve) => (timer = setTimeout(resolve, Math.max(0, deadlineMs))));
        await Promise.race([provider.shutdown().catch(() => {}), deadline]);
        clearTimeout(timer);
      })();
      return stopping;
    },
  };
}
