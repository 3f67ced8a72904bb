// Boots step-14 with its real start scripts and checks the spans that arrive over OTLP.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
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

// The batch processor would wait a minute before sending: every span that arrives was flushed
// by the SDK's own exit hook when the stage stopped.
const HOLD_BATCHES = { OTEL_BSP_SCHEDULE_DELAY: '60000' };

const run = (script: string): Promise<StageRun> => runStage('step-14', { script, env: HOLD_BATCHES, requests: ['/', '/error', '/nope', '/healthz', '/'] });

const serverSpans = (receiver: OtlpReceiver): ReceivedSpan[] => receiver.spans.filter((s) => s.kind === SpanKind.SERVER);

describe('step-14: zero-code (pnpm start)', () => {
  let stageRun: StageRun;
  let receiver: OtlpReceiver;
  let exit: StageExit;
  let statuses: number[];

  beforeAll(async () => {
    stageRun = await run('start');
    ({ receiver, exit, statuses } = stageRun);
  });

  afterAll(async () => {
    await stageRun?.close();
  });

  it('still serves after the error, and loses no span on Ctrl+C', () => {
    expect(statuses).toEqual([200, 500, 404, 200, 200]);
    expect(exit.code).toBe(0);
    // Without code there is no way to leave /healthz out: all five requests are traced.
    expect(serverSpans(receiver)).toHaveLength(5);
  });

  it('takes service.name from otel.env', () => {
    for (const span of receiver.spans) expect(span.resource['service.name']).toBe('step-14-zero-code');
  });

  it('exports OTLP/HTTP protobuf, as OTEL_EXPORTER_OTLP_PROTOCOL asks', () => {
    expect(new Set(receiver.requests.map((r) => `${r.signal} ${r.contentType}`))).toEqual(new Set(['traces application/x-protobuf']));
  });

  it('gives each request an HTTP server span named only "GET": nothing tells it the Fastify route', () => {
    const paths = serverSpans(receiver).map((s) => [s.name, s.attributes['url.path'], s.attributes['http.response.status_code']]);
    expect(paths).toEqual([
      ['GET', '/', 200],
      ['GET', '/error', 500],
      ['GET', '/nope', 404],
      ['GET', '/healthz', 200],
      ['GET', '/', 200],
    ]);
    for (const span of serverSpans(receiver)) {
      expect(span.scope.name).toBe('@opentelemetry/instrumentation-http');
      expect(span.attributes['http.route']).toBeUndefined();
    }
  });

  it('marks the 500 as an error', () => {
    const failed = serverSpans(receiver).find((s) => s.attributes['url.path'] === '/error')!;
    expect(failed.status.code).toBe(StatusCode.ERROR);
  });

  it('has no Fastify spans: the bundle no longer instruments Fastify', () => {
    expect(receiver.spans.filter((s) => s.scope.name.includes('fastify'))).toEqual([]);
    // The only spans besides the server spans are the DNS lookup behind listen(), and nothing else.
    expect(new Set(receiver.spans.filter((s) => s.kind !== SpanKind.SERVER).map((s) => s.name))).toEqual(new Set(['dns.lookup']));
  });

  it('prints the spans to the console too (OTEL_TRACES_EXPORTER=otlp,console)', () => {
    expect(exit.output).toMatch(/name: 'GET'/);
  });

  it('keeps the resource short: service, host and SDK only (OTEL_NODE_RESOURCE_DETECTORS=env,host)', () => {
    const keys = new Set(receiver.spans.flatMap((s) => Object.keys(s.resource)));
    expect([...keys].sort()).toEqual(['host.arch', 'host.id', 'host.name', 'service.name', 'telemetry.sdk.language', 'telemetry.sdk.name', 'telemetry.sdk.version']);
    expect(exit.output).not.toContain('process.command_args');
  });

  it("puts the failing request's trace_id and span_id into Fastify's error log line", () => {
    const failed = serverSpans(receiver).find((s) => s.attributes['url.path'] === '/error')!;
    const logLine = exit.output.split('\n').find((l) => l.startsWith('{"level":50'));
    expect(logLine, 'the error log line').toBeDefined();
    expect(JSON.parse(logLine!)).toMatchObject({ trace_id: failed.traceId, span_id: failed.spanId, req: { url: '/error' } });
  });

  itMatchesTelemetrySnapshot('step-14', () => stageRun);
  itNamesWhatIsOutsideConventions('step-14', () => [stageRun]);
});

