// Builds what the native stack runs, from package registries, cached in ~/.cache/otel-steps/
// (or $OTEL_STEPS_CACHE), so only the first run takes minutes:
//   OpenTelemetry Collector  built with the Collector Builder from collector/builder-config.yaml
//   Jaeger v2                built from its Go module (Go module proxy)
//   Zipkin                   the zipkin-server exec jar (Maven Central)
//   VictoriaLogs             built from its Go module (Go module proxy), its web UI embedded
//   Prometheus               the one on PATH (a distribution's package, e.g. apt-get install prometheus)
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { GO_TOOLCHAIN, goBuild, goEnv, goModDownloadAll, QUICK_COMPILE, spent } from './go.ts';
import { commandOutput, defaultLog, run, seconds, which, type Log } from './processes.ts';
import { cacheRoot, FILES, readVersions, versionDrift, type Versions } from './versions.ts';

// Go 1.21 is the first go command that fetches the pinned toolchain itself (go.ts); Zipkin 3 needs Java 17.
const MIN_GO: [number, number] = [1, 21];
const MIN_JAVA = 17;
const MAVEN_DEPENDENCY_PLUGIN = 'org.apache.maven.plugins:maven-dependency-plugin:3.8.1';

function sha256(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}

// ------------------------------------------------------------ prerequisites

/** What the native stack needs and cannot find (Go, Java, Maven, Prometheus), as one message; undefined when nothing. */
export function missingPrerequisites(need = { go: true, java: true, prometheus: true }): string | undefined {
  const versionOf = (command: string, args: string[], pattern: RegExp): number[] | undefined =>
    which(command) ? pattern.exec(commandOutput(command, args))?.slice(1).map(Number) : undefined;
  const missing: string[] = [];
  const go = need.go ? versionOf('go', ['version'], /go(\d+)\.(\d+)/) : MIN_GO;
  if (!go || go[0]! * 1000 + go[1]! < MIN_GO[0] * 1000 + MIN_GO[1]) {
    missing.push(`Go ${MIN_GO.join('.')}+, which fetches ${GO_TOOLCHAIN} itself (\`go\`${go ? `, found ${go.join('.')}` : ''})`);
  }
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
  await run(builder, ['--config', copy, '--skip-compilation'], {
    cwd: dir,
    env,
    logFile,
    label: `Generating the collector ${versions.collector} and fetching its modules`,
    log,
  });
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
  const { source, seconds: download } = await goModDownloadAll(module, logFile);
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
  const { source, seconds: download } = await goModDownloadAll(module, logFile);
  // The version it reports (-version, /metrics), as its release builds stamp it.
  const ldflags = `-s -w -X github.com/VictoriaMetrics/VictoriaMetrics/lib/buildinfo.Version=victoria-logs-${versions.victorialogs}`;
  const times = await goBuild(['-trimpath', '-ldflags', ldflags], binary, {
    cwd: source,
    pkg: './app/victoria-logs',
    env: goEnv(),
    logFile,
    label: `Building VictoriaLogs ${versions.victorialogs}`,
    log,
  });
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
  const artifact = `io.zipkin:zipkin-server:${versions.zipkin}:jar:exec`;
  await run('mvn', ['-B', '-q', `${MAVEN_DEPENDENCY_PLUGIN}:copy`, `-Dartifact=${artifact}`, `-DoutputDirectory=${partial}`], {
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
  return {
    otelcol: built.otelcol ?? '',
    jaeger: built.jaeger ?? '',
    zipkinJar,
    prometheus: only.has('prometheus') ? 'prometheus' : '',
    victorialogs: built.victorialogs ?? '',
  };
}
