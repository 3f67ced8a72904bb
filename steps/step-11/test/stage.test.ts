// Boots step-11 with its real start script and checks the spans that arrive over OTLP.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  itKeepsItsPromises,
  describeEnvironmentConventions,
  itMatchesTelemetrySnapshot,
  itNamesWhatIsOutsideConventions,
  runStage,
  SpanKind,
  StatusCode,
  type OtlpReceiver,
  type ReceivedSpan,
  type StageExit,
  type StageRun,
} from '@otel-steps/shared/harness';
import { lesson } from './promises.ts';

const SERVICE_NAME = 'step-11-contrib';
const SECRET_TOKEN = 'Bearer s3cret-token-that-must-not-leak';
const SECRET_COOKIE = 'session=c00kie-that-must-not-leak';
// A caller's trace context: the server span must join this trace, under this parent.
const CALLER_TRACE_ID = '4bf92f3577b34da6a3ce929d0e0e4736';
const CALLER_SPAN_ID = '00f067aa0ba902b7';

describe('step-11: library instrumentation', () => {
  let run: StageRun;
  let receiver: OtlpReceiver;
  let exit: StageExit;
  let statuses: number[];
  const server = (route: string): ReceivedSpan[] =>
    receiver.spans.filter((s) => s.kind === SpanKind.SERVER && s.attributes['http.route'] === route);
  const children = (parent: ReceivedSpan): ReceivedSpan[] => run.children(parent);

  beforeAll(async () => {
    const headers = { 'user-agent': 'otel-steps-test', 'x-request-id': 'req-42', authorization: SECRET_TOKEN, cookie: SECRET_COOKIE };
    // Batches held for a minute: every span reaches the receiver through the flush on Ctrl+C.
    run = await runStage('step-11', {
      env: { OTEL_BSP_SCHEDULE_DELAY: '60000' },
      requests: [
        { path: '/', headers },
        { path: '/error', headers },
        '/nope',
        { path: '/healthz', headers },
        { path: '/', headers: { traceparent: `00-${CALLER_TRACE_ID}-${CALLER_SPAN_ID}-01` } },
      ],
    });
    ({ receiver, exit, statuses } = run);
  });

  afterAll(async () => {
    await run?.close();
  });

  it('still serves after the error, and loses no span on Ctrl+C', () => {
    expect(statuses).toEqual([200, 500, 404, 200, 200]);
    expect(exit.code).toBe(0);
    // One server span per traced request: /healthz is left out on purpose.
    expect(receiver.spans.filter((s) => s.kind === SpanKind.SERVER)).toHaveLength(4);
  });

  it('prints each span on the console as it ends: the handler first, the server span last', () => {
    const printed = [...exit.output.matchAll(/^  name: '([^']+)',$/gm)].map((m) => m[1]);
    expect(printed.slice(0, 3)).toEqual(['handler - hello', 'request', 'GET /']);
  });

  it('names the service in the resource', () => {
    for (const span of receiver.spans) expect(span.resource['service.name']).toBe(SERVICE_NAME);
  });

  it('exports an HTTP server span "GET /" with the stable HTTP attributes', () => {
    const span = server('/')[0]!;
    expect(span.name).toBe('GET /');
    expect(span.parentSpanId).toBe('');
    expect(span.scope.name).toBe('@opentelemetry/instrumentation-http');
    expect(span.attributes).toMatchObject({ 'http.request.method': 'GET', 'http.route': '/', 'http.response.status_code': 200 });
    expect(span.status.code).toBe(StatusCode.UNSET);
  });

  it('nests the Fastify spans under it, in the same trace: request, then the named handler', () => {
    const root = server('/')[0]!;
    const [request] = children(root);
    expect(request).toMatchObject({ name: 'request', traceId: root.traceId, scope: { name: '@fastify/otel' } });
    const [handler] = children(request!);
    expect(handler).toMatchObject({ name: 'handler - hello', traceId: root.traceId, kind: SpanKind.INTERNAL });
  });

  it('flags /error as an error at every level, with the exception on the handler span', () => {
    const root = server('/error')[0]!;
    expect(root.name).toBe('GET /error');
    expect(root.attributes['http.response.status_code']).toBe(500);
    expect(root.status.code).toBe(StatusCode.ERROR);
    const request = children(root)[0]!;
    expect(request.status.code).toBe(StatusCode.ERROR);
    const handler = children(request)[0]!;
    expect(handler.name).toBe('handler - fail');
    expect(handler.status).toEqual({ code: StatusCode.ERROR, message: 'Something went wrong on purpose' });
    expect(handler.events.find((e) => e.name === 'exception')?.attributes['exception.message']).toBe('Something went wrong on purpose');
  });

  it('captures the allowlisted headers as attributes', () => {
    const span = server('/')[0]!;
    expect(span.attributes['http.request.header.user-agent']).toEqual(['otel-steps-test']);
    expect(span.attributes['http.request.header.x-request-id']).toEqual(['req-42']);
  });

  it('never lets Authorization or Cookie leave the process, neither to OTLP nor to the console', () => {
    expect(run.leaked(['s3cret-token', 'c00kie'])).toEqual([]);
    for (const span of receiver.spans) {
      expect(Object.keys(span.attributes).filter((k) => /authorization|cookie/i.test(k))).toEqual([]);
    }
  });

  it('continues the caller\'s trace when a traceparent header arrives', () => {
    const joined = receiver.spans.find((s) => s.kind === SpanKind.SERVER && s.traceId === CALLER_TRACE_ID);
    expect(joined?.parentSpanId).toBe(CALLER_SPAN_ID);
  });

  it('prints the spans to the console as well', () => {
    expect(exit.output).toMatch(/name: 'GET \/'/);
    expect(exit.output).toMatch(/name: 'handler - hello'/);
  });

  itMatchesTelemetrySnapshot('step-11', () => run);
  itNamesWhatIsOutsideConventions('step-11', () => [run]);
});

