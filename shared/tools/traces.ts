// `pnpm traces <service>`: the latest traces of a service, read from Jaeger's query API and printed
// as span trees; `pnpm traces --trace <id>`: one trace, followed by its log records from
// VictoriaLogs. It is how to look at Jaeger when its web UI is not there (the native stack), and it
// prints the URLs it asks, so the same data is one curl away.
import { parseArgs } from 'node:util';
import { BackendError, failed, isErrorSpan, jaegerTrace, jaegerTraces, jaegerTraceUrl, jaegerTracesUrl, serviceOf, tag } from '../backends/index.ts';
import type { JaegerSpan, JaegerTrace } from '../backends/index.ts';
import { fail, lookbackOrFail, parseOrFail, positiveInteger, traceIdOrFail } from '../cli.ts';
import { URLS } from '../stack/urls.ts';
import { fetchLogs, renderLogs } from './logs.ts';

const TOOL = 'traces';
const HELP = `Usage: pnpm traces <service.name> [--errors] [--limit N] [--lookback 1h]
       pnpm traces --trace <trace id>

Prints the latest traces of one service (10 unless --limit says otherwise; --errors keeps the
failing ones) from Jaeger's query API (${URLS.jaeger}), newest first, each as a tree of spans
with kind, duration, error flag, service and span id. With --trace, prints that one trace and then its log records,
found by trace id in VictoriaLogs (${URLS.victorialogs}).`;

function line(span: JaegerSpan, trace: JaegerTrace): string {
  const kind = String(tag(span, 'span.kind') ?? 'internal');
  const error = isErrorSpan(span) ? '  ERROR' : '';
  const service = serviceOf(trace, span);
  // The span's id last: what `pnpm incident answer --span` takes as evidence.
  return `${span.operationName}  [${kind}]  ${(span.duration / 1000).toFixed(1)} ms${error}  (${service})  span ${span.spanID}`;
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

/** Asks Jaeger through `ask`, printing the URL first; a backend error ends the tool. */
async function fromJaeger<T>(url: string, ask: () => Promise<T>): Promise<T> {
  console.log(`GET ${url}`);
  try {
    return await ask();
  } catch (err) {
    if (err instanceof BackendError) return fail(TOOL, err.message, 1);
    throw err;
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
    const id = traceIdOrFail(TOOL, values.trace);
    const trace = await fromJaeger(jaegerTraceUrl(id), () => jaegerTrace(id));
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
  const lookback = lookbackOrFail(TOOL, values.lookback);
  // Jaeger's own limit keeps any N traces, not the newest N: ask for plenty (they come back newest first), then cut.
  const asked = Math.max(1000, limit);
  const all = await fromJaeger(jaegerTracesUrl(service, lookback, asked), () => jaegerTraces(service, lookback, asked));
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
