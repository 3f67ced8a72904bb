// Boots step-21's three services with the real start script and checks, over OTLP, that one
// request is one trace across all three, with the error, the baggage and nothing lost on Ctrl+C;
// that the gateway serves the page and its scripts; and that its route for the page's spans
// refuses what a stranger can send, and never lets a page pass for a server. The page itself,
// clicked in Chromium, is tested end to end (shared/e2e/browser.e2e.test.ts).
import { createServer } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  itKeepsItsPromises,
  startOtlpReceiver,
  type OtlpReceiver,
  type RunningStage,
  describeEnvironmentConventions,
  itMatchesTelemetrySnapshot,
  leaked,
  runStage,
  serverPids,
  SpanKind,
  startStage,
  StatusCode,
  type ReceivedSpan,
  type StageRun,
} from '@otel-steps/shared/harness';
import { lesson } from './promises.ts';

const SERVICES = ['step-21-gateway', 'step-21-greeter', 'step-21-words'];

describe('step-21: one trace across three services', () => {
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
    run = await runStage('step-21', {
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
    expect(serverSpans(trace).map((s) => `${service(s)}: ${s.name}`).sort()).toEqual(['step-21-gateway: GET /', 'step-21-greeter: GET /greeting', 'step-21-words: GET /word']);
    expect(new Set(trace.map(service))).toEqual(new Set(SERVICES));
  });

  it('links every hop: the caller\'s CLIENT span (fetch, by the undici instrumentation) is the parent of the next SERVER span', () => {
    const trace = traceOf('/');
    const [, greeter, words] = ['step-21-gateway', 'step-21-greeter', 'step-21-words'].map((name) => serverSpans(trace).find((s) => service(s) === name)!);
    for (const [server, caller] of [[greeter!, 'step-21-gateway'], [words!, 'step-21-greeter']] as const) {
      const client = parent(server)!;
      expect(client).toMatchObject({ kind: SpanKind.CLIENT, name: 'GET', scope: { name: '@opentelemetry/instrumentation-undici' } });
      expect(service(client)).toBe(caller);
      expect(client.attributes).toMatchObject({ 'http.request.method': 'GET', 'http.response.status_code': 200 });
    }
    expect(clientSpans(trace)).toHaveLength(2);
  });

  it('carries the tier in the baggage to the deepest service, which records it; a tier or baggage from outside does not get through', () => {
    const tiers = run.receiver.spans.filter((s) => service(s) === 'step-21-words' && s.name.startsWith('handler')).map((s) => [s.name, s.attributes['user.tier']]);
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
    expect(new Set(thrown.map(service))).toEqual(new Set(['step-21-words']));
    expect(thrown.find((s) => s.name === 'handler - fail')?.status.message).toBe('Something went wrong on purpose');
  });

  it('loses nothing on Ctrl+C: every service flushed its spans, and /healthz made none', () => {
    // Three requests through three services each, and the 404 the gateway answers alone: ten server spans.
    expect(run.receiver.spans.filter((s) => s.kind === SpanKind.SERVER)).toHaveLength(10);
    expect(run.receiver.spans.filter((s) => s.attributes['url.path'] === '/healthz')).toEqual([]);
    for (const name of SERVICES) expect(run.exit.output).toContain(`[${name.replace('step-21-', '')}] SIGINT received, closing the server`);
  });

  itMatchesTelemetrySnapshot('step-21', () => run);
});

