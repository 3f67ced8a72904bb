// Telemetry set-up lives in this file. The start script preloads it (node --import) so that it
// runs before the app is imported: the instrumentations below can only patch modules (http,
// fastify) that have not been loaded yet.
import { FastifyOtelInstrumentation } from '@fastify/otel';
import { context, logs, metrics, propagation, trace } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { CompositePropagator, ExportResultCode, W3CBaggagePropagator, W3CTraceContextPropagator, type ExportResult } from '@opentelemetry/core';
import { OTLPLogExporter } from '@opentelemetry/exporter-logs-otlp-http';
import { OTLPMetricExporter } from '@opentelemetry/exporter-metrics-otlp-http';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { registerInstrumentations } from '@opentelemetry/instrumentation';
import { HttpInstrumentation } from '@opentelemetry/instrumentation-http';
import { PinoInstrumentation } from '@opentelemetry/instrumentation-pino';
import { RuntimeNodeInstrumentation } from '@opentelemetry/instrumentation-runtime-node';
import { UndiciInstrumentation } from '@opentelemetry/instrumentation-undici';
import { detectResources, envDetector, resourceFromAttributes } from '@opentelemetry/resources';
import { BatchLogRecordProcessor, ConsoleLogRecordExporter, LoggerProvider, SimpleLogRecordProcessor, type LogRecordProcessor, type ReadWriteLogRecord } from '@opentelemetry/sdk-logs';
import { ConsoleMetricExporter, MeterProvider, PeriodicExportingMetricReader, type IMetricReader, type PushMetricExporter } from '@opentelemetry/sdk-metrics';
import { AlwaysOnSampler, BatchSpanProcessor, ConsoleSpanExporter, ParentBasedSampler, SimpleSpanProcessor, TracerProvider, type SpanProcessor } from '@opentelemetry/sdk-trace';
import {
  ATTR_CLIENT_ADDRESS,
  ATTR_CLIENT_PORT,
  ATTR_HTTP_REQUEST_METHOD,
  ATTR_HTTP_RESPONSE_STATUS_CODE,
  ATTR_SERVER_ADDRESS,
  ATTR_SERVER_PORT,
  ATTR_SERVICE_NAME,
  ATTR_URL_PATH,
  ATTR_URL_QUERY,
} from '@opentelemetry/semantic-conventions';
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

