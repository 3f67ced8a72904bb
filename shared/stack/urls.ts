// Where the stack listens, natively and (published on 127.0.0.1) in compose. Kept apart from the
// rest of shared/stack so that the e2e tests and `pnpm traces` import addresses, not a build system.
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

