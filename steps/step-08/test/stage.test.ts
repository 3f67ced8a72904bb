// Boots step-08 with its real start script and checks the spans that arrive over OTLP.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  captureTelemetry,
  SpanKind,
  StatusCode,
  startOtlpReceiver,
  startStage,
  type OtlpReceiver,
  type ReceivedSpan,
  type StageExit,
} from '@otel-steps/shared/harness';

const SERVICE_NAME = 'step-08-manual';

async function runAndStop(signal: NodeJS.Signals, paths: string[]): Promise<{ receiver: OtlpReceiver; exit: StageExit; statuses: number[] }> {
  const receiver = await startOtlpReceiver();
  const stage = await startStage('step-08', { otlpEndpoint: receiver.url });
  const statuses: number[] = [];
  for (const path of paths) statuses.push((await stage.get(path)).status);
  // Stopped right away: the batch processor's 5 s timer has not fired yet, so every span
  // below reached the receiver through the flush that runs on the way out.
  const exit = await stage.stop(signal);
  return { receiver, exit, statuses };
}

describe('step-08: manual spans', () => {
  let receiver: OtlpReceiver;
  let exit: StageExit;
  let statuses: number[];
  const byName = (name: string): ReceivedSpan[] => receiver.spans.filter((s) => s.name === name);

  beforeAll(async () => {
    ({ receiver, exit, statuses } = await runAndStop('SIGINT', ['/', '/error', '/healthz', '/', '/']));
  });

  afterAll(async () => {
    await receiver?.close();
  });

  it('still serves after the error', () => {
    expect(statuses).toEqual([200, 500, 200, 200, 200]);
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
});

describe('step-08: stopping', () => {
  it('flushes pending spans on SIGHUP, when the terminal window is closed', async () => {
    const { receiver, exit } = await runAndStop('SIGHUP', ['/', '/error']);
    try {
      expect(exit.output).toContain('SIGHUP received, closing the server');
      expect(receiver.spans.map((s) => s.name).sort()).toEqual(['fail', 'hello']);
    } finally {
      await receiver.close();
    }
  });

  it('flushes pending spans on SIGTERM too', async () => {
    const { receiver, exit } = await runAndStop('SIGTERM', ['/', '/error']);
    try {
      // pnpm itself dies of SIGTERM; what matters is that node, which got it too, flushed first.
      expect(exit.output).toContain('SIGTERM received, closing the server');
      expect(receiver.spans.map((s) => s.name).sort()).toEqual(['fail', 'hello']);
    } finally {
      await receiver.close();
    }
  });

  it('keeps serving when the collector is unreachable, and still exits promptly', async () => {
    const receiver = await startOtlpReceiver();
    const deadEndpoint = receiver.url;
    await receiver.close(); // nothing listens there any more
    const stage = await startStage('step-08', { otlpEndpoint: deadEndpoint });
    expect((await stage.get('/')).status).toBe(200);
    expect((await stage.get('/error')).status).toBe(500);
    expect((await stage.get('/')).status).toBe(200);
    const exit = await stage.stop('SIGINT');
    expect(exit.code).toBe(0);
    expect(exit.output).toMatch(/telemetry: spans not flushed on exit \(.*ECONNREFUSED/);
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

describe('step-08: the environment conventions', () => {
  async function exported(env: Record<string, string>): Promise<{ spans: ReceivedSpan[]; exit: StageExit }> {
    const receiver = await startOtlpReceiver();
    try {
      const stage = await startStage('step-08', { otlpEndpoint: receiver.url, env });
      expect((await stage.get('/')).status).toBe(200);
      const exit = await stage.stop('SIGINT');
      return { spans: [...receiver.spans], exit };
    } finally {
      await receiver.close();
    }
  }

  it('OTEL_SERVICE_NAME renames the service', async () => {
    const { spans } = await exported({ OTEL_SERVICE_NAME: 'renamed-from-the-shell' });
    expect(spans.map((s) => s.resource['service.name'])).toEqual(['renamed-from-the-shell']);
  });

  it('OTEL_SDK_DISABLED=true turns telemetry off, and the app still serves', async () => {
    const { spans, exit } = await exported({ OTEL_SDK_DISABLED: 'true' });
    expect(spans).toEqual([]);
    expect(exit.output).not.toContain("name: 'hello'");
  });

  it.each([
    ['otlp', 1, false],
    ['console', 0, true],
    ['none', 0, false],
    ['otlp,console', 1, true],
  ])('OTEL_TRACES_EXPORTER=%s: %i span(s) over OTLP, console %s', async (value, count, printed) => {
    const { spans, exit } = await exported({ OTEL_TRACES_EXPORTER: value });
    expect(spans).toHaveLength(count);
    expect(exit.output.includes("name: 'hello'")).toBe(printed);
  });

  it.each([
    ['OTEL_EXPORTER_OTLP_ENDPOINT', 'garbage', 'is not an absolute http:// or https:// URL'],
    ['OTEL_EXPORTER_OTLP_ENDPOINT', 'ftp://127.0.0.1:4318', 'is not an absolute http:// or https:// URL'],
    ['OTEL_EXPORTER_OTLP_ENDPOINT', 'http://127.0.0.1:4318/v1/traces', 'ends in /v1/traces, which the exporter adds itself'],
    ['OTEL_EXPORTER_OTLP_TRACES_ENDPOINT', 'localhost:4318', 'is not an absolute http:// or https:// URL'],
    ['OTEL_TRACES_EXPORTER', 'jaeger', 'names an exporter this stage does not have (jaeger)'],
    ['OTEL_SDK_DISABLED', 'yes', 'is neither true nor false'],
    ['OTEL_SERVICE_NAME', '', 'is empty'],
  ])('%s=%s stops the stage with one line that names it', async (name, value, why) => {
    const started = startStage('step-08', { env: { [name]: value }, startTimeoutMs: 15_000 });
    await expect(started).rejects.toThrow(`telemetry: ${name}=${JSON.stringify(value)} ${why}`);
  });

  it('OTEL_EXPORTER_OTLP_TRACES_ENDPOINT is used as it is, /v1/traces included', async () => {
    const receiver = await startOtlpReceiver();
    try {
      const stage = await startStage('step-08', { env: { OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: `${receiver.url}/v1/traces` } });
      await stage.get('/');
      await stage.stop('SIGINT');
      expect(receiver.spans.map((s) => s.name)).toEqual(['hello']);
    } finally {
      await receiver.close();
    }
  });
});

describe('step-08: telemetry loss is never silent', () => {
  it('says once when exports start failing and once when they work again, not per span', async () => {
    const receiver = await startOtlpReceiver();
    try {
      receiver.setAvailable(false);
      const stage = await startStage('step-08', { otlpEndpoint: receiver.url, env: { OTEL_TRACES_EXPORTER: 'otlp' } });
      const lines = (text: string): string[] => stage.output().split('\n').filter((l) => l.includes(text));
      for (let i = 0; i < 20; i++) await stage.get('/');
      // The batch goes out after the processor's five-second delay.
      await expect.poll(() => lines('cannot export spans'), { timeout: 15_000, interval: 200 }).toHaveLength(1);
      expect(lines('cannot export spans')[0]).toMatch(new RegExp(`telemetry: cannot export spans to ${receiver.url}/v1/traces \\(.+\\); they are dropped until it answers`));
      receiver.setAvailable(true);
      for (let i = 0; i < 20; i++) await stage.get('/');
      await expect.poll(() => lines('exporting spans to'), { timeout: 15_000, interval: 200 }).toEqual([`telemetry: exporting spans to ${receiver.url}/v1/traces again`]);
      expect(lines('cannot export spans')).toHaveLength(1);
      await stage.stop('SIGINT');
      expect(receiver.spans.length).toBeGreaterThanOrEqual(20);
    } finally {
      await receiver.close();
    }
  }, 40_000);
});

describe('telemetry snapshot', () => {
  it('matches telemetry.txt, rendered from what the stage really exports for GET /, GET /error and a 404', async () => {
    await expect(await captureTelemetry('step-08')).toMatchFileSnapshot('../telemetry.txt');
  });
});
