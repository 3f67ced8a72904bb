// The suites a stage inherits from the stage it grew from, each called by the stage's test in a
// line: step 11's HTTP and Fastify spans and what a stranger can send (kept by 18 and 19), step
// 18's metrics (kept by 19); step 20's are in services-suites.ts. What is a stage's own stays in
// its test file; a suite that shares its boot with the stage's own tests takes them as `own`,
// which runs in the same suite.
import { afterAll, beforeAll, describe, it } from 'vitest';
import { SpanKind, StatusCode, type ReceivedMetric, type ReceivedSpan } from '../otlp/receiver.ts';
import { runStage, type StageRun } from './run.ts';
import { itNamesWhatIsOutsideConventions } from './semconv.ts';
import { itMatchesTelemetrySnapshot } from './telemetry-snapshot.ts';

/** The stage's own tests, registered in an inherited suite: they read the suite's run once it has booted. */
export type OwnTests = (run: () => StageRun) => void;

/**
 * A suite that runs alongside the file's other such suites, its tests one after the other: each
 * suite mostly waits on the stage it booted, so the boots overlap instead of queueing.
 */
export function alongside(name: string, body: () => void): void {
  describe.concurrent(name, () => {
    describe('in order', { concurrent: false }, body);
  });
}

const SECRET_TOKEN = 'Bearer s3cret-token-that-must-not-leak';
const SECRET_COOKIE = 'session=c00kie-that-must-not-leak';
// A caller's trace context: the server span must join this trace, under this parent.
const CALLER_TRACE_ID = '4bf92f3577b34da6a3ce929d0e0e4736';
const CALLER_SPAN_ID = '00f067aa0ba902b7';

/**
 * Step 11's spans: the HTTP server span with the stable attributes, Fastify's spans under it,
 * errors, the header allowlist, no credential leaving the process, the caller's trace continued,
 * nothing lost on Ctrl+C; and the stage's telemetry snapshot, and nothing outside the conventions.
 */