// The request's duration, in seconds as the conventions measure it (http.server.request.duration),
// under this app's namespace: the conventions define no attribute for it.
const ATTR_REQUEST_DURATION = 'otel_steps.request.duration';

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
    spanProcessors.push(new BatchSpanProcessor({ exporter: loud(otlp, 'spans', env.endpoints.traces), scheduledDelayMillis: env.scheduleDelay }));
  }
  if (env.exporters.includes('console')) {
    // To this terminal, one span at a time, so each request shows up as soon as it ends.
    spanProcessors.push(new SimpleSpanProcessor({ exporter: new ConsoleSpanExporter() }));
  }

  // step-22-gateway, step-22-greeter or step-22-words (src/services.ts sets SERVICE), unless
  // OTEL_SERVICE_NAME (or OTEL_RESOURCE_ATTRIBUTES) says otherwise.
  const resource = resourceFromAttributes({ [ATTR_SERVICE_NAME]: `step-22-${process.env.SERVICE ?? 'gateway'}` }).merge(detectResources({ detectors: [envDetector] }));
  const provider = new TracerProvider({
    resource,
    // A caller that sends `traceparent` with the sampled flag off must not be able to switch
    // tracing off here: this app samples every request that reaches it, errors included.
    sampler: new ParentBasedSampler({ root: new AlwaysOnSampler(), remoteParentNotSampled: new AlwaysOnSampler() }),
    // A 15 KB URL must not become a 15 KB attribute: values are cut at 1 KiB, and a span keeps at
    // most 64 attributes (these spans carry about a dozen).
    spanLimits: { attributeValueLengthLimit: 1024, attributeCountLimit: 64 },
    spanProcessors,
  });

  // Metrics are collected in memory and read every OTEL_METRIC_EXPORT_INTERVAL ms (here 1000 by
  // default, so that a request shows in Prometheus within a second or two in a live room; the
  // SDKs' default, 60000, is what production dashboards are built for). Each reading sends every
  // series' running total (cumulative temporality, what Prometheus expects).
  const readers: IMetricReader[] = [];
  const reader = (exporter: PushMetricExporter): PeriodicExportingMetricReader =>
    new PeriodicExportingMetricReader({ exporter, exportIntervalMillis: env.metricInterval, exportTimeoutMillis: Math.min(env.metricInterval, 2_000) });
  if (env.metricExporters.includes('otlp')) readers.push(reader(loud(new OTLPMetricExporter({ timeoutMillis: 2_000 }), 'metrics', env.endpoints.metrics)));
  if (env.metricExporters.includes('console')) readers.push(reader(new ConsoleMetricExporter()));
  const meterProvider = new MeterProvider({ resource, readers });

  // Log records go the way spans do: in batches to the collector (every OTEL_BLRP_SCHEDULE_DELAY
  // ms, 200 here), or one by one to this terminal with OTEL_LOGS_EXPORTER=console. Pino
  // already prints every line here, so the default is the collector only. The first processor
  // renames Fastify's fields before the others see the record.
  const logProcessors: LogRecordProcessor[] = [conventionalLogAttributes()];
  if (env.logExporters.includes('otlp')) {
    const exporter = loud(new OTLPLogExporter({ timeoutMillis: 2_000 }), 'logs', env.endpoints.logs);
    logProcessors.push(new BatchLogRecordProcessor({ exporter, scheduledDelayMillis: env.logDelay }));
  }
  if (env.logExporters.includes('console')) logProcessors.push(new SimpleLogRecordProcessor({ exporter: new ConsoleLogRecordExporter() }));
  // The same limits as the spans': a 15 KB URL becomes a 1 KiB url.path here too.
  const loggerProvider = new LoggerProvider({ resource, processors: logProcessors, logRecordLimits: { attributeValueLengthLimit: 1024, attributeCountLimit: 64 } });

  // SDK 3 has no provider.register(): the globals are set one by one.
  trace.setGlobalTracerProvider(provider);
  // The Metrics API's meters (src/app.ts's among them) now record into this provider.
  metrics.setGlobalMeterProvider(meterProvider);
  // And the Logs API's loggers into this one: the pino instrumentation below is such a logger.
  logs.setGlobalLoggerProvider(loggerProvider);
  // Keeps the active span across awaits, so spans started later find their parent.
  context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
  // Reads and writes the W3C traceparent header, so a caller's trace continues into this
  // service and on into the services it calls, and the baggage header, which carries baggage.
  propagation.setGlobalPropagator(new CompositePropagator({ propagators: [new W3CTraceContextPropagator(), new W3CBaggagePropagator()] }));

  registerInstrumentations({
    tracerProvider: provider,
    meterProvider,
    instrumentations: [
      // One SERVER span per request, named after the method and route (GET /), with the stable
      // HTTP semantic conventions: http.request.method, http.route, http.response.status_code.
      // The same instrumentation records the http.server.request.duration histogram, in seconds,
      // with the same attributes (http.route comes from Fastify's route, never the raw path).
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
      // Node's fetch is undici: a CLIENT span per outgoing request, named after its method, and the
      // traceparent and baggage headers added to it, so the next service continues the trace.
      new UndiciInstrumentation(),
      // The runtime's own health as metrics: event loop delay (sampled every 10 ms) and
      // utilization, heap by space, garbage collection, active handles.
      new RuntimeNodeInstrumentation(),
      // Fastify logs with pino. This instrumentation adds the active span's trace_id, span_id and
      // trace_flags to every line pino writes (the console's included), and sends each line to
      // the Logs API as a log record, in that span's context, with pino's `err` as the
      // exception.type, exception.message and exception.stacktrace attributes.
      new PinoInstrumentation(),
    ],
  });

  // server.ts closes the app on SIGINT (Ctrl+C), SIGTERM and SIGHUP and then lets the event loop
  // drain. 'beforeExit' fires at that point, after the last request's span has ended: flush the
  // batch that is still waiting, and send the metrics' last reading, or the last moments of
  // telemetry are lost on every stop.
  process.once('beforeExit', () => {
    exiting = true;
    // Telemetry must never turn a clean stop into a crash: loud() below reports what the last
    // exports could not send (the metric reader would swallow it), and the stop goes on.
    Promise.allSettled([provider.shutdown(), meterProvider.shutdown(), loggerProvider.shutdown()]);
  });
}

