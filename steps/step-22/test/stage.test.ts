// Boots step-20's three services with the real start script and checks, over OTLP, that one
// request is one trace across all three, with the error, the baggage and nothing lost on Ctrl+C.
import { createServer } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  itKeepsItsPromises,
  describeEnvironmentConventions,
  itMatchesTelemetrySnapshot,
  runStage,
  serverPids,
  SpanKind,
  startStage,
  StatusCode,
  type ReceivedSpan,
  type StageRun,
} from '@otel-steps/shared/harness';
import { lesson } from './promises.ts';

const SERVICES = ['step-20-gateway', 'step-20-greeter', 'step-20-words'];

describe('step-20: one trace across three services', () => {
  let run: StageRun;
  const service = (span: ReceivedSpan): string => String(span.resource['service.name']);
  const parent = (span: ReceivedSpan): ReceivedSpan | undefined => run.receiver.spans.find((s) => s.spanId === span.parentSpanId);
  const traceOf = (route: string): ReceivedSpan[] => {
    const root = run.receiver.spans.find((s) => s.parentSpanId === '' && s.attributes['http.route'] === route && service(s) === SERVICES[0])!;
    return run.receiver.spans.filter((s) => s.traceId === root.traceId);
  };
  const serverSpans = (trace: ReceivedSpan[]): ReceivedSpan[] => trace.filter((s) => s.kind === SpanKind.SERVER);
  const clientSpans = (trace: ReceivedSpan[]): ReceivedSpan[] => trace.filter((s) => s.kind === SpanKind.CLIENT);

  beforeAll(async () => {
    // Batches held for a minute: every span reaches the receiver through the flush on Ctrl+C.
    run = await runStage('step-20', {
      env: { OTEL_BSP_SCHEDULE_DELAY: '60000' },
      requests: [
        { path: '/', headers: { 'x-user-tier': 'pro' } },
        // Baggage sent from outside: dropped at the gateway, so words sees none.
        { path: '/error', headers: { baggage: 'user.tier=pro,secret=hunter2-baggage' } },
        '/nope',
        // A tier nobody offers: the gateway puts "free" in the baggage instead of the header's value.
        { path: '/', headers: { 'x-user-tier': 'admin; drop table', baggage: 'user.tier=pro' } },
        '/healthz',
      ],
    });
  });

  afterAll(async () => {
    await run?.close();
  });

  it('answers through all three, 500 for the failure at the bottom, and exits 0 on Ctrl+C', () => {
    expect(run.statuses).toEqual([200, 500, 404, 200, 200]);
    expect(run.exit.code).toBe(0);
    expect(run.exit.output).toMatch(/^listening on http:\/\/127\.0\.0\.1:\d+ \(gateway; greeter on http:\/\/127\.0\.0\.1:\d+, words on http:\/\/127\.0\.0\.1:\d+\)$/m);
  });

  it('GET / is one trace with a server span in each of the three services', () => {
    const trace = traceOf('/');
    expect(serverSpans(trace).map((s) => `${service(s)}: ${s.name}`).sort()).toEqual(['step-20-gateway: GET /', 'step-20-greeter: GET /greeting', 'step-20-words: GET /word']);
    expect(new Set(trace.map(service))).toEqual(new Set(SERVICES));
  });

  it('links every hop: the caller\'s CLIENT span (fetch, by the undici instrumentation) is the parent of the next SERVER span', () => {
    const trace = traceOf('/');
    const [, greeter, words] = ['step-20-gateway', 'step-20-greeter', 'step-20-words'].map((name) => serverSpans(trace).find((s) => service(s) === name)!);
    for (const [server, caller] of [[greeter!, 'step-20-gateway'], [words!, 'step-20-greeter']] as const) {
      const client = parent(server)!;
      expect(client).toMatchObject({ kind: SpanKind.CLIENT, name: 'GET', scope: { name: '@opentelemetry/instrumentation-undici' } });
      expect(service(client)).toBe(caller);
      expect(client.attributes).toMatchObject({ 'http.request.method': 'GET', 'http.response.status_code': 200 });
    }
    expect(clientSpans(trace)).toHaveLength(2);
  });

  it('carries the tier in the baggage to the deepest service, which records it; a tier or baggage from outside does not get through', () => {
    const tiers = run.receiver.spans.filter((s) => service(s) === 'step-20-words' && s.name.startsWith('handler')).map((s) => [s.name, s.attributes['user.tier']]);
    expect(tiers).toEqual([
      ['handler - word', 'pro'],
      ['handler - fail', undefined],
      ['handler - word', 'free'],
    ]);
    expect(run.leaked(['drop table', 'hunter2-baggage'])).toEqual([]);
  });

  it('GET /error: the exception in the deepest service, ERROR and 500 at every hop, in one trace', () => {
    const trace = traceOf('/error');
    expect(new Set(trace.map(service))).toEqual(new Set(SERVICES));
    for (const span of [...serverSpans(trace), ...clientSpans(trace)]) {
      expect(span.attributes['http.response.status_code'], `${service(span)} ${span.name}`).toBe(500);
      expect(span.status.code, `${service(span)} ${span.name}`).toBe(StatusCode.ERROR);
    }
    expect(serverSpans(trace)).toHaveLength(3);
    expect(clientSpans(trace)).toHaveLength(2);
    const thrown = trace.filter((s) => s.events.some((e) => e.name === 'exception'));
    expect(new Set(thrown.map(service))).toEqual(new Set(['step-20-words']));
    expect(thrown.find((s) => s.name === 'handler - fail')?.status.message).toBe('Something went wrong on purpose');
  });

  it('loses nothing on Ctrl+C: every service flushed its spans, and /healthz made none', () => {
    // Three requests through three services each, and the 404 the gateway answers alone: ten server spans.
    expect(run.receiver.spans.filter((s) => s.kind === SpanKind.SERVER)).toHaveLength(10);
    expect(run.receiver.spans.filter((s) => s.attributes['url.path'] === '/healthz')).toEqual([]);
    for (const name of SERVICES) expect(run.exit.output).toContain(`[${name.replace('step-20-', '')}] SIGINT received, closing the server`);
  });

  itMatchesTelemetrySnapshot('step-20', () => run);
});

