// Boots step-08 with its real start script and checks the spans that arrive over OTLP.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  describeEnvironmentConventions,
  itMatchesTelemetrySnapshot,
  runStage,
  SpanKind,
  StatusCode,
  startOtlpReceiver,
  startStage,
  type OtlpReceiver,
  type ReceivedSpan,
  type StageExit,
  type StageRun,
} from '@otel-steps/shared/harness';

const SERVICE_NAME = 'step-08-manual';

describe('step-08: manual spans', () => {
  let run: StageRun;
  let receiver: OtlpReceiver;
  let exit: StageExit;
  let statuses: number[];
  const byName = (name: string): ReceivedSpan[] => receiver.spans.filter((s) => s.name === name);

  beforeAll(async () => {
    // Batches held for a minute: every span reaches the receiver through the flush that runs on
    // the way out, or not at all.
    run = await runStage('step-08', { env: { OTEL_BSP_SCHEDULE_DELAY: '60000' }, requests: ['/', '/error', '/nope', '/healthz', '/', '/'] });
    ({ receiver, exit, statuses } = run);
  });

  afterAll(async () => {
    await run?.close();
  });

  it('still serves after the error', () => {
    expect(statuses).toEqual([200, 500, 404, 200, 200, 200]);
  });

  it('loses no span on Ctrl+C: one span per traced request, flushed on SIGINT', () => {
    expect(exit.code).toBe(0);
    expect(byName('hello')).toHaveLength(3);
    expect(byName('fail')).toHaveLength(1);
    // /healthz is deliberately not traced.
    expect(receiver.spans).toHaveLength(4);
  });

  it('exports over OTLP/HTTP as JSON, the format of @opentelemetry/exporter-trace-otlp-http', () => {
    expect(new Set(receiver.requests.map((r) => `${r.signal} ${r.contentType}`))).toEqual(new Set(['traces application/json']));
  });

  it('names the service in the resource', () => {
    for (const span of receiver.spans) expect(span.resource['service.name']).toBe(SERVICE_NAME);
  });

  it('gives / an internal span with its event and no error', () => {
    const span = byName('hello')[0]!;
    expect(span.kind).toBe(SpanKind.INTERNAL);
    expect(span.parentSpanId).toBe('');
    expect(span.scope.name).toBe('step-08-app');
    expect(span.events.map((e) => e.name)).toEqual(['greeting.built']);
    expect(span.status.code).toBe(StatusCode.UNSET);
    expect(span.endTimeUnixNano).toBeGreaterThanOrEqual(span.startTimeUnixNano);
  });

  it('marks /error as failed, with the exception recorded as an event', () => {
    const span = byName('fail')[0]!;
    expect(span.status).toEqual({ code: StatusCode.ERROR, message: 'Something went wrong on purpose' });
    expect(span.events.map((e) => e.name)).toEqual(['failure.requested', 'exception']);
    const exception = span.events[1]!.attributes;
    expect(exception['exception.type']).toBe('Error');
    expect(exception['exception.message']).toBe('Something went wrong on purpose');
    expect(String(exception['exception.stacktrace'])).toContain('src/app.ts');
  });

  it('gives every request its own trace', () => {
    expect(new Set(receiver.spans.map((s) => s.traceId)).size).toBe(4);
  });

  it('prints the same spans to the console', () => {
    expect(exit.output).toMatch(/name: 'hello'/);
    expect(exit.output).toMatch(/name: 'fail'/);
    expect(exit.output).toMatch(/'service.name': 'step-08-manual'/);
  });

  itMatchesTelemetrySnapshot('step-08', () => run);
});

describe('step-08: stopping', () => {
  it('flushes pending spans on SIGHUP, when the terminal window is closed', async () => {
    const { receiver, exit, close } = await runStage('step-08', { requests: ['/', '/error'], signal: 'SIGHUP' });
    try {
      expect(exit.output).toContain('SIGHUP received, closing the server');
      expect(receiver.spans.map((s) => s.name).sort()).toEqual(['fail', 'hello']);
    } finally {
      await close();
    }
  });

  it('flushes pending spans on SIGTERM too', async () => {
    const { receiver, exit, close } = await runStage('step-08', { requests: ['/', '/error'], signal: 'SIGTERM' });
    try {
      // pnpm itself dies of SIGTERM; what matters is that node, which got it too, flushed first.
      expect(exit.output).toContain('SIGTERM received, closing the server');
      expect(receiver.spans.map((s) => s.name).sort()).toEqual(['fail', 'hello']);
    } finally {
      await close();
    }
  });

  it('says nothing on Ctrl+C when no span is waiting, collector or not', async () => {
    const receiver = await startOtlpReceiver();
    const deadEndpoint = receiver.url;
    await receiver.close();
    const stage = await startStage('step-08', { otlpEndpoint: deadEndpoint });
    const exit = await stage.stop('SIGINT');
    expect(exit.code).toBe(0);
    expect(exit.output).not.toContain('not flushed');
  });
});

describeEnvironmentConventions('step-08', { span: 'hello' });

// The chapter's promises (test/promises.ts) are held by shared/tools/exercises.test.ts, against a copy
// of this stage run as a learner's finished exercise is.
