// Jaeger's query API (the one its UI reads): traces of a service, one trace, the dependency graph.
import { URLS } from '../stack/urls.ts';
import { getJson } from './http.ts';

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
export interface JaegerDependency {
  parent: string;
  child: string;
  callCount: number;
}

export const tag = (span: JaegerSpan, key: string): unknown => span.tags.find((t) => t.key === key)?.value;

/** Jaeger marks a span whose OTel status is ERROR with the tag error=true. */
export const isErrorSpan = (span: JaegerSpan): boolean => tag(span, 'error') === true || tag(span, 'otel.status_code') === 'ERROR';

/** True when any span of `trace` failed. */
export const failed = (trace: JaegerTrace): boolean => trace.spans.some(isErrorSpan);

export const serviceOf = (trace: JaegerTrace, span: JaegerSpan): string | undefined => trace.processes[span.processID]?.serviceName;

/** The search URL for `service`'s traces: from `since` (epoch microseconds) on, or over a lookback such as `1h`. */
export function jaegerTracesUrl(service: string, since: number | string, limit: number): string {
  const range = typeof since === 'number' ? `start=${since}&end=${Date.now() * 1000 + 60e6}` : `lookback=${since}`;
  return `${URLS.jaeger}/api/traces?service=${encodeURIComponent(service)}&${range}&limit=${limit}`;
}

/**
 * `service`'s traces, newest first. Jaeger's limit keeps any `limit` traces, not the newest: ask
 * for more than you show.
 */
export async function jaegerTraces(service: string, since: number | string, limit = 100): Promise<JaegerTrace[]> {
  const traces = (await getJson<{ data: JaegerTrace[] | null }>('Jaeger', jaegerTracesUrl(service, since, limit))).data ?? [];
  const newest = (t: JaegerTrace): number => Math.max(...t.spans.map((s) => s.startTime));
  return traces.sort((a, b) => newest(b) - newest(a));
}

export const jaegerTraceUrl = (traceId: string): string => `${URLS.jaeger}/api/traces/${traceId}`;

/** One trace, or undefined when Jaeger has none by that id. */
export async function jaegerTrace(traceId: string): Promise<JaegerTrace | undefined> {
  try {
    return (await getJson<{ data: JaegerTrace[] | null }>('Jaeger', jaegerTraceUrl(traceId))).data?.[0];
  } catch (err) {
    // Jaeger answers 404 for a trace it does not hold.
    if (/HTTP 404/.test((err as Error).message)) return undefined;
    throw err;
  }
}

/** The service graph over the last `lookbackMs`: an edge per caller and callee, with its call count. */
export async function jaegerDependencies(lookbackMs = 3_600_000): Promise<JaegerDependency[]> {
  const url = `${URLS.jaeger}/api/dependencies?endTs=${Date.now()}&lookback=${lookbackMs}`;
  return (await getJson<{ data: JaegerDependency[] | null }>('Jaeger', url)).data ?? [];
}
