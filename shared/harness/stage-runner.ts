// Starts a stage exactly as a learner does (`pnpm --filter step-NN start`), on an ephemeral
// port, with its exporters pointed where the test says, and stops it the way Ctrl+C does. Never
// at the stage's default endpoint (127.0.0.1:4318), where a learner's own stack may be listening:
// a test's telemetry would land in their Jaeger, Prometheus and VictoriaLogs.
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { connect } from 'node:net';
import { readFileSync } from 'node:fs';
import { delimiter, join } from 'node:path';
import psList from 'ps-list';
import { startOtlpReceiver } from '../otlp/receiver.ts';

import { REPO_ROOT } from '../repo.ts';

export interface StageOptions {
  /** package.json script to run; `start` unless a chapter shows another one. */
  script?: string;
  /**
   * OTLP/HTTP base URL (OTEL_EXPORTER_OTLP_ENDPOINT) for every signal. Unset: a receiver of the
   * harness's own, which nobody reads, takes what the stage sends.
   */
  otlpEndpoint?: string;
  env?: Record<string, string>;
  startTimeoutMs?: number;
  /**
   * A package folder outside steps/ (a learner's exercise): its start script runs in it directly,
   * with the workspace's node_modules/.bin first on the PATH, as pnpm runs a script, but without
   * pnpm, which would first install the exercise into the workspace's lockfile.
   */
  dir?: string;
}

export interface StageResponse {
  status: number;
  body: string;
  headers: Headers;
}

export interface StageExit {
  code: number | null;
  signal: NodeJS.Signals | null;
  output: string;
  /** What it printed on stderr alone. */
  stderr: string;
}

export interface RunningStage {
  readonly stage: string;
  readonly baseUrl: string;
  /** pnpm's pid, which is also the id of the process group the stage runs in. */
  readonly pid: number;
  /** Everything the stage printed so far (stdout and stderr, interleaved). */
  output(): string;
  get(path: string, headers?: Record<string, string>): Promise<StageResponse>;
  /**
   * Sends `request` as it is, bytes no HTTP client would send (a method Node refuses, a malformed
   * URL, a header too large), on a connection of its own, and reads the answer to its end.
   */
  raw(request: string): Promise<{ status: number; response: string }>;
  /** Sends `signal` to the whole process group, as a terminal's Ctrl+C does, and waits for the exit. */
  stop(signal?: NodeJS.Signals, timeoutMs?: number): Promise<StageExit>;
}

function cleanEnv(extra: Record<string, string>): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  // The developer's own OTEL_* settings must not leak into what a test asserts.
  for (const [key, value] of Object.entries(process.env)) if (!key.startsWith('OTEL_')) env[key] = value;
  // The compile cache only saves the stages' start-up time across the suite's many runs (the
  // auto-instrumentations bundle loads hundreds of modules); it changes nothing they do.
  return { ...env, FORCE_COLOR: '0', NO_COLOR: '1', NODE_COMPILE_CACHE: join(REPO_ROOT, 'node_modules', '.cache', 'node-compile'), ...extra };
}

