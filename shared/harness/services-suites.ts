// The suites step 20's split into three services brought, each called by a stage's test in a
// line: one trace across the services, and a service that cannot start (kept by 21).
import { createServer } from 'node:net';
import { afterAll, beforeAll, describe, it } from 'vitest';
import { SpanKind, StatusCode, type ReceivedSpan } from '../otlp/receiver.ts';
import { runStage, type StageRun } from './run.ts';
import { serverPids, startStage } from './stage-runner.ts';
import { itMatchesTelemetrySnapshot } from './telemetry-snapshot.ts';
import { alongside } from './suites.ts';

/** The names of a stage's three services, as step 20 split the app: gateway, greeter, words. */
const servicesOf = (stageName: string): string[] => ['gateway', 'greeter', 'words'].map((name) => `${stageName}-${name}`);

/**
 * Step 20's services: one request is one trace across the three, linked hop by hop, with the tier
 * in the baggage, the error at every hop, and nothing lost on Ctrl+C; and the stage's snapshot.
 */
export function describeOneTraceAcrossServices(stageName: string, { alongside: beside = false }: { alongside?: boolean } = {}): void {
  const SERVICES = servicesOf(stageName);
  const [GATEWAY, GREETER, WORDS] = SERVICES as [string, string, string];
  (beside ? alongside : describe)(`${stageName}: one trace across three services`, () => {
    let run: StageRun;
    const service = (span: ReceivedSpan): string => String(span.resource['service.name']);
    const parent = (span: ReceivedSpan): ReceivedSpan | undefined => run.receiver.spans.find((s) => s.spanId === span.parentSpanId);
    const traceOf = (route: string): ReceivedSpan[] => {
      const root = run.receiver.spans.find((s) => s.parentSpanId === '' && s.attributes['http.route'] === route && service(s) === GATEWAY)!;
      return run.receiver.spans.filter((s) => s.traceId === root.traceId);
    };
    const serverSpans = (trace: ReceivedSpan[]): ReceivedSpan[] => trace.filter((s) => s.kind === SpanKind.SERVER);
    const clientSpans = (trace: ReceivedSpan[]): ReceivedSpan[] => trace.filter((s) => s.kind === SpanKind.CLIENT);

    beforeAll(async () => {
      // Batches held for a minute: every span reaches the receiver through the flush on Ctrl+C.
      run = await runStage(stageName, {
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

    it('answers through all three, 500 for the failure at the bottom, and exits 0 on Ctrl+C', ({ expect }) => {
      expect(run.statuses).toEqual([200, 500, 404, 200, 200]);
      expect(run.exit.code).toBe(0);
      const address = String.raw`http:\/\/127\.0\.0\.1:\d+`;
      expect(run.exit.output).toMatch(new RegExp(`^listening on ${address} \\(gateway; greeter on ${address}, words on ${address}\\)$`, 'm'));
    });

    it('GET / is one trace with a server span in each of the three services', ({ expect }) => {
      const trace = traceOf('/');
      const named = serverSpans(trace).map((s) => `${service(s)}: ${s.name}`).sort();
      expect(named).toEqual([`${GATEWAY}: GET /`, `${GREETER}: GET /greeting`, `${WORDS}: GET /word`]);
      expect(new Set(trace.map(service))).toEqual(new Set(SERVICES));
    });

    it("links every hop: the caller's CLIENT span (fetch, by the undici instrumentation) is the parent of the next SERVER span", ({ expect }) => {
      const trace = traceOf('/');
      const [, greeter, words] = SERVICES.map((name) => serverSpans(trace).find((s) => service(s) === name)!);
      for (const [server, caller] of [[greeter!, GATEWAY], [words!, GREETER]] as const) {
        const client = parent(server)!;
        expect(client).toMatchObject({ kind: SpanKind.CLIENT, name: 'GET', scope: { name: '@opentelemetry/instrumentation-undici' } });
        expect(service(client)).toBe(caller);
        expect(client.attributes).toMatchObject({ 'http.request.method': 'GET', 'http.response.status_code': 200 });
      }
      expect(clientSpans(trace)).toHaveLength(2);
    });

    it('carries the tier in the baggage to the deepest service, which records it; a tier or baggage from outside does not get through', ({ expect }) => {
      const tiers = run.receiver.spans.filter((s) => service(s) === WORDS && s.name.startsWith('handler')).map((s) => [s.name, s.attributes['user.tier']]);
      expect(tiers).toEqual([
        ['handler - word', 'pro'],
        ['handler - fail', undefined],
        ['handler - word', 'free'],
      ]);
      expect(run.leaked(['drop table', 'hunter2-baggage'])).toEqual([]);
    });

    it('GET /error: the exception in the deepest service, ERROR and 500 at every hop, in one trace', ({ expect }) => {
      const trace = traceOf('/error');
      expect(new Set(trace.map(service))).toEqual(new Set(SERVICES));
      for (const span of [...serverSpans(trace), ...clientSpans(trace)]) {
        expect(span.attributes['http.response.status_code'], `${service(span)} ${span.name}`).toBe(500);
        expect(span.status.code, `${service(span)} ${span.name}`).toBe(StatusCode.ERROR);
      }
      expect(serverSpans(trace)).toHaveLength(3);
      expect(clientSpans(trace)).toHaveLength(2);
      const thrown = trace.filter((s) => s.events.some((e) => e.name === 'exception'));
      expect(new Set(thrown.map(service))).toEqual(new Set([WORDS]));
      expect(thrown.find((s) => s.name === 'handler - fail')?.status.message).toBe('Something went wrong on purpose');
    });

    it('loses nothing on Ctrl+C: every service flushed its spans, and /healthz made none', ({ expect }) => {
      // Three requests through three services each, and the 404 the gateway answers alone: ten server spans.
      expect(run.receiver.spans.filter((s) => s.kind === SpanKind.SERVER)).toHaveLength(10);
      expect(run.receiver.spans.filter((s) => s.attributes['url.path'] === '/healthz')).toEqual([]);
      for (const name of SERVICES) expect(run.exit.output).toContain(`[${name.replace(`${stageName}-`, '')}] SIGINT received, closing the server`);
    });

    itMatchesTelemetrySnapshot(stageName, () => run);
  });
}

interface CannotStartOptions {
  /** More ways a service cannot start, each booted at once with the others: an environment, and what the stage must say of it. */
  refusals?: Array<{ env: Record<string, string>; says: string }>;
}

/**
 * Step 20's failure to start: when one service cannot (its port taken, or what `refusals` adds:
 * an environment and what the stage must say of it), the other two are stopped, and the stage
 * says which one failed and why. Each boot at once, none left running.
 */
export function describeServiceCannotStart(stageName: string, { refusals = [] }: CannotStartOptions = {}): void {
  const also = refusals.length ? `, or ${refusals.map((r) => Object.keys(r.env).join(', ')).join(', ')} refused` : '';
  describe(`${stageName}: a service that cannot start`, () => {
    it(`stops the other two and says which one failed and why: a port taken${also}`, async ({ expect }) => {
      // Something else holds the gateway's port.
      const squatter = createServer().listen(0, '127.0.0.1');
      await new Promise((resolve) => squatter.once('listening', resolve));
      const { port } = squatter.address() as { port: number };
      // Services that ran before this test (another suite's, in this worker) are not this test's to find.
      const before = new Set(await serverPids(process.pid));
      try {
        const cases = [{ env: { PORT: String(port) }, says: `port ${port} is already in use` }, ...refusals];
        const started = cases.map(({ env }) => startStage(stageName, { env, startTimeoutMs: 20_000 }));
        await Promise.allSettled(started);
        for (const [i, { says }] of cases.entries()) {
          await expect(started[i]).rejects.toThrow(says);
          await expect(started[i]).rejects.toThrow(`${stageName}: gateway stopped (exit code 1), so the other services were stopped too`);
        }
        // No service is left running: the harness would have found it under the test process.
        expect((await serverPids(process.pid)).filter((pid) => !before.has(pid))).toEqual([]);
      } finally {
        squatter.close();
      }
    });
  });
}