describe('step-21: what a stranger can send, and SIGTERM', () => {
  it('lets no query secret or credential header reach any signal or console of any service, and flushes all three on SIGTERM', async () => {
    const run = await runStage('step-21', {
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

describe('step-21: one service cannot start', () => {
  it('stops the other two and says which one failed and why', async () => {
    // Something else holds the gateway's port.
    const squatter = createServer().listen(0, '127.0.0.1');
    await new Promise((resolve) => squatter.once('listening', resolve));
    const { port } = squatter.address() as { port: number };
    try {
      const started = startStage('step-21', { env: { PORT: String(port) }, startTimeoutMs: 20_000 });
      await expect(started).rejects.toThrow(`port ${port} is already in use`);
      await expect(started).rejects.toThrow('step-21: gateway stopped (exit code 1), so the other services were stopped too');
      // No service is left running: the harness would have found it under pnpm.
      expect(await serverPids(process.pid)).toEqual([]);
    } finally {
      squatter.close();
    }
  });
});

/** A page's post of one span, as the browser's OTLP/JSON exporter sends it. */
function post(spanName: string, { service = 'step-21-browser', attributes = [] as Array<{ key: string; value: Record<string, unknown> }>, traceId = 'a'.repeat(32) } = {}): object {
  const now = String(BigInt(Date.now()) * 1_000_000n);
  return {
    resourceSpans: [
      {
        resource: { attributes: [{ key: 'service.name', value: { stringValue: service } }, { key: 'host.name', value: { stringValue: 'forged-host' } }] },
        scopeSpans: [{ scope: { name: 'otel-steps-page' }, spans: [{ traceId, spanId: 'b'.repeat(16), name: spanName, kind: 1, startTimeUnixNano: now, endTimeUnixNano: now, attributes, status: {} }] }],
      },
    ],
  };
}

describe('step-21: the page, and the route its spans arrive by', () => {
  let receiver: OtlpReceiver;
  let stage: RunningStage;
  const send = (body: unknown, headers: Record<string, string> = {}): Promise<Response> =>
    fetch(new URL('/v1/traces', stage.baseUrl), {
      method: 'POST',
      headers: { 'content-type': 'application/json', origin: new URL(stage.baseUrl).origin, ...headers },
      body: typeof body === 'string' ? body : JSON.stringify(body),
    });
  const browserSpans = (): ReceivedSpan[] => receiver.spans.filter((s) => s.resource['service.name'] === 'step-21-browser');

  beforeAll(async () => {
    receiver = await startOtlpReceiver();
    stage = await startStage('step-21', { otlpEndpoint: receiver.url, env: { OTEL_BSP_SCHEDULE_DELAY: '100' } });
  });
  afterAll(async () => {
    await stage?.stop();
    await receiver?.close();
  });

  it('serves the page to a browser at /, with its own span\'s traceparent, never cached, and the greeting to anyone else', async () => {
    const page = await stage.get('/', { accept: 'text/html,application/xhtml+xml;q=0.9,*/*;q=0.8' });
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toBe('text/html; charset=utf-8');
    expect(page.headers.get('cache-control')).toBe('no-store');
    expect(page.headers.get('content-security-policy')).toContain("default-src 'self'");
    const traceparent = /<meta name="traceparent" content="00-([0-9a-f]{32})-([0-9a-f]{16})-01">/.exec(page.body);
    expect(traceparent, page.body).not.toBeNull();
    // The span the page's documentLoad will be a child of: the gateway's handler for this very request.
    await expect.poll(() => receiver.spans.find((s) => s.spanId === traceparent![2])?.name, { timeout: 10_000 }).toBe('handler - hello');
    expect(page.body).toMatch(/<script type="module" src="\/telemetry.js"><\/script>\s*<script type="module" src="\/app.js"><\/script>/);
    expect((await stage.get('/', { accept: '*/*' })).body).toBe('Hello from the otel-steps Fastify app!\n');
  });

  it('serves the two scripts, bundled from TypeScript as it started, and says how long that took', async () => {
    for (const script of ['/telemetry.js', '/app.js']) {
      const res = await stage.get(script);
      expect(res.status, script).toBe(200);
      expect(res.headers.get('content-type')).toBe('text/javascript; charset=utf-8');
      expect(res.body).toContain(`sourceMappingURL=${script.slice(1)}.map`);
    }
    // The SDK 3 browser build, not the Node one: a StackContextManager and no node: imports.
    const telemetry = (await stage.get('/telemetry.js')).body;
    expect(telemetry).not.toMatch(/from"node:|require\("node:/);
    expect(telemetry).toContain('/v1/traces');
    // Polled: a line reaches this test through the launcher's pipe a moment after it is written.
    await expect.poll(() => stage.output()).toMatch(/\[gateway\] .*page scripts bundled by esbuild in \d+ ms: telemetry\.js \d+ KiB, app\.js \d+ KiB/);
  });

  it('forwards a page\'s spans to the collector as step-21-browser, whatever service.name the page claimed, and says so', async () => {
    expect((await send(post('forged span', { service: 'step-21-gateway', traceId: 'c'.repeat(32) }))).status).toBe(200);
    await expect.poll(() => browserSpans().some((s) => s.name === 'forged span'), { timeout: 10_000 }).toBe(true);
    const forged = browserSpans().find((s) => s.name === 'forged span')!;
    expect(forged.resource).toEqual({ 'service.name': 'step-21-browser' });
    expect(receiver.spans.filter((s) => s.name === 'forged span' && s.resource['service.name'] !== 'step-21-browser')).toEqual([]);
    await expect.poll(() => stage.output()).toContain('a page sent spans as service.name \\"step-21-gateway\\": forwarded as step-21-browser');
  });

  it('holds each span to the servers\' limits, and masks the query secrets in it', async () => {
    const long = 'x'.repeat(5000);
    const attributes = [
      { key: 'url.full', value: { stringValue: 'http://127.0.0.1/?token=tok-PAGE-1&lang=en' } },
      { key: 'long', value: { stringValue: long } },
      { key: 'nested', value: { kvlistValue: { values: [] } } },
      ...Array.from({ length: 100 }, (_, i) => ({ key: `a${i}`, value: { intValue: String(i) } })),
    ];
    expect((await send(post('limited span', { attributes, traceId: 'd'.repeat(32) }))).status).toBe(200);
    await expect.poll(() => browserSpans().some((s) => s.name === 'limited span'), { timeout: 10_000 }).toBe(true);
    const span = browserSpans().find((s) => s.name === 'limited span')!;
    expect(span.attributes['url.full']).toBe('http://127.0.0.1/?token=REDACTED&lang=en');
    expect(String(span.attributes.long)).toHaveLength(1024);
    expect(Object.keys(span.attributes)).toHaveLength(64);
    expect(span.attributes.nested).toBeUndefined();
    expect(leaked(['tok-PAGE-1'], receiver, stage.output())).toEqual([]);
  });

  it('refuses a post from another origin, or with none, with a clear answer and a line saying why', async () => {
    const other = await send(post('from elsewhere'), { origin: 'http://evil.example' });
    expect(other.status).toBe(403);
    expect(await other.json()).toEqual({ error: expect.stringContaining("takes spans from this app's own pages only") });
    const none = await fetch(new URL('/v1/traces', stage.baseUrl), { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(post('from curl')) });
    expect(none.status).toBe(403);
    await expect.poll(() => stage.output()).toMatch(/browser spans refused \(403\): .*not from Origin http:\/\/evil\.example/);
  });

  it('refuses a body over 64 KiB (413), and one that is not OTLP/JSON spans (400, 415), and keeps serving', async () => {
    expect((await send(post('big', { attributes: [{ key: 'filler', value: { stringValue: 'x'.repeat(70 * 1024) } }] }))).status).toBe(413);
    const bad = await send({ resourceSpans: [{ scopeSpans: [{ spans: [{ traceId: 'not hex', spanId: 'b'.repeat(16) }] }] }] });
    expect(bad.status).toBe(400);
    expect(await bad.json()).toEqual({ error: 'not OTLP/JSON spans: traceId is not 32 hex digits' });
    expect((await send('{"resourceSpans": 1}')).status).toBe(400);
    expect((await send('token=x', { 'content-type': 'application/x-www-form-urlencoded' })).status).toBe(415);
    expect((await stage.get('/')).status).toBe(200);
    expect(browserSpans().map((s) => s.name)).not.toContain('big');
  });

  it('takes at most sixty posts a minute from one address (429), then still answers the API', async () => {
    const statuses: number[] = [];
    for (let i = 0; i < 65; i++) statuses.push((await send({ resourceSpans: [] })).status);
    expect(statuses.filter((s) => s === 429).length).toBeGreaterThan(0);
    expect(statuses.at(-1)).toBe(429);
    expect((await stage.get('/')).status).toBe(200);
  });
});

describe("step-21: forwarding the page's spans, as the gateway's own exporter sends its own", () => {
  const post = (stage: RunningStage): Promise<number> =>
    fetch(new URL('/v1/traces', stage.baseUrl), { method: 'POST', headers: { 'content-type': 'application/json', origin: new URL(stage.baseUrl).origin }, body: JSON.stringify({ resourceSpans: [] }) }).then((r) => r.status);

  it('with the headers of OTEL_EXPORTER_OTLP_HEADERS, and an endpoint\'s user:password as Basic auth', async () => {
    const receiver = await startOtlpReceiver();
    try {
      for (const [env, authorization] of [
        [{ OTEL_EXPORTER_OTLP_HEADERS: 'authorization=Bearer%20gw-token' }, 'Bearer gw-token'],
        [{ OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: receiver.url.replace('//', '//me:pa%24s@') + '/v1/traces' }, `Basic ${Buffer.from('me:pa$s').toString('base64')}`],
      ] as const) {
        const before = receiver.requests.length;
        const stage = await startStage('step-21', { otlpEndpoint: receiver.url, env: { ...env, OTEL_TRACES_EXPORTER: 'otlp' } });
        try {
          expect(await post(stage)).toBe(200);
        } finally {
          await stage.stop();
        }
        // The page's post, forwarded, and the gateway's own exports: each carries the same credentials.
        const traces = receiver.requests.slice(before).filter((r) => r.signal === 'traces');
        expect(traces.length).toBeGreaterThan(0);
        expect(new Set(traces.map((r) => r.authorization))).toEqual(new Set([authorization]));
        expect(stage.output()).not.toMatch(/gw-token|pa\$s|pa%24s/);
      }
    } finally {
      await receiver.close();
    }
  });

  it('with no collector: 503 for the page (whose exporter retries), said once, the API still answering', async () => {
    const receiver = await startOtlpReceiver();
    await receiver.close();
    const stage = await startStage('step-21', { otlpEndpoint: receiver.url, env: { OTEL_TRACES_EXPORTER: 'otlp', OTEL_METRICS_EXPORTER: 'none', OTEL_LOGS_EXPORTER: 'none' } });
    try {
      expect([await post(stage), await post(stage)]).toEqual([503, 503]);
      expect((await stage.get('/')).status).toBe(200);
      await expect.poll(() => stage.output()).toContain("cannot forward the page's spans to");
      expect(stage.output().split("cannot forward the page's spans").length - 1).toBe(1);
    } finally {
      await stage.stop();
    }
  });
});

describeEnvironmentConventions('step-21', { span: 'GET /', metrics: true, logs: true, services: 3 });

// The chapter's promises, as pnpm check 21 holds a learner's exercise to them.
itKeepsItsPromises(lesson);
