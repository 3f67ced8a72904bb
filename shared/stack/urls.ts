// Where the stack listens, natively and (published on 127.0.0.1) in compose. Kept apart from the
// rest of shared/stack so that the e2e tests and `pnpm traces` import addresses, not a build system.
import waitOn from 'wait-on';

/** Every port the stack listens on, natively and in compose, and what listens there. */
export const STACK_PORTS: Record<number, string> = {
  4317: 'collector OTLP gRPC',
  4318: 'collector OTLP HTTP',
  13133: 'collector health',
  8888: 'collector metrics',
  14317: 'Jaeger OTLP gRPC',
  14318: 'Jaeger OTLP HTTP',
  16686: 'Jaeger UI',
  16685: 'Jaeger gRPC query',
  13134: 'Jaeger health',
  14269: 'Jaeger metrics',
  9411: 'Zipkin',
  9412: 'OTLP->Zipkin bridge',
  9090: 'Prometheus',
  9428: 'VictoriaLogs',
};

export const URLS = {
  otlpGrpc: '127.0.0.1:4317',
  otlpHttp: 'http://127.0.0.1:4318',
  collectorHealth: 'http://127.0.0.1:13133/',
  collectorMetrics: 'http://127.0.0.1:8888/metrics',
  jaeger: 'http://127.0.0.1:16686',
  jaegerHealth: 'http://127.0.0.1:13134/status',
  zipkin: 'http://127.0.0.1:9411',
  zipkinHealth: 'http://127.0.0.1:9411/health',
  prometheus: 'http://127.0.0.1:9090',
  prometheusReady: 'http://127.0.0.1:9090/-/ready',
  victorialogs: 'http://127.0.0.1:9428',
  victorialogsHealth: 'http://127.0.0.1:9428/health',
  /** The logs UI (vmui, embedded in VictoriaLogs). */
  victorialogsUi: 'http://127.0.0.1:9428/select/vmui/',
} as const;
export type StackUrls = typeof URLS;

/** The logs UI filtered to a query, over the last day (the logs are kept one day). */
export function logsUiUrl(logsql: string): string {
  return `${URLS.victorialogsUi}#/?query=${encodeURIComponent(logsql)}&g0.relative_time=last_24_hours`;
}

/**
 * Zipkin's logs-url: the Logs button on its trace page opens the logs UI filtered to that trace's
 * records, Zipkin putting the trace id in place of {traceId}. compose.yaml sets the same
 * (ZIPKIN_UI_LOGS_URL), and collector/jaeger-ui.json the same for Jaeger's UI (#{traceID}).
 */
export const ZIPKIN_LOGS_URL = logsUiUrl('trace_id:="TRACE"').replace('TRACE', '{traceId}');


/** Resolves once every URL answers a GET with 2xx (or, with reverse, once none answers). */
export function waitForUrls(urls: string[], options: { timeout: number; interval?: number; reverse?: boolean }): Promise<void> {
  // GET, not wait-on's default HEAD; proxy: false, or a proxy set in the environment would be asked for 127.0.0.1.
  return waitOn({ resources: urls.map((url) => url.replace(/^http/, 'http-get')), interval: 500, proxy: false, ...options });
}
