// pnpm traffic: steady requests against a running stage, so the dashboards have something to show.
import { Agent, request, type ClientRequest } from 'node:http';
import { connect, isIPv4 } from 'node:net';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import { fail, ms, painter, parseOrFail, percentile, positiveInteger, positiveNumber, wantsColor } from './cli.ts';

const TOOL = 'traffic';

const DEFAULTS = { target: 'http://127.0.0.1:3030', count: '200', duration: '30', rate: '10', concurrency: '2' };

const HELP = `Usage: pnpm traffic [options]

Sends a mix of requests to a running stage: mostly GET /, some GET /error (a 500 on purpose),
a few GET /healthz. Stops at --count or --duration, whichever comes first, or on Ctrl+C, and
prints a summary: counts by status, latency p50, p95 and max.

Options:
  --target <url>         where the stage listens; loopback only (default ${DEFAULTS.target})
  --count <n>            requests to send at most (default ${DEFAULTS.count})
  --duration <seconds>   time to send for at most, e.g. 30 or 30s (default ${DEFAULTS.duration})
  --rate <n>             requests per second (default ${DEFAULTS.rate})
  --concurrency <n>      requests in flight at most (default ${DEFAULTS.concurrency})
  --color, --no-color    force colour on or off (default: on for a terminal)
  -h, --help             this help

Exits 0 when every request got a response (500s from /error included), 1 when some got none or
nothing answers at the target, 2 for a bad option or a target that is not loopback.`;

// Out of every 20 requests: 16 to /, 3 to /error, 1 to /healthz, interleaved rather than in runs.
const MIX = [
  { path: '/', weight: 16 },
  { path: '/error', weight: 3 },
  { path: '/healthz', weight: 1 },
];
const REQUEST_TIMEOUT_MS = 10_000;
const PROBE_TIMEOUT_MS = 2_000;
const TTY_REFRESH_MS = 250;
const PLAIN_PROGRESS_MS = 5_000;

interface Options {
  target: URL;
  count: number;
  durationMs: number;
  rate: number;
  concurrency: number;
  color: boolean;
}

function isLoopback(hostname: string): boolean {
  // URL has already normalised the host: lower case, dotted-quad IPv4 (127.1 → 127.0.0.1), compressed IPv6.
  return hostname === 'localhost' || hostname === '[::1]' || (isIPv4(hostname) && hostname.startsWith('127.'));
}

function readTarget(raw: string): URL {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return fail(TOOL, `--target must be a URL such as ${DEFAULTS.target}, got "${raw}"`);
  }
  // Checked before anything connects: this tool must never be a way to load someone else's server.
  if (!isLoopback(url.hostname)) {
    fail(TOOL, `refusing to send traffic to ${url.host}: only loopback targets (127.0.0.0/8, localhost, [::1]) are allowed`);
  }
  if (url.protocol !== 'http:') fail(TOOL, `--target must be an http:// URL (the stages serve plain HTTP), got "${raw}"`);
  if (url.pathname !== '/' || url.search !== '' || url.username !== '') {
    fail(TOOL, `--target is a scheme, host and port only, such as ${DEFAULTS.target}, got "${raw}"`);
  }
  return url;
}

function readOptions(): Options {
  const { values } = parseOrFail(TOOL, () =>
    parseArgs({
      allowNegative: true,
      options: {
        target: { type: 'string', default: DEFAULTS.target },
        count: { type: 'string', default: DEFAULTS.count },
        duration: { type: 'string', default: DEFAULTS.duration },
        rate: { type: 'string', default: DEFAULTS.rate },
        concurrency: { type: 'string', default: DEFAULTS.concurrency },
        color: { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
      },
    }),
  );
  if (values.help) {
    process.stdout.write(`${HELP}\n`);
    process.exit(0);
  }
  return {
    target: readTarget(values.target),
    count: positiveInteger(TOOL, 'count', values.count),
    durationMs: positiveNumber(TOOL, 'duration', values.duration, 's') * 1000,
    rate: positiveNumber(TOOL, 'rate', values.rate),
    concurrency: positiveInteger(TOOL, 'concurrency', values.concurrency),
    color: wantsColor(values.color),
  };
}

/** One TCP connection, no request: so that "nothing is running" gets its own message, not 200 errors. */
function probe(target: URL): Promise<void> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: target.hostname.replace(/^\[|\]$/g, ''), port: Number(target.port || 80) });
    // A plain timer: socket.setTimeout only counts idle time once connected, not a connect that hangs.
    const timer = setTimeout(() => socket.destroy(new Error(`no answer within ${PROBE_TIMEOUT_MS} ms`)), PROBE_TIMEOUT_MS);
    socket.once('connect', () => {
      clearTimeout(timer);
      socket.end();
      resolve();
    });
    socket.once('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
  });
}

