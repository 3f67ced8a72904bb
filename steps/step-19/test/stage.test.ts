// Boots step-19 with its real start script and checks the spans, metrics and logs that arrive over
// OTLP: step 11's and step 18's suites, kept (shared/harness/suites.ts), and its logs, which share
// the boot of step 11's suites.
import { describe, expect, it } from 'vitest';
import {
  APP_NAMESPACE,
  describeEnvironmentConventions,
  describeHttpSpans,
  describeMetrics,
  describeStrangerAndHangup,
  outsideConventions,
  SpanKind,
  StatusCode,
  type ReceivedSpan,
  type StageRun,
} from '@otel-steps/shared/harness';

const SERVICE_NAME = 'step-19-logs';

describeHttpSpans('step-19', {
  service: SERVICE_NAME,
  own: (ran: () => StageRun) => {
    // Every line Fastify's logger writes during a request is tied to that request's trace.
    describe('logs', () => {
      const serverSpan = (route: string | undefined, status: number): ReceivedSpan =>
        ran().receiver.spans.find((s) => s.kind === SpanKind.SERVER && s.attributes['http.route'] === route && s.attributes['http.response.status_code'] === status)!;
      const logsOf = (span: ReceivedSpan) => ran().receiver.logs.filter((l) => l.traceId === span.traceId);

      it('sends each request\'s log lines as OTLP log records in its trace: arrival and completion', () => {
        const records = logsOf(serverSpan('/', 200));
        expect(records.map((l) => [l.severityText, l.body])).toEqual([['info', 'incoming request'], ['info', 'request completed']]);
        for (const record of records) {
          expect(record.scope.name).toBe('@opentelemetry/instrumentation-pino');
          expect(record.resource['service.name']).toBe(SERVICE_NAME);
          expect(ran().receiver.spans.find((s) => s.spanId === record.spanId)?.traceId).toBe(record.traceId);
        }
      });

      it('writes one ERROR record for /error, in the failing span, with the exception attributes', () => {
        const root = serverSpan('/error', 500);
        const errors = ran().receiver.logs.filter((l) => l.severityText === 'error');
        expect(errors).toHaveLength(1);
        const [error] = errors;
        expect(error!.traceId).toBe(root.traceId);
        // The span Fastify logged from: its request span, which is the one marked as failed.
        const span = ran().receiver.spans.find((s) => s.spanId === error!.spanId)!;
        expect(span).toMatchObject({ name: 'request', status: { code: StatusCode.ERROR } });
        expect(error).toMatchObject({ severityNumber: 17, body: 'Something went wrong on purpose' });
        expect(error!.attributes).toMatchObject({ 'exception.type': 'Error', 'exception.message': 'Something went wrong on purpose' });
        expect(String(error!.attributes['exception.stacktrace'])).toMatch(/^Error: Something went wrong on purpose\n\s+at /);
      });

      it('writes nothing for /healthz, and every record written during a request is in a request\'s trace', () => {
        const requestLogs = ran().receiver.logs.filter((l) => l.traceId !== '');
        const arrivals = requestLogs.filter((l) => l.body === 'incoming request');
        expect(arrivals.map((l) => l.attributes['url.path'])).toEqual(['/', '/error', '/nope', '/']);
        const traces = new Set(ran().receiver.spans.filter((s) => s.kind === SpanKind.SERVER).map((s) => s.traceId));
        for (const record of requestLogs) expect(traces.has(record.traceId)).toBe(true);
        // Four requests traced, two lines each, the error line and the 404's: nothing else was written in a request.
        expect(requestLogs).toHaveLength(4 * 2 + 2);
      });

      it("names Fastify's fields as the semantic conventions do, on every record: method, path, addresses, status, and the duration in seconds", () => {
        const [arrival, completion] = logsOf(serverSpan('/', 200));
        expect(arrival!.attributes).toEqual({
          'http.request.method': 'GET',
          'url.path': '/',
          'server.address': '127.0.0.1',
          'server.port': expect.any(Number),
          'client.address': '127.0.0.1',
          'client.port': expect.any(Number),
        });
        expect(arrival!.attributes['server.port']).toBe(serverSpan('/', 200).attributes['server.port']);
        expect(completion!.attributes).toEqual({ 'http.response.status_code': 200, 'otel_steps.request.duration': expect.any(Number) });
        // Fastify's responseTime is in milliseconds; the record's duration is in seconds, and no
        // longer than the server span that holds it.
        const span = serverSpan('/', 200);
        const spanSeconds = Number(span.endTimeUnixNano - span.startTimeUnixNano) / 1e9;
        expect(completion!.attributes['otel_steps.request.duration']).toBeGreaterThan(0);
        expect(completion!.attributes['otel_steps.request.duration']).toBeLessThanOrEqual(spanSeconds);
        const error = ran().receiver.logs.find((l) => l.severityText === 'error')!;
        expect(error.attributes).toMatchObject({ 'http.request.method': 'GET', 'url.path': '/error', 'http.response.status_code': 500 });
      });

      it('exports no log attribute that the semantic conventions do not define, but the one under the app\'s namespace (otel_steps.request.duration)', () => {
        const { attributes } = outsideConventions({ ...ran().receiver, spans: [], metrics: [] });
        expect(Object.fromEntries([...attributes].map(([scope, keys]) => [scope, [...keys]]))).toEqual({});
        const keys = new Set(ran().receiver.logs.flatMap((l) => Object.keys(l.attributes)));
        expect([...keys].filter((k) => k.startsWith(APP_NAMESPACE))).toEqual(['otel_steps.request.duration']);
      });

      it('prints the same ids on the console: trace_id and span_id in every pino line of a request', () => {
        const root = serverSpan('/error', 500);
        const printed = ran().exit.output.split('\n').filter((line) => line.includes('"msg":"Something went wrong on purpose"'));
        expect(printed).toHaveLength(1);
        expect(JSON.parse(printed[0]!)).toMatchObject({ trace_id: root.traceId, span_id: logsOf(root).find((l) => l.severityText === 'error')!.spanId });
      });
    });
  },
});
describeStrangerAndHangup('step-19', {
  own: (ran: () => StageRun) => {
    it('says the query in the log records as the span does: masked, and cut at 1 KiB', ({ expect }) => {
      const arrivals = ran().receiver.logs.filter((l) => l.body === 'incoming request');
      expect(arrivals.map((l) => [l.attributes['url.path'], l.attributes['url.query']])).toEqual([
        ['/', 'token=REDACTED&password=REDACTED&lang=en'],
        ['/error', 'api_key=REDACTED'],
        [`/${'x'.repeat(1023)}`, undefined],
      ]);
    });
  },
});
describeMetrics('step-19', { service: SERVICE_NAME, logs: true });
describeEnvironmentConventions('step-19', { span: 'GET /', metrics: true, logs: true });

// The chapter's promises (test/promises.ts) are held by shared/tools/exercises.test.ts, against a copy
// of this stage run as a learner's finished exercise is.
