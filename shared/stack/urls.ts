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
  loki: 'http://127.0.0.1:3100',
  lokiReady: 'http://127.0.0.1:3100/ready',
} as const;
export type StackUrls = typeof URLS;

