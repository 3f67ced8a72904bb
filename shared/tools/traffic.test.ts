import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';

const cli = fileURLToPath(new URL('./traffic.ts', import.meta.url));

// Preloaded into the CLI: reports every outgoing connection on stderr, so a test can prove there was
// none, and with BLOCK_CONNECT set also stops it, so that a broken loopback check fails the test
// without a single packet leaving for the address it was given.
const scratch = mkdtempSync(join(tmpdir(), 'otel-steps-traffic-test-'));
const connectTracer = join(scratch, 'trace-connect.mjs');
writeFileSync(
  connectTracer,
  `import net from 'node:net';
const connect = net.Socket.prototype.connect;
net.Socket.prototype.connect = function (...args) {
  process.stderr.write('CONNECT ATTEMPT\\n');
  if (!process.env.BLOCK_CONNECT) return connect.apply(this, args);
  process.nextTick(() => this.destroy(Object.assign(new Error('blocked by the test'), { code: 'EBLOCKED' })));
  return this;
};
`,
);
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

interface Outcome {
  code: number | null;
  stdout: string;
  stderr: string;
  ms: number;
}

// Asynchronous on purpose: the server under test runs in this process and must keep answering.
function traffic(args: string[], onStart?: (child: ChildProcess) => void, blockConnect = false): Promise<Outcome> {
  const started = performance.now();
  const child = spawn(process.execPath, ['--import', pathToFileURL(connectTracer).href, cli, ...args], {
    env: { ...process.env, NO_COLOR: '1', BLOCK_CONNECT: blockConnect ? '1' : '' },
  });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  onStart?.(child);
  return new Promise((resolve) => {
    child.on('close', (code) => resolve({ code, stdout, stderr, ms: performance.now() - started }));
  });
}

