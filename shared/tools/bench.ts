// `pnpm bench`: what each stage's telemetry costs. Every stage runs through its real start
// script, exporting to a local OTLP receiver, and takes the same closed-loop load of GET / from
// autocannon in this process (the stage is another process). Each instrumented stage runs twice:
// as taught (its defaults, console output included) and production-like (OTLP only, through
// OTEL_TRACES_EXPORTER). The table gives throughput, latency, peak memory and spans delivered, and
// each stage's throughput as a ratio to step-06's in the same run.
// Numbers, not pass/fail: speed and memory goals live here, never in timed tests.
import autocannon from 'autocannon';
import { readFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { parseArgs } from 'node:util';
import { startOtlpReceiver } from '../otlp/receiver.ts';
import { serverPids, startStage } from '../harness/stage-runner.ts';
import { fail, parseOrFail, positiveInteger, positiveNumber } from '../cli.ts';
import { listStages } from '../repo.ts';

const TOOL = 'bench';
const HELP = `Usage: pnpm bench [--duration 5s] [--concurrency 8] [--rounds 3] [--stages 06,08,...] [--env NAME=VALUE ...]

Runs each stage with its start script, sends GET / for --duration with --concurrency requests
in flight (after a one-second warm-up that is not counted), then stops it with Ctrl+C. Each
instrumented stage runs twice: "as taught" (its defaults, console exporter included) and
"OTLP only" (OTEL_TRACES_EXPORTER=otlp, as in production). Per run it prints requests per second
and their ratio to step-06 in the same run, latency p50 and p99, peak resident memory of the
stage's Node processes (Linux), and spans delivered per request sent; "traces/sent" is how many
requests' traces arrived (a root span each) out of the requests sent, warm-up and those still in
flight when the load stopped included (the stage answers them all before it stops): fewer traces
than requests shows a batch processor's queue dropping spans under load. step-06 sends none.
With --rounds N every run is repeated N times, rounds interleaved so that a slow minute of the
machine hits every stage alike, and each row shows the run with the median requests per second.
--env sets a variable for every instrumented run (repeat it for several), for instance a sampler:
--env OTEL_TRACES_SAMPLER=traceidratio --env OTEL_TRACES_SAMPLER_ARG=0.1 (step 14 reads them).
Without --stages, every stage runs.`;

/** How a stage runs in the benchmark: its defaults, or OTLP only through the standard variable. */
const MODES = { 'as taught': {}, 'OTLP only': { OTEL_TRACES_EXPORTER: 'otlp' } } as const;
type Mode = keyof typeof MODES;

interface Result {
  stage: string;
  mode: Mode | 'no telemetry';
  measured: autocannon.Result;
  /** Requests sent, warm-up and those in flight at the end included: each reached the stage, and has a trace. */
  sent: number;
  peakRssMb: number | undefined;
  /** Every span received, and the root spans among them (one per request's trace). */
  spans: number;
  roots: number;
}

/** The peak resident memory of the stage's processes (all of a stage of several services), summed; Linux only. */
function peakRssMb(pids: number[]): number | undefined {
  try {
    const kb = pids.map((pid) => Number(/VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1]));
    return pids.length > 0 && kb.every((n) => n > 0) ? kb.reduce((a, b) => a + b, 0) / 1024 : undefined;
  } catch {
    return undefined;
  }
}

// autocannon measures whole milliseconds.
const wholeMs = (value: number): string => (value < 1 ? '<1 ms' : `${value} ms`);

/** autocannon's closed loop: `connections` requests in flight for `seconds`, all GET /. */
async function load(url: string, connections: number, seconds: number): Promise<autocannon.Result> {
  const result = await autocannon({ url, connections, duration: seconds });
  if (result.errors > 0 || result.non2xx > 0) throw new Error(`${url}: ${result.errors} errors, ${result.non2xx} non-2xx answers under load`);
  return result;
}

async function benchStage(stage: string, mode: Result['mode'], concurrency: number, durationMs: number, extraEnv: Record<string, string>): Promise<Result> {
  // The receiver keeps the bytes and decodes after the run: counting spans takes no CPU from the load.
  const receiver = await startOtlpReceiver({ lazy: true });
  try {
    const running = await startStage(stage, { otlpEndpoint: receiver.url, env: mode === 'no telemetry' ? {} : { ...extraEnv, ...MODES[mode] } });
    const warmup = await load(running.baseUrl, concurrency, 1);
    const measured = await load(running.baseUrl, concurrency, durationMs / 1000);
    const peak = peakRssMb(await serverPids(running.pid));
    await running.stop('SIGINT');
    receiver.decodePending();
    // Every request sent counts, warm-up included: its spans arrive with the rest. autocannon's
    // requests.total leaves out those in flight when the load stopped, which the stage still answers.
    const sent = measured.requests.sent + warmup.requests.sent;
    // One root span per request's trace (a DNS lookup at start-up has a trace of its own).
    const roots = receiver.spans.filter((s) => s.parentSpanId === '' && s.name !== 'dns.lookup').length;
    return { stage, mode, measured, sent, peakRssMb: peak, spans: receiver.spans.length, roots };
  } finally {
    await receiver.close();
  }
}

