// One client per backend, read the way a learner's eyes would: through Jaeger's, Zipkin's,
// Prometheus's and VictoriaLogs' own query APIs. The tools, the chapter walk-through and the e2e
// tests all ask through these.
export { BackendError, eventually, getJson, getText } from './http.ts';
export * from './jaeger.ts';
export * from './zipkin.ts';
export * from './prometheus.ts';
export * from './victorialogs.ts';
export * from './collector.ts';
