// The collector version is written once (builder-config.yaml) and every image tag once
// (compose.yaml); this keeps the native build and the compose stack on the same versions.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { ZIPKIN_LOGS_URL } from './urls.ts';
import { COLLECTOR_DIR, JAEGER_NEWEST_APPROVED, lessonOverlays, readVersions, versionDrift, victoriaLogsFlags } from './versions.ts';

describe('stack versions', () => {
  it('builder-config.yaml and compose.yaml agree, and every image tag is exact', () => {
    expect(versionDrift()).toEqual([]);
  });

  it('flags a compose collector image that drifts from the builder manifest', () => {
    const versions = readVersions();
    const drifted = { ...versions, images: { ...versions.images, collector: '0.999.0' } };
    expect(versionDrift(drifted)).toEqual([`compose.yaml: collector image 0.999.0 != builder-config.yaml ${versions.collector}`]);
  });

  it('flags a builder component left behind on another version', () => {
    const versions = readVersions();
    const module = Object.keys(versions.builderModules).find((m) => m.includes('otlpreceiver'))!;
    const drifted = { ...versions, builderModules: { ...versions.builderModules, [module]: 'v0.1.0' } };
    expect(versionDrift(drifted)).toEqual([`builder-config.yaml: ${module} is v0.1.0, dist.version is ${versions.collector}`]);
  });

  it('flags a VictoriaLogs tag that is not a Go module version', () => {
    const versions = readVersions();
    expect(versionDrift({ ...versions, victorialogs: '1.52.1' })).toEqual([
      'compose.yaml: victoriametrics/victoria-logs needs an exact v1.x.y tag (the Go module github.com/VictoriaMetrics/VictoriaLogs has the same versions)',
    ]);
  });

  it('runs VictoriaLogs natively with the compose flags, on 127.0.0.1 and a directory of its own', () => {
    expect(victoriaLogsFlags()).toContain('-httpListenAddr=:9428');
    const native = victoriaLogsFlags({ listen: '127.0.0.1:9428', dataDir: '/run/x' });
    const expected = victoriaLogsFlags().map((flag) =>
      flag.replace(/^-httpListenAddr=.*/, '-httpListenAddr=127.0.0.1:9428').replace(/^-storageDataPath=.*/, '-storageDataPath=/run/x'),
    );
    expect(native).toEqual(expected);
    expect(native).toContain('-httpListenAddr=127.0.0.1:9428');
    expect(native).toContain('-storageDataPath=/run/x');
  });

  it('links a trace to its logs the same way on both stacks: Zipkin natively and in compose, and Jaeger\'s UI', () => {
    const compose = parse(readFileSync(join(COLLECTOR_DIR, 'compose.yaml'), 'utf8')) as { services: Record<string, { environment?: Record<string, string> }> };
    expect(compose.services.zipkin!.environment!.ZIPKIN_UI_LOGS_URL).toBe(ZIPKIN_LOGS_URL);
    const jaegerUi = JSON.parse(readFileSync(join(COLLECTOR_DIR, 'jaeger-ui.json'), 'utf8')) as { linkPatterns: Array<{ type: string; url: string }> };
    expect(jaegerUi.linkPatterns.map((p) => [p.type, p.url.replace('#{traceID}', '{traceId}')])).toEqual([['traces', ZIPKIN_LOGS_URL]]);
    expect(decodeURIComponent(ZIPKIN_LOGS_URL)).toContain('query=trace_id:="{traceId}"');
  });

  it('builds Jaeger 2.12.0 from Go module v1.75.0, the newest approved release, on both stacks', () => {
    expect(readVersions().jaeger).toEqual({ release: '2.12.0', module: JAEGER_NEWEST_APPROVED, commit: '1c5531b15d6a90c91a5a6cec94171ccc18ebd3ca' });
  });

  it('refuses a Jaeger whose Go module is newer than the newest approved release', () => {
    const versions = readVersions();
    const jaeger = { release: '2.13.0', module: 'v1.76.0', commit: '63b27e1810a710ac54dc4522da0538e540bdc545' };
    const newer = { ...versions, images: { ...versions.images, jaeger: '2.13.0' }, jaeger };
    expect(versionDrift(newer)).toEqual([
      `compose.yaml: jaegertracing/jaeger:2.13.0 is Go module v1.76.0, newer than the newest approved release ${JAEGER_NEWEST_APPROVED}`,
    ]);
    // Ordered as numbers, not as text: v1.100.0 is newer than v1.75.0, v1.9.0 older.
    expect(versionDrift({ ...newer, jaeger: { ...newer.jaeger, module: 'v1.100.0' } })).toHaveLength(1);
    expect(versionDrift({ ...newer, jaeger: { ...newer.jaeger, module: 'v1.9.0' } })).toEqual([]);
  });

  it('runs VictoriaLogs v1.52.2 on both stacks (compose tag = Go module version)', () => {
    expect(readVersions().victorialogs).toBe('v1.52.2');
  });

  it('flags a floating image tag', () => {
    const versions = readVersions();
    expect(versionDrift({ ...versions, images: { ...versions.images, prometheus: 'latest' } })).toEqual(['compose.yaml: prometheus image needs an exact tag']);
  });
});

