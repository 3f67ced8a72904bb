// Reads traces, metrics and logs back the way a learner's eyes would: through Jaeger's, Zipkin's,
// Prometheus's and VictoriaLogs' own query APIs.
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { inject, vi } from 'vitest';
import { REPO_ROOT } from '../repo.ts';
import { URLS } from '../stack/urls.ts';

export type { JaegerSpan, JaegerTrace } from '../tools/traces.ts';
import type { JaegerTrace } from '../tools/traces.ts';
export type { ZipkinSpan } from '../stack/zipkin-bridge.ts';
import type { ZipkinSpan } from '../stack/zipkin-bridge.ts';

async function getJson<T>(url: string): Promise<T> {
  const res = await fetch(url, { signal: AbortSignal.timeout(5000) });
  if (!res.ok) throw new Error(`${url}: HTTP ${res.status} ${await res.text()}`);
  return (await res.json()) as T;
}

export async function jaegerTraces(service: string, sinceMicros: number, limit = 100): Promise<JaegerTrace[]> {
  const url = `${URLS.jaeger}/api/traces?service=${encodeURIComponent(service)}&start=${sinceMicros}&end=${Date.now() * 1000 + 60e6}&limit=${limit}`;
  return (await getJson<{ data: JaegerTrace[] | null }>(url)).data ?? [];
}

export async function zipkinTraces(service: string, lookbackMs: number): Promise<ZipkinSpan[][]> {
  const url = `${URLS.zipkin}/api/v2/traces?serviceName=${encodeURIComponent(service)}&endTs=${Date.now() + 60_000}&lookback=${lookbackMs + 60_000}&limit=100`;
  return getJson<ZipkinSpan[][]>(url);
}

export interface PromSample {
  metric: Record<string, string>;
  value: [number, string];
}

export async function promQuery(query: string): Promise<PromSample[]> {
  const body = await getJson<{ status: string; data: { result: PromSample[] } }>(`${URLS.prometheus}/api/v1/query?query=${encodeURIComponent(query)}`);
  return body.data.result;
}

/**
 * A log record as VictoriaLogs stores it: every field a string. `_msg` is the body, `_time` its
 * time, `_stream` the resource fields it is filed under (`service.name`); the record's own
 * `trace_id`, `span_id`, `severity_text` and attributes (`url.path`, ...) are fields of their own.
 */
export type LogEntry = Record<string, string>;

/** The log records matching a LogsQL query, written from `sinceMs` on, oldest first. */
export async function logsQuery(logsql: string, sinceMs: number): Promise<LogEntry[]> {
  const params = new URLSearchParams({ query: logsql, start: new Date(sinceMs - 60_000).toISOString(), end: new Date(Date.now() + 60_000).toISOString(), limit: '1000' });
  const url = `${URLS.victorialogs}/select/logsql/query?${params}`;
  const res = await fetch(url, { signal: AbortSignal.timeout(5000) });
  if (!res.ok) throw new Error(`${url}: HTTP ${res.status} ${await res.text()}`);
  // One JSON object per line.
  const entries = (await res.text()).split('\n').filter(Boolean).map((line) => JSON.parse(line) as LogEntry);
  return entries.sort((a, b) => (a._time ?? '').localeCompare(b._time ?? ''));
}

/** What the collector has printed so far: its debug exporter shows everything it sends. */
export function collectorOutput(): string {
  const file = inject('collectorLog');
  if (file) return readFileSync(file, 'utf8');
  const logs = spawnSync('docker', ['compose', '--file', join(REPO_ROOT, 'collector', 'compose.yaml'), 'logs', '--no-color', 'otel-collector'], { encoding: 'utf8' });
  return logs.stdout ?? '';
}

/** Sends one OTLP/JSON export request to the collector, as an SDK would. */
export async function sendOtlpJson(signal: 'traces' | 'logs', body: unknown): Promise<void> {
  const res = await fetch(`${URLS.otlpHttp}/v1/${signal}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
    signal: AbortSignal.timeout(5000),
  });
  if (!res.ok) throw new Error(`collector refused ${signal}: HTTP ${res.status} ${await res.text()}`);
}

/** Polls `check` until it returns a value; fails with `what` after `timeout` ms. */
export const eventually = <T>(what: string, check: () => Promise<T | undefined>, timeout = 40_000): Promise<T> =>
  vi.waitFor(async () => (await check()) ?? Promise.reject(new Error(`timed out after ${timeout} ms waiting for ${what}`)), { timeout, interval: 100 });

export interface ExpectedTrace {
  /** Span names, in the order telemetry.txt lists them (tree order). */
  spans: string[];
  /** Names of the spans whose status is ERROR. */
  errors: string[];
}

export interface StageExpectations {
  /** The service a request enters by (the first listed), whose queries find the whole trace. */
  service: string;
  /** Every service of the stage: one, or three for a stage of several services. */
  services: string[];
  byRequest: Record<string, ExpectedTrace>;
}

/** What a stage's telemetry.txt (written and checked by `pnpm test`) says each request produces. */
export function expectationsFromSnapshot(stageDir: string): StageExpectations {
  const text = readFileSync(join(stageDir, 'telemetry.txt'), 'utf8');
  const services = (/^service\.name: (.+)$/m.exec(text)?.[1] ?? '').split(', ');
  const byRequest: Record<string, ExpectedTrace> = {};
  let current: ExpectedTrace | undefined;
  for (const line of text.split('\n')) {
    const section = /^## (GET \S+)$/.exec(line);
    if (section) byRequest[section[1]!] = current = { spans: [], errors: [] };
    else if (line.startsWith('## ')) current = undefined;
    const span = /^(?:\s*└── )?(\S.*?) {2}\[\w+\](.*)$/.exec(line);
    if (span && current) {
      current.spans.push(span[1]!);
      if (/ status=ERROR/.test(span[2]!)) current.errors.push(span[1]!);
    }
  }
  return { service: services[0]!, services, byRequest };
}
