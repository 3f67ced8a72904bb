// Zipkin's v2 API (the one its UI reads): traces of a service, one trace.
import type { ZipkinSpan } from '../stack/zipkin-bridge.ts';
import { URLS } from '../stack/urls.ts';
import { getJson } from './http.ts';

export type { ZipkinSpan };

/** `service`'s traces over the last `lookbackMs` (and a minute of clock skew), a list of spans each. */
export async function zipkinTraces(service: string, lookbackMs: number, options: { spanName?: string; limit?: number } = {}): Promise<ZipkinSpan[][]> {
  // encodeURIComponent, not URLSearchParams: a span name's space as %20, never as +.
  const params = {
    serviceName: service,
    spanName: options.spanName,
    endTs: Date.now() + 60_000,
    lookback: Math.round(lookbackMs) + 60_000,
    limit: options.limit ?? 100,
  };
  const query = Object.entries(params).filter(([, value]) => value !== undefined).map(([key, value]) => `${key}=${encodeURIComponent(value!)}`);
  return getJson<ZipkinSpan[][]>('Zipkin', `${URLS.zipkin}/api/v2/traces?${query.join('&')}`);
}

/** One trace's spans; none when Zipkin does not hold it. */
export async function zipkinTrace(traceId: string): Promise<ZipkinSpan[]> {
  try {
    return await getJson<ZipkinSpan[]>('Zipkin', `${URLS.zipkin}/api/v2/trace/${traceId}`);
  } catch (err) {
    if (/HTTP 404/.test((err as Error).message)) return [];
    throw err;
  }
}

/** Zipkin's service graph over the last `lookbackMs`: what its Dependencies page draws. */
export async function zipkinDependencies(lookbackMs = 3_600_000): Promise<{ parent: string; child: string; callCount?: number }[]> {
  return getJson('Zipkin', `${URLS.zipkin}/api/v2/dependencies?endTs=${Date.now()}&lookback=${lookbackMs}`);
}