/**
 * Fastify's request fields, as the semantic conventions name them, on every log record before it
 * is exported: the names a learner queries in the logs backend, the same as on the spans. Pino's
 * line on the terminal keeps Fastify's own names. A processor may change a record while it is
 * being emitted, and this one runs first.
 */
function conventionalLogAttributes(): LogRecordProcessor {
  const onEmit = (record: ReadWriteLogRecord): void => {
    // Fastify's fields, as pino wrote them: `req` (src/app.ts's serializer), `res`, `responseTime`
    // in milliseconds, `statusCode` (when a reply could not be serialized) and `reqId`.
    const fields = record.attributes as Record<string, unknown>;
    const { req, res, responseTime, statusCode } = fields as {
      req?: { method?: string; url?: string; host?: string; remoteAddress?: string; remotePort?: number };
      res?: { statusCode?: number };
      responseTime?: number;
      statusCode?: number;
    };
    // reqId is dropped, not renamed: the record's trace and span ids already say which request it
    // belongs to, across services, where Fastify's counter starts again at req-1 in every process.
    for (const key of ['req', 'res', 'responseTime', 'statusCode', 'reqId']) delete fields[key];
    if (req) {
      const [path, query] = splitOnce(req.url ?? '', '?');
      record.setAttribute(ATTR_HTTP_REQUEST_METHOD, req.method);
      record.setAttribute(ATTR_URL_PATH, path);
      record.setAttribute(ATTR_URL_QUERY, query);
      // The Host header as it came: a name or an address, and a port when it has one.
      const host = /^\[?([^\]]*?)\]?(?::(\d+))?$/.exec(req.host ?? '');
      record.setAttribute(ATTR_SERVER_ADDRESS, host?.[1] || undefined);
      record.setAttribute(ATTR_SERVER_PORT, host?.[2] ? Number(host[2]) : undefined);
      record.setAttribute(ATTR_CLIENT_ADDRESS, req.remoteAddress);
      record.setAttribute(ATTR_CLIENT_PORT, req.remotePort);
    }
    record.setAttribute(ATTR_HTTP_RESPONSE_STATUS_CODE, res?.statusCode ?? statusCode);
    if (typeof responseTime === 'number') record.setAttribute(ATTR_REQUEST_DURATION, responseTime / 1000);
  };
  // It holds nothing, so it has nothing to flush.
  return { onEmit, forceFlush: () => Promise.resolve(), shutdown: () => Promise.resolve() };
}

/** `text` split at the first `separator`: the part before, and the part after or undefined. */
function splitOnce(text: string, separator: string): [string, string | undefined] {
  const at = text.indexOf(separator);
  return at < 0 ? [text, undefined] : [text.slice(0, at), text.slice(at + 1)];
}

/**
 * Wraps an exporter so that it says once when exports start failing and once when they work
 * again, instead of dropping telemetry in silence while the collector is down; never a line per item.
 */
function loud<E extends { export(data: never, done: (result: ExportResult) => void): void }>(exporter: E, what: string, endpoint: string): E {
  let failing = false;
  let lostOnExit = false;
  // A Proxy: only export() is wrapped, everything else (a metric exporter's choice of
  // temporality, say) is the exporter's own.
  return new Proxy(exporter, {
    get(target, key) {
      const value: unknown = Reflect.get(target, key);
      if (key !== 'export') return typeof value === 'function' ? value.bind(target) : value;
      return (data: never, done: (result: ExportResult) => void): void =>
        target.export(data, (result) => {
          const ok = result.code === ExportResultCode.SUCCESS;
          const reason = result.error?.message ?? 'failed';
          if (!ok && exiting) {
            if (!lostOnExit) console.warn(`telemetry: ${what} not flushed on exit (${reason})`);
            lostOnExit = true;
          } else if (!ok && !failing) console.warn(`telemetry: cannot export ${what} to ${endpoint} (${reason}); they are dropped until it answers`);
          if (ok && failing) console.warn(`telemetry: exporting ${what} to ${endpoint} again`);
          failing = !ok;
          done(result);
        });
    },
  });
}
