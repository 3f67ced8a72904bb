// Telemetry set-up lives in this file. The start script preloads it (node --import) so that it
// runs before the app is imported: the instrumentations below can only patch modules (http,
// fastify) that have not been loaded yet.
import { FastifyOtelInstrumentation } from '@fastify/otel';
import { context, propagation, trace } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { ExportResultCode, W3CTraceContextPropagator, type ExportResult } from '@opentelemetry/core';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { registerInstrumentations } from '@opentelemetry/instrumentation';
import { HttpInstrumentation } from '@opentelemetry/instrumentation-http';
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
import { ATTR_SERVICE_NAME, ATTR_URL_PATH, ATTR_URL_QUERY } from '@opentelemetry/semantic-conventions';
// The standard OTEL_* variables, read and checked by environment.ts, which the start script preloads first.
import { env } from './environment.ts';

let exiting = false;

// Health checks arrive every few seconds from load balancers; their traces would bury real traffic.
const HEALTH_CHECK = '/healthz';
// The query parameters whose values are secrets, whatever their case (?Token= and ?PASSWORD= too):
// the semantic conventions' own list (signed URLs) and the names secrets usually go by.
const SECRET_QUERY_PARAMS = new Set(
  ['sig', 'signature', 'awsaccesskeyid', 'x-goog-signature', 'x-amz-signature', 'x-amz-credential', 'x-amz-security-token']
    .concat(['token', 'access_token', 'refresh_token', 'id_token', 'password', 'passwd', 'secret', 'api_key', 'apikey', 'key', 'code', 'auth'])
    .concat(['access-token', 'private_token', 'jwt', 'session', 'sessionid', 'client_secret', 'pwd', 'x-api-key', 'api-key', 'credentials', 'authorization']),
);
// And every name with one of these in it (auth_token, session_id, private_key...): no list of
// whole names is ever complete.
const SECRET_QUERY_WORDS = /token|secret|passw|credential|session|signature|private.?key|access.?key|api.?key/;

/**
 * url.query for a request URL, with the value of each secret parameter replaced by REDACTED. The
 * HTTP instrumentation's own redactedQueryParamsServer compares names as they are written, so
 * ?Token= would keep its value; names here are compared as the app reads them, case aside.
 */
function maskedQuery(url: string | undefined): Record<string, string> {
  const at = url?.indexOf('?') ?? -1;
  // A path can carry parameters too, after a ; (/word;token=...): url.path masked as well, when it does.
  const path = at < 0 ? (url ?? '') : url!.slice(0, at);
  const masked: Record<string, string> = maskedPath(path) === path ? {} : { [ATTR_URL_PATH]: maskedPath(path) };
  if (at < 0 || at === url!.length - 1) return masked;
  const params = [...new URLSearchParams(url!.slice(at + 1))].map(([name, value]): [string, string] => [name, secret(name) ? 'REDACTED' : maskedWithin(value)]);
  return { ...masked, [ATTR_URL_QUERY]: new URLSearchParams(params).toString() };
}

/** A request's path, the values of its secret ;name=value parameters masked. */
const maskedPath = (path: string): string => maskedWithin(path);

/**
 * Whether a parameter's name is a secret's: in any case, token[] (an array, as qs reads it) and
 * token%00 (control characters dropped: a parser may stop at one) too, and the last part of a name
 * after ; or #, which a value can hide behind (?a;token=).
 */
const secret = (raw: string): boolean => {
  const name = raw.replace(/[\u0000-\u001f\u007f-\u009f]/g, '').split(/[;#]/).pop()!.toLowerCase().replace(/\[.*$/s, '');
  return SECRET_QUERY_PARAMS.has(name) || SECRET_QUERY_WORDS.test(name);
};

/** A value with the parameters it holds masked: after ; (a separator to some servers) or a # sent raw, ?a=1;token=. */
const maskedWithin = (value: string): string =>
  value.replace(/([;#])([^;#=]*)=[^;#]*/g, (all, separator: string, name: string) => (secret(name) ? `${separator}${name}=REDACTED` : all));

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
    // step-11-contrib unless OTEL_SERVICE_NAME (or OTEL_RESOURCE_ATTRIBUTES) says otherwise.
    resource: resourceFromAttributes({ [ATTR_SERVICE_NAME]: 'step-11-contrib' }).merge(detectResources({ detectors: [envDetector] })),
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
  // Reads and writes the W3C traceparent header, so a caller's trace continues into this app.
  propagation.setGlobalPropagator(new W3CTraceContextPropagator());

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
        // url.query keeps the query string, with the secrets' values replaced by REDACTED: these
        // attributes are the span's from its start, over the instrumentation's own url.query.
        startIncomingSpanHook: (request) => maskedQuery(request.url),
        // Incoming requests only: the app's own outgoing node:http requests are the exporters'
        // batches to the collector, which must not measure or trace themselves.
        disableOutgoingRequestInstrumentation: true,
      }),
      // Fastify's request lifecycle, as children of the HTTP span: the request, each hook and the
      // route handler (named after its function). It listens on diagnostics_channel, so it needs
      // no ESM loader hook, and registerOnInitialization adds its plugin to every Fastify instance.
      new FastifyOtelInstrumentation({
        registerOnInitialization: true,
        // A function, not the path as a string: a string is matched as a glob, compiled again on
        // every request (a tenth of this stage's CPU under load).
        ignorePaths: ({ url }) => url.split('?')[0] === HEALTH_CHECK,
        // It records the raw request URL, query string and all, as url.path: keep the path only.
        requestHook: (span, request) => span.setAttribute(ATTR_URL_PATH, maskedPath(request.url.split('?')[0]!)),
      }),
    ],
  });

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
