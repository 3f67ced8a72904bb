// The collector survives: spans it accepted while Jaeger was down are queued on disk
// (file_storage/queue in otel-collector-config.yaml), outlive a restart of the collector, and reach
// Jaeger when it comes back. This test runs its own native stack, so that it can stop and start
// Jaeger and the collector one at a time.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startStage } from '../../harness/index.ts';
import { startStack, type RunningStack } from '../../stack/run.ts';
import { URLS } from '../../stack/urls.ts';
import { eventually, jaegerTraces } from '../../backends/index.ts';

const REQUESTS = 30;
const SERVICE = 'step-08-manual';

/** A counter of the collector's own metrics (:8888), summed over its series; 0 when absent. */
async function collectorCounter(name: string, labels: string): Promise<number> {
  const text = await (await fetch(URLS.collectorMetrics)).text();
  return text
    .split('\n')
    .filter((line) => line.startsWith(`${name}{`) && line.includes(labels))
    .reduce((sum, line) => sum + Number(line.split(' ').pop()), 0);
}

describe.skipIf(process.env.E2E_STACK === 'running')('backend down, collector restarted, backend back: every span arrives', () => {
  let stack: RunningStack;
  beforeAll(async () => {
    stack = await startStack({ log: () => {} });
  });
  afterAll(async () => {
    await stack?.stop();
  });

  it(`${REQUESTS} requests made while Jaeger is down reach Jaeger after a collector restart`, async () => {
    const since = Date.now() * 1000;
    await stack.stopProcess('jaeger');

    const stage = await startStage('step-08', { otlpEndpoint: URLS.otlpHttp });
    for (let i = 0; i < REQUESTS; i++) expect((await stage.get('/')).status).toBe(200);
    await stage.stop('SIGINT');

    // The collector took every span and holds them for Jaeger: accepted, none sent there yet.
    const spans = await eventually('the collector to accept the spans', async () => {
      const accepted = await collectorCounter('otelcol_receiver_accepted_spans', 'receiver="otlp"');
      return accepted >= REQUESTS ? accepted : undefined;
    });
    expect(await collectorCounter('otelcol_exporter_sent_spans', 'exporter="otlp_http/jaeger"')).toBe(0);

    // Restart the collector while Jaeger is still down, then bring Jaeger back.
    await stack.stopProcess('otelcol');
    await stack.startProcess('otelcol');
    await stack.startProcess('jaeger');

    const traces = await eventually(
      `all ${REQUESTS} traces in Jaeger`,
      async () => {
        const found = await jaegerTraces(SERVICE, since, 1000);
        return found.length >= REQUESTS ? found : undefined;
      },
      90_000,
    );
    expect(traces).toHaveLength(REQUESTS);
    expect(traces.reduce((sum, trace) => sum + trace.spans.length, 0)).toBe(spans);
  }, 240_000);
});
