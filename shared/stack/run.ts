// Runs the native stack: Prometheus, Zipkin, the OTLP->Zipkin bridge, Jaeger and the collector as
// local processes bound to 127.0.0.1, each with its log file, stopped in order (collector first).
import { type ChildProcess, spawn } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import waitOn from 'wait-on';
import { join } from 'node:path';
import { buildStack, collectorConfigArgs, defaultLog, nativeEnv, tail, track, type Binaries, type Log } from './build.ts';
import { URLS, type StackUrls } from './urls.ts';
import { FILES } from './versions.ts';
import type { OtlpReceiver } from '../harness/otlp-receiver.ts';
import { startZipkinBridge } from './zipkin-bridge.ts';

/** Every port the native stack listens on, checked before it starts. */
const PORTS: Array<[number, string]> = [
  [4317, 'collector OTLP gRPC'],
  [4318, 'collector OTLP HTTP'],
  [13133, 'collector health'],
  [8888, 'collector metrics'],
  [14317, 'Jaeger OTLP gRPC'],
  [14318, 'Jaeger OTLP HTTP'],
  [16686, 'Jaeger UI'],
  [16685, 'Jaeger gRPC query'],
  [13134, 'Jaeger health'],
  [14269, 'Jaeger metrics'],
  [9411, 'Zipkin'],
  [9412, 'OTLP->Zipkin bridge'],
  [9090, 'Prometheus'],
];

/** prometheus.yaml with every scrape target's host replaced by 127.0.0.1. */
export function nativePrometheusConfig(compose: string): string {
  return compose.replace(/(["'])[A-Za-z0-9_.-]+:(\d+)\1/g, (_match, quote: string, port: string) => `${quote}127.0.0.1:${port}${quote}`);
}

export type RunningStack = {
  urls: StackUrls;
  /** Directory holding one log file per process. */
  logDir: string;
  stop(): Promise<void>;
};

export type StartOptions = { log?: Log; binaries?: Binaries; timeoutMs?: number };

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
    // proxy: false, or a proxy set in the environment would be asked for 127.0.0.1.
    waitOn({ resources: [url.replace(/^http/, 'http-get')], timeout, interval: 500, proxy: false })
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

/**
 * Starts Prometheus, Zipkin, the OTLP->Zipkin bridge, Jaeger and the collector
 * on 127.0.0.1, and resolves once each answers its health check.
 */
export async function startStack(options: StartOptions = {}): Promise<RunningStack> {
  const log = options.log ?? defaultLog;
  const binaries = options.binaries ?? (await buildStack({ log }));
  const busy: string[] = [];
  for (const [port, what] of PORTS) if (!(await portFree(port))) busy.push(`${port} (${what})`);
  if (busy.length) {
    throw new Error(
      `Ports in use on 127.0.0.1: ${busy.join(', ')}. Is a stack already running (\`pnpm stack:down\` stops the compose one), or a system Prometheus service?`,
    );
  }

  const runDir = mkdtempSync(join(tmpdir(), 'otel-steps-stack-'));
  const env = nativeEnv();
  const children: Array<{ name: string; child: ChildProcess }> = [];
  let bridge: OtlpReceiver | undefined;
  const stop = async (): Promise<void> => {
    // The collector first so that it can flush to the backends.
    for (const { child } of [...children].reverse()) await stopChild(child);
    children.length = 0;
    await bridge?.close();
    bridge = undefined;
  };

  const launch = (name: string, command: string, args: string[], extraEnv: NodeJS.ProcessEnv = {}): { child: ChildProcess; logFile: string } => {
    const logFile = join(runDir, `${name}.log`);
    const fd = openSync(logFile, 'w');
    // Own process group: Ctrl+C reaches only the Node process, which then stops
    // the children in order (the collector first, so that it can flush).
    const child = track(spawn(command, args, { cwd: runDir, env: { ...env, ...extraEnv }, stdio: ['ignore', fd, fd], detached: true }));
    closeSync(fd);
    child.on('error', (error) => log(`${name}: ${error.message}`));
    children.push({ name, child });
    return { child, logFile };
  };

  try {
    const timeout = options.timeoutMs ?? 120_000;
    const promConfig = join(runDir, 'prometheus.yaml');
    writeFileSync(promConfig, nativePrometheusConfig(readFileSync(FILES.prometheusConfig, 'utf8')));
    const prometheus = launch('prometheus', binaries.prometheus, [
      `--config.file=${promConfig}`,
      `--storage.tsdb.path=${join(runDir, 'prometheus-data')}`,
      '--web.listen-address=127.0.0.1:9090',
      '--web.enable-remote-write-receiver',
    ]);
    const zipkin = launch('zipkin', 'java', [
      '-Xmx512m',
      '-jar',
      binaries.zipkinJar,
      // Replaces Zipkin's default listener (all interfaces) with 127.0.0.1 only.
      '--armeria.ports[0].ip=127.0.0.1',
      '--armeria.ports[0].port=9411',
      '--armeria.ports[0].protocols[0]=http',
    ]);
    const bridgeLog = join(runDir, 'zipkin-bridge.log');
    bridge = await startZipkinBridge({
      host: '127.0.0.1',
      port: 9412,
      zipkinUrl: URLS.zipkin,
      log: (line) => writeFileSync(bridgeLog, `${new Date().toISOString()} ${line}\n`, { flag: 'a' }),
    });
    const jaeger = launch('jaeger', binaries.jaeger, [`--config=${FILES.jaegerConfig}`]);
    const collector = launch('otelcol', binaries.otelcol, collectorConfigArgs());
    log(`starting Prometheus, Zipkin, Jaeger and the collector (logs: ${runDir})`);
    await Promise.all([
      waitHealthy('Prometheus', URLS.prometheusReady, prometheus.child, prometheus.logFile, timeout),
      waitHealthy('Zipkin', URLS.zipkinHealth, zipkin.child, zipkin.logFile, timeout),
      waitHealthy('Jaeger', URLS.jaegerHealth, jaeger.child, jaeger.logFile, timeout),
      waitHealthy('collector', URLS.collectorHealth, collector.child, collector.logFile, timeout),
    ]);
  } catch (error) {
    await stop();
    throw error;
  }
  return { urls: URLS, logDir: runDir, stop };
}