describe('step-14: Fastify detail without touching the app (pnpm start:fastify)', () => {
  let stageRun: StageRun;
  let receiver: OtlpReceiver;
  let exit: StageExit;
  const children = (parent: ReceivedSpan): ReceivedSpan[] => stageRun.children(parent);

  beforeAll(async () => {
    // The requests of pnpm start, then one that carries credentials and a signed URL.
    const secret = { path: '/?sig=SIGNED-SECRET', headers: { authorization: 'Bearer s3cret-token', cookie: 'session=c00kie' } };
    stageRun = await runStage('step-14', { script: 'start:fastify', env: HOLD_BATCHES, requests: ['/', '/error', '/nope', '/healthz', '/', secret] });
    ({ receiver, exit } = stageRun);
  });

  afterAll(async () => {
    await stageRun?.close();
  });

  it('names server spans after the route and nests request and handler under them', () => {
    expect(exit.code).toBe(0);
    const root = serverSpans(receiver).find((s) => s.attributes['url.path'] === '/')!;
    expect(root).toMatchObject({ name: 'GET /', attributes: { 'http.route': '/' } });
    const request = children(root)[0]!;
    expect(request).toMatchObject({ name: 'request', traceId: root.traceId });
    expect(children(request).map((s) => s.name)).toEqual(['handler - hello']);
  });

  it('flags the failing handler with its exception', () => {
    const handler = receiver.spans.find((s) => s.name === 'handler - fail')!;
    expect(handler.status.code).toBe(StatusCode.ERROR);
    expect(handler.events.map((e) => e.name)).toContain('exception');
  });

  it('exports no Authorization or Cookie value and no signed-URL query value, neither over OTLP nor to the console', () => {
    const signed = serverSpans(receiver).find((s) => s.attributes['url.query'] !== undefined)!;
    expect(signed.attributes['url.query']).toBe('sig=REDACTED');
    // @fastify/otel would record the raw URL as url.path; preload/fastify.ts keeps the path only.
    expect(children(signed).map((s) => [s.name, s.attributes['url.path']])).toEqual([['request', '/']]);
    expect(stageRun.leaked(['s3cret-token', 'c00kie', 'SIGNED-SECRET'])).toEqual([]);
  });

  itNamesWhatIsOutsideConventions('step-14', () => [stageRun]);

  it('leaves /healthz out of the Fastify spans (OTEL_FASTIFY_IGNORE_PATHS), though HTTP still traces it', () => {
    expect(receiver.spans.filter((s) => s.name === 'handler - healthz')).toEqual([]);
    expect(serverSpans(receiver).filter((s) => s.attributes['url.path'] === '/healthz')).toHaveLength(1);
  });
});

// The terminal window is closed at the end (SIGHUP), with batches held for a minute: every span
// arrives through the flush on the way out, or not at all.
describe('step-14: what a stranger can send, and closing the terminal', () => {
  let stageRun: StageRun;
  let receiver: OtlpReceiver;
  let exit: StageExit;
  const server = (path: string): ReceivedSpan => serverSpans(receiver).find((s) => s.attributes['url.path'] === path)!;

  beforeAll(async () => {
    stageRun = await runStage('step-14', {
      env: HOLD_BATCHES,
      signal: 'SIGHUP',
      requests: [
        '/?sig=SIGNED-SECRET&lang=en',
        { path: '/error?token=LOG-SECRET', headers: { traceparent: '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00' } },
        `/${'x'.repeat(15_000)}`,
      ],
    });
    ({ receiver, exit } = stageRun);
  });

  afterAll(async () => {
    await stageRun?.close();
  });

  it('flushes every pending span on SIGHUP, even with batches held for a minute', () => {
    expect(exit.output).toContain('SIGHUP received, closing the server');
    expect(serverSpans(receiver)).toHaveLength(3);
  });

  it("masks the semantic conventions' signed-URL parameters in url.query, by default", () => {
    expect(server('/').attributes['url.query']).toBe('sig=REDACTED&lang=en');
    expect(exit.output).not.toContain('SIGNED-SECRET');
  });

  it('cannot mask other secrets without code, as the chapter says: url.query keeps a token', () => {
    expect(server('/error').attributes['url.query']).toBe('token=LOG-SECRET');
  });

  it("masks secrets in the app's own error log line", () => {
    expect(exit.output).toContain('"url":"/error?token=REDACTED"');
  });

  it('still records the failing request whose caller sent sampled=00 (OTEL_TRACES_SAMPLER=always_on)', () => {
    expect(server('/error').status.code).toBe(StatusCode.ERROR);
  });

  it('cuts a 15 KB URL down to 1 KiB (OTEL_SPAN_ATTRIBUTE_VALUE_LENGTH_LIMIT)', () => {
    const long = serverSpans(receiver).find((s) => String(s.attributes['url.path'] ?? '').startsWith('/xxx'))!;
    expect(String(long.attributes['url.path']).length).toBe(1024);
  });
});

describeEnvironmentConventions('step-14', { span: 'GET', spans: 'kept' });


// The collector chapter's head-sampling command (collector/README.md), with its variables as written:
// the SDK decides when a trace's first span starts, by its trace id, before anything has failed.
const HEAD_SAMPLING = 'OTEL_TRACES_SAMPLER=parentbased_traceidratio OTEL_TRACES_SAMPLER_ARG=0.25 pnpm --filter step-14 start';

describe(`step-14 with head sampling: ${HEAD_SAMPLING}`, () => {
  it('traces about a quarter of the requests, and drops failing ones as readily as the others', async () => {
    const env = Object.fromEntries(HEAD_SAMPLING.split(' ').filter((word) => /^[A-Z_]+=/.test(word)).map((word) => word.split('=') as [string, string]));
    const requests = [...Array<string>(150).fill('/'), ...Array<string>(50).fill('/error')];
    const sampled = await runStage('step-14', { script: 'start', env: { ...HOLD_BATCHES, ...env }, requests });
    try {
      const traced = serverSpans(sampled.receiver);
      // Binomial, 200 requests at 0.25: mean 50, standard deviation 6.1; 4 of them either side.
      expect(traced.length).toBeGreaterThanOrEqual(25);
      expect(traced.length).toBeLessThanOrEqual(75);
      // 50 failing requests, each kept with probability 0.25: all 50 kept would be a 1 in 10^30 event.
      expect(traced.filter((s) => s.status.code === StatusCode.ERROR).length).toBeLessThan(50);
    } finally {
      await sampled.close();
    }
  });
});

// The chapter's promises (test/promises.ts) are held by shared/tools/exercises.test.ts, against a copy
// of this stage run as a learner's finished exercise is.
