// Zipkin's v2 API (the one its UI reads): traces of a service, one trace.
import type { ZipkinSpan } from '../stack/zipkin-bridge.ts';
import { URLS } from '../stack/urls.ts';
import { getJson } from './http.ts';

export type { ZipkinSpan };

/** `service`'s traces over the last `lookbackMs` (and a minute of clock skew), a list of spans each. */
export async function zipkinTraces(service: string, lookbackMs: number, options: { spanName?: string; limit?: number } = {}): Promise<ZipkinSpan[][]> {
  const params = new URLSearchParams({ serviceName: service, endTs: String(Date.now() + 60_000), lookback: String(Math.round(lookbackMs) + 60_000) });
  if (options.spanName) params.set('spanName', options.spanName);
  params.set('limit', String(options.limit ?? 100));
  return getJson<ZipkinSpan[][]>('Zipkin', `${URLS.zipkin}/api/v2/traces?${params}`);
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