export function describeHttpSpans(stageName: string, { service, own }: { service: string; own?: OwnTests }): void {
  describe(`${stageName}: the HTTP and Fastify spans of step 11`, () => {
    let run: StageRun;
    const server = (route: string): ReceivedSpan[] =>
      run.receiver.spans.filter((s) => s.kind === SpanKind.SERVER && s.attributes['http.route'] === route);

    beforeAll(async () => {
      const headers = { 'user-agent': 'otel-steps-test', 'x-request-id': 'req-42', authorization: SECRET_TOKEN, cookie: SECRET_COOKIE };
      // Batches held for a minute: every span reaches the receiver through the flush on Ctrl+C.
      run = await runStage(stageName, {
        env: { OTEL_BSP_SCHEDULE_DELAY: '60000' },
        requests: [
          { path: '/', headers },
          { path: '/error', headers },
          '/nope',
          { path: '/healthz', headers },
          { path: '/', headers: { traceparent: `00-${CALLER_TRACE_ID}-${CALLER_SPAN_ID}-01` } },
        ],
      });
    });

    afterAll(async () => {
      await run?.close();
    });

    it('still serves after the error, and loses no span on Ctrl+C', ({ expect }) => {
      expect(run.statuses).toEqual([200, 500, 404, 200, 200]);
      expect(run.exit.code).toBe(0);
      // One server span per traced request: /healthz is left out on purpose.
      expect(run.receiver.spans.filter((s) => s.kind === SpanKind.SERVER)).toHaveLength(4);
    });

    it('prints each span on the console as it ends: the handler first, the server span last', ({ expect }) => {
      const printed = [...run.exit.output.matchAll(/^  name: '([^']+)',$/gm)].map((m) => m[1]);
      expect(printed.slice(0, 3)).toEqual(['handler - hello', 'request', 'GET /']);
    });

    it('names the service in the resource', ({ expect }) => {
      for (const span of run.receiver.spans) expect(span.resource['service.name']).toBe(service);
    });

    it('exports an HTTP server span "GET /" with the stable HTTP attributes', ({ expect }) => {
      const span = server('/')[0]!;
      expect(span.name).toBe('GET /');
      expect(span.parentSpanId).toBe('');
      expect(span.scope.name).toBe('@opentelemetry/instrumentation-http');
      expect(span.attributes).toMatchObject({ 'http.request.method': 'GET', 'http.route': '/', 'http.response.status_code': 200 });
      expect(span.status.code).toBe(StatusCode.UNSET);
    });

    it('nests the Fastify spans under it, in the same trace: request, then the named handler', ({ expect }) => {
      const root = server('/')[0]!;
      const [request] = run.children(root);
      expect(request).toMatchObject({ name: 'request', traceId: root.traceId, scope: { name: '@fastify/otel' } });
      const [handler] = run.children(request!);
      expect(handler).toMatchObject({ name: 'handler - hello', traceId: root.traceId, kind: SpanKind.INTERNAL });
    });

    it('flags /error as an error at every level, with the exception on the handler span', ({ expect }) => {
      const root = server('/error')[0]!;
      expect(root.name).toBe('GET /error');
      expect(root.attributes['http.response.status_code']).toBe(500);
      expect(root.status.code).toBe(StatusCode.ERROR);
      const request = run.children(root)[0]!;
      expect(request.status.code).toBe(StatusCode.ERROR);
      const handler = run.children(request)[0]!;
      expect(handler.name).toBe('handler - fail');
      expect(handler.status).toEqual({ code: StatusCode.ERROR, message: 'Something went wrong on purpose' });
      expect(handler.events.find((e) => e.name === 'exception')?.attributes['exception.message']).toBe('Something went wrong on purpose');
    });

    it('captures the allowlisted headers as attributes', ({ expect }) => {
      const span = server('/')[0]!;
      expect(span.attributes['http.request.header.user-agent']).toEqual(['otel-steps-test']);
      expect(span.attributes['http.request.header.x-request-id']).toEqual(['req-42']);
    });

    it('never lets Authorization or Cookie leave the process, neither to OTLP nor to the console', ({ expect }) => {
      expect(run.leaked(['s3cret-token', 'c00kie'])).toEqual([]);
      for (const span of run.receiver.spans) {
        expect(Object.keys(span.attributes).filter((k) => /authorization|cookie/i.test(k))).toEqual([]);
      }
    });

    it("continues the caller's trace when a traceparent header arrives", ({ expect }) => {
      const joined = run.receiver.spans.find((s) => s.kind === SpanKind.SERVER && s.traceId === CALLER_TRACE_ID);
      expect(joined?.parentSpanId).toBe(CALLER_SPAN_ID);
    });

    it('prints the spans to the console as well', ({ expect }) => {
      expect(run.exit.output).toMatch(/name: 'GET \/'/);
      expect(run.exit.output).toMatch(/name: 'handler - hello'/);
    });

    own?.(() => run);

    itMatchesTelemetrySnapshot(stageName, () => run);
    itNamesWhatIsOutsideConventions(stageName, () => [run]);
  });
}

/**
 * Step 11's SIGHUP run: the terminal window is closed at the end, with batches held for a minute,
 * so that every span arrives through the flush on the way out, or not at all; and what a stranger
 * can put in a URL (secrets in the query, a sampled=00 caller, 15 KB) is masked, kept, or cut.
 */
