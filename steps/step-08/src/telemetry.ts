// Telemetry set-up lives in this file. The start script preloads it (node --import) so that it
// runs before the app is imported, and every span the app starts has a provider to go to.
import { context, propagation, trace } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { ExportResultCode, W3CTraceContextPropagator, type ExportResult } from '@opentelemetry/core';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { detectResources, envDetector, resourceFromAttributes } from '@opentelemetry/resources';
import {
  AlwaysOnSampler,
  BatchSpanProcessor,
  ConsoleSpanExporter,
  ParentBasedSampler,
  SimpleSpanProcessor,
  TracerProvider,
  type ReadableSpan,
  type SpanExporter,
  type SpanProcessor,
} from '@opentelemetry/sdk-trace';
import { ATTR_SERVICE_NAME } from '@opentelemetry/semantic-conventions';
// The standard OTEL_* variables, read and checked by environment.ts, which the start script preloads first.
import { env } from './environment.ts';

let exiting = false;

if (!env.disabled) {
  const spanProcessors: SpanProcessor[] = [];
  if (env.exporters.includes('otlp')) {
    // To the collector, in batches sent every OTEL_BSP_SCHEDULE_DELAY ms: 200 here, so that a trace
    // is in Jaeger within a second of its request. The SDK's own default, 5000, sends fewer and
    // larger requests, which is what production wants. The endpoint defaults to
    // http://localhost:4318/v1/traces; OTEL_EXPORTER_OTLP_ENDPOINT overrides it.
    // The short timeout (default 10 s, retries included) keeps Ctrl+C from hanging when no
    // collector runs.
    const otlp = new OTLPTraceExporter({ timeoutMillis: 2_000 });
    spanProcessors.push(new BatchSpanProcessor({ exporter: loud(otlp, env.endpoints.traces), scheduledDelayMillis: env.scheduleDelay }));
  }
  if (env.exporters.includes('console')) {
    // To this terminal, one span at a time, so each request shows up as soon as it ends.
    spanProcessors.push(new SimpleSpanProcessor({ exporter: new ConsoleSpanExporter() }));
  }

  const provider = new TracerProvider({
    // step-08-manual unless OTEL_SERVICE_NAME (or OTEL_RESOURCE_ATTRIBUTES) says otherwise.
    resource: resourceFromAttributes({ [ATTR_SERVICE_NAME]: 'step-08-manual' }).merge(detectResources({ detectors: [envDetector] })),
    // A caller that sends `traceparent` with the sampled flag off must not be able to switch
    // tracing off here: this app samples every request that reaches it, errors included.
    sampler: new ParentBasedSampler({ root: new AlwaysOnSampler(), remoteParentNotSampled: new AlwaysOnSampler() }),
    // A 15 KB URL must not become a 15 KB attribute: values are cut at 1 KiB, and a span keeps at
    // most 64 attributes (these spans carry about a dozen).
    spanLimits: { attributeValueLengthLimit: 1024, attributeCountLimit: 64 },
    spanProcessors,
  });

  // SDK 3 has no provider.register(): the three globals are set one by one.
  trace.setGlobalTracerProvider(provider);
  // Keeps the active span across awaits, so spans started later find their parent.
  context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
  // Reads and writes the W3C traceparent header once something propagates context.
  propagation.setGlobalPropagator(new W3CTraceContextPropagator());

  // server.ts closes the app on SIGINT (Ctrl+C), SIGTERM and SIGHUP and then lets the event loop
  // drain. 'beforeExit' fires at that point, after the last request's span has ended: flush the
  // batch that is still waiting, or the last 200 ms of spans are lost on every stop.
  process.once('beforeExit', () => {
    exiting = true;
    // Telemetry must never turn a clean stop into a crash: report the failure and move on.
    provider.shutdown().catch((err: Error) => console.warn(`telemetry: spans not flushed on exit (${err.message})`));
  });
}

/**
 * Wraps an exporter so that it says once when exports start failing and once when they work
 * again, instead of dropping spans in silence while the collector is down; never a line per span.
 */
function loud(exporter: SpanExporter, endpoint: string): SpanExporter {
  let failing = false;
  return {
    export(spans: ReadableSpan[], done: (result: ExportResult) => void): void {
      exporter.export(spans, (result) => {
        const ok = result.code === ExportResultCode.SUCCESS;
        // On the way out the flush reports its own failure, once.
        if (!ok && !failing && !exiting) console.warn(`telemetry: cannot export spans to ${endpoint} (${result.error?.message ?? 'failed'}); they are dropped until it answers`);
        if (ok && failing) console.warn(`telemetry: exporting spans to ${endpoint} again`);
        failing = !ok;
        done(result);
      });
    },
    shutdown: () => exporter.shutdown(),
    forceFlush: () => exporter.forceFlush?.() ?? Promise.resolve(),
  };
}
