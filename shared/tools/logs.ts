// `pnpm logs <service>`: the newest log records of a service; `pnpm logs --trace <id>`: a request's
// records, found by its trace id. Read from VictoriaLogs' LogsQL API and printed a line each; it
// prints the URL it asks, so the same query is one curl away (and one click in its web UI, whose
// address it prints too).
import { parseArgs } from 'node:util';
import { fail, parseOrFail, positiveInteger } from '../cli.ts';
import { logsUiUrl, URLS } from '../stack/urls.ts';

const TOOL = 'logs';
const HELP = `Usage: pnpm logs <service.name> [--errors] [--limit N] [--lookback 1h]
       pnpm logs --trace <trace id>

Prints log records from VictoriaLogs (${URLS.victorialogs}), oldest first: the newest of one
service (20 unless --limit says otherwise; --errors keeps severity error and above), or every
record of one trace. Each line: time, severity, message, and the trace and span it was written in.`;

/** A record as VictoriaLogs' LogsQL API gives it: every field a string. */
export type LogRecord = Record<string, string>;

/** Runs a LogsQL query over the last `lookback`; the newest `limit` records, oldest first, and the URL asked. */
export async function fetchLogs(tool: string, logsql: string, lookback: string, limit: number): Promise<{ url: string; entries: LogRecord[] }> {
  const query = `${logsql} _time:${lookback} | sort by (_time desc) | limit ${limit}`;
  const url = `${URLS.victorialogs}/select/logsql/query?${new URLSearchParams({ query })}`;
  let text: string;
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(5000) });
    text = await res.text();
    if (!res.ok) fail(tool, `VictoriaLogs answered HTTP ${res.status}: ${text.trim()}`, 1);
  } catch (err) {
    return fail(tool, `VictoriaLogs does not answer at ${URLS.victorialogs} (${(err as Error).message}): start the stack with pnpm stack:native or pnpm stack:up`, 1);
  }
  const entries = text.split('\n').filter(Boolean).map((line) => JSON.parse(line) as LogRecord);
  return { url, entries: entries.sort((a, b) => (a._time ?? '').localeCompare(b._time ?? '')) };
}

/** One line per record: time, severity, message, then the service and the trace and span it belongs to. */
export function renderLogs(entries: LogRecord[]): string[] {
  return entries.map((e) => {
    const parsed = new Date(e._time ?? '');
    const time = Number.isNaN(parsed.getTime()) ? (e._time ?? '') : parsed.toISOString().replace('T', ' ').replace('Z', '');
    const where = e.trace_id ? `  trace ${e.trace_id} span ${e.span_id ?? '-'}` : '';
    return `${time}  ${(e.severity_text || '-').toUpperCase().padEnd(5)}  ${e._msg ?? ''}  (${e['service.name'] ?? '?'})${where}`;
  });
}

async function main(): Promise<void> {
  const { values, positionals } = parseOrFail(TOOL, () =>
    parseArgs({
      allowPositionals: true,
      options: { limit: { type: 'string', default: '20' }, lookback: { type: 'string', default: '1h' }, errors: { type: 'boolean' }, trace: { type: 'string' }, help: { type: 'boolean' } },
    }),
  );
  if (values.help) return void console.log(HELP);
  const limit = positiveInteger(TOOL, 'limit', values.limit);
  if (!/^\d+[smhd]$/.test(values.lookback)) fail(TOOL, `--lookback must look like 15m, 1h or 2d, got "${values.lookback}"`);
  let logsql: string;
  if (values.trace !== undefined) {
    if (positionals.length > 0) fail(TOOL, '--trace takes a trace id and nothing else (see --help)');
    const id = values.trace.toLowerCase();
    if (!/^[0-9a-f]{32}$/.test(id)) fail(TOOL, `--trace needs a trace id of 32 hex digits, got "${values.trace}"`);
    logsql = `trace_id:="${id}"`;
  } else {
    const [service, ...extra] = positionals;
    if (!service || extra.length > 0) fail(TOOL, 'give one service name, for example: pnpm logs step-19-logs, or --trace <id> (see --help)');
    logsql = `service.name:=${JSON.stringify(service)}`;
  }
  // Severity numbers 17 and up are ERROR and FATAL.
  if (values.errors) logsql += ' severity_number:>=17';
  const { url, entries } = await fetchLogs(TOOL, logsql, values.trace !== undefined ? '1d' : values.lookback, limit);
  console.log(`GET ${url}`);
  console.log(`in the logs UI: ${logsUiUrl(logsql)}`);
  if (entries.length === 0) return void console.log(`no log records for ${logsql} in the last ${values.lookback} (stages log from step 19 on)`);
  console.log(['', ...renderLogs(entries)].join('\n'));
}

if (import.meta.main) await main();
