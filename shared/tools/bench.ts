// `pnpm bench`: what each stage's telemetry costs. Every stage runs through its real start
// script, exporting to a local OTLP receiver, and takes autocannon's closed-loop load of GET / from this process;
// the table gives throughput, latency, peak memory and how many of the requests' spans arrived.
// Numbers, not pass/fail: speed and memory goals live here, never in timed tests.
import autocannon from 'autocannon';
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { startOtlpReceiver } from '../harness/otlp-receiver.ts';
import { serverPids, startStage } from '../harness/stage-runner.ts';
import { fail, parseOrFail, positiveInteger, positiveNumber } from './cli.ts';
import { listStages } from './stages.ts';

const TOOL = 'bench';
const HELP = `Usage: pnpm bench [--duration 5s] [--concurrency 8] [--stages 06,08,...] (default: every stage)

Runs each stage with its start script, sends GET / for --duration with --concurrency requests
in flight (after a one-second warm-up), then stops it with Ctrl+C and prints, per stage:
requests per second, latency p50 and p99, peak resident memory of the Node process (Linux), and
spans exported per request, which shows when a batch processor's queue drops spans under load.`;

interface Result {
  stage: string;
  measured: autocannon.Result;
  /** Warm-up included: every request can have produced spans. */
  requests: number;
  peakRssMb: number | undefined;
  spans: number;
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

async function benchStage(stage: string, concurrency: number, durationMs: number): Promise<Result> {
  const receiver = await startOtlpReceiver();
  try {
    const running = await startStage(stage, { otlpEndpoint: receiver.url, env: { LOG_LEVEL: 'error' } });
    const warmup = await load(running.baseUrl, concurrency, 1);
    const measured = await load(running.baseUrl, concurrency, durationMs / 1000);
    const peak = peakRssMb(await serverPids(running.pid));
    await running.stop('SIGINT');
    // A span per request (and nothing for /healthz); step 11 and 14 add children, counted here as roots.
    const spans = receiver.spans.filter((s) => s.parentSpanId === '' && s.name !== 'dns.lookup').length;
    return { stage, measured, requests: measured.requests.total + warmup.requests.total, peakRssMb: peak, spans };
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
  const stages = values.stages.split(',').map((s) => `step-${s.trim().replace(/^step-/, '').padStart(2, '0')}`);
  for (const stage of stages) if (!/^step-\d{2}$/.test(stage)) fail(TOOL, `--stages: "${stage}" is not a stage number`);

  console.log(`bench: GET / for ${durationMs / 1000} s per stage, ${concurrency} in flight, on ${process.platform} with ${process.version}\n`);
  const header = ['stage', 'req/s', 'p50', 'p99', 'peak RSS', 'spans/requests'];
  const rows: string[][] = [];
  for (const stage of stages) {
    const r = await benchStage(stage, concurrency, durationMs);
    rows.push([
      r.stage,
      String(Math.round(r.measured.requests.average)),
      wholeMs(r.measured.latency.p50),
      wholeMs(r.measured.latency.p99),
      r.peakRssMb === undefined ? 'n/a' : `${Math.round(r.peakRssMb)} MB`,
      `${r.spans}/${r.requests}`,
    ]);
    console.log(`  ${stage} done`);
  }
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i]!.length)));
  const line = (cells: string[]): string => cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ');
  console.log(['', line(header), ...rows.map(line)].join('\n'));
}

main().catch((err: Error) => fail(TOOL, err.message, 1));
