// pnpm traffic: a bounded stream of requests against a running stage, so the dashboards have
// something to show. The load itself is autocannon's; this file adds the loopback guard, the
// request mix and a summary by path and status.
import autocannon from 'autocannon';
import { connect, isIPv4 } from 'node:net';
import { parseArgs } from 'node:util';
import { fail, painter, parseOrFail, positiveInteger, positiveNumber, wantsColor } from '../cli.ts';

const TOOL = 'traffic';
const DEFAULTS = { target: 'http://127.0.0.1:3030', count: '200', duration: '30', rate: '10', concurrency: '2' };

const HELP = `Usage: pnpm traffic [options]

Sends a mix of requests to a running stage: mostly GET /, some GET /error (a 500 on purpose),
a few GET /healthz. Stops at --count or --duration, whichever comes first, or on Ctrl+C, and
prints a summary: counts by path and status, latency p50, p99 and max.

Options:
  --target <url>         where the stage listens; loopback only (default ${DEFAULTS.target})
  --count <n>            requests to send at most (default ${DEFAULTS.count})
  --duration <seconds>   time to send for at most, e.g. 30 or 30s (default ${DEFAULTS.duration})
  --rate <n>             requests per second at most, sent at the start of each second (default ${DEFAULTS.rate})
  --concurrency <n>      requests in flight at most (default ${DEFAULTS.concurrency})
  --color, --no-color    force colour on or off (default: on for a terminal)
  -h, --help             this help

Exits 0 when every request got a response (500s from /error included), 1 when some got none or
nothing answers at the target, 2 for a bad option or a target that is not loopback.`;

// Out of every 20 requests: 16 to /, 3 to /error, 1 to /healthz, interleaved rather than in runs,
// and shared by all connections, so that even a short run has every path in it.
const MIX = '/ / /error / / / / /healthz / / /error / / / / / / /error / /'.split(' ');

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

function readOptions() {
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
    seconds: positiveNumber(TOOL, 'duration', values.duration, 's'),
    rate: positiveInteger(TOOL, 'rate', values.rate),
    concurrency: positiveInteger(TOOL, 'concurrency', values.concurrency),
    color: wantsColor(values.color),
  };
}

/** One TCP connection, no request: so that "nothing is running" gets its own message, not 200 errors. */
function probe(target: URL): Promise<void> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: target.hostname.replace(/^\[|\]$/g, ''), port: Number(target.port || 80), timeout: 2000 });
    socket.once('connect', () => resolve(void socket.end()));
    socket.once('timeout', () => socket.destroy(new Error('no answer within 2 s')));
    socket.once('error', reject);
  });
}

const bump = <K>(map: Map<K, number>, key: K): Map<K, number> => map.set(key, (map.get(key) ?? 0) + 1);
const byCount = <K>(map: Map<K, number>, label: (key: K) => string): string =>
  [...map].sort(([, x], [, y]) => y - x).map(([key, n]) => `${label(key)} ×${n}`).join('   ');

async function main(): Promise<void> {
  const options = readOptions();
  const { target } = options;
  const paint = painter(options.color);
  await probe(target).catch((err: NodeJS.ErrnoException) =>
    fail(TOOL, `nothing answers at ${target.origin} (${err.code ?? err.message}): start a stage first, e.g. pnpm --filter step-08 start`, 1),
  );

  const byPath = new Map<string, number>();
  const errors = new Map<string, number>();
  let sent = 0;
  let stopReason = `--count ${options.count} reached`;
  const nextPath = (): string => {
    const path = MIX[sent++ % MIX.length]!;
    bump(byPath, path);
    return path;
  };
  // autocannon gives each connection a whole share of the rate and of the count.
  const connections = Math.min(options.concurrency, options.count, options.rate);
  process.stdout.write(`${TOOL}: GET ${[...new Set(MIX)].join(', ')} on ${target.origin}, ${options.rate} req/s, ` +
    `${connections} at a time, until ${options.count} sent or ${options.seconds} s\n`);

  let ticks = 0;
  let timer: NodeJS.Timeout | undefined;
  const result = await new Promise<autocannon.Result>((resolve, reject) => {
    const run = autocannon(
      {
        url: target.origin,
        connections,
        amount: options.count,
        overallRate: options.rate,
        timeout: 10,
        // autocannon notices a stop (duration, Ctrl+C) at its next sample: a tenth of a second, not a whole one.
        sampleInt: 100,
        // What arrived, not corrected for requests a slow server kept waiting: this is traffic, not a benchmark.
        ignoreCoordinatedOmission: true,
        // autocannon calls this once for every request it sends.
        requests: [{ setupRequest: (request) => ({ ...request, path: nextPath() }) }],
      },
      (err, done) => (err ? reject(err) : resolve(done)),
    );
    run.on('reqError', (err: NodeJS.ErrnoException) => bump(errors, err.code ?? err.message));
    run.on('tick', () => {
      const tty = process.stdout.isTTY === true;
      ticks++;
      if (tty || ticks % 5 === 0) process.stdout.write(`${tty ? '\r' : ''}sent ${sent}  ${ticks} s${tty ? '\x1b[K' : '\n'}`);
    });
    const stop = (reason: string) => () => ((stopReason = reason), run.stop());
    timer = setTimeout(stop(`--duration ${options.seconds} s reached`), options.seconds * 1000);
    // once: a second Ctrl+C gets Node's default, an immediate exit, should the summary ever hang.
    process.once('SIGINT', stop('Ctrl+C'));
    process.once('SIGTERM', stop('Ctrl+C'));
  });
  clearTimeout(timer);

  const byStatus = new Map(Object.entries(result.statusCodeStats ?? {}).map(([status, { count }]) => [Number(status), Number(count)]));
  const answered = [...byStatus.values()].reduce((sum, n) => sum + n, 0);
  const failed = [...errors.values()].reduce((sum, n) => sum + n, 0);
  const cancelled = Math.max(0, sent - answered - failed);
  const statusLabel = (status: number): string => paint(status >= 500 ? 'red' : status >= 400 ? 'yellow' : 'green', String(status));
  const { p50, p99, max } = result.latency;
  const lines = [
    `${paint('bold', `${sent} sent to ${target.origin} in ${result.duration.toFixed(1)} s`)} ` +
      `(${(answered / result.duration).toFixed(1)} req/s), stopped: ${stopReason}`,
    `  status    ${answered > 0 ? byCount(byStatus, statusLabel) : 'no responses'}`,
    `  errors    ${failed > 0 ? paint('red', `${failed} without a response: ${byCount(errors, String)}`) : 'none'}`,
    ...(cancelled > 0 ? [`  cancelled ${cancelled} in flight at the stop`] : []),
    `  paths     ${byCount(byPath, (path) => `GET ${path}`)}`,
    `  latency   ${answered > 0 ? `p50 ${p50} ms   p99 ${p99} ms   max ${max} ms` : 'no responses'}`,
  ];
  process.stdout.write(`${process.stdout.isTTY ? '\r\x1b[K' : ''}${lines.join('\n')}\n`);
  process.exitCode = failed > 0 ? 1 : 0;
}

await main();