function* paths(): Generator<string> {
  // Smooth weighted round-robin: the same proportions as random picks, without the streaks.
  const current = MIX.map(() => 0);
  const total = MIX.reduce((sum, entry) => sum + entry.weight, 0);
  for (;;) {
    let best = 0;
    MIX.forEach((entry, i) => {
      current[i] = (current[i] ?? 0) + entry.weight;
      if ((current[i] ?? 0) > (current[best] ?? 0)) best = i;
    });
    current[best] = (current[best] ?? 0) - total;
    yield MIX[best]?.path ?? '/';
  }
}

class Stats {
  sent = 0;
  cancelled = 0;
  readonly byPath = new Map<string, number>();
  readonly byStatus = new Map<number, number>();
  readonly errors = new Map<string, number>();
  readonly latenciesMs: number[] = [];

  count(statusClass: (status: number) => boolean): number {
    let total = 0;
    for (const [status, n] of this.byStatus) if (statusClass(status)) total += n;
    return total;
  }

  get failed(): number {
    let total = 0;
    for (const n of this.errors.values()) total += n;
    return total;
  }
}

function bump<K>(map: Map<K, number>, key: K): void {
  map.set(key, (map.get(key) ?? 0) + 1);
}

const seconds = (value: number): string => `${(value / 1000).toFixed(1)} s`;

