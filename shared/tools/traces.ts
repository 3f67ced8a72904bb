// `pnpm traces <service>`: the latest traces of a service, read from Jaeger's query API and printed
// as span trees. It is how to look at Jaeger when its web UI is not there (the native stack), and it
// prints the URL it asked, so the same data is one curl away.
import { parseArgs } from 'node:util';
import { fail, parseOrFail, positiveInteger } from './cli.ts';
import { URLS } from '../stack/urls.ts';

const TOOL = 'traces';
const HELP = `Usage: pnpm traces <service.name> [--limit N] [--lookback 1h]

Prints the latest traces of one service (5 unless --limit says otherwise) from Jaeger's query
API (${URLS.jaeger}), newest first, each as a tree of spans with kind, duration and error flag.`;

export interface JaegerSpan {
  traceID: string;
  spanID: string;
  operationName: string;
  references: { refType: string; spanID: string }[];
  startTime: number;
  duration: number;
  tags: { key: string; value: unknown }[];
  processID: string;
}
export interface JaegerTrace {
  traceID: string;
  spans: JaegerSpan[];
  processes: Record<string, { serviceName: string }>;
}

const tag = (span: JaegerSpan, key: string): unknown => span.tags.find((t) => t.key === key)?.value;

function line(span: JaegerSpan, trace: JaegerTrace): string {
  const kind = String(tag(span, 'span.kind') ?? 'internal');
  const error = tag(span, 'error') === true || tag(span, 'otel.status_code') === 'ERROR' ? '  ERROR' : '';
  const service = trace.processes[span.processID]?.serviceName;
  return `${span.operationName}  [${kind}]  ${(span.duration / 1000).toFixed(1)} ms${error}  (${service})`;
}

export function renderTrace(trace: JaegerTrace): string[] {
  const ids = new Set(trace.spans.map((s) => s.spanID));
  const parentOf = (s: JaegerSpan): string | undefined => s.references.find((r) => r.refType === 'CHILD_OF' && ids.has(r.spanID))?.spanID;
  const byStart = [...trace.spans].sort((a, b) => a.startTime - b.startTime);
  const lines: string[] = [];
  const walk = (parent: string | undefined, depth: number): void => {
    for (const span of byStart.filter((s) => parentOf(s) === parent)) {
      lines.push(`${'    '.repeat(depth)}${depth > 0 ? '└── ' : ''}${line(span, trace)}`);
      walk(span.spanID, depth + 1);
    }
  };
  walk(undefined, 0);
  const start = new Date(Math.floor((byStart[0]?.startTime ?? 0) / 1000)).toISOString().replace('T', ' ').slice(0, 19);
  return [`trace ${trace.traceID}  ${start} UTC  ${trace.spans.length} span${trace.spans.length === 1 ? '' : 's'}`, ...lines.map((l) => `  ${l}`)];
}

async function main(): Promise<void> {
  const { values, positionals } = parseOrFail(TOOL, () =>
    parseArgs({ allowPositionals: true, options: { limit: { type: 'string', default: '5' }, lookback: { type: 'string', default: '1h' }, help: { type: 'boolean' } } }),
  );
  if (values.help) return void console.log(HELP);
  const [service, ...extra] = positionals;
  if (!service || extra.length > 0) fail(TOOL, 'give one service name, for example: pnpm traces step-08-manual (see --help)');
  const limit = positiveInteger(TOOL, 'limit', values.limit);
  if (!/^\d+[smhd]$/.test(values.lookback)) fail(TOOL, `--lookback must look like 15m, 1h or 2d, got "${values.lookback}"`);
  // Jaeger's own limit keeps any N traces, not the newest N: ask for plenty, sort, then cut.
  const url = `${URLS.jaeger}/api/traces?service=${encodeURIComponent(service)}&limit=${Math.max(100, limit)}&lookback=${values.lookback}`;
  console.log(`GET ${url}`);
  let body: { data: JaegerTrace[] | null; errors?: { msg: string }[] | null };
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(5000) });
    body = (await res.json()) as typeof body;
    if (!res.ok) fail(TOOL, `Jaeger answered HTTP ${res.status}: ${body.errors?.map((e) => e.msg).join('; ') ?? ''}`, 1);
  } catch (err) {
    return fail(TOOL, `Jaeger does not answer at ${URLS.jaeger} (${(err as Error).message}): start the stack with pnpm stack:native or pnpm stack:up`, 1);
  }
  const traces = (body.data ?? []).sort((a, b) => Math.max(...b.spans.map((s) => s.startTime)) - Math.max(...a.spans.map((s) => s.startTime)));
  if (traces.length === 0) {
    console.log(`no traces for service "${service}" in the last ${values.lookback}: has a stage sent any? (services are named in each chapter)`);
    return;
  }
  for (const trace of traces.slice(0, limit)) console.log(['', ...renderTrace(trace)].join('\n'));
}

if (import.meta.main) await main();