export function describeStrangerAndHangup(stageName: string, { own }: { own?: OwnTests } = {}): void {
  describe(`${stageName}: what a stranger can send, and closing the terminal`, () => {
    const SECRETS = ['tok-SECRET-1', 'pw-SECRET-2', 'key-SECRET-3'];
    let run: StageRun;
    const server = (path: string): ReceivedSpan => run.receiver.spans.find((s) => s.kind === SpanKind.SERVER && s.attributes['url.path'] === path)!;

    beforeAll(async () => {
      run = await runStage(stageName, {
        env: { OTEL_BSP_SCHEDULE_DELAY: '60000' },
        signal: 'SIGHUP',
        requests: [
          `/?token=${SECRETS[0]}&password=${SECRETS[1]}&lang=en`,
          // A caller that asks for no tracing (sampled flag 00) on a request that fails.
          { path: `/error?api_key=${SECRETS[2]}`, headers: { traceparent: `00-${CALLER_TRACE_ID}-${CALLER_SPAN_ID}-00` } },
          `/${'x'.repeat(15_000)}`,
        ],
      });
    });

    afterAll(async () => {
      await run?.close();
    });

    it('flushes every pending span on SIGHUP, as on Ctrl+C', ({ expect }) => {
      expect(run.exit.output).toContain('SIGHUP received, closing the server');
      expect(run.receiver.spans.filter((s) => s.kind === SpanKind.SERVER)).toHaveLength(3);
    });

    it('masks secret query values in url.query, and keeps the rest', ({ expect }) => {
      expect(server('/').attributes['url.query']).toBe('token=REDACTED&password=REDACTED&lang=en');
      expect(server('/error').attributes['url.query']).toBe('api_key=REDACTED');
    });

    it('keeps the query string out of url.path on the Fastify request span', ({ expect }) => {
      const request = run.receiver.spans.find((s) => s.name === 'request' && s.attributes['http.route'] === '/')!;
      expect(request.attributes['url.path']).toBe('/');
    });

    it('lets no secret reach OTLP, the console, or the error log line', ({ expect }) => {
      expect(run.leaked(SECRETS)).toEqual([]);
      expect(run.exit.output).toContain('"url":"/error?api_key=REDACTED"');
    });

    it('still records the failing request whose caller sent sampled=00, as an error', ({ expect }) => {
      const failed = server('/error');
      expect(failed.status.code).toBe(StatusCode.ERROR);
      // It continues the caller's trace: the parent-based sampler only overrides the "do not sample".
      expect(failed.traceId).toBe(CALLER_TRACE_ID);
    });

    it('cuts a 15 KB URL down to 1 KiB in every attribute', ({ expect }) => {
      const long = run.receiver.spans.filter((s) => String(s.attributes['url.path'] ?? '').startsWith('/xxx'));
      expect(long.length).toBeGreaterThan(0);
      for (const span of long) for (const value of Object.values(span.attributes)) expect(String(value).length).toBeLessThanOrEqual(1024);
    });

    own?.(() => run);
  });
}

/**
 * Step 18's metrics, the numbers a reader would act on: exact, after a known number of requests;
 * and OTEL_METRICS_EXPORTER=none and =console. With `logs`, the stage's logs too are turned off
 * in the same run (OTEL_LOGS_EXPORTER=none), and must leave the traces and the console's lines.
 */