async function main(): Promise<void> {
  const { values } = parseOrFail(TOOL, () =>
    parseArgs({
      options: {
        duration: { type: 'string', default: '5s' },
        concurrency: { type: 'string', default: '8' },
        rounds: { type: 'string', default: '3' },
        env: { type: 'string', multiple: true, default: [] },
        stages: { type: 'string', default: listStages().map((s) => s.name).join(',') },
        help: { type: 'boolean', short: 'h' },
      },
    }),
  );
  if (values.help) {
    console.log(HELP);
    return;
  }
  const durationMs = positiveNumber(TOOL, 'duration', values.duration, 's') * 1000;
  const concurrency = positiveInteger(TOOL, 'concurrency', values.concurrency);
  const rounds = positiveInteger(TOOL, 'rounds', values.rounds);
  const extraEnv: Record<string, string> = {};
  for (const pair of values.env) {
    const match = /^([A-Z_][A-Z0-9_]*)=(.*)$/.exec(pair);
    if (!match) fail(TOOL, `--env: "${pair}" is not NAME=VALUE`);
    extraEnv[match[1]!] = match[2]!;
  }
  const stages = values.stages.split(',').map((s) => `step-${s.trim().replace(/^step-/, '').padStart(2, '0')}`);
  for (const stage of stages) if (!/^step-\d{2}$/.test(stage)) fail(TOOL, `--stages: "${stage}" is not a stage number`);

  const cpu = cpus()[0]?.model.trim() ?? 'unknown CPU';
  const settings = Object.entries(extraEnv).map(([name, value]) => ` ${name}=${value}`).join('');
  console.log(`bench: GET / for ${durationMs / 1000} s per run, ${rounds} round(s), ${concurrency} in flight, ${cpus().length} × ${cpu}, ${process.platform}, Node ${process.version}${settings}\n`);
  const runs: Array<{ stage: string; mode: Result['mode'] }> = stages.flatMap((stage) =>
    (stage === 'step-06' ? ['no telemetry' as const] : (Object.keys(MODES) as Mode[])).map((mode) => ({ stage, mode })),
  );
  const measured = new Map<string, Result[]>();
  for (let round = 1; round <= rounds; round++) {
    for (const { stage, mode } of runs) {
      const result = await benchStage(stage, mode, concurrency, durationMs, extraEnv);
      measured.set(`${stage} ${mode}`, [...(measured.get(`${stage} ${mode}`) ?? []), result]);
      console.log(`  ${rounds > 1 ? `round ${round}: ` : ''}${stage} ${mode}: ${Math.round(result.measured.requests.average)} req/s`);
    }
  }
  // The median run of each row (by requests per second).
  const results = [...measured.values()].map((all) => [...all].sort((a, b) => a.measured.requests.average - b.measured.requests.average)[Math.floor(all.length / 2)]!);
  const base = results.find((r) => r.stage === 'step-06')?.measured.requests.average;
  const header = ['stage', 'mode', 'req/s', 'vs 06', 'p50', 'p99', 'peak RSS', 'spans/req', 'traces/sent'];
  const rows = results.map((r) => [
    r.stage,
    r.mode,
    String(Math.round(r.measured.requests.average)),
    base ? `${(r.measured.requests.average / base).toFixed(2)}×` : 'n/a',
    wholeMs(r.measured.latency.p50),
    wholeMs(r.measured.latency.p99),
    r.peakRssMb === undefined ? 'n/a' : `${Math.round(r.peakRssMb)} MB`,
    (r.spans / r.sent).toFixed(1),
    r.mode === 'no telemetry' ? 'n/a' : `${r.roots}/${r.sent}`,
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i]!.length)));
  const line = (cells: string[]): string => cells.map((c, i) => (i < 2 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ');
  console.log(['', line(header), ...rows.map(line)].join('\n'));
  if (!base) console.log('\n(vs 06: run step-06 in the same run, --stages 06,..., for the ratios)');
}

main().catch((err: Error) => fail(TOOL, err.message, 1));
