// The native stack: the same programs as collector/compose.yaml, built from
// package registries and run as local processes bound to 127.0.0.1.
//
// Used by shared/tools/stack-native.ts (`pnpm stack:native`) and by the e2e
// test harness. Node built-ins only; run by Node with type stripping.
//
//   OpenTelemetry Collector  built with the Collector Builder from
//                            collector/builder-config.yaml (Go module proxy)
//   Jaeger v2                built from its Go module (Go module proxy)
//   Zipkin                   the zipkin-server exec jar (Maven Central)
//   Prometheus               the Debian package (apt)
//   OTLP -> Zipkin bridge    collector/otlp-to-zipkin.ts, run in-process
//
// Builds are cached in ~/.cache/otel-steps/<component>-<version>/ (or
// $OTEL_STEPS_CACHE), so only the first run takes minutes.
//
// Versions are stated once: the collector's in collector/builder-config.yaml,
// the others by the image tags in collector/compose.yaml, which the native
// stack reads. versionDrift() reports any disagreement (a test calls it).

import { spawn, spawnSync } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { closeSync, existsSync, mkdirSync, mkdtempSync, openSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { homedir, tmpdir } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startZipkinBridge } from '../../collector/otlp-to-zipkin.ts';
import type { ZipkinBridge } from '../../collector/otlp-to-zipkin.ts';

export const REPO_ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const COLLECTOR_DIR = join(REPO_ROOT, 'collector');
export const FILES = {
  collectorConfig: join(COLLECTOR_DIR, 'otel-collector-config.yaml'),
  builderConfig: join(COLLECTOR_DIR, 'builder-config.yaml'),
  compose: join(COLLECTOR_DIR, 'compose.yaml'),
  prometheusConfig: join(COLLECTOR_DIR, 'prometheus.yaml'),
  jaegerConfig: join(COLLECTOR_DIR, 'jaeger.yaml'),
};

export function cacheRoot(): string {
  return process.env.OTEL_STEPS_CACHE ?? join(process.env.XDG_CACHE_HOME ?? join(homedir(), '.cache'), 'otel-steps');
}

/** Where everything listens, natively and (published on 127.0.0.1) in compose. */
export const URLS = {
  otlpGrpc: '127.0.0.1:4317',
  otlpHttp: 'http://127.0.0.1:4318',
  collectorHealth: 'http://127.0.0.1:13133/',
  collectorMetrics: 'http://127.0.0.1:8888/metrics',
  jaeger: 'http://127.0.0.1:16686',
  jaegerHealth: 'http://127.0.0.1:13134/status',
  zipkin: 'http://127.0.0.1:9411',
  zipkinHealth: 'http://127.0.0.1:9411/health',
  prometheus: 'http://127.0.0.1:9090',
  prometheusReady: 'http://127.0.0.1:9090/-/ready',
  zipkinBridge: 'http://127.0.0.1:9412',
} as const;
export type StackUrls = typeof URLS;

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

// Jaeger v2 is released from github.com/jaegertracing/jaeger, whose Go module
// has no /v2 suffix: its v2.x.y tags are not Go module versions. Until v1 ended,
// each v2 release was tagged v1.N.0 on the same commit, and the Go module proxy
// serves those tags (it serves neither the v2 tags nor later commits here), so
// 2.13.0 (= v1.76.0) is the newest Jaeger v2 that can be built from it.
// compose.yaml's jaegertracing/jaeger tag selects the entry.
const JAEGER_GO_MODULE: Record<string, { module: string; commit: string }> = {
  '2.13.0': { module: 'v1.76.0', commit: '63b27e1810a710ac54dc4522da0538e540bdc545' },
};

// The collector 0.162 modules say `go 1.26.0`; Zipkin 3 needs Java 17.
const MIN_GO: [number, number] = [1, 26];
const MIN_JAVA = 17;
const MAVEN_DEPENDENCY_PLUGIN = 'org.apache.maven.plugins:maven-dependency-plugin:3.8.1';

export type Versions = {
  /** collector version, from builder-config.yaml dist.version, e.g. "0.162.0" */
  collector: string;
  /** every `gomod` line of builder-config.yaml: module -> version */
  builderModules: Record<string, string>;
  /** image tags from compose.yaml */
  images: { collector: string; jaeger: string; zipkin: string; prometheus: string; node: string };
  jaeger: { release: string; module: string; commit: string } | undefined;
  zipkin: string;
};

function imageTag(compose: string, image: string): string {
  const escaped = image.replace(/[/.]/g, '\\$&');
  const match = new RegExp(`^\\s*image:\\s*["']?${escaped}:([^\\s"'#]+)`, 'm').exec(compose);
  return match?.[1] ?? '';
}

