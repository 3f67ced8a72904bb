// `pnpm bench`: what each stage's telemetry costs. Every stage runs through its real start
// script, exporting to a local OTLP receiver, and takes a closed-loop load of GET / on loopback;
// the table gives throughput, latency, peak memory and how many of the requests' spans arrived.
// Numbers, not pass/fail: speed and memory goals live here, never in timed tests.
import { readFileSync } from 'node:fs';
import { Agent, request } from 'node:http';
import { parseArgs } from 'node:util';
import { startOtlpReceiver } from '../harness/otlp-receiver.ts';
import { serverPid, startStage } from '../harness/stage-runner.ts';
import { fail, ms, parseOrFail, percentile, positiveInteger, positiveNumber } from './cli.ts';

const TOOL = 'bench';
const HELP = `Usage: pnpm bench [--duration 5s] [--concurrency 8] [--stages 06,08,11,14]

Runs each stage with its start script, sends GET / for --duration with --concurrency requests
in flight (after a one-second warm-up), then stops it with Ctrl+C and prints, per stage:
requests per second, latency p50 and p99, peak resident memory of the Node process (Linux), and
spans exported per request, which shows when a batch processor's queue drops spans under load.`;

interface Result {
  stage: string;
  requests: number;
  seconds: number;
  latencies: number[];
  peakRssMb: number | undefined;
  spans: number;
}

function peakRssMb(pid: number | undefined): number | undefined {
  if (pid === undefined) return undefined;
  try {
    const kb = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1];
    return kb ? Number(kb) / 1024 : undefined;
  } catch {
    return undefined;
  }
}

function get(url: URL, agent: Agent): Promise<void> {
  return new Promise((resolve, reject) => {
    const req = request(url, { agent }, (res) => {
      res.resume();
      res.once('end', () => (res.statusCode === 200 ? resolve() : reject(new Error(`HTTP ${res.statusCode}`))));
    });
    req.once('error', reject);
    req.end();
  });
}

async function load(url: URL, concurrency: number, durationMs: number, latencies?: number[]): Promise<number> {
  const agent = new Agent({ keepAlive: true, maxSockets: concurrency });
  const end = performance.now() + durationMs;
  let count = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (performance.now() < end) {
        const start = performance.now();
        await get(url, agent);
        latencies?.push(performance.now() - start);
        count++;
      }
    }),
  );
  agent.destroy();
  return count;
}

async function benchStage(stage: string, concurrency: number, durationMs: number): Promise<Result> {
  const receiver = await startOtlpReceiver();
  try {
    const running = await startStage(stage, { otlpEndpoint: receiver.url, env: { LOG_LEVEL: 'error' } });
    const url = new URL('/', running.baseUrl);
    const warmup = await load(url, concurrency, 1000);
    const latencies: number[] = [];
    const started = performance.now();
    const requests = await load(url, concurrency, durationMs, latencies);
    const seconds = (performance.now() - started) / 1000;
    const peak = peakRssMb(serverPid(running.pid));
    await running.stop('SIGINT');
    // A span per request (and nothing for /healthz); step 11 and 14 add children, counted here as roots.
    const spans = receiver.spans.filter((s) => s.parentSpanId === '' && s.name !== 'dns.lookup').length;
    return { stage, requests: requests + warmup, seconds, latencies: latencies.sort((a, b) => a - b), peakRssMb: peak, spans };
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
        stages: { type: 'string', default: '06,08,11,14' },
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
    const measured = r.latencies.length;
    rows.push([
      r.stage,
      String(Math.round(measured / r.seconds)),
      ms(percentile(r.latencies, 0.5)),
      ms(percentile(r.latencies, 0.99)),
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
