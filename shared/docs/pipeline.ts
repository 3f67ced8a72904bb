// The collector's pipelines as the chapters draw them, generated from the config itself: the base
// config merged with each stack overlay, as the collector merges them. `pnpm docs:sync` writes both
// drawings into the chapters (after <!-- pipeline: text --> in collector/README.md and
// <!-- pipeline: mermaid --> in the root README), and a test fails when a chapter's drawing differs
// from the config, so a component added or removed shows up in them or fails `pnpm test`.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { COLLECTOR_DIR } from '../stack/versions.ts';

type Tree = Record<string, unknown>;
interface Pipeline {
  receivers?: string[];
  processors?: string[];
  exporters?: string[];
}

const isMap = (value: unknown): value is Tree => typeof value === 'object' && value !== null && !Array.isArray(value);
// The collector's own merge: maps merged key by key, anything else (lists included) replaced.
const merge = (base: Tree, overlay: Tree): Tree =>
  Object.fromEntries(
    [...new Set([...Object.keys(base), ...Object.keys(overlay)])].map((key) => {
      const [a, b] = [base[key], overlay[key]];
      return [key, isMap(a) && isMap(b) ? merge(a, b) : b === undefined ? a : b];
    }),
  );
const load = (file: string): Tree => (parse(readFileSync(join(COLLECTOR_DIR, file), 'utf8')) as Tree | null) ?? {};

/** The pipelines a stack runs: the base config and its overlay, merged. */
export function pipelines(stack: 'native' | 'compose'): Record<string, Pipeline> {
  const config = merge(load('otel-collector-config.yaml'), load(`overlays/stack-${stack}.yaml`));
  return ((config.service as Tree).pipelines ?? {}) as Record<string, Pipeline>;
}

// Where each exporter leads, as the root README's drawing names it. An exporter missing here
// fails the generation: a new backend needs its node in the drawing.
const BACKENDS: Record<string, { node: string; label: string }> = {
  'otlp_http/jaeger': { node: 'jaeger', label: 'Jaeger v2<br/>:16686' },
  zipkin: { node: 'zipkin', label: 'Zipkin<br/>:9411' },
  'otlp_http/zipkin': { node: 'zipkin', label: 'Zipkin<br/>:9411' },
  'otlp_http/prometheus': { node: 'prom', label: 'Prometheus<br/>:9090' },
  prometheus_remote_write: { node: 'prom', label: 'Prometheus<br/>:9090' },
  'otlp_http/victorialogs': { node: 'logs', label: 'VictoriaLogs<br/>:9428' },
  debug: { node: 'debuglog', label: 'collector log<br/>(debug exporter)' },
};
// How each stack overlay's exporter reaches its backend, as an edge label.
const VIA: Record<string, string> = {
  'otlp_http/jaeger': 'OTLP/HTTP',
  zipkin: 'Zipkin exporter (compose)',
  'otlp_http/zipkin': 'OTLP to a bridge (native)',
  'otlp_http/prometheus': 'OTLP (compose)',
  prometheus_remote_write: 'remote write (native)',
  'otlp_http/victorialogs': 'OTLP/HTTP',
  debug: 'debug',
};

const CONNECTORS = new Set(['span_metrics', 'forward/backends']);

/** Every pipeline as one line, `receivers -> processors -> exporters`, with what the two stacks do differently. */
export function pipelineText(): string {
  const native = pipelines('native');
  const compose = pipelines('compose');
  const names = [...new Set([...Object.keys(native), ...Object.keys(compose)])];
  const width = Math.max(...names.map((n) => n.length)) + 1;
  const list = (items: string[] | undefined): string => (items?.length ? items.join(', ') : '');
  const lines = names.map((name) => {
    const [n, c] = [native[name] ?? {}, compose[name] ?? {}];
    const exporters = list(n.exporters) === list(c.exporters) ? list(n.exporters) : `native: ${list(n.exporters)} | compose: ${list(c.exporters)}`;
    const steps = [list(n.receivers), ...(n.processors ?? []), exporters].filter(Boolean);
    return `${`${name}:`.padEnd(width)} ${steps.join(' -> ')}`;
  });
  return [...lines, '', `span_metrics and forward/backends are connectors: an exporter of one pipeline, the receiver of the next.`].join('\n');
}

/** The root README's drawing: a stage, the collector with its processors, and every backend an exporter reaches. */
export function pipelineMermaid(): string {
  const native = pipelines('native');
  const compose = pipelines('compose');
  const processors = [...new Set([...Object.values(native), ...Object.values(compose)].flatMap((p) => p.processors ?? []))];
  const connectors = [...new Set([...Object.values(native), ...Object.values(compose)].flatMap((p) => [...(p.exporters ?? []), ...(p.receivers ?? [])]).filter((c) => CONNECTORS.has(c)))];
  const edges = new Map<string, { label: string; via: string[] }>();
  for (const pipeline of [...Object.values(native), ...Object.values(compose)]) {
    for (const exporter of pipeline.exporters ?? []) {
      if (CONNECTORS.has(exporter)) continue;
      const backend = BACKENDS[exporter];
      if (!backend) throw new Error(`shared/docs/pipeline.ts: exporter ${exporter} leads to no backend in BACKENDS; add its node`);
      const edge = edges.get(backend.node) ?? { label: backend.label, via: [] };
      if (!edge.via.includes(VIA[exporter]!)) edge.via.push(VIA[exporter]!);
      edges.set(backend.node, edge);
    }
  }
  const lines = [
    'flowchart LR',
    '  stage["a stage<br/>pnpm --filter step-NN start"] -->|"OTLP/HTTP :4318"| col',
    `  col["OpenTelemetry Collector<br/>${processors.join(', ')}<br/>connectors: ${connectors.join(', ')}"]`,
    ...[...edges.entries()].map(([node, { label, via }]) => `  col -->|"${via.join(', or ')}"| ${node}["${label}"]`),
    '  prom -.->|"scrapes :8888"| col',
  ];
  return lines.join('\n');
}

/** The fenced blocks `pnpm docs:sync` keeps in step with the config: marker, fence language, body. */
export const PIPELINE_BLOCKS = [
  { file: join(COLLECTOR_DIR, 'README.md'), marker: '<!-- pipeline: text -->', fence: 'text', body: pipelineText },
  { file: join(COLLECTOR_DIR, '..', 'README.md'), marker: '<!-- pipeline: mermaid -->', fence: 'mermaid', body: pipelineMermaid },
] as const;

/** `markdown` with the block after `marker` replaced by `body`; unchanged when the marker is missing. */
export function withBlock(markdown: string, marker: string, fence: string, body: string): string {
  // The block runs to the first line that is a fence alone, so an empty block is found too.
  const block = new RegExp(`(${marker.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}\\n\`\`\`${fence}\\n)[\\s\\S]*?(^\`\`\`$)`, 'm');
  return markdown.replace(block, (_match, open: string, close: string) => `${open}${body}\n${close}`);
}