async function main(): Promise<void> {
  const options = readOptions();
  const { target } = options;
  const paint = painter(options.color);

  try {
    await probe(target);
  } catch (err) {
    const reason = (err as NodeJS.ErrnoException).code ?? (err as Error).message;
    fail(TOOL, `nothing answers at ${target.origin} (${reason}): start a stage first, e.g. pnpm --filter step-08 start`, 1);
  }

  const stats = new Stats();
  const inFlight = new Set<ClientRequest>();
  const agent = new Agent({ keepAlive: true, maxSockets: options.concurrency });
  const stopping = new AbortController();
  let stopReason = `--count ${options.count} reached`;
  const interrupt = (): void => {
    stopReason = 'Ctrl+C';
    stopping.abort();
    for (const req of inFlight) req.destroy(new Error('cancelled'));
  };
  // once: a second Ctrl+C gets Node's default, an immediate exit, should the summary ever hang.
  process.once('SIGINT', interrupt);
  process.once('SIGTERM', interrupt);

  let slotFreed: () => void = () => {};
  const send = (path: string): void => {
    const startedAt = performance.now();
    stats.sent++;
    bump(stats.byPath, path);
    // Exactly one outcome per request, whichever of the request's or the response's events says it first.
    let settled = false;
    const failed = (err: NodeJS.ErrnoException): void => {
      if (settled) return;
      settled = true;
      if (stopping.signal.aborted && err.message === 'cancelled') stats.cancelled++;
      else bump(stats.errors, err.code ?? err.message);
    };
    const req = request(new URL(path, target), { agent, method: 'GET' }, (res) => {
      res.resume();
      res.once('error', failed);
      res.once('end', () => {
        if (settled) return;
        settled = true;
        stats.latenciesMs.push(performance.now() - startedAt);
        bump(stats.byStatus, res.statusCode ?? 0);
      });
    });
    req.setTimeout(REQUEST_TIMEOUT_MS, () => req.destroy(new Error('timeout')));
    req.once('error', failed);
    inFlight.add(req);
    req.once('close', () => {
      failed(new Error('connection closed before the response ended'));
      inFlight.delete(req);
      slotFreed();
    });
    req.end();
  };

  const started = performance.now();
  const progress = (): string => {
    const elapsed = performance.now() - started;
    const answered = stats.latenciesMs.length;
    const rate = elapsed > 0 ? (answered * 1000) / elapsed : 0;
    const clientErrors = stats.count((s) => s >= 400 && s < 500);
    return [
      `sent ${stats.sent}`,
      paint('green', `ok ${stats.count((s) => s < 400)}`),
      ...(clientErrors > 0 ? [paint('yellow', `4xx ${clientErrors}`)] : []),
      paint('red', `5xx ${stats.count((s) => s >= 500)}`),
      stats.failed > 0 ? paint('red', `errors ${stats.failed}`) : 'errors 0',
      `${rate.toFixed(1)} req/s`,
      seconds(elapsed),
    ].join('  ');
  };
  const tty = process.stdout.isTTY === true;
  const ticker = setInterval(
    () => process.stdout.write(tty ? `\r${progress()}\x1b[K` : `${progress()}\n`),
    tty ? TTY_REFRESH_MS : PLAIN_PROGRESS_MS,
  );
  process.stdout.write(`${TOOL}: GET ${MIX.map((m) => m.path).join(', ')} on ${target.origin}, ` +
    `${options.rate} req/s, ${options.concurrency} at a time, until ${options.count} sent or ${seconds(options.durationMs)}\n`);

  const deadline = started + options.durationMs;
  const interval = 1000 / options.rate;
  let due = started;
  const next = paths();
  while (stats.sent < options.count && !stopping.signal.aborted) {
    if (due >= deadline) {
      stopReason = `--duration ${seconds(options.durationMs)} reached`;
      break;
    }
    await sleep(Math.max(0, due - performance.now()), undefined, { signal: stopping.signal }).catch(() => {});
    while (inFlight.size >= options.concurrency && !stopping.signal.aborted) {
      await new Promise<void>((resolve) => (slotFreed = resolve));
    }
    if (stopping.signal.aborted) break;
    if (performance.now() >= deadline) {
      stopReason = `--duration ${seconds(options.durationMs)} reached`;
      break;
    }
    send(next.next().value);
    // A slow server delays the schedule instead of being sent a burst to catch up once it answers.
    due = Math.max(due + interval, performance.now());
  }
  while (inFlight.size > 0) await new Promise<void>((resolve) => (slotFreed = resolve));
  const elapsed = performance.now() - started;
  clearInterval(ticker);
  agent.destroy();
  process.removeListener('SIGINT', interrupt);
  process.removeListener('SIGTERM', interrupt);

  const answered = stats.latenciesMs.length;
  const sorted = [...stats.latenciesMs].sort((x, y) => x - y);
  const byCount = <K>(map: Map<K, number>, label: (key: K) => string): string =>
    [...map].sort(([, x], [, y]) => y - x).map(([key, n]) => `${label(key)} ×${n}`).join('   ');
  const statusLabel = (status: number): string =>
    paint(status >= 500 ? 'red' : status >= 400 ? 'yellow' : 'green', String(status));
  const lines = [
    `${paint('bold', `${stats.sent} sent to ${target.origin} in ${seconds(elapsed)}`)} ` +
      `(${((answered * 1000) / elapsed).toFixed(1)} req/s), stopped: ${stopReason}`,
    `  status    ${answered > 0 ? byCount(stats.byStatus, statusLabel) : 'no responses'}`,
    `  errors    ${stats.failed > 0 ? paint('red', `${stats.failed} without a response: ${byCount(stats.errors, String)}`) : 'none'}`,
    ...(stats.cancelled > 0 ? [`  cancelled ${stats.cancelled} in flight at Ctrl+C`] : []),
    `  paths     ${byCount(stats.byPath, (path) => `GET ${path}`)}`,
    `  latency   ${answered > 0 ? `p50 ${ms(percentile(sorted, 0.5))}   p95 ${ms(percentile(sorted, 0.95))}   max ${ms(sorted.at(-1) ?? 0)}` : 'no responses'}`,
  ];
  process.stdout.write(`${tty ? '\r\x1b[K' : ''}${lines.join('\n')}\n`);
  process.exitCode = stats.failed > 0 ? 1 : 0;
}

await main();
