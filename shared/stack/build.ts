// Builds what the native stack runs, from package registries, cached in ~/.cache/otel-steps/
// (or $OTEL_STEPS_CACHE), so only the first run takes minutes:
//   OpenTelemetry Collector  built with the Collector Builder from collector/builder-config.yaml
//   Jaeger v2                built from its Go module (Go module proxy)
//   Zipkin                   the zipkin-server exec jar (Maven Central)
//   VictoriaLogs             built from its Go module (Go module proxy), its web UI embedded
//   Prometheus               the one on PATH (a distribution's package, e.g. apt-get install prometheus)
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { cacheRoot, FILES, readVersions, versionDrift, type Versions } from './versions.ts';

// Every Go build runs on the toolchain named in collector/go.toolchain (.ci/run reads the same
// file), through the go command's own mechanism: GOTOOLCHAIN=<it>+auto makes any go from 1.21 on
// fetch that version from the Go module proxy, once, when it is not that version itself. (The
// collector 0.161 modules need go 1.26.0, VictoriaLogs v1.52.1 go 1.26.5.) Zipkin 3 needs Java 17.
export const GO_TOOLCHAIN = readFileSync(FILES.goToolchain, 'utf8').trim();
const MIN_GO: [number, number] = [1, 21];
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
// (for instance on Ctrl+C during a build), so that none is left behind. A process started in a
// group of its own (a build, a backend) is killed with its whole group: `go build` runs the
// compiler and linker as processes of its own.
const live = new Set<ChildProcess>();
let exitHook = false;
export function track(child: ChildProcess, group = false): ChildProcess {
  live.add(child);
  child.once('exit', () => live.delete(child));
  if (!exitHook) {
    exitHook = true;
    process.once('exit', () => {
      for (const running of live) {
        try {
          if (groups.has(running) && running.pid) process.kill(-running.pid, 'SIGKILL');
          else running.kill('SIGKILL');
        } catch {
          // already gone
        }
      }
    });
  }
  if (group) groups.add(child);
  return child;
}
const groups = new WeakSet<ChildProcess>();

/**
 * Environment for the Go builds: the pinned toolchain (unless GOTOOLCHAIN is set already), no
 * workspace, no VCS stamping (module sources have no .git).
 */
export function goEnv(extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  return { ...process.env, GOTOOLCHAIN: process.env.GOTOOLCHAIN || `${GO_TOOLCHAIN}+auto`, GOWORK: 'off', GOFLAGS: `${process.env.GOFLAGS ?? ''} -buildvcs=false`.trim(), ...extra };
}

/** The machine's own Go, and whether the builds will fetch the pinned one; a line for the log, or undefined. */
export function toolchainNote(): string | undefined {
  if (process.env.GOTOOLCHAIN) return undefined;
  const own = /go\d+(\.\d+)+/.exec(spawnSync('go', ['env', 'GOVERSION'], { encoding: 'utf8', env: { ...process.env, GOTOOLCHAIN: 'local' } }).stdout ?? '')?.[0];
  if (!own || own === GO_TOOLCHAIN) return undefined;
  return `${own} here: the builds run on ${GO_TOOLCHAIN} (collector/go.toolchain), which the go command fetches from the Go module proxy itself the first time (GOTOOLCHAIN=${GO_TOOLCHAIN}+auto, about 76 MB)`;
}

function sha256(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}

export function seconds(since: number): number {
  return Math.round((Date.now() - since) / 1000);
}

type RunOptions = { cwd?: string; env?: NodeJS.ProcessEnv; logFile: string; label: string; note?: string; log: Log; pkg?: string; quiet?: boolean };

/** Runs a build command, output to logFile, with a progress line every 15 s. */
function run(command: string, args: string[], options: RunOptions): Promise<void> {
  const started = Date.now();
  mkdirSync(dirname(options.logFile), { recursive: true });
  const fd = openSync(options.logFile, 'a');
  writeFileSync(fd, `\n$ ${command} ${args.join(' ')}\n`);
  if (!options.quiet) options.log(`${options.label}${options.note ? ` (${options.note})` : ''}... log: ${options.logFile}`);
  return new Promise((resolveRun, reject) => {
    const child = track(spawn(command, args, { cwd: options.cwd, env: options.env ?? process.env, stdio: ['ignore', fd, fd], detached: true }), true);
    const ticker = setInterval(() => options.quiet || options.log(`  still ${options.label.toLowerCase()} (${seconds(started)}s)`), 15_000);
    const finish = (error?: Error): void => {
      clearInterval(ticker);
      closeSync(fd);
      if (error) {
        reject(new Error(`${options.label} failed: ${error.message}\n--- last lines of ${options.logFile} ---\n${tail(options.logFile)}`));
      } else {
        if (!options.quiet) options.log(`  ${options.label.toLowerCase()}: done in ${seconds(started)}s`);
        resolveRun();
      }
    };
    child.on('error', (error) => finish(error));
    child.on('exit', (code, signal) => finish(code === 0 ? undefined : new Error(`exit ${code ?? signal}`)));
  });
}

