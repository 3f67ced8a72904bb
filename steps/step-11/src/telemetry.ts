// Telemetry set-up lives in this file. The start script preloads it (node --import) so that it
// runs before the app is imported: the instrumentations below can only patch modules (http,
// fastify) that have not been loaded yet.
import { FastifyOtelInstrumentation } from '@fastify/otel';
import { context, propagation, trace } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { registerInstrumentations } from '@opentelemetry/instrumentation';
import { HttpInstrumentation } from '@opentelemetry/instrumentation-http';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { BatchSpanProcessor, ConsoleSpanExporter, SimpleSpanProcessor, TracerProvider } from '@opentelemetry/sdk-trace';
import { ATTR_SERVICE_NAME } from '@opentelemetry/semantic-conventions';

const provider = new TracerProvider({
  resource: resourceFromAttributes({ [ATTR_SERVICE_NAME]: 'step-11-contrib' }),
  spanProcessors: [
    // To the collector, in batches. The endpoint defaults to http://localhost:4318/v1/traces;
    // OTEL_EXPORTER_OTLP_ENDPOINT overrides it. With no collector running, exports fail quietly,
    // and the short timeout (default 10 s, retries included) keeps Ctrl+C from hanging on them.
    new BatchSpanProcessor({ exporter: new OTLPTraceExporter({ timeoutMillis: 2_000 }) }),
    // To this terminal, one span at a time, so each request shows up as soon as it ends.
    new SimpleSpanProcessor({ exporter: new ConsoleSpanExporter() }),
  ],
});

// SDK 3 has no provider.register(): the three globals are set one by one.
trace.setGlobalTracerProvider(provider);
// Keeps the active span across awaits, so spans started later find their parent.
context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
// Reads and writes the W3C traceparent header, so a caller's trace continues into this app.
propagation.setGlobalPropagator(new W3CTraceContextPropagator());

// Health checks arrive every few seconds from load balancers; their traces would bury real traffic.
const HEALTH_CHECK = '/healthz';

registerInstrumentations({
  tracerProvider: provider,
  instrumentations: [
    // One SERVER span per request, named after the method and route (GET /), with the stable
    // HTTP semantic conventions: http.request.method, http.route, http.response.status_code.
    new HttpInstrumentation({
      ignoreIncomingRequestHook: (request) => request.url?.split('?')[0] === HEALTH_CHECK,
      // Headers become attributes only when listed here. Authorization and Cookie never are:
      // an allowlist cannot leak a secret that nobody thought of adding to a denylist.
      headersToSpanAttributes: {
        server: { requestHeaders: ['user-agent', 'x-request-id'] },
      },
    }),
    // Fastify's request lifecycle, as children of the HTTP span: the request, each hook and the
    // route handler (named after its function). It listens on diagnostics_channel, so it needs
    // no ESM loader hook, and registerOnInitialization adds its plugin to every Fastify instance.
    new FastifyOtelInstrumentation({ registerOnInitialization: true, ignorePaths: HEALTH_CHECK }),
  ],
});

// server.ts closes the app on SIGINT (Ctrl+C) and SIGTERM and then lets the event loop drain.
// 'beforeExit' fires at that point, after the last request's span has ended: flush the batch
// that is still waiting, or up to five seconds of spans are lost on every stop.
process.once('beforeExit', () => {
  // Telemetry must never turn a clean stop into a crash: report the failure and move on.
  provider.shutdown().catch((err: Error) => console.warn(`telemetry: spans not flushed on exit (${err.message})`));
});
