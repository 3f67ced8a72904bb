// Renders exported telemetry as stable text: span trees with names, kinds, parent/child, key
// attributes, events and status, with ids, timings and machine-specific values left out. The
// stage tests write it to steps/step-NN/telemetry.txt and check it, so the committed files always
// show what the stages really export, and two of them can be diffed like code.
import { SpanKind, StatusCode, type AttributeValue, type ReceivedLog, type ReceivedSpan } from '../otlp/receiver.ts';
import type { StageRun } from './run.ts';
import { join } from 'node:path';
import { expect, it } from 'vitest';
import { REPO_ROOT } from '../repo.ts';

// Attributes that carry the lesson and are the same on every machine and run.
// (user.tier is step 20's baggage, recorded where it is used.)
const KEY_ATTRIBUTES = ['http.request.method', 'http.route', 'url.path', 'http.response.status_code', 'error.type', 'user.tier'];
const KEY_EVENT_ATTRIBUTES = ['exception.type', 'exception.message'];
const KIND_NAMES = Object.fromEntries(Object.entries(SpanKind).map(([name, value]) => [value, name.toLowerCase()]));

function show(value: AttributeValue): string {
  if (typeof value === 'string') return /^[\w./:-]+$/.test(value) ? value : JSON.stringify(value);
  return JSON.stringify(value);
}

/** A span as one line; `service` names its service where the trace crosses into another one. */
function spanLine(span: ReceivedSpan, service: string | undefined): string {
  const parts = [span.name, `[${KIND_NAMES[span.kind] ?? span.kind}]`];
  for (const key of KEY_ATTRIBUTES) if (key in span.attributes) parts.push(`${key}=${show(span.attributes[key]!)}`);
  if (span.status.code === StatusCode.ERROR) parts.push(span.status.message ? `status=ERROR ${JSON.stringify(span.status.message)}` : 'status=ERROR');
  if (span.status.code === StatusCode.OK) parts.push('status=OK');
  parts.push(service ? `(${service}, scope ${span.scope.name})` : `(scope ${span.scope.name})`);
  return parts.join('  ');
}

/**
 * A log record as one line: severity, body (its port, which changes every run, left out), and its
 * attributes, sorted: the key ones with their values, the others (ports, durations, stack traces)
 * by name only.
 */
function logLine(log: ReceivedLog): string {
  const attrs = Object.keys(log.attributes)
    .sort()
    .map((k) => ([...KEY_ATTRIBUTES, ...KEY_EVENT_ATTRIBUTES].includes(k) ? `${k}=${show(log.attributes[k]!)}` : k));
  const body = log.eventName || show(log.body).replace(/127\.0\.0\.1:\d+/g, '127.0.0.1:<port>');
  return `log ${[log.severityText || log.severityNumber, body, ...attrs].join('  ')}`;
}

// A span names its service only where it differs from its parent's: a root span's service is the
// snapshot's first `service.name`, so the spans a stage shares with the one before it render the
// same, and `pnpm diff --telemetry` shows only what changed.
function renderTree(span: ReceivedSpan, all: ReceivedSpan[], depth: number, out: string[], logs: ReceivedLog[], parentService: string | undefined): void {
  const indent = '    '.repeat(depth);
  const service = String(span.resource['service.name']);
  out.push(`${indent}${depth === 0 ? '' : '└── '}${spanLine(span, parentService !== undefined && service !== parentService ? service : undefined)}`);
  const pad = `${indent}${depth === 0 ? '  ' : '      '}`;
  for (const event of span.events) {
    const attrs = KEY_EVENT_ATTRIBUTES.filter((k) => k in event.attributes).map((k) => `${k}=${show(event.attributes[k]!)}`);
    out.push(`${pad}event ${[event.name, ...attrs].join('  ')}`);
  }
  // The log records written while this span was the active one.
  for (const log of logs.filter((l) => l.spanId === span.spanId)) out.push(`${pad}${logLine(log)}`);
  const children = all.filter((s) => s.parentSpanId === span.spanId).sort((a, b) => Number(a.startTimeUnixNano - b.startTimeUnixNano));
  for (const child of children) renderTree(child, all, depth + 1, out, logs, service);
}