describe('collector config layers', () => {
  // The collector's own merge: maps merged key by key, anything else (lists included) replaced.
  type Tree = Record<string, unknown>;
  const isMap = (value: unknown): value is Tree => typeof value === 'object' && value !== null && !Array.isArray(value);
  const merge = (base: Tree, overlay: Tree): Tree =>
    Object.fromEntries([...new Set([...Object.keys(base), ...Object.keys(overlay)])].map((key) => {
      const [a, b] = [base[key], overlay[key]];
      return [key, isMap(a) && isMap(b) ? merge(a, b) : b === undefined ? a : b];
    }));
  const load = (file: string): Tree => (parse(readFileSync(join(COLLECTOR_DIR, file), 'utf8')) as Tree | null) ?? {};

  // The native combinations are validated by the built collector (`pnpm stack:native --validate`);
  // the compose ones need the contrib image, so here every name they use must be defined.
  const combinations = ['overlays/stack-native.yaml', 'overlays/stack-compose.yaml'].flatMap((stack) =>
    lessonOverlays().map((lesson) => [stack, lesson ?? '(no lesson)'] as const),
  );
  it.each(combinations)('base + %s + %s: pipelines and queues use only defined components', (stack, lesson) => {
    const layers = [load('otel-collector-config.yaml'), load(stack), ...(lesson.startsWith('(') ? [] : [load(lesson)])];
    const config = layers.reduce(merge) as Record<string, Tree>;
    const pipelines = (config.service!.pipelines ?? {}) as Record<string, Record<string, string[]>>;
    const defined = (section: string): string[] => Object.keys(config[section] ?? {});
    for (const [name, pipeline] of Object.entries(pipelines)) {
      for (const receiver of pipeline.receivers ?? []) expect([...defined('receivers'), ...defined('connectors')], name).toContain(receiver);
      for (const processor of pipeline.processors ?? []) expect(defined('processors'), name).toContain(processor);
      for (const exporter of pipeline.exporters ?? []) expect([...defined('exporters'), ...defined('connectors')], name).toContain(exporter);
    }
    for (const extension of config.service!.extensions as string[]) expect(defined('extensions')).toContain(extension);
    for (const [name, exporter] of Object.entries(config.exporters as Record<string, Tree | null>)) {
      const storage = (exporter?.sending_queue as Tree | undefined)?.storage;
      if (storage !== undefined) expect(config.service!.extensions, `${name} queues in ${String(storage)}`).toContain(storage);
    }
    // What reaches the backends: Jaeger and Zipkin for traces, VictoriaLogs for logs.
    expect(pipelines['traces/backends']!.exporters).toContain('otlp_http/jaeger');
    expect(pipelines['traces/backends']!.exporters!.some((e) => e.includes('zipkin'))).toBe(true);
    expect(pipelines.logs!.exporters).toContain('otlp_http/victorialogs');
  });
});

