// How long a learner without Docker waits for a first trace: runs `pnpm stack:native` as they do,
// and as soon as its first parts are up, starts step 8 through its start script, sends GET /, and
// waits for the trace in Zipkin's API (what Zipkin's UI shows). Prints the time from the start of
// `pnpm stack:native` to its first parts, to that trace, and to every part being up, then stops
// the stack with Ctrl+C. `.ci/run` runs it on every run, before the end-to-end tests.
import { startStage } from '../harness/stage-runner.ts';
import { URLS } from '../stack/urls.ts';
import { startLearnerStack } from '../stack/learner-stack.ts';

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
  const deadline = Date.now() + 60_000;
  for (;;) {
    const url = `${URLS.zipkin}/api/v2/traces?serviceName=step-08-manual&lookback=${Date.now() - sent + 60_000}&limit=10`;
    const traces = (await fetch(url, { signal: AbortSignal.timeout(5000) }).then(
      (res) => res.json(),
      () => [],
    )) as Array<Array<{ timestamp: number }>>;
    if (traces.some((t) => t.some((s) => s.timestamp >= (sent - 1000) * 1000))) break;
    if (Date.now() > deadline) throw new Error('no step-08 trace in Zipkin within 60 s of its request');
    await new Promise((r) => setTimeout(r, 100));
  }
  // From the start of `pnpm stack:native`, as a learner counts it.
  traced = Date.now() - t0;
} finally {
  const all = await stack.allUp.catch((err: Error) => {
    console.error(err.message);
    return NaN;
  });
  // Sent before Jaeger joined, the trace waits in the collector's disk queue, and is handed over then.
  let delivered = false;
  const deadline = Date.now() + 30_000;
  while (!delivered && !Number.isNaN(all) && Date.now() < deadline) {
    const body = (await fetch(`${URLS.jaeger}/api/traces?service=step-08-manual&lookback=1h&limit=20`, { signal: AbortSignal.timeout(5000) }).then(
      (res) => res.json(),
      () => ({}),
    )) as { data?: unknown[] };
    delivered = (body.data ?? []).length > 0;
    if (!delivered) await new Promise((r) => setTimeout(r, 200));
  }
  await stack.stop();
  const s = (ms: number): string => `${(ms / 1000).toFixed(1)} s`;
  console.log(`\npnpm stack:native, from its start: first parts up (collector, Zipkin, Prometheus) after ${s(stack.firstUp)}; a step-08 trace visible in Zipkin after ${s(traced)}; every part up after ${s(all)}`);
  const when = jaegerWasUp ? 'sent while Jaeger was up' : 'sent before Jaeger joined';
  console.log(`the trace, ${when}, ${delivered ? `reached Jaeger${jaegerWasUp ? '' : ' when it joined (from the collector\'s disk queue)'}` : 'never reached Jaeger'}`);
  if (!delivered || Number.isNaN(traced)) process.exitCode = 1;
}