// The collector and Jaeger are compiled without the compiler's optimizations and inlining: on two
// cores the collector then compiles in 120 s instead of 170 s (measured cold, December 2026), and
// it does the same work; the few requests of one learner's stages need no optimized code.
const QUICK_COMPILE = '-gcflags=all=-N -l';

/**
 * `go build` with Go's own trace of its actions, which says how long the link took: the rest of
 * the build's time is loading and compiling packages. Writes `output` under a temporary name and
 * renames it when the build succeeded, so that a build cut short leaves nothing to trust.
 */
async function goBuild(args: string[], output: string, options: RunOptions): Promise<{ compile: number; link: number }> {
  const trace = join(dirname(options.logFile), 'build-trace.json');
  const partial = `${output}.partial`;
  const started = Date.now();
  await run('go', ['build', ...args, `-debug-trace=${trace}`, '-o', partial, options.pkg ?? '.'], options);
  const total = (Date.now() - started) / 1000;
  let link = 0;
  try {
    const events = JSON.parse(readFileSync(trace, 'utf8')) as Array<{ name?: string; ph?: string; ts?: number; tid?: number }>;
    const isLink = (e: { name?: string }): boolean => /^Executing action \(link /.test(e.name ?? '');
    const begin = events.find((e) => isLink(e) && e.ph === 'B');
    const end = begin && events.find((e) => e.ph === 'E' && e.tid === begin.tid && (e.ts ?? 0) >= (begin.ts ?? 0));
    if (begin && end) link = ((end.ts ?? 0) - (begin.ts ?? 0)) / 1e6;
  } catch {
    // no trace: the whole time counts as compiling
  }
  rmSync(trace, { force: true });
  renameSync(partial, output);
  return { compile: total - link, link };
}

/** How a Go build spent its time, a line for the log and for the closing figures. */
function spent(label: string, download: number, { compile, link }: { compile: number; link: number }): string {
  return `${label}: ${Math.round(download + compile + link)}s (download ${Math.round(download)}s, compile ${Math.round(compile)}s, link ${Math.round(link)}s)`;
}

/**
 * Downloads a Go module's sources and every module it builds with, timed apart from the compile.
 * Returns the sources' (read-only) directory and how long it took.
 */
async function goModDownloadAll(module: string, logFile: string, log: Log): Promise<{ source: string; seconds: number }> {
  const started = Date.now();
  // Not spawnSync: this runs while another build does, and must not hold up this process.
  const source = await new Promise<string>((resolveSource, reject) => {
    let out = '';
    const child = track(spawn('go', ['mod', 'download', '-json', module], { env: goEnv(), stdio: ['ignore', 'pipe', 'pipe'], detached: true }), true);
    child.stdout!.setEncoding('utf8').on('data', (chunk: string) => (out += chunk));
    child.stderr!.setEncoding('utf8').on('data', (chunk: string) => (out += chunk));
    child.on('error', reject);
    child.on('exit', (code) => {
      const dir = (() => {
        try {
          return (JSON.parse(out) as { Dir?: string }).Dir;
        } catch {
          return undefined;
        }
      })();
      if (code === 0 && dir) resolveSource(dir);
      else reject(new Error(`go mod download ${module} failed: ${out}`));
    });
  });
  await run('go', ['mod', 'download'], { cwd: source, env: goEnv(), logFile, label: `Downloading what ${module} builds with`, log: () => {}, quiet: true });
  return { source, seconds: (Date.now() - started) / 1000 };
}

// ------------------------------------------------------------ prerequisites

/** What the native stack needs and cannot find (Go, Java, Maven, Prometheus), as one message; undefined when nothing. */
export function missingPrerequisites(need = { go: true, java: true, prometheus: true }): string | undefined {
  const versionOf = (command: string, args: string[], pattern: RegExp): number[] | undefined =>
    which(command) ? pattern.exec(commandOutput(command, args))?.slice(1).map(Number) : undefined;
  const missing: string[] = [];
  const go = need.go ? versionOf('go', ['version'], /go(\d+)\.(\d+)/) : MIN_GO;
  if (!go || go[0]! * 1000 + go[1]! < MIN_GO[0] * 1000 + MIN_GO[1]) missing.push(`Go ${MIN_GO.join('.')}+, which fetches ${GO_TOOLCHAIN} itself (\`go\`${go ? `, found ${go.join('.')}` : ''})`);
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
  // The builder writes the sources and fetches their modules; the compile is ours, so that it can
  // be measured, with the builder's flags (-trimpath, no symbol table or DWARF) and QUICK_COMPILE.
  const generating = Date.now();
  await run(builder, ['--config', copy, '--skip-compilation'], { cwd: dir, env, logFile, label: `Generating the collector ${versions.collector} and fetching its modules`, log });
  const download = (Date.now() - generating) / 1000;
  const times = await goBuild(['-trimpath', '-ldflags', '-s -w', QUICK_COMPILE], binary, {
    cwd: join(dir, 'dist'),
    env,
    logFile,
    label: `Building the collector ${versions.collector}`,
    note: 'the first build takes a few minutes',
    log,
  });
  log(spent(`collector ${versions.collector}`, download, times));
  // Stamped last: a binary without its stamp is built again.
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
  mkdirSync(dirname(binary), { recursive: true });
  const module = `github.com/jaegertracing/jaeger@${jaeger.module}`;
  log(`Downloading the Jaeger ${jaeger.release} sources and what they build with (Go module ${module})...`);
  const { source, seconds: download } = await goModDownloadAll(module, logFile, log);
  const pkg = 'github.com/jaegertracing/jaeger/internal/version';
  const ldflags = `-s -w -X ${pkg}.latestVersion=v${jaeger.release} -X ${pkg}.commitSHA=${jaeger.commit}`;
  const times = await goBuild(['-trimpath', '-ldflags', ldflags, QUICK_COMPILE], binary, {
    cwd: source,
    pkg: './cmd/jaeger',
    env: goEnv(),
    logFile,
    label: `Building Jaeger ${jaeger.release}`,
    note: 'the first build takes a few minutes',
    log,
  });
  log(spent(`Jaeger ${jaeger.release}`, download, times));
  return binary;
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
  const logFile = join(dir, 'build.log');
  mkdirSync(dirname(binary), { recursive: true });
  log(`Downloading the VictoriaLogs ${versions.victorialogs} sources and what they build with (Go module ${module})...`);
  const { source, seconds: download } = await goModDownloadAll(module, logFile, log);
  // The version it reports (-version, /metrics), as its release builds stamp it.
  const ldflags = `-s -w -X github.com/VictoriaMetrics/VictoriaMetrics/lib/buildinfo.Version=victoria-logs-${versions.victorialogs}`;
  const times = await goBuild(['-trimpath', '-ldflags', ldflags], binary, { cwd: source, pkg: './app/victoria-logs', env: goEnv(), logFile, label: `Building VictoriaLogs ${versions.victorialogs}`, log });
  log(spent(`VictoriaLogs ${versions.victorialogs}`, download, times));
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

/** What the native stack builds or fetches; Prometheus is the distribution's. */
export type Part = 'otelcol' | 'zipkinJar' | 'jaeger' | 'victorialogs';

/**
 * The order the chapters need the parts in: the collector and Zipkin from step 8 on (Prometheus
 * needs no build), Jaeger's API for `pnpm traces`, VictoriaLogs from step 19. Go builds run one
 * after the other, each using every core; Zipkin's jar is a download, fetched alongside.
 */
export const BUILD_ORDER: Part[] = ['otelcol', 'zipkinJar', 'jaeger', 'victorialogs'];

/** Builds or fetches one part; cached per version, so a repeat run only checks the cache. */
export function buildPart(part: Part, versions: Versions, log: Log): Promise<string> {
  switch (part) {
    case 'otelcol':
      return buildCollector(versions, log);
    case 'zipkinJar':
      return fetchZipkin(versions, log);
    case 'jaeger':
      return buildJaeger(versions, log);
    case 'victorialogs':
      return buildVictoriaLogs(versions, log);
  }
}

/** Versions read from collector/, refused when the two stacks' files disagree. */
export function checkedVersions(): Versions {
  const versions = readVersions();
  const drift = versionDrift(versions);
  if (drift.length) throw new Error(`Version drift in collector/:\n  ${drift.join('\n  ')}`);
  return versions;
}

/** Builds or fetches everything the native stack runs; cached, so repeat runs are quick. */
export async function buildStack(options: BuildOptions = {}): Promise<Binaries> {
  const log = options.log ?? defaultLog;
  const only = new Set<keyof Binaries>(options.only ?? ['otelcol', 'jaeger', 'zipkinJar', 'prometheus', 'victorialogs']);
  const versions = checkedVersions();
  const started = Date.now();
  const built: Partial<Record<Part, string>> = {};
  // Zipkin's download alongside the first Go build; the Go builds one after the other, each using
  // every core.
  const zipkin = only.has('zipkinJar') ? buildPart('zipkinJar', versions, log) : Promise.resolve('');
  for (const part of BUILD_ORDER.filter((p) => p !== 'zipkinJar')) if (only.has(part)) built[part] = await buildPart(part, versions, log);
  const zipkinJar = await zipkin;
  log(`build: done in ${seconds(started)}s`);
  return { otelcol: built.otelcol ?? '', jaeger: built.jaeger ?? '', zipkinJar, prometheus: only.has('prometheus') ? 'prometheus' : '', victorialogs: built.victorialogs ?? '' };
}
