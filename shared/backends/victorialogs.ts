// VictoriaLogs' LogsQL API (the one its UI reads).
import { URLS } from '../stack/urls.ts';
import { getText } from './http.ts';

/**
 * A log record as VictoriaLogs stores it: every field a string. `_msg` is the body, `_time` its
 * time, `_stream` the resource fields it is filed under (`service.name`); the record's own
 * `trace_id`, `span_id`, `severity_text` and attributes (`url.path`, ...) are fields of their own.
 */
export type LogRecord = Record<string, string>;

/**
 * `_time` in nanoseconds. VictoriaLogs writes as many fraction digits as it needs (`20.52Z`,
 * `20.525Z`), so the strings do not sort as text.
 */
export function nanosecondsOf(time: string | undefined): bigint {
  const match = /^(.*?T\d\d:\d\d:\d\d)(?:\.(\d{1,9}))?(Z|[+-]\d\d:\d\d)$/.exec(time ?? '');
  if (!match) return 0n;
  const seconds = Date.parse(`${match[1]}${match[3]}`);
  if (Number.isNaN(seconds)) return 0n;
  return BigInt(seconds) * 1_000_000n + BigInt((match[2] ?? '').padEnd(9, '0'));
}

/** Oldest first, by time (not by the text of `_time`). */
export function oldestFirst(records: LogRecord[]): LogRecord[] {
  return records
    .map((record) => ({ record, ns: nanosecondsOf(record._time) }))
    .sort((a, b) => (a.ns < b.ns ? -1 : a.ns > b.ns ? 1 : 0))
    .map(({ record }) => record);
}

/** The query URL for the newest `limit` records matching `logsql` over a lookback such as `1h`. */
export function logsQueryUrl(logsql: string, lookback: string, limit: number): string {
  const query = `${logsql} _time:${lookback} | sort by (_time desc) | limit ${limit}`;
  return `${URLS.victorialogs}/select/logsql/query?${new URLSearchParams({ query })}`;
}

/** The newest `limit` records matching `logsql` over `lookback`, oldest first, and the URL asked. */
export async function queryLogs(logsql: string, lookback: string, limit: number): Promise<{ url: string; records: LogRecord[] }> {
  const url = logsQueryUrl(logsql, lookback, limit);
  return { url, records: parseLines(await getText('VictoriaLogs', url)) };
}

/** The records matching `logsql` written from `sinceMs` on (a minute of clock skew either side), oldest first. */
export async function logsQuery(logsql: string, sinceMs: number, limit = 1000): Promise<LogRecord[]> {
  const params = new URLSearchParams({
    query: logsql,
    start: new Date(sinceMs - 60_000).toISOString(),
    end: new Date(Date.now() + 60_000).toISOString(),
    limit: String(limit),
  });
  return parseLines(await getText('VictoriaLogs', `${URLS.victorialogs}/select/logsql/query?${params}`));
}

// One JSON object per line.
const parseLines = (text: string): LogRecord[] => oldestFirst(text.split('\n').filter(Boolean).map((line) => JSON.parse(line) as LogRecord));