export function readVersions(): Versions {
  const builder = readFileSync(FILES.builderConfig, 'utf8');
  const compose = readFileSync(FILES.compose, 'utf8');
  const collector = /^\s+version:\s*["']?([^\s"']+)/m.exec(builder)?.[1] ?? '';
  const builderModules: Record<string, string> = {};
  for (const match of builder.matchAll(/^\s*-\s*gomod:\s*["']?(\S+)\s+(v[^\s"']+)/gm)) {
    builderModules[match[1] ?? ''] = match[2] ?? '';
  }
  const images = {
    collector: imageTag(compose, 'otel/opentelemetry-collector-contrib'),
    jaeger: imageTag(compose, 'jaegertracing/jaeger'),
    zipkin: imageTag(compose, 'openzipkin/zipkin'),
    prometheus: imageTag(compose, 'prom/prometheus'),
    node: imageTag(compose, 'node'),
  };
  const jaegerModule = JAEGER_GO_MODULE[images.jaeger];
  return {
    collector,
    builderModules,
    images,
    jaeger: jaegerModule && { release: images.jaeger, ...jaegerModule },
    zipkin: images.zipkin,
  };
}

/**
 * Everything that disagrees between builder-config.yaml, compose.yaml and the
 * native build; [] when the versions are consistent.
 */
export function versionDrift(versions: Versions = readVersions()): string[] {
  const problems: string[] = [];
  if (!/^\d+\.\d+\.\d+$/.test(versions.collector)) problems.push('builder-config.yaml: dist.version is missing');
  for (const [module, version] of Object.entries(versions.builderModules)) {
    const isProvider = module.includes('/confmap/provider/');
    if (!isProvider && version !== `v${versions.collector}`) {
      problems.push(`builder-config.yaml: ${module} is ${version}, dist.version is ${versions.collector}`);
    }
  }
  const providerVersions = new Set(
    Object.entries(versions.builderModules)
      .filter(([module]) => module.includes('/confmap/provider/'))
      .map(([, version]) => version),
  );
  if (providerVersions.size > 1) problems.push(`builder-config.yaml: providers at several versions (${[...providerVersions].join(', ')})`);
  if (versions.images.collector !== versions.collector) {
    problems.push(`compose.yaml: collector image ${versions.images.collector || '(none)'} != builder-config.yaml ${versions.collector}`);
  }
  if (!versions.jaeger) {
    problems.push(`compose.yaml: jaegertracing/jaeger:${versions.images.jaeger || '(none)'} has no Go module version in stack-lib.ts JAEGER_GO_MODULE`);
  }
  if (!/^\d+\.\d+\.\d+$/.test(versions.zipkin)) problems.push('compose.yaml: openzipkin/zipkin needs an exact x.y.z tag');
  for (const [name, tag] of Object.entries(versions.images)) {
    if (!tag || tag === 'latest') problems.push(`compose.yaml: ${name} image needs an exact tag`);
  }
  return problems;
}

// ---------------------------------------------------------------- utilities

export type Log = (line: string) => void;
const defaultLog: Log = (line) => console.log(`[stack] ${line}`);

function which(command: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${command}`], { stdio: 'ignore' }).status === 0;
}

function commandOutput(command: string, args: string[]): string {
  const result = spawnSync(command, args, { encoding: 'utf8' });
  return `${result.stdout ?? ''}${result.stderr ?? ''}`;
}

function tail(file: string, lines = 25): string {
  if (!existsSync(file)) return '';
  return readFileSync(file, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
}

// Every process this module starts, killed if the Node process exits first
// (for instance on Ctrl+C during a build), so that none is left behind.
const live = new Set<ChildProcess>();
let exitHook = false;
function track(child: ChildProcess): ChildProcess {
  live.add(child);
  child.once('exit', () => live.delete(child));
  if (!exitHook) {
    exitHook = true;
    process.once('exit', () => {
      for (const running of live) running.kill('SIGKILL');
    });
  }
  return child;
}

/** Environment for the Go builds: no workspace, no VCS stamping (module sources have no .git). */
function goEnv(extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  return { ...process.env, GOWORK: 'off', GOFLAGS: `${process.env.GOFLAGS ?? ''} -buildvcs=false`.trim(), ...extra };
}

function sha256(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}

function seconds(since: number): number {
  return Math.round((Date.now() - since) / 1000);
}

type RunOptions = { cwd?: string; env?: NodeJS.ProcessEnv; logFile: string; label: string; note?: string; log: Log };

/** Runs a build command, output to logFile, with a progress line every 15 s. */
function run(command: string, args: string[], options: RunOptions): Promise<void> {
  const started = Date.now();
  mkdirSync(dirname(options.logFile), { recursive: true });
  const fd = openSync(options.logFile, 'a');
  writeFileSync(fd, `\n$ ${command} ${args.join(' ')}\n`);
  options.log(`${options.label}${options.note ? ` (${options.note})` : ''}... log: ${options.logFile}`);
  return new Promise((resolveRun, reject) => {
    const child = track(spawn(command, args, { cwd: options.cwd, env: options.env ?? process.env, stdio: ['ignore', fd, fd] }));
    const ticker = setInterval(() => options.log(`  still ${options.label.toLowerCase()} (${seconds(started)}s)`), 15_000);
    const finish = (error?: Error): void => {
      clearInterval(ticker);
      closeSync(fd);
      if (error) {
        reject(new Error(`${options.label} failed: ${error.message}\n--- last lines of ${options.logFile} ---\n${tail(options.logFile)}`));
      } else {
        options.log(`  ${options.label.toLowerCase()}: done in ${seconds(started)}s`);
        resolveRun();
      }
    };
    child.on('error', (error) => finish(error));
    child.on('exit', (code, signal) => finish(code === 0 ? undefined : new Error(`exit ${code ?? signal}`)));
  });
}

// ------------------------------------------------------------ prerequisites

export type Prerequisites = { missing: string[]; message: string | undefined };

/** Checks Go, Java, Maven and Prometheus (Prometheus may also come from apt). */
export function checkPrerequisites(need: { go?: boolean; java?: boolean; prometheus?: boolean } = { go: true, java: true, prometheus: true }): Prerequisites {
  const missing: string[] = [];
  if (need.go) {
    const version = /go(\d+)\.(\d+)/.exec(which('go') ? commandOutput('go', ['version']) : '');
    const major = Number(version?.[1] ?? 0);
    const minor = Number(version?.[2] ?? 0);
    if (major < MIN_GO[0] || (major === MIN_GO[0] && minor < MIN_GO[1])) {
      missing.push(`Go ${MIN_GO.join('.')}+ (\`go\`${version ? `, found ${major}.${minor}` : ''})`);
    }
  }
  if (need.java) {
    const version = /version "(\d+)/.exec(which('java') ? commandOutput('java', ['-version']) : '');
    const major = Number(version?.[1] ?? 0);
    if (major < MIN_JAVA) missing.push(`Java ${MIN_JAVA}+ (\`java\`${version ? `, found ${major}` : ''})`);
    if (!which('mvn')) missing.push('Maven (`mvn`)');
  }
  if (need.prometheus && !which('prometheus')) {
    const canApt = process.getuid?.() === 0 && which('apt-get');
    if (!canApt) missing.push('Prometheus (`sudo apt-get install prometheus`)');
  }
  const message = missing.length
    ? `The native stack cannot be built: install ${missing.join(', ')} and run \`pnpm stack:native\` again (or use \`pnpm stack:up\` with Docker).`
    : undefined;
  return { missing, message };
}

// ------------------------------------------------------------------- builds

export type Binaries = { otelcol: string; jaeger: string; zipkinJar: string; prometheus: string };
export type BuildOptions = { log?: Log; only?: Array<keyof Binaries> };

/** Builds the collector with the Collector Builder; cached per version and manifest. */
async function buildCollector(versions: Versions, log: Log): Promise<string> {
  const dir = join(cacheRoot(), `otelcol-${versions.collector}`);
  const binary = join(dir, 'dist', 'otelcol-otel-steps');
  const manifest = readFileSync(FILES.builderConfig, 'utf8');
  const stamp = join(dir, 'manifest.sha256');
  if (existsSync(binary) && existsSync(stamp) && readFileSync(stamp, 'utf8') === sha256(manifest)) {
    log(`collector ${versions.collector}: cached (${binary})`);
    return binary;
  }
  const builderDir = join(cacheRoot(), `builder-v${versions.collector}`, 'bin');
  const builder = join(builderDir, 'builder');
  const logFile = join(dir, 'build.log');
  const env = goEnv();
  if (!existsSync(builder)) {
    await run('go', ['install', `go.opentelemetry.io/collector/cmd/builder@v${versions.collector}`], {
      env: goEnv({ GOBIN: builderDir }),
      logFile,
      label: `Installing the Collector Builder v${versions.collector}`,
      log,
    });
  }
  // The committed manifest writes to ./otelcol-dist; build from a copy that
  // writes into the cache instead.
  mkdirSync(dir, { recursive: true });
  const copy = join(dir, 'builder-config.yaml');
  writeFileSync(copy, manifest.replace(/^(\s+output_path:).*$/m, `$1 ${join(dir, 'dist')}`));
  await run(builder, ['--config', copy], {
    cwd: dir,
    env,
    logFile,
    label: `Building the collector ${versions.collector}`,
    note: 'the first build takes several minutes',
    log,
  });
  writeFileSync(stamp, sha256(manifest));
  return binary;
}

/**
 * Builds Jaeger v2 from its Go module. `go install module/cmd/jaeger@version`
 * refuses it (its go.mod has a replace directive), so the module is downloaded
 * and built in place with the release's version stamped in.
 */
async function buildJaeger(versions: Versions, log: Log): Promise<string> {
  const jaeger = versions.jaeger;
  if (!jaeger) throw new Error(versionDrift(versions).join('\n'));
  const dir = join(cacheRoot(), `jaeger-${jaeger.release}`);
  const binary = join(dir, 'bin', 'jaeger');
  if (existsSync(binary)) {
    log(`Jaeger ${jaeger.release}: cached (${binary})`);
    return binary;
  }
  const logFile = join(dir, 'build.log');
  const module = `github.com/jaegertracing/jaeger@${jaeger.module}`;
  log(`Downloading the Jaeger ${jaeger.release} sources (Go module ${module})...`);
  const download = spawnSync('go', ['mod', 'download', '-json', module], { encoding: 'utf8', env: goEnv() });
  const source = (JSON.parse(download.stdout || '{}') as { Dir?: string; Error?: string }).Dir;
  if (download.status !== 0 || !source) throw new Error(`go mod download ${module} failed: ${download.stdout}${download.stderr}`);
  const pkg = 'github.com/jaegertracing/jaeger/internal/version';
  const ldflags = `-s -w -X ${pkg}.latestVersion=v${jaeger.release} -X ${pkg}.commitSHA=${jaeger.commit}`;
  const partial = `${binary}.partial`;
  await run('go', ['build', '-C', source, '-trimpath', '-ldflags', ldflags, '-o', partial, './cmd/jaeger'], {
    env: goEnv(),
    logFile,
    label: `Building Jaeger ${jaeger.release}`,
    note: 'the first build takes several minutes',
    log,
  });
  renameSync(partial, binary);
  return binary;
}

/** Fetches the zipkin-server exec jar from Maven Central with Maven. */
async function fetchZipkin(versions: Versions, log: Log): Promise<string> {
  const dir = join(cacheRoot(), `zipkin-${versions.zipkin}`);
  const jar = join(dir, `zipkin-server-${versions.zipkin}-exec.jar`);
  if (existsSync(jar)) {
    log(`Zipkin ${versions.zipkin}: cached (${jar})`);
    return jar;
  }
  const partial = join(dir, 'partial');
  mkdirSync(partial, { recursive: true });
  await run('mvn', ['-B', '-q', `${MAVEN_DEPENDENCY_PLUGIN}:copy`, `-Dartifact=io.zipkin:zipkin-server:${versions.zipkin}:jar:exec`, `-DoutputDirectory=${partial}`], {
    cwd: dir,
    logFile: join(dir, 'fetch.log'),
    label: `Fetching Zipkin ${versions.zipkin} with Maven`,
    log,
  });
  const fetched = join(partial, basename(jar));
  if (!existsSync(fetched)) throw new Error(`Maven did not produce ${fetched}`);
  renameSync(fetched, jar);
  return jar;
}

/** Prometheus from PATH, or installed with apt when running as root. */
async function ensurePrometheus(log: Log): Promise<string> {
  if (which('prometheus')) return 'prometheus';
  if (process.getuid?.() !== 0 || !which('apt-get')) {
    throw new Error('Prometheus is not installed: run `sudo apt-get install prometheus` and try again.');
  }
  const logFile = join(cacheRoot(), 'prometheus-apt.log');
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  const install = (): Promise<void> =>
    run('apt-get', ['install', '-y', '--no-install-recommends', 'prometheus'], { env, logFile, label: 'Installing Prometheus with apt-get', log });
  try {
    await install();
  } catch {
    await run('apt-get', ['update'], { env, logFile, label: 'Updating the apt package lists', log });
    await install();
  }
  return 'prometheus';
}

/** Builds or fetches everything the native stack runs; cached, so repeat runs are quick. */
export async function buildStack(options: BuildOptions = {}): Promise<Binaries> {
  const log = options.log ?? defaultLog;
  const only = new Set(options.only ?? ['otelcol', 'jaeger', 'zipkinJar', 'prometheus']);
  const versions = readVersions();
  const drift = versionDrift(versions);
  if (drift.length) throw new Error(`Version drift in collector/:\n  ${drift.join('\n  ')}`);
  const started = Date.now();
  // Go builds one after the other: each already uses every core.
  const otelcol = only.has('otelcol') ? await buildCollector(versions, log) : '';
  const jaeger = only.has('jaeger') ? await buildJaeger(versions, log) : '';
  const zipkinJar = only.has('zipkinJar') ? await fetchZipkin(versions, log) : '';
  const prometheus = only.has('prometheus') ? await ensurePrometheus(log) : '';
  log(`build: done in ${seconds(started)}s`);
  return { otelcol, jaeger, zipkinJar, prometheus };
}

/** The environment the shared configs read, with their safe native values. */
export function nativeEnv(): NodeJS.ProcessEnv {
  return {
    ...process.env,
    OTELCOL_BIND: '127.0.0.1',
    JAEGER_HOST: '127.0.0.1',
    ZIPKIN_BRIDGE_HOST: '127.0.0.1',
    PROMETHEUS_HOST: '127.0.0.1',
    JAEGER_LISTEN_HOST: '127.0.0.1',
  };
}

/** Runs `validate` of the shared collector config (and Jaeger's) with the built binaries. */
export function validateConfigs(binaries: Pick<Binaries, 'otelcol' | 'jaeger'>, log: Log = defaultLog): void {
  const checks: Array<[string, string, string]> = [
    ['collector', binaries.otelcol, FILES.collectorConfig],
    ['Jaeger', binaries.jaeger, FILES.jaegerConfig],
  ];
  for (const [name, binary, config] of checks) {
    if (!binary) continue;
    const result = spawnSync(binary, ['validate', `--config=${config}`], { encoding: 'utf8', env: nativeEnv() });
    if (result.status !== 0) {
      throw new Error(`${name} config ${config} is invalid:\n${result.stdout}${result.stderr}`);
    }
    log(`${name} config is valid (${config})`);
  }
}

/** prometheus.yaml with every scrape target's host replaced by 127.0.0.1. */
export function nativePrometheusConfig(compose: string): string {
  return compose.replace(/(["'])[A-Za-z0-9_.-]+:(\d+)\1/g, (_match, quote: string, port: string) => `${quote}127.0.0.1:${port}${quote}`);
}

// ------------------------------------------------------------------- start

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

async function waitHealthy(name: string, url: string, child: ChildProcess | undefined, logFile: string, deadline: number): Promise<void> {
  for (;;) {
    if (child && child.exitCode !== null) {
      throw new Error(`${name} exited with code ${child.exitCode}\n--- last lines of ${logFile} ---\n${tail(logFile)}`);
    }
    try {
      const response = await fetch(url, { signal: AbortSignal.timeout(2000) });
      if (response.ok) return;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) throw new Error(`${name} did not become healthy at ${url}\n--- last lines of ${logFile} ---\n${tail(logFile)}`);
    await new Promise((wait) => setTimeout(wait, 500));
  }
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
  let bridge: ZipkinBridge | undefined;
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
    const deadline = Date.now() + (options.timeoutMs ?? 120_000);
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
    const bridgeLog = join(runDir, 'otlp-to-zipkin.log');
    bridge = await startZipkinBridge({
      host: '127.0.0.1',
      port: 9412,
      zipkinUrl: URLS.zipkin,
      log: (line) => writeFileSync(bridgeLog, `${new Date().toISOString()} ${line}\n`, { flag: 'a' }),
    });
    const jaeger = launch('jaeger', binaries.jaeger, [`--config=${FILES.jaegerConfig}`]);
    const collector = launch('otelcol', binaries.otelcol, [`--config=${FILES.collectorConfig}`]);
    log(`starting Prometheus, Zipkin, Jaeger and the collector (logs: ${runDir})`);
    await Promise.all([
      waitHealthy('Prometheus', URLS.prometheusReady, prometheus.child, prometheus.logFile, deadline),
      waitHealthy('Zipkin', URLS.zipkinHealth, zipkin.child, zipkin.logFile, deadline),
      waitHealthy('OTLP->Zipkin bridge', `${URLS.zipkinBridge}/health`, undefined, bridgeLog, deadline),
      waitHealthy('Jaeger', URLS.jaegerHealth, jaeger.child, jaeger.logFile, deadline),
      waitHealthy('collector', URLS.collectorHealth, collector.child, collector.logFile, deadline),
    ]);
  } catch (error) {
    await stop();
    throw error;
  }
  return { urls: URLS, logDir: runDir, stop };
}
