// The standard OTEL_* variables every OpenTelemetry SDK honours. SDK 3's providers read none of
// them, so this stage does, and refuses a bad value instead of guessing. The start script preloads
// this file on its own, before telemetry.ts: a mistyped variable stops the stage before the SDK
// loads, and every variable that is wrong is named at once, a line each.
const problems: string[] = [];
const refuse = (name: string, why: string): void => {
  problems.push(`telemetry: ${name}=${JSON.stringify(withoutCredentials(process.env[name] ?? ''))} ${why}`);
};
const value = (name: string): string | undefined => process.env[name]?.trim();

const disabled = value('OTEL_SDK_DISABLED')?.toLowerCase() ?? '';
if (!['', 'true', 'false'].includes(disabled)) refuse('OTEL_SDK_DISABLED', 'is neither true nor false');

function exportersOf(name: string, byDefault: string): string[] {
  const list = (value(name) || byDefault).split(',').map((e) => e.trim());
  const unknown = list.filter((e) => !['otlp', 'console', 'none'].includes(e));
  if (unknown.length > 0) refuse(name, `names an exporter this stage does not have (${unknown.join(', ')}): use otlp, console, both (otlp,console) or none`);
  return list.includes('none') ? [] : list;
}
// Spans go to the terminal as well as to the collector; metrics, a screenful every few seconds,
// only to the collector unless OTEL_METRICS_EXPORTER=otlp,console asks for them here too.
const exporters = exportersOf('OTEL_TRACES_EXPORTER', 'otlp,console');
const metricExporters = exportersOf('OTEL_METRICS_EXPORTER', 'otlp');

if (process.env.OTEL_SERVICE_NAME !== undefined && value('OTEL_SERVICE_NAME') === '') refuse('OTEL_SERVICE_NAME', 'is empty: name the service, or unset the variable');

function milliseconds(name: string, byDefault: number): number {
  const ms = Number(value(name) || byDefault);
  if (!Number.isSafeInteger(ms) || ms < 1) refuse(name, 'is not a whole number of milliseconds');
  return ms;
}
const scheduleDelay = milliseconds('OTEL_BSP_SCHEDULE_DELAY', 200);
const metricInterval = milliseconds('OTEL_METRIC_EXPORT_INTERVAL', 1000);

// A mistyped endpoint must not send telemetry somewhere else without a word.
const SIGNALS = ['traces', 'metrics'];
const isHttpUrl = (url: string): boolean => URL.canParse(url) && ['http:', 'https:'].includes(new URL(url).protocol);
for (const name of ['OTEL_EXPORTER_OTLP_ENDPOINT', ...SIGNALS.map((signal) => `OTEL_EXPORTER_OTLP_${signal.toUpperCase()}_ENDPOINT`)]) {
  const url = value(name);
  if (url && !isHttpUrl(url)) refuse(name, 'is not an absolute http:// or https:// URL');
}
const base = value('OTEL_EXPORTER_OTLP_ENDPOINT');
const signalPath = base && isHttpUrl(base) ? SIGNALS.find((signal) => new URL(base).pathname.replace(/\/$/, '').endsWith(`/v1/${signal}`)) : undefined;
if (signalPath) {
  const full = `OTEL_EXPORTER_OTLP_${signalPath.toUpperCase()}_ENDPOINT`;
  refuse('OTEL_EXPORTER_OTLP_ENDPOINT', `ends in /v1/${signalPath}, which the exporter adds itself: give the base URL (http://host:4318), or set ${full} to the full URL`);
}

if (problems.length > 0) {
  // A value is shown, not obeyed: JSON.stringify escapes its C0 control characters, and this
  // DEL, the C1 ones (U+009B is ESC [ to many terminals) and any in the words around it.
  for (const problem of problems) console.error(problem.replace(/[\u0000-\u001f\u007f-\u009f]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`));
  process.exit(1);
}

// Only messages use them (the exporters read the variables themselves): never print a URL's password.
const endpointOf = (signal: string): string =>
  withoutCredentials(value(`OTEL_EXPORTER_OTLP_${signal.toUpperCase()}_ENDPOINT`) || `${(base || 'http://localhost:4318').replace(/\/$/, '')}/v1/${signal}`);
const endpoints = { traces: endpointOf('traces'), metrics: endpointOf('metrics') };
export const env = { disabled: disabled === 'true', exporters, metricExporters, endpoints, scheduleDelay, metricInterval };

// user:password@ before the host, with or without a scheme: a mistyped URL may still carry one.
function withoutCredentials(url: string): string {
  return url.replace(/^([a-z][\w+.-]*:\/\/)?[^/@]*@/i, '$1');
}