/** Renders the traces whose root span started in [from, to) as indented trees, oldest first. */
export function renderSpanTrees(spans: ReceivedSpan[], from = 0n, to = BigInt(Number.MAX_SAFE_INTEGER) * 1_000_000n, logs: ReceivedLog[] = []): string[] {
  const ids = new Set(spans.map((s) => s.spanId));
  const roots = spans
    .filter((s) => !s.parentSpanId || !ids.has(s.parentSpanId))
    .filter((s) => s.startTimeUnixNano >= from && s.startTimeUnixNano < to)
    .sort((a, b) => Number(a.startTimeUnixNano - b.startTimeUnixNano));
  const out: string[] = [];
  for (const root of roots) {
    const trace = spans.filter((s) => s.traceId === root.traceId);
    renderTree(root, trace, 0, out, logs, undefined);
  }
  return out;
}

/** The requests a snapshot shows, in this order, as the first requests of the run it is rendered from. */
export const SNAPSHOT_PATHS = ['/', '/error', '/nope'];

/**
 * Renders what a stage run exported: the spans of its first requests (GET /, GET /error and a 404,
 * GET /nope), request by request, and the names and attribute keys of every metric it sent. The
 * run is one a stage's test makes anyway, so the snapshot costs no boot of its own; requests after
 * the first three only add to the metrics, which show names and keys, never values.
 */
export function renderTelemetry(run: StageRun, script = 'start'): string {
  const { receiver, sentAt } = run;
  expect(run.paths.slice(0, SNAPSHOT_PATHS.length), 'a snapshot run starts with these requests').toEqual(SNAPSHOT_PATHS);
  // The service requests enter by first (the one root spans belong to, which span lines leave
  // unsaid), then the others.
  const ids = new Set(receiver.spans.map((s) => s.spanId));
  const entry = new Set(receiver.spans.filter((s) => !ids.has(s.parentSpanId)).map((s) => String(s.resource['service.name'])));
  const services = [...new Set(receiver.spans.map((s) => String(s.resource['service.name'])))].sort((a, b) => Number(entry.has(b)) - Number(entry.has(a)) || a.localeCompare(b));
  const signals = [...new Set(receiver.requests.map((r) => r.signal))].sort();
  const lines = [
    // No stage name here: the header then differs between two stages only when their scripts do.
    `# pnpm ${script}: telemetry exported over OTLP, rendered by the stage's test`,
    '# ids, timings and machine-specific attributes are left out; pnpm test:stages checks this file',
    '',
  ];
  if (receiver.requests.length === 0) return `${[...lines, 'nothing exported: no traces, no metrics, no logs'].join('\n')}\n`;
  lines.push(`service.name: ${services.join(', ')}`, `signals: ${signals.join(', ')}`);
  const startup = renderSpanTrees(receiver.spans, 0n, sentAt[0], receiver.logs);
  if (startup.length > 0) lines.push('', '## at start-up', ...startup);
  SNAPSHOT_PATHS.forEach((path, i) => {
    const spans = renderSpanTrees(receiver.spans, sentAt[i], sentAt[i + 1], receiver.logs);
    lines.push('', `## GET ${path}`, ...(spans.length > 0 ? spans : ['no spans']));
  });
  // Names, kinds, units and attribute keys: never values, which change from run to run.
  const keys = (name: string): string => [...new Set(receiver.metrics.filter((m) => m.name === name).flatMap((m) => m.dataPoints.flatMap((p) => Object.keys(p.attributes))))].sort().join(', ');
  const metricNames = [...new Set(receiver.metrics.map((m) => `${m.name}  (${m.type}${m.unit ? `, ${m.unit}` : ''})${keys(m.name) ? `  ${keys(m.name)}` : ''}`))].sort();
  if (metricNames.length > 0) lines.push('', '## metrics', ...metricNames);
  const spanIds = new Set(receiver.spans.map((s) => s.spanId));
  const untied = receiver.logs.filter((l) => !spanIds.has(l.spanId)).map(logLine);
  if (untied.length > 0) lines.push('', '## logs outside any span', ...untied);
  return `${lines.join('\n')}\n`;
}

/**
 * The test that keeps a stage's telemetry.txt true: the file must equal what the stage really
 * exported in `run()` (`pnpm test:stages -u` rewrites it, `pnpm docs:sync` copies it into the chapter).
 */
export function itMatchesTelemetrySnapshot(stageName: string, run: () => StageRun, script = 'start'): void {
  // The test's own expect: a file snapshot needs to know its test, also in a suite that runs alongside others.
  it('matches telemetry.txt, rendered from what the stage really exports for GET /, GET /error and a 404', async ({ expect }) => {
    await expect(renderTelemetry(run(), script)).toMatchFileSnapshot(join(REPO_ROOT, 'steps', stageName, 'telemetry.txt'));
  });
}
