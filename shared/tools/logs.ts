// `pnpm logs <service>`: the newest log records of a service; `pnpm logs --trace <id>`: a request's
// records, found by its trace id. Read from VictoriaLogs' LogsQL API and printed a line each; it
// prints the URL it asks, so the same query is one curl away (and one click in its web UI, whose
// address it prints too).
import { parseArgs } from 'node:util';
import { BackendError, queryLogs, type LogRecord } from '../backends/index.ts';
import { fail, lookbackOrFail, parseOrFail, positiveInteger, traceIdOrFail } from '../cli.ts';
import { logsUiUrl, URLS } from '../stack/urls.ts';

const TOOL = 'logs';
const HELP = `Usage: pnpm logs <service.name> [--errors] [--limit N] [--lookback 1h]
       pnpm logs --trace <trace id>

Prints log records from VictoriaLogs (${URLS.victorialogs}), oldest first: the newest of one
service (20 unless --limit says otherwise; --errors keeps severity error and above), or every
record of one trace. Each line: time, severity, message, and the trace and span it was written in.`;

/** The newest `limit` records matching `logsql` over `lookback`, oldest first, and the URL asked; a backend error ends the tool. */
export async function fetchLogs(tool: string, logsql: string, lookback: string, limit: number): Promise<{ url: string; entries: LogRecord[] }> {
  try {
    const { url, records } = await queryLogs(logsql, lookback, limit);
    return { url, entries: records };
  } catch (err) {
    if (err instanceof BackendError) return fail(tool, err.message, 1);
    throw err;
  }
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
  lookbackOrFail(TOOL, values.lookback);
  let logsql: string;
  if (values.trace !== undefined) {
    if (positionals.length > 0) fail(TOOL, '--trace takes a trace id and nothing else (see --help)');
    const id = traceIdOrFail(TOOL, values.trace);
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
