// `pnpm stack:native` starts the collector, Zipkin and Prometheus before Jaeger and VictoriaLogs
// are built (shared/stack/native.ts). What a stage sends meanwhile waits in the collector's disk
// queue, and reaches a backend soon after it joins. This test runs its own native stack without
// those two, sends a trace and a log record, then lets them join, as a first start does.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startStage } from '../../harness/index.ts';
import { buildStack } from '../../stack/build.ts';
import { startStack, type RunningStack } from '../../stack/run.ts';
import { URLS } from '../../stack/urls.ts';
import { eventually, jaegerTraces, logsQuery, zipkinTraces } from '../../backends/index.ts';

describe.skipIf(process.env.E2E_STACK === 'running')('parts that join late get what the collector queued for them', () => {
  let stack: RunningStack;
  let binaries: Awaited<ReturnType<typeof buildStack>>;
  beforeAll(async () => {
    binaries = await buildStack({ log: () => {} });
    stack = await startStack({ log: () => {}, binaries: { ...binaries, jaeger: '', victorialogs: '' } });
  });
  afterAll(async () => {
    await stack?.stop();
  });

  it("step-19's GET /error, sent before Jaeger and VictoriaLogs run, reaches both within seconds of their joining", async () => {
    expect(stack.running().sort()).toEqual(['otelcol', 'prometheus', 'zipkin']);
    const since = Date.now();
    const stage = await startStage('step-19', { otlpEndpoint: URLS.otlpHttp });
    expect((await stage.get('/error')).status).toBe(500);
    await stage.stop('SIGINT');
    // Zipkin, already up, has it; the collector retries the other two meanwhile.
    const [trace] = await eventually('the trace in Zipkin', async () => {
      const found = (await zipkinTraces('step-19-logs', Date.now() - since)).filter((t) => t.some((s) => s.timestamp >= since * 1000));
      return found.length ? found : undefined;
    });
    const traceId = trace![0]!.traceId;
    await new Promise((r) => setTimeout(r, 3000));

    await stack.join('jaeger', binaries.jaeger);
    await stack.join('victorialogs', binaries.victorialogs);
    const joined = Date.now();
    await eventually('the queued trace in Jaeger', async () => ((await jaegerTraces('step-19-logs', since * 1000)).some((t) => t.traceID === traceId) ? true : undefined), 20_000);
    await eventually('the queued log records in VictoriaLogs', async () => ((await logsQuery(`trace_id:="${traceId}"`, since)).length >= 3 ? true : undefined), 20_000);
    // The exporters retry every 5 s at most (retry_on_failure.max_interval), so delivery follows a join closely.
    console.log(`queued trace and log records delivered ${((Date.now() - joined) / 1000).toFixed(1)} s after Jaeger and VictoriaLogs joined`);
    expect(stack.running().sort()).toEqual(['jaeger', 'otelcol', 'prometheus', 'victorialogs', 'zipkin']);
  });
});
