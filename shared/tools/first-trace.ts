// How long a learner without Docker waits for a first trace: runs `pnpm stack:native` as they do,
// and as soon as its first parts are up, starts step 8 through its start script, sends GET /, and
// waits for the trace in Zipkin's API (what Zipkin's UI shows). Prints the time from the start of
// `pnpm stack:native` to its first parts, to that trace, and to every part being up, then stops
// the stack with Ctrl+C. `.ci/run` runs it on every run, before the end-to-end tests.
import { eventually, jaegerTraces, zipkinTraces } from '../backends/index.ts';
import { startStage } from '../harness/stage-runner.ts';
import { startLearnerStack } from '../stack/learner-stack.ts';
import { URLS } from '../stack/urls.ts';

const t0 = Date.now();
const stack = await startLearnerStack('pnpm stack:native', { first: true });
let traced = NaN;
let jaegerWasUp = false;
try {
  const stage = await startStage('step-08', { otlpEndpoint: URLS.otlpHttp });
  const sent = Date.now();
  jaegerWasUp = await fetch(URLS.jaegerHealth, { signal: AbortSignal.timeout(2000) }).then((r) => r.ok, () => false);
  try {
    if ((await stage.get('/')).status !== 200) throw new Error('step-08 did not answer GET / with 200');
  } finally {
    await stage.stop('SIGINT');
  }
  await eventually('a step-08 trace in Zipkin within 60 s of its request', async () => {
    const traces = await zipkinTraces('step-08-manual', Date.now() - sent, { limit: 10 });
    return traces.some((t) => t.some((span) => span.timestamp >= (sent - 1000) * 1000)) ? true : undefined;
  }, 60_000);
  // From the start of `pnpm stack:native`, as a learner counts it.
  traced = Date.now() - t0;
} finally {
  const all = await stack.allUp.catch((err: Error) => {
    console.error(err.message);
    return NaN;
  });
  // Sent before Jaeger joined, the trace waits in the collector's disk queue, and is handed over then.
  const inJaeger = async (): Promise<true | undefined> => ((await jaegerTraces('step-08-manual', '1h', 20)).length > 0 ? true : undefined);
  const delivered = !Number.isNaN(all) && (await eventually('the trace in Jaeger', inJaeger, 30_000).catch(() => false));
  await stack.stop();
  const s = (ms: number): string => `${(ms / 1000).toFixed(1)} s`;
  console.log(`\npnpm stack:native, from its start: first parts up (collector, Zipkin, Prometheus) after ${s(stack.firstUp)}; a step-08 trace visible in Zipkin after ${s(traced)}; every part up after ${s(all)}`);
  const when = jaegerWasUp ? 'sent while Jaeger was up' : 'sent before Jaeger joined';
  console.log(`the trace, ${when}, ${delivered ? `reached Jaeger${jaegerWasUp ? '' : ' when it joined (from the collector\'s disk queue)'}` : 'never reached Jaeger'}`);
  if (!delivered || Number.isNaN(traced)) process.exitCode = 1;
}