describe('the query-secret pattern of the collector config', () => {
  const config = readFileSync(join(COLLECTOR_DIR, 'otel-collector-config.yaml'), 'utf8');
  // Every statement's pattern, as the collector reads it (the YAML string unescaped).
  const patterns = [...config.matchAll(/"(\(\?i\)\(\(\?:\^\|\[\?&;#\]\).*?)", "\$\$\{1\}\*\*\*\*"\)/g)].map((m) => JSON.parse(`"${m[1]}"`) as string);

  it('is the same in every statement: spans, span names, span events, log bodies and log attributes', () => {
    expect(patterns).toHaveLength(6);
    expect(new Set(patterns).size).toBe(1);
  });

  // Go's RE2 and JavaScript agree on this pattern's syntax but for the (?i) prefix, which becomes the i flag.
  const mask = (text: string): string => text.replace(new RegExp(patterns[0]!.replace(/^\(\?i\)/, ''), 'gi'), '$1****');
  it.each([
    ['/login?token=abc&page=2', '/login?token=****&page=2'],
    ['/login?%74oken=abc&%54%4F%4B%45%4E=def', '/login?%74oken=****&%54%4F%4B%45%4E=****'],
    ['?api+key=a&api%20key=b&api-key=c&APIKEY=d&api_key=e', '?api+key=****&api%20key=****&api-key=****&APIKEY=****&api_key=****'],
    ['?password=a+b%20c&passwd=x&pa%73sword=y&lang=en', '?password=****&passwd=****&pa%73sword=****&lang=en'],
    ['Route GET:/x?access_token=abc not found', 'Route GET:/x?access_token=**** not found'],
    ['?page=2&tokens_left=3', '?page=2&tokens_left=****'],
    ['?page=2&lang=en', '?page=2&lang=en'],
    // A fragment, as an OAuth implicit flow hands a token to a page, in any attribute that keeps one.
    ['https://app.example/cb#access_token=abc&token_type=bearer', 'https://app.example/cb#access_token=****&token_type=****'],
  ])('masks %s as %s', (text, expected) => {
    expect(mask(text)).toBe(expected);
  });
});

describe('the Go toolchain, written once', () => {
  const pinned = readFileSync(join(COLLECTOR_DIR, 'go.toolchain'), 'utf8').trim();
  it('collector/go.toolchain names one exact Go release, which the builds run on through GOTOOLCHAIN', async () => {
    expect(pinned).toMatch(/^go\d+\.\d+\.\d+$/);
    const { GO_TOOLCHAIN, goEnv } = await import('./go.ts');
    expect(GO_TOOLCHAIN).toBe(pinned);
    const saved = process.env.GOTOOLCHAIN;
    try {
      delete process.env.GOTOOLCHAIN;
      expect(goEnv().GOTOOLCHAIN).toBe(`${pinned}+auto`);
      // One a learner set themselves is theirs.
      process.env.GOTOOLCHAIN = 'local';
      expect(goEnv().GOTOOLCHAIN).toBe('local');
    } finally {
      if (saved === undefined) delete process.env.GOTOOLCHAIN;
      else process.env.GOTOOLCHAIN = saved;
    }
  });

  it('.ci/run and the README read it from there, with no version of their own', () => {
    const ci = readFileSync(join(COLLECTOR_DIR, '..', '.ci', 'run'), 'utf8');
    expect(ci).toContain('GO_TOOLCHAIN=$(cat collector/go.toolchain)');
    expect(ci).toContain('export GOTOOLCHAIN="$GO_TOOLCHAIN+auto"');
    expect(ci).not.toMatch(/go\d+\.\d+\.\d+|toolchain\/@v/);
    const readme = readFileSync(join(COLLECTOR_DIR, '..', 'README.md'), 'utf8');
    expect(readme).toContain(`\`collector/go.toolchain\` (\`${pinned}\`)`);
    expect(readme).toContain(`GOTOOLCHAIN=${pinned}+auto`);
  });
});