// The terminal window is closed at the end (SIGHUP), with batches held for a minute: every span
// arrives through the flush on the way out, or not at all.
describe('step-11: what a stranger can send, and closing the terminal', () => {
  const SECRETS = ['tok-SECRET-1', 'pw-SECRET-2', 'key-SECRET-3'];
  let run: StageRun;
  let receiver: OtlpReceiver;
  const server = (path: string): ReceivedSpan => receiver.spans.find((s) => s.kind === SpanKind.SERVER && s.attributes['url.path'] === path)!;

  beforeAll(async () => {
    run = await runStage('step-11', {
      env: { OTEL_BSP_SCHEDULE_DELAY: '60000' },
      signal: 'SIGHUP',
      requests: [
        `/?token=${SECRETS[0]}&password=${SECRETS[1]}&lang=en`,
        // A caller that asks for no tracing (sampled flag 00) on a request that fails.
        { path: `/error?api_key=${SECRETS[2]}`, headers: { traceparent: '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00' } },
        `/${'x'.repeat(15_000)}`,
      ],
    });
    receiver = run.receiver;
  });

  afterAll(async () => {
    await run?.close();
  });

  it('flushes every pending span on SIGHUP, as on Ctrl+C', () => {
    expect(run.exit.output).toContain('SIGHUP received, closing the server');
    expect(receiver.spans.filter((s) => s.kind === SpanKind.SERVER)).toHaveLength(3);
  });

  it('masks secret query values in url.query, and keeps the rest', () => {
    expect(server('/').attributes['url.query']).toBe('token=REDACTED&password=REDACTED&lang=en');
    expect(server('/error').attributes['url.query']).toBe('api_key=REDACTED');
  });

  it('keeps the query string out of url.path on the Fastify request span', () => {
    const request = receiver.spans.find((s) => s.name === 'request' && s.attributes['http.route'] === '/')!;
    expect(request.attributes['url.path']).toBe('/');
  });

  it('lets no secret reach OTLP, the console, or the error log line', () => {
    expect(run.leaked(SECRETS)).toEqual([]);
    expect(run.exit.output).toContain('"url":"/error?api_key=REDACTED"');
  });

  it('still records the failing request whose caller sent sampled=00, as an error', () => {
    const failed = server('/error');
    expect(failed.status.code).toBe(StatusCode.ERROR);
    // It continues the caller's trace: the parent-based sampler only overrides the "do not sample".
    expect(failed.traceId).toBe('4bf92f3577b34da6a3ce929d0e0e4736');
  });

  it('cuts a 15 KB URL down to 1 KiB in every attribute', () => {
    const long = receiver.spans.filter((s) => String(s.attributes['url.path'] ?? '').startsWith('/xxx'));
    expect(long.length).toBeGreaterThan(0);
    for (const span of long) for (const value of Object.values(span.attributes)) expect(String(value).length).toBeLessThanOrEqual(1024);
  });
});

describeEnvironmentConventions('step-11', { span: 'GET /' });

// The chapter's promises, as pnpm check 11 holds a learner's exercise to them.
itKeepsItsPromises(lesson);