export function describeMetrics(stageName: string, { service, logs = false }: { service: string; logs?: boolean }): void {
  describe(`${stageName}: the metrics of step 18`, () => {
    const ROOT = 5;
    const ERRORS = 3;
    let run: StageRun;
    // Cumulative temporality: the last reading of a series holds its total.
    const last = (name: string): ReceivedMetric | undefined => run.receiver.metrics.findLast((m) => m.name === name);
    const point = (metric: ReceivedMetric | undefined, attributes: Record<string, unknown>) =>
      metric?.dataPoints.filter((p) => Object.entries(attributes).every(([k, v]) => p.attributes[k] === v));

    beforeAll(async () => {
      run = await runStage(stageName, {
        requests: [...Array<string>(ROOT).fill('/'), ...Array<string>(ERRORS).fill('/error'), '/healthz', '/healthz', '/nope', `/?token=tok-SECRET-9`],
      });
    });

    afterAll(async () => {
      await run?.close();
    });

    it('sends the last reading on Ctrl+C, exit 0', ({ expect }) => {
      expect(run.exit.code).toBe(0);
      expect(run.receiver.requests.some((r) => r.signal === 'metrics')).toBe(true);
    });

    it("counts every greeting served: app.greetings, a counter with no attributes, from the app's own meter", ({ expect }) => {
      const greetings = last('app.greetings')!;
      expect(greetings).toMatchObject({ type: 'sum', unit: '{greeting}', scope: { name: 'otel-steps-app' } });
      expect(greetings.resource['service.name']).toBe(service);
      expect(greetings.dataPoints).toEqual([{ attributes: {}, value: ROOT + 1 }]);
    });

    it('records http.server.request.duration in seconds, one histogram count per request, by route and status', ({ expect }) => {
      const duration = last('http.server.request.duration')!;
      expect(duration).toMatchObject({ type: 'histogram', unit: 's', scope: { name: '@opentelemetry/instrumentation-http' } });
      expect(point(duration, { 'http.route': '/', 'http.response.status_code': 200, 'http.request.method': 'GET' })!.map((p) => p.count)).toEqual([ROOT + 1]);
      expect(point(duration, { 'http.route': '/error', 'http.response.status_code': 500 })!.map((p) => p.count)).toEqual([ERRORS]);
      // A 404 matched no route: it is counted without http.route, never under its raw path.
      expect(point(duration, { 'http.response.status_code': 404 })!.map((p) => [p.count, p.attributes['http.route']])).toEqual([[1, undefined]]);
      for (const p of duration.dataPoints) expect(p.sum).toBeGreaterThan(0);
    });

    it('has no series for /healthz, and no attribute that carries a path or a query', ({ expect }) => {
      const duration = last('http.server.request.duration')!;
      expect(duration.dataPoints.reduce((sum, p) => sum + (p.count ?? 0), 0)).toBe(ROOT + 1 + ERRORS + 1);
      for (const p of duration.dataPoints) expect(Object.keys(p.attributes).filter((k) => k.startsWith('url.'))).toEqual(['url.scheme']);
      expect(run.leaked(['tok-SECRET-9'])).toEqual([]);
    });

    it('reports the runtime: event loop delay and heap, from the runtime instrumentation', ({ expect }) => {
      const names = new Set(run.receiver.metrics.filter((m) => m.scope.name === '@opentelemetry/instrumentation-runtime-node').map((m) => m.name));
      expect(names).toContain('nodejs.eventloop.delay.p99');
      expect(names).toContain('v8js.memory.heap.used');
    });

    // One run for both signals: each has its own variable, and turning both off must keep the traces.
    const off = logs
      ? 'OTEL_METRICS_EXPORTER=none and OTEL_LOGS_EXPORTER=none send no metrics and no log records'
      : 'OTEL_METRICS_EXPORTER=none sends no metrics';
    const kept = logs ? "keep the traces and the console's log lines" : 'keeps the traces';
    it(`${off}, and ${kept}; OTEL_METRICS_EXPORTER=console prints the metrics`, async ({ expect }) => {
      // The two boots at once: each is a run of its own.
      const runs = await Promise.allSettled([
        runStage(stageName, { requests: ['/'], env: { OTEL_METRICS_EXPORTER: 'none', ...(logs ? { OTEL_LOGS_EXPORTER: 'none' } : {}) } }),
        runStage(stageName, { requests: ['/'], env: { OTEL_METRICS_EXPORTER: 'console', OTEL_TRACES_EXPORTER: 'otlp' } }),
      ]);
      try {
        const [none, console] = runs.map((r) => {
          if (r.status === 'rejected') throw r.reason;
          return r.value;
        }) as [StageRun, StageRun];
        expect(none.receiver.metrics).toEqual([]);
        expect(none.receiver.spans.length).toBeGreaterThan(0);
        if (logs) {
          expect(none.receiver.logs).toEqual([]);
          expect(none.exit.output).toContain('"msg":"incoming request"');
        }
        expect(console.receiver.metrics).toEqual([]);
        expect(console.exit.output).toContain("name: 'app.greetings'");
      } finally {
        for (const r of runs) if (r.status === 'fulfilled') await r.value.close();
      }
    });
  });
}
