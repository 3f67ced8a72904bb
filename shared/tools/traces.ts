// `pnpm traces <service>`: the latest traces of a service, read from Jaeger's query API and printed
// as span trees; `pnpm traces --trace <id>`: one trace, followed by its log records from
// VictoriaLogs. It is how to look at Jaeger when its web UI is not there (the native stack), and it
// prints the URLs it asks, so the same data is one curl away.
import { parseArgs } from 'node:util';
import { fail, parseOrFail, positiveInteger } from '../cli.ts';
import { URLS } from '../stack/urls.ts';
import { fetchLogs, renderLogs } from './logs.ts';

const TOOL = 'traces';
const HELP = `Usage: pnpm traces <service.name> [--errors] [--limit N] [--lookback 1h]
       pnpm traces --trace <trace id>

Prints the latest traces of one service (10 unless --limit says otherwise; --errors keeps the
failing ones) from Jaeger's query API (${URLS.jaeger}), newest first, each as a tree of spans
with kind, duration and error flag. With --trace, prints that one trace and then its log records,
found by trace id in VictoriaLogs (${URLS.victorialogs}).`;

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

/** True when any span of `trace` failed. */
export function failed(trace: JaegerTrace): boolean {
  return trace.spans.some((s) => tag(s, 'error') === true || tag(s, 'otel.status_code') === 'ERROR');
}

async function getJaeger<T>(url: string): Promise<T> {
  console.log(`GET ${url}`);
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(5000) });
    const body = (await res.json()) as T & { errors?: { msg: string }[] | null };
    if (!res.ok) fail(TOOL, `Jaeger answered HTTP ${res.status}: ${body.errors?.map((e) => e.msg).join('; ') ?? ''}`, 1);
    return body;
  } catch (err) {
    return fail(TOOL, `Jaeger does not answer at ${URLS.jaeger} (${(err as Error).message}): start the stack with pnpm stack:native or pnpm stack:up`, 1);
  }
}

async function main(): Promise<void> {
  const { values, positionals } = parseOrFail(TOOL, () =>
    parseArgs({
      allowPositionals: true,
      options: {
        limit: { type: 'string', default: '10' },
        lookback: { type: 'string', default: '1h' },
        errors: { type: 'boolean' },
        trace: { type: 'string' },
        help: { type: 'boolean' },
      },
    }),
  );
  if (values.help) return void console.log(HELP);
  if (values.trace !== undefined) {
    if (positionals.length > 0 || values.errors) fail(TOOL, '--trace takes a trace id and nothing else (see --help)');
    const id = values.trace.toLowerCase();
    if (!/^[0-9a-f]{32}$/.test(id)) fail(TOOL, `--trace needs a trace id of 32 hex digits, got "${values.trace}"`);
    const body = await getJaeger<{ data: JaegerTrace[] | null }>(`${URLS.jaeger}/api/traces/${id}`);
    const [trace] = body.data ?? [];
    if (!trace) return void console.log(`no trace ${id} in Jaeger: it keeps traces in memory until it restarts`);
    console.log(['', ...renderTrace(trace), ''].join('\n'));
    const { url, entries } = await fetchLogs(TOOL, `trace_id:="${id}"`, '1d', 1000);
    console.log(`GET ${url}`);
    console.log(entries.length ? renderLogs(entries).join('\n') : 'no log records with this trace id (stages log from step 19 on)');
    return;
  }
  const [service, ...extra] = positionals;
  if (!service || extra.length > 0) fail(TOOL, 'give one service name, for example: pnpm traces step-08-manual, or --trace <id> (see --help)');
  const limit = positiveInteger(TOOL, 'limit', values.limit);
  if (!/^\d+[smhd]$/.test(values.lookback)) fail(TOOL, `--lookback must look like 15m, 1h or 2d, got "${values.lookback}"`);
  // Jaeger's own limit keeps any N traces, not the newest N: ask for plenty, sort, then cut.
  const url = `${URLS.jaeger}/api/traces?service=${encodeURIComponent(service)}&limit=${Math.max(1000, limit)}&lookback=${values.lookback}`;
  const body = await getJaeger<{ data: JaegerTrace[] | null }>(url);
  const all = (body.data ?? []).sort((a, b) => Math.max(...b.spans.map((s) => s.startTime)) - Math.max(...a.spans.map((s) => s.startTime)));
  const traces = values.errors ? all.filter(failed) : all;
  if (traces.length === 0) {
    console.log(`no ${values.errors ? 'failing ' : ''}traces for service "${service}" in the last ${values.lookback}: has a stage sent any? (services are named in each chapter)`);
    return;
  }
  const shown = traces.slice(0, limit);
  for (const trace of shown) console.log(['', ...renderTrace(trace)].join('\n'));
  if (traces.length > shown.length) console.log(`\n${shown.length} of ${traces.length}${values.errors ? ' failing' : ''} traces shown, newest first: --limit ${traces.length} shows them all, --errors keeps the failing ones`);
  console.log('\nOne trace with its log records: pnpm traces --trace <trace id>');
}

if (import.meta.main) await main();
