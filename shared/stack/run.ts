// Runs the native stack: Prometheus, Zipkin, the OTLP->Zipkin bridge, VictoriaLogs, Jaeger and the collector
// as local processes bound to 127.0.0.1, each with its log file, stopped in order (collector first).
// Each one can also be stopped and started again on its own, which is how the e2e tests take a
// backend down or restart the collector.
import { type ChildProcess, spawn } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { buildStack, type Binaries } from './build.ts';
import { defaultLog, tail, track, type Log } from './processes.ts';
import { collectorConfigArgs, nativeEnv } from './configs.ts';
import { STACK_PORTS, URLS, waitForUrls, ZIPKIN_LOGS_URL } from './urls.ts';
import { COLLECTOR_DIR, FILES, victoriaLogsFlags } from './versions.ts';
import type { OtlpReceiver } from '../otlp/receiver.ts';
import { startZipkinBridge } from './zipkin-bridge.ts';

/** Every port the native stack listens on, checked before it starts. */

/**
 * prometheus.yaml with every scrape target's host replaced by 127.0.0.1, and each of its rule_files
 * (named relative to prometheus.yaml, in `dir`) by its absolute path: the copy lives in the run directory.
 */
export function nativePrometheusConfig(compose: string, dir = COLLECTOR_DIR): string {
  const local = compose.replace(/(["'])[A-Za-z0-9_.-]+:(\d+)\1/g, (_match, quote: string, port: string) => `${quote}127.0.0.1:${port}${quote}`);
  const absolute = (_item: string, dash: string, quote: string, file: string): string => `${dash}${quote}${resolve(dir, file)}${quote}`;
  return local.replace(/^rule_files:\n(?:[ \t]*(?:-[^\n]*|#[^\n]*)?\n)*/m, (block) => block.replace(/^([ \t]*-[ \t]+)(["']?)([^"'\s#]+)\2/gm, absolute));
}

/** The processes of the native stack, in start order. */
export type StackProcess = 'prometheus' | 'zipkin' | 'victorialogs' | 'jaeger' | 'otelcol';

export type RunningStack = {
  /** Directory holding one log file per process. */
  logDir: string;
  /** The collector's output file: its debug exporter prints every span, data point and log record it sends. */
  collectorLog: string;
  /** Stops one process (SIGTERM, then SIGKILL after 10 s); the others keep running. */
  stopProcess(name: StackProcess): Promise<void>;
  /** Starts a stopped process again, with the same arguments, and waits for its health check. */
  startProcess(name: StackProcess): Promise<void>;
  /** Starts a part that was not built when the stack started, now that it is, and waits for its health check. */
  join(name: StackProcess, binary: string): Promise<void>;
  /** The parts running now, in start order. */
  running(): StackProcess[];
  /** Stops every process, the collector first, and removes the stack's directory; returns what it removed, a line each. */
  stop(): Promise<string[]>;
};

export type StartOptions = {
  log?: Log;
  /** What to run; a part whose binary is '' is left out, to `join` later (its ports are checked now). */
  binaries?: Binaries;
  timeoutMs?: number;
  /** A lesson overlay, as a path under collector/ (`pnpm stack:native` passes $COLLECTOR_OVERLAY). */
  overlay?: string;
};

// Memory the collector's Go runtime aims to stay under: 80% of memory_limiter's limit_mib (512) in
// otel-collector-config.yaml, as the collector's documentation advises. compose.yaml sets the same.
const COLLECTOR_GOMEMLIMIT = '410MiB';

/** The size of everything under `path`, as `1.2 MB` (`nothing` when it does not exist). */
function megabytes(path: string): string {
  const size = (p: string): number => {
    try {
      const stat = statSync(p);
      return stat.isDirectory() ? readdirSync(p).reduce((sum, entry) => sum + size(join(p, entry)), 0) : stat.size;
    } catch {
      return 0;
    }
  };
  const bytes = size(path);
  return bytes === 0 ? 'nothing' : `${(bytes / 1e6).toFixed(1)} MB`;
}

/** Zipkin's command line: the server jar, on 127.0.0.1 only, with the Logs button. */
function zipkinArgs(jar: string): string[] {
  return [
    '-Xmx512m',
    '-jar',
    jar,
    // Replaces Zipkin's default listener (all interfaces) with 127.0.0.1 only.
    '--armeria.ports[0].ip=127.0.0.1',
    '--armeria.ports[0].port=9411',
    '--armeria.ports[0].protocols[0]=http',
    // The Logs button on the trace page: the logs UI, filtered to the trace's records.
    `--zipkin.ui.logs-url=${ZIPKIN_LOGS_URL}`,
  ];
}

function portFree(port: number): Promise<boolean> {
  return new Promise((resolvePort) => {
    const server = createServer();
    server.once('error', () => resolvePort(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolvePort(true)));
  });
}

/** Resolves once `url` answers 2xx; rejects with the log's tail when the process exits first or time runs out. */
function waitHealthy(name: string, url: string, child: ChildProcess, logFile: string, timeout: number): Promise<void> {
  const failure = (why: string): Error => new Error(`${name} ${why}\n--- last lines of ${logFile} ---\n${tail(logFile)}`);
  return new Promise((resolveHealthy, reject) => {
    const onExit = (code: number | null): void => reject(failure(`exited with code ${code}`));
    child.once('exit', onExit);
    waitForUrls([url], { timeout, interval: 250 })
      .then(() => resolveHealthy(), () => reject(failure(`did not become healthy at ${url}`)))
      .finally(() => child.off('exit', onExit));
  });
}

function stopChild(child: ChildProcess, graceMs = 10_000): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolveStop) => {
    const killer = setTimeout(() => child.kill('SIGKILL'), graceMs);
    child.once('exit', () => {
      clearTimeout(killer);
      resolveStop();
    });
    child.kill('SIGTERM');
  });
}

type Spec = { label: string; readonly command: string; readonly args: string[]; env?: NodeJS.ProcessEnv; health: string };

/**
 * Starts Prometheus, Zipkin, the OTLP->Zipkin bridge, VictoriaLogs, Jaeger and the collector on 127.0.0.1,
 * and resolves once each answers its health check.
 */
export async function startStack(options: StartOptions = {}): Promise<RunningStack> {
  const log = options.log ?? defaultLog;
  const binaries = options.binaries ?? (await buildStack({ log }));
  const busy: string[] = [];
  for (const [port, what] of Object.entries(STACK_PORTS)) if (!(await portFree(Number(port)))) busy.push(`${port} (${what})`);
  if (busy.length) {
    throw new Error(
      `Ports in use on 127.0.0.1: ${busy.join(', ')}. Is a stack already running (\`pnpm stack:down\` stops the compose one), or a system Prometheus service?`,
    );
  }

  const runDir = mkdtempSync(join(tmpdir(), 'otel-steps-stack-'));
  // The collector's disk queues (file_storage/queue): kept across collector restarts, removed with the stack.
  const queueDir = join(runDir, 'otelcol-queue');
  const timeout = options.timeoutMs ?? 120_000;
  const promConfig = join(runDir, 'prometheus.yaml');
  writeFileSync(promConfig, nativePrometheusConfig(readFileSync(FILES.prometheusConfig, 'utf8')));
  const paths = { ...binaries };
  const specs: Record<StackProcess, Spec> = {
    prometheus: {
      label: 'Prometheus',
      get command() {
        return paths.prometheus;
      },
      args: [
        `--config.file=${promConfig}`,
        `--storage.tsdb.path=${join(runDir, 'prometheus-data')}`,
        '--web.listen-address=127.0.0.1:9090',
        '--web.enable-remote-write-receiver',
        // Keeps the span metrics' exemplars (trace ids on histogram buckets), which remote write carries.
        '--enable-feature=exemplar-storage',
      ],
      health: URLS.prometheusReady,
    },
    zipkin: {
      label: 'Zipkin',
      command: 'java',
      get args() {
        return zipkinArgs(paths.zipkinJar);
      },
      health: URLS.zipkinHealth,
    },
    victorialogs: {
      label: 'VictoriaLogs',
      get command() {
        return paths.victorialogs;
      },
      args: victoriaLogsFlags({ listen: '127.0.0.1:9428', dataDir: join(runDir, 'victorialogs-data') }),
      health: URLS.victorialogsHealth,
    },
    jaeger: {
      label: 'Jaeger',
      get command() {
        return paths.jaeger;
      },
      args: [`--config=${FILES.jaegerConfig}`],
      health: URLS.jaegerHealth,
    },
    otelcol: {
      label: 'collector',
      get command() {
        return paths.otelcol;
      },
      args: collectorConfigArgs(options.overlay),
      env: { OTELCOL_QUEUE_DIR: queueDir, GOMEMLIMIT: COLLECTOR_GOMEMLIMIT },
      health: URLS.collectorHealth,
    },
  };

  const env = nativeEnv();
  const children = new Map<StackProcess, ChildProcess>();
  const logFile = (name: StackProcess): string => join(runDir, `${name}.log`);
  let bridge: OtlpReceiver | undefined;

  const launch = (name: StackProcess): ChildProcess => {
    const spec = specs[name];
    // Appends, so that a restarted process's log follows its earlier run.
    const fd = openSync(logFile(name), 'a');
    // Own process group: Ctrl+C reaches only the Node process, which then stops
    // the children in order (the collector first, so that it can flush).
    const child = track(spawn(spec.command, spec.args, { cwd: runDir, env: { ...env, ...spec.env }, stdio: ['ignore', fd, fd], detached: true }));
    closeSync(fd);
    child.on('error', (error) => log(`${name}: ${error.message}`));
    children.set(name, child);
    return child;
  };
  const healthy = (name: StackProcess): Promise<void> =>
    waitHealthy(specs[name].label, specs[name].health, children.get(name)!, logFile(name), timeout);

  const stopProcess = async (name: StackProcess): Promise<void> => {
    const child = children.get(name);
    children.delete(name);
    if (child) await stopChild(child);
  };
  const startProcess = async (name: StackProcess): Promise<void> => {
    if (children.has(name)) throw new Error(`${specs[name].label} is already running`);
    launch(name);
    await healthy(name);
  };
  const joinPart = async (name: StackProcess, binary: string): Promise<void> => {
    paths[name === 'zipkin' ? 'zipkinJar' : name] = binary;
    await startProcess(name);
  };
  const stop = async (): Promise<string[]> => {
    // The collector first so that it can flush to the backends.
    for (const name of [...children.keys()].reverse()) await stopProcess(name);
    await bridge?.close();
    bridge = undefined;
    // Everything the stack stored, named before it goes: a stop is the cleanup.
    const stored = (name: string, what: string): string => `  ${what} (${megabytes(join(runDir, name))})`;
    const removed = [
      `removed ${runDir}:`,
      stored('otelcol-queue', "the collector's disk queue"),
      stored('prometheus-data', "Prometheus's data"),
      stored('victorialogs-data', "VictoriaLogs' data"),
      `  the processes' logs (${readdirSync(runDir).filter((f) => f.endsWith('.log')).join(', ')})`,
    ];
    rmSync(runDir, { recursive: true, force: true });
    return removed;
  };

  try {
    const bridgeLog = join(runDir, 'zipkin-bridge.log');
    bridge = await startZipkinBridge({
      host: '127.0.0.1',
      port: 9412,
      zipkinUrl: URLS.zipkin,
      log: (line) => writeFileSync(bridgeLog, `${new Date().toISOString()} ${line}\n`, { flag: 'a' }),
    });
    const built = (name: StackProcess): boolean => paths[name === 'zipkin' ? 'zipkinJar' : name] !== '';
    const names = (Object.keys(specs) as StackProcess[]).filter(built);
    for (const name of names) launch(name);
    log(`starting ${names.map((n) => specs[n].label).join(', ')} (logs: ${runDir})`);
    await Promise.all(names.map(healthy));
  } catch (error) {
    await stop();
    throw error;
  }
  return { logDir: runDir, collectorLog: logFile('otelcol'), stopProcess, startProcess, join: joinPart, running: () => [...children.keys()], stop };
}