/** The package's script `name`, as its package.json says it. */
function scriptOf(dir: string, name: string): string {
  const scripts = (JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as { scripts?: Record<string, string> }).scripts ?? {};
  if (!scripts[name]) throw new Error(`${join(dir, 'package.json')} has no "${name}" script`);
  return scripts[name];
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/**
 * The stage's Node processes (one per service): the descendants of pnpm that run src/server.ts.
 * pnpm 12 starts a script through a shell in a process group of its own, so signalling pnpm's
 * group does not reach them; pnpm forwards the signal, and this is how a caller makes sure the
 * stage itself has exited.
 */
export async function serverPids(pnpmPid: number): Promise<number[]> {
  const processes = await psList();
  const parents = new Map(processes.map((p) => [p.pid, p.ppid]));
  const descends = (pid: number): boolean => {
    for (let p: number | undefined = pid; p !== undefined && p > 1; p = parents.get(p)) if (p === pnpmPid) return true;
    return false;
  };
  return processes.filter((p) => /^(\S*\/)?node\s/.test(p.cmd ?? '') && p.cmd!.includes(' src/server.ts') && descends(p.pid)).map((p) => p.pid);
}

function killAll(pnpmPid: number, nodePids: number[]): void {
  for (const pid of [pnpmPid, ...nodePids]) if (alive(pid)) process.kill(pid, 'SIGKILL');
}

const SIGNALS = ['traces', 'metrics', 'logs'] as const;

/**
 * The signals `env` leaves to the SDK's default endpoint (http://localhost:4318, or :4317 for gRPC),
 * as every exporter resolves it: the signal's own OTEL_EXPORTER_OTLP_<SIGNAL>_ENDPOINT, else the
 * base OTEL_EXPORTER_OTLP_ENDPOINT; an empty value counts as unset.
 */
export function defaultEndpointSignals(env: NodeJS.ProcessEnv): string[] {
  return SIGNALS.filter((signal) => !env[`OTEL_EXPORTER_OTLP_${signal.toUpperCase()}_ENDPOINT`]?.trim() && !env.OTEL_EXPORTER_OTLP_ENDPOINT?.trim());
}

export async function startStage(stage: string, options: StageOptions = {}): Promise<RunningStage> {
  const { script = 'start', otlpEndpoint, env = {}, startTimeoutMs = 30_000, dir } = options;
  const sink = otlpEndpoint === undefined ? await startOtlpReceiver() : undefined;
  const closeSink = (): Promise<void> => sink?.close() ?? Promise.resolve();
  const stageEnv = cleanEnv({ PORT: '0', OTEL_EXPORTER_OTLP_ENDPOINT: otlpEndpoint ?? sink!.url, ...env });
  const unset = defaultEndpointSignals(stageEnv);
  if (unset.length) {
    await closeSink();
    throw new Error(
      `${stage}: the test leaves ${unset.join(', ')} to the default OTLP endpoint, where a learner's stack listens: ` +
        'give each signal an endpoint (otlpEndpoint, or OTEL_EXPORTER_OTLP_*_ENDPOINT in env)',
    );
  }
  // vitest.config.ts sets it for `pnpm test`, which promises to boot nothing (and to stay quick).
  if (process.env.OTEL_STEPS_TIER === 'quick') {
    await closeSink();
    throw new Error(`${stage}: a test in pnpm test's quick tier boots a stage; move its file to the stages tier (STAGE_TESTS in vitest.config.ts)`);
  }
  const [command, args, cwd] = dir
    ? // exec: the shell becomes the command, whose exit code (and signal handling) is the run's, as under pnpm.
      ['sh', ['-c', `exec ${scriptOf(dir, script)}`], dir]
    : ['pnpm', ['--filter', stage, 'run', script], REPO_ROOT];
  if (dir) stageEnv.PATH = [join(dir, 'node_modules', '.bin'), join(REPO_ROOT, 'node_modules', '.bin'), stageEnv.PATH].join(delimiter);
  const child: ChildProcess = spawn(command, args, {
    cwd,
    env: stageEnv,
    // Its own process group, as a terminal gives a foreground job: Ctrl+C reaches that group.
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  let stderr = '';
  child.stdout!.setEncoding('utf8').on('data', (chunk: string) => (output += chunk));
  child.stderr!.setEncoding('utf8').on('data', (chunk: string) => ((output += chunk), (stderr += chunk)));
  const exited = once(child, 'exit') as Promise<[number | null, NodeJS.Signals | null]>;
  // 'close' comes after 'exit', once the pipes have delivered the last of what it printed.
  const closed = once(child, 'close').catch(() => undefined);

  const baseUrl = await new Promise<string>((resolveUrl, reject) => {
    const timer = setTimeout(() => finish(new Error(`${stage} did not start listening within ${startTimeoutMs} ms:\n${output}`)), startTimeoutMs);
    const onData = (): void => {
      // At the start of a line: a stage of several services prints one such line for all of them
      // (its services' own lines come prefixed with their names).
      const match = /^listening on (http:\/\/[^\s]+)/m.exec(output);
      if (match) finish(undefined, match[1]);
    };
    const onExit = (code: number | null): void => finish(new Error(`${stage} exited (code ${code}) before listening:\n${output}`));
    function finish(err?: Error, url?: string): void {
      clearTimeout(timer);
      child.stdout!.off('data', onData);
      child.off('close', onExit);
      if (err) {
        if (child.pid) void serverPids(child.pid).then((nodes) => killAll(child.pid!, nodes)).finally(() => void closeSink());
        else void closeSink();
        reject(err);
      } else resolveUrl(url!);
    }
    child.stdout!.on('data', onData);
    // 'close', not 'exit': only then has everything the stage printed on its way out arrived.
    child.once('close', onExit);
    child.once('error', (err) => finish(new Error(`could not run ${command} (is it on PATH?): ${err.message}`)));
  });

  return {
    stage,
    baseUrl,
    pid: child.pid!,
    output: () => output,
    async get(path: string, headers: Record<string, string> = {}): Promise<StageResponse> {
      const res = await fetch(new URL(path, baseUrl), { headers });
      return { status: res.status, body: await res.text(), headers: res.headers };
    },
    raw(request: string): Promise<{ status: number; response: string }> {
      const { hostname, port } = new URL(baseUrl);
      return new Promise((resolveRaw, reject) => {
        const socket = connect({ host: hostname, port: Number(port) }, () => socket.write(request));
        let response = '';
        socket.setEncoding('utf8').on('data', (chunk: string) => (response += chunk));
        socket.setTimeout(10_000, () => socket.destroy(new Error(`${stage}: no answer within 10 s to ${JSON.stringify(request.slice(0, 60))}`)));
        socket.once('error', reject);
        socket.once('close', () => resolveRaw({ status: Number(/^HTTP\/1\.1 (\d{3})/.exec(response)?.[1] ?? 0), response }));
      });
    },
    async stop(signal: NodeJS.Signals = 'SIGINT', timeoutMs = 20_000): Promise<StageExit> {
      const pid = child.pid!;
      const nodes = await serverPids(pid);
      if (child.exitCode === null && child.signalCode === null) process.kill(-pid, signal);
      let timer: NodeJS.Timeout | undefined;
      const timeout = new Promise<never>((_, reject) => {
        timer = setTimeout(() => {
          killAll(pid, nodes);
          reject(new Error(`${stage} did not exit within ${timeoutMs} ms of ${signal}:\n${output}`));
        }, timeoutMs);
      });
      try {
        const [code, exitSignal] = await Promise.race([exited, timeout]);
        // pnpm may exit before the node processes it started (it does on SIGTERM): wait for them too.
        const deadline = Date.now() + timeoutMs;
        while (nodes.some(alive)) {
          if (Date.now() > deadline) {
            killAll(pid, nodes);
            throw new Error(`${stage}: pnpm exited but the stage outlived ${signal}:\n${output}`);
          }
          await new Promise((r) => setTimeout(r, 50));
        }
        // Its last words (a crash's stack on stderr) may still be in the pipe at 'exit'.
        await Promise.race([closed, new Promise((r) => setTimeout(r, 1_000))]);
        return { code, signal: exitSignal, output, stderr };
      } finally {
        clearTimeout(timer);
        await closeSink();
      }
    },
  };
}
