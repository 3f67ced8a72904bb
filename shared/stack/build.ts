// Builds what the native stack runs, from package registries, cached in ~/.cache/otel-steps/
// (or $OTEL_STEPS_CACHE), so only the first run takes minutes:
//   OpenTelemetry Collector  built with the Collector Builder from collector/builder-config.yaml
//   Jaeger v2                built from its Go module (Go module proxy)
//   Zipkin                   the zipkin-server exec jar (Maven Central)
//   VictoriaLogs             built from its Go module (Go module proxy), its web UI embedded
//   Prometheus               the one on PATH (a distribution's package, e.g. apt-get install prometheus)
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { cacheRoot, FILES, readVersions, versionDrift, type Versions } from './versions.ts';

// The collector 0.161 modules say `go 1.26.0` and VictoriaLogs v1.52.1 `go 1.26.5` (an older 1.26
// fetches that toolchain itself); Zipkin 3 needs Java 17.
const MIN_GO: [number, number] = [1, 26];
const MIN_JAVA = 17;
const MAVEN_DEPENDENCY_PLUGIN = 'org.apache.maven.plugins:maven-dependency-plugin:3.8.1';

export type Log = (line: string) => void;
export const defaultLog: Log = (line) => console.log(`[stack] ${line}`);

function which(command: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${command}`], { stdio: 'ignore' }).status === 0;
}

function commandOutput(command: string, args: string[]): string {
  const result = spawnSync(command, args, { encoding: 'utf8' });
  return `${result.stdout ?? ''}${result.stderr ?? ''}`;
}

export function tail(file: string, lines = 25): string {
  if (!existsSync(file)) return '';
  return readFileSync(file, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
}

// Every process this module starts, killed if the Node process exits first
// (for instance on Ctrl+C during a build), so that none is left behind.
const live = new Set<ChildProcess>();
let exitHook = false;
export function track(child: ChildProcess): ChildProcess {
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

export function seconds(since: number): number {
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

/** What the native stack needs and cannot find (Go, Java, Maven, Prometheus), as one message; undefined when nothing. */
export function missingPrerequisites(need = { go: true, java: true, prometheus: true }): string | undefined {
  const versionOf = (command: string, args: string[], pattern: RegExp): number[] | undefined =>
    which(command) ? pattern.exec(commandOutput(command, args))?.slice(1).map(Number) : undefined;
  const missing: string[] = [];
  const go = need.go ? versionOf('go', ['version'], /go(\d+)\.(\d+)/) : MIN_GO;
  if (!go || go[0]! * 1000 + go[1]! < MIN_GO[0] * 1000 + MIN_GO[1]) missing.push(`Go ${MIN_GO.join('.')}+ (\`go\`${go ? `, found ${go.join('.')}` : ''})`);
  const java = need.java ? versionOf('java', ['-version'], /version "(\d+)/) : [MIN_JAVA];
  if (!java || java[0]! < MIN_JAVA) missing.push(`Java ${MIN_JAVA}+ (\`java\`${java ? `, found ${java[0]}` : ''})`);
  if (need.java && !which('mvn')) missing.push('Maven (`mvn`)');
  // Installing it is left to the user: a packaged Prometheus may start a service on :9090.
  if (need.prometheus && !which('prometheus')) missing.push('Prometheus (e.g. `sudo apt-get install prometheus`, then stop the service it starts)');
  if (missing.length === 0) return undefined;
  return `The native stack cannot be built: install ${missing.join(', ')} and run \`pnpm stack:native\` again (or use \`pnpm stack:up\` with Docker).`;
}

// ------------------------------------------------------------------- builds

export type Binaries = { otelcol: string; jaeger: string; zipkinJar: string; prometheus: string; victorialogs: string };
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
  const source = goModDownload(module);
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

/** Downloads a Go module's sources; returns the (read-only) directory. */
function goModDownload(module: string): string {
  const download = spawnSync('go', ['mod', 'download', '-json', module], { encoding: 'utf8', env: goEnv() });
  const source = (JSON.parse(download.stdout || '{}') as { Dir?: string; Error?: string }).Dir;
  if (download.status !== 0 || !source) throw new Error(`go mod download ${module} failed: ${download.stdout}${download.stderr}`);
  return source;
}

/**
 * Builds VictoriaLogs from its Go module, whose main package embeds the web UI (vmui). The module
 * builds as it is, straight from the read-only module cache.
 */
async function buildVictoriaLogs(versions: Versions, log: Log): Promise<string> {
  const dir = join(cacheRoot(), `victorialogs-${versions.victorialogs}`);
  const binary = join(dir, 'bin', 'victoria-logs');
  if (existsSync(binary)) {
    log(`VictoriaLogs ${versions.victorialogs}: cached (${binary})`);
    return binary;
  }
  const module = `github.com/VictoriaMetrics/VictoriaLogs@${versions.victorialogs}`;
  log(`Downloading the VictoriaLogs ${versions.victorialogs} sources (Go module ${module})...`);
  const source = goModDownload(module);
  // The version it reports (-version, /metrics), as its release builds stamp it.
  const ldflags = `-s -w -X github.com/VictoriaMetrics/VictoriaMetrics/lib/buildinfo.Version=victoria-logs-${versions.victorialogs}`;
  const partial = `${binary}.partial`;
  await run('go', ['build', '-C', source, '-trimpath', '-ldflags', ldflags, '-o', partial, './app/victoria-logs'], {
    env: goEnv(),
    logFile: join(dir, 'build.log'),
    label: `Building VictoriaLogs ${versions.victorialogs}`,
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

/** Builds or fetches everything the native stack runs; cached, so repeat runs are quick. */
export async function buildStack(options: BuildOptions = {}): Promise<Binaries> {
  const log = options.log ?? defaultLog;
  const only = new Set(options.only ?? ['otelcol', 'jaeger', 'zipkinJar', 'prometheus', 'victorialogs']);
  const versions = readVersions();
  const drift = versionDrift(versions);
  if (drift.length) throw new Error(`Version drift in collector/:\n  ${drift.join('\n  ')}`);
  const started = Date.now();
  // Go builds one after the other: each already uses every core.
  const otelcol = only.has('otelcol') ? await buildCollector(versions, log) : '';
  const jaeger = only.has('jaeger') ? await buildJaeger(versions, log) : '';
  const victorialogs = only.has('victorialogs') ? await buildVictoriaLogs(versions, log) : '';
  const zipkinJar = only.has('zipkinJar') ? await fetchZipkin(versions, log) : '';
  const prometheus = only.has('prometheus') ? 'prometheus' : '';
  log(`build: done in ${seconds(started)}s`);
  return { otelcol, jaeger, zipkinJar, prometheus, victorialogs };
}
