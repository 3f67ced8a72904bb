// The versions the native stack builds, read from the two files that state them: the collector's
// in collector/builder-config.yaml, every other one as an image tag in collector/compose.yaml.
// versionDrift() reports any disagreement (a test calls it), so both stacks stay on one version.
import { readdirSync, readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { parse } from 'yaml';
import { REPO_ROOT } from '../repo.ts';

export const COLLECTOR_DIR = join(REPO_ROOT, 'collector');
export const FILES = {
  collectorConfig: join(COLLECTOR_DIR, 'otel-collector-config.yaml'),
  nativeOverlay: join(COLLECTOR_DIR, 'overlays', 'stack-native.yaml'),
  builderConfig: join(COLLECTOR_DIR, 'builder-config.yaml'),
  goToolchain: join(COLLECTOR_DIR, 'go.toolchain'),
  compose: join(COLLECTOR_DIR, 'compose.yaml'),
  prometheusConfig: join(COLLECTOR_DIR, 'prometheus.yaml'),
  jaegerConfig: join(COLLECTOR_DIR, 'jaeger.yaml'),
  jaegerUiConfig: join(COLLECTOR_DIR, 'jaeger-ui.json'),
};

/** Every lesson overlay (collector/overlays/ minus the stack-* ones), as paths under collector/; undefined is "none". */
export function lessonOverlays(): Array<string | undefined> {
  const files = readdirSync(join(COLLECTOR_DIR, 'overlays')).filter((file) => file.endsWith('.yaml') && !file.startsWith('stack-'));
  return [undefined, ...files.sort().map((file) => `overlays/${file}`)];
}

export function cacheRoot(): string {
  return process.env.OTEL_STEPS_CACHE ?? join(process.env.XDG_CACHE_HOME ?? join(homedir(), '.cache'), 'otel-steps');
}

// Jaeger v2 is released from github.com/jaegertracing/jaeger, whose Go module
// has no /v2 suffix: its v2.x.y tags are not Go module versions. Each v2 release
// is also tagged v1.N.0 on the same commit, and the Go module proxy serves those.
// The newest the proxy serves, v1.76.0 (2.13.0), is not in the Go module list this
// project builds from as an approved release (served, but "skip the newer
// versions"), so both stacks stay on the newest approved one, v1.75.0 (2.12.0);
// versionDrift() refuses anything newer.
// compose.yaml's jaegertracing/jaeger tag selects the entry; commit is that tag's,
// stamped into the binary as its build (the UI page and `jaeger version` show it).
export const JAEGER_NEWEST_APPROVED = 'v1.75.0';
const JAEGER_GO_MODULE: Record<string, { module: string; commit: string }> = {
  '2.12.0': { module: 'v1.75.0', commit: '1c5531b15d6a90c91a5a6cec94171ccc18ebd3ca' },
};

export type Versions = {
  /** collector version, from builder-config.yaml dist.version, e.g. "0.161.0" */
  collector: string;
  /** every `gomod` line of builder-config.yaml: module -> version */
  builderModules: Record<string, string>;
  /** image tags from compose.yaml */
  images: { collector: string; jaeger: string; zipkin: string; prometheus: string; victorialogs: string };
  jaeger: { release: string; module: string; commit: string } | undefined;
  zipkin: string;
  /** VictoriaLogs' release, which is also its Go module version (github.com/VictoriaMetrics/VictoriaLogs). */
  victorialogs: string;
};

interface Builder {
  dist?: { version?: string };
  [section: string]: unknown;
}
interface Compose {
  services?: Record<string, { image?: string; command?: string[] }>;
}

/** The tag of `image` in compose.yaml, '' if no service uses it. */
function imageTag(compose: Compose, image: string): string {
  for (const service of Object.values(compose.services ?? {})) {
    const [name, tag] = (service.image ?? '').split(':');
    if (name === image) return tag ?? '';
  }
  return '';
}

export function readVersions(): Versions {
  const builder = parse(readFileSync(FILES.builderConfig, 'utf8')) as Builder;
  const compose = parse(readFileSync(FILES.compose, 'utf8')) as Compose;
  const builderModules: Record<string, string> = {};
  // Every component list (receivers, exporters, ..., providers) holds `gomod: module version` entries.
  for (const list of Object.values(builder)) {
    if (!Array.isArray(list)) continue;
    for (const entry of list as Array<{ gomod?: string }>) {
      const [module, version] = (entry.gomod ?? '').split(/\s+/);
      if (module && version) builderModules[module] = version;
    }
  }
  const images = {
    collector: imageTag(compose, 'otel/opentelemetry-collector-contrib'),
    jaeger: imageTag(compose, 'jaegertracing/jaeger'),
    zipkin: imageTag(compose, 'openzipkin/zipkin'),
    prometheus: imageTag(compose, 'prom/prometheus'),
    victorialogs: imageTag(compose, 'victoriametrics/victoria-logs'),
  };
  const jaegerModule = JAEGER_GO_MODULE[images.jaeger];
  return {
    collector: String(builder.dist?.version ?? ''),
    builderModules,
    images,
    jaeger: jaegerModule && { release: images.jaeger, ...jaegerModule },
    zipkin: images.zipkin,
    victorialogs: images.victorialogs,
  };
}

/**
 * VictoriaLogs' configuration: its command-line flags, written once, in compose.yaml's
 * `victorialogs` service. The native stack runs the same flags with its own listen address and
 * data directory.
 */
export function victoriaLogsFlags(native?: { listen: string; dataDir: string }): string[] {
  const compose = parse(readFileSync(FILES.compose, 'utf8')) as Compose;
  const flags = compose.services?.victorialogs?.command ?? [];
  if (!native) return flags;
  return flags.map((flag) => flag.replace(/^(-httpListenAddr=).*/, `$1${native.listen}`).replace(/^(-storageDataPath=).*/, `$1${native.dataDir}`));
}

/** -1, 0 or 1 as version a (v1.2.3) is older than, the same as or newer than b. */
function compareVersions(a: string, b: string): number {
  const parts = (v: string): number[] => v.replace(/^v/, '').split('.').map(Number);
  const [pa, pb] = [parts(a), parts(b)];
  for (let i = 0; i < Math.max(pa.length, pb.length); i++) if ((pa[i] ?? 0) !== (pb[i] ?? 0)) return Math.sign((pa[i] ?? 0) - (pb[i] ?? 0));
  return 0;
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
    const tag = versions.images.jaeger || '(none)';
    problems.push(`compose.yaml: jaegertracing/jaeger:${tag} has no Go module version in shared/stack/versions.ts JAEGER_GO_MODULE`);
  }
  if (versions.jaeger && compareVersions(versions.jaeger.module, JAEGER_NEWEST_APPROVED) > 0) {
    const { release, module } = versions.jaeger;
    problems.push(`compose.yaml: jaegertracing/jaeger:${release} is Go module ${module}, newer than the newest approved release ${JAEGER_NEWEST_APPROVED}`);
  }
  if (!/^\d+\.\d+\.\d+$/.test(versions.zipkin)) problems.push('compose.yaml: openzipkin/zipkin needs an exact x.y.z tag');
  if (!/^v1\.\d+\.\d+$/.test(versions.victorialogs)) {
    const module = 'github.com/VictoriaMetrics/VictoriaLogs';
    problems.push(`compose.yaml: victoriametrics/victoria-logs needs an exact v1.x.y tag (the Go module ${module} has the same versions)`);
  }
  for (const [name, tag] of Object.entries(versions.images)) {
    if (!tag || tag === 'latest') problems.push(`compose.yaml: ${name} image needs an exact tag`);
  }
  return problems;
}