describe('step-20: what a stranger can send, and SIGTERM', () => {
  it('lets no query secret or credential header reach any signal or console of any service, and flushes all three on SIGTERM', async () => {
    const run = await runStage('step-20', {
      requests: [{ path: '/?token=tok-SECRET-1&password=pw-SECRET-2', headers: { authorization: 'Bearer s3cret-token', cookie: 'session=c00kie' } }, '/'],
      signal: 'SIGTERM',
    });
    try {
      expect(run.statuses).toEqual([200, 200]);
      expect(run.leaked(['tok-SECRET-1', 'pw-SECRET-2', 's3cret-token', 'c00kie'])).toEqual([]);
      // Two requests through three services: six server spans, none lost on SIGTERM.
      expect(run.receiver.spans.filter((s) => s.kind === SpanKind.SERVER)).toHaveLength(6);
      expect(run.receiver.spans.find((s) => s.attributes['http.route'] === '/' && s.kind === SpanKind.SERVER)?.attributes['url.query']).toBe('token=REDACTED&password=REDACTED');
    } finally {
      await run.close();
    }
  });
});

describe('step-20: one service cannot start', () => {
  it('stops the other two and says which one failed and why', async () => {
    // Something else holds the gateway's port.
    const squatter = createServer().listen(0, '127.0.0.1');
    await new Promise((resolve) => squatter.once('listening', resolve));
    const { port } = squatter.address() as { port: number };
    try {
      const started = startStage('step-20', { env: { PORT: String(port) }, startTimeoutMs: 20_000 });
      await expect(started).rejects.toThrow(`port ${port} is already in use`);
      await expect(started).rejects.toThrow('step-20: gateway stopped (exit code 1), so the other services were stopped too');
      // No service is left running: the harness would have found it under pnpm.
      expect(await serverPids(process.pid)).toEqual([]);
    } finally {
      squatter.close();
    }
  });
});

describeEnvironmentConventions('step-20', { span: 'GET /', metrics: true, logs: true, services: 3 });

// The chapter's promises, as pnpm check 20 holds a learner's exercise to them.
itKeepsItsPromises(lesson);