/** A stand-in stage: 500 on /error like the real ones, 200 otherwise, counting what it receives. */
async function stage(): Promise<{ target: string; seen: Map<string, number>; total: () => number; server: Server }> {
  const seen = new Map<string, number>();
  const server = createServer((req, res) => {
    seen.set(req.url ?? '', (seen.get(req.url ?? '') ?? 0) + 1);
    res.statusCode = req.url === '/error' ? 500 : 200;
    res.end('ok\n');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  const total = () => [...seen.values()].reduce((sum, n) => sum + n, 0);
  return { target: `http://127.0.0.1:${port}`, seen, total, server };
}

/** The summary's `  label  key ×n   key ×n` line as a map. */
function summaryRow(stdout: string, label: string): Record<string, number> {
  const line = stdout.split('\n').find((l) => l.startsWith(`  ${label} `)) ?? '';
  return Object.fromEntries([...line.matchAll(/(\S+(?: \/\S*)?) ×(\d+)/g)].map((m) => [m[1], Number(m[2])]));
}

const servers: Server[] = [];
// After all, not after each: the tests run at the same time.
afterAll(async () => {
  await Promise.all(servers.splice(0).map((s) => new Promise((resolve) => s.close(resolve))));
});
async function startStage() {
  const s = await stage();
  servers.push(s.server);
  return s;
}

// Concurrent: each test has its own stand-in stage, and most of their time is spent waiting on the pacing.
describe.concurrent('pnpm traffic', () => {
  it('sends --count requests in the GET / mostly, /error some, /healthz few mix, and its summary matches what the server saw', async () => {
    const { target, seen, total } = await startStage();
    const { code, stdout, stderr } = await traffic(['--target', target, '--count', '40', '--rate', '200', '--concurrency', '4']);
    expect(stderr.replaceAll('CONNECT ATTEMPT\n', '')).toBe('');
    expect(code).toBe(0);
    expect(total()).toBe(40);
    expect(stdout).toMatch(new RegExp(`^40 sent to ${target} in [\\d.]+ s \\([\\d.]+ req/s\\), stopped: --count 40 reached$`, 'm'));
    const root = seen.get('/') ?? 0;
    const error = seen.get('/error') ?? 0;
    const healthz = seen.get('/healthz') ?? 0;
    expect(root).toBeGreaterThan(error);
    expect(error).toBeGreaterThan(healthz);
    expect(healthz).toBeGreaterThan(0);
    expect(summaryRow(stdout, 'paths')).toEqual({ 'GET /': root, 'GET /error': error, 'GET /healthz': healthz });
    expect(summaryRow(stdout, 'status')).toEqual({ '200': root + healthz, '500': error });
    expect(stdout).toMatch(/^ {2}errors +none$/m);
    const [, p50, p99, max] = /^ {2}latency +p50 ([\d.]+) ms +p99 ([\d.]+) ms +max ([\d.]+) ms$/m.exec(stdout) ?? [];
    expect(Number(p50)).toBeLessThanOrEqual(Number(p99));
    expect(Number(p99)).toBeLessThanOrEqual(Number(max));
  });

  it('sends no more than --rate in any second', async () => {
    const { target, total } = await startStage();
    const { code, ms } = await traffic(['--target', target, '--count', '6', '--rate', '2']);
    expect(code).toBe(0);
    expect(total()).toBe(6);
    // Six requests at 2 a second: the last two leave two seconds after the first two.
    expect(ms).toBeGreaterThanOrEqual(2000);
  });

  it('stops at --duration when that comes before --count', async () => {
    const { target, total } = await startStage();
    const { code, stdout } = await traffic(['--target', target, '--count', '1000', '--duration', '1.5s', '--rate', '5']);
    expect(code).toBe(0);
    expect(stdout).toContain('stopped: --duration 1.5 s reached');
    // 5 a second for 1.5 s: the first second's 5 and the next second's 5, fewer on a busy machine.
    expect(total()).toBeGreaterThanOrEqual(3);
    expect(total()).toBeLessThanOrEqual(10);
    expect(stdout).toMatch(new RegExp(`^${total()} sent to `, 'm'));
  });

  it('stops on Ctrl+C with the summary of what was sent, exit 0', async () => {
    const { target, total } = await startStage();
    const { code, stdout } = await traffic(['--target', target, '--rate', '50', '--duration', '30'], (child) => {
      const poll = setInterval(() => {
        if (total() >= 5) {
          clearInterval(poll);
          child.kill('SIGINT');
        }
      }, 20);
    });
    expect(code).toBe(0);
    expect(stdout).toContain('stopped: Ctrl+C');
    const sent = Number(/^(\d+) sent to /m.exec(stdout)?.[1]);
    expect(sent).toBeGreaterThanOrEqual(5);
    expect(sent).toBeLessThan(200);
    // Requests cut off in flight are reported as cancelled, not as answered.
    const answered = Object.values(summaryRow(stdout, 'status')).reduce((sum, n) => sum + n, 0);
    const cancelled = Number(/^ {2}cancelled (\d+) in flight at the stop$/m.exec(stdout)?.[1] ?? 0);
    expect(answered + cancelled).toBe(sent);
  });

  it('says so when nothing answers at the target, exit 1', async () => {
    const { server } = await startStage();
    const { port } = server.address() as AddressInfo;
    await new Promise((resolve) => server.close(resolve));
    const { code, stdout, stderr } = await traffic(['--target', `http://127.0.0.1:${port}`]);
    expect(code).toBe(1);
    expect(stdout).toBe('');
    expect(stderr).toContain(
      `traffic: nothing answers at http://127.0.0.1:${port} (ECONNREFUSED): start a stage first, e.g. pnpm --filter step-08 start\n`,
    );
    // The control for the tests below: the tracer does see connection attempts.
    expect(stderr).toContain('CONNECT ATTEMPT');
    const blocked = await traffic(['--target', `http://127.0.0.1:${port}`], undefined, true);
    expect(blocked.stderr).toContain('CONNECT ATTEMPT');
    expect(blocked.stderr).toContain('(EBLOCKED)');
  });

  it.each(['http://10.1.2.3:3030', 'http://example.com', 'http://0.0.0.0:3030', 'http://[::ffff:127.0.0.1]:3030', 'http://[2001:db8::1]/'])(
    'refuses the non-loopback target %s before any connection, exit 2',
    async (target) => {
      const { code, stdout, stderr } = await traffic(['--target', target], undefined, true);
      expect(code).toBe(2);
      expect(stdout).toBe('');
      expect(stderr).toMatch(/^traffic: refusing to send traffic to \S+: only loopback targets \(127\.0\.0\.0\/8, localhost, \[::1\]\) are allowed\n$/);
    },
  );

  it.each([
    ['--count', '0', '--count must be a whole number of at least 1, got "0"'],
    ['--count', '2.5', '--count must be a whole number of at least 1, got "2.5"'],
    ['--concurrency', 'two', '--concurrency must be a whole number of at least 1, got "two"'],
    ['--rate', '0', '--rate must be a whole number of at least 1, got "0"'],
    ['--rate', '0.5', '--rate must be a whole number of at least 1, got "0.5"'],
    ['--duration', '10m', '--duration must be a number greater than 0 (s optional), got "10m"'],
  ])('rejects %s %s with a clear message, exit 2, sending nothing', async (option, value, message) => {
    const { code, stderr } = await traffic([`${option}=${value}`], undefined, true);
    expect(code).toBe(2);
    expect(stderr).toBe(`traffic: ${message}\n`);
  });

  it('--help explains the options and sends nothing', async () => {
    const { code, stdout, stderr } = await traffic(['--help'], undefined, true);
    expect(code).toBe(0);
    expect(stderr).toBe('');
    for (const option of ['--target', '--count', '--duration', '--rate', '--concurrency']) expect(stdout).toContain(option);
  });
});
