// Preloaded before the zero-code bundle, which trusts its environment: a mistyped value would
// send spans elsewhere or nowhere without a word. This file refuses bad OTEL_* values at start,
// and says when exports to the collector fail and recover, by watching the exporter's HTTP
// requests on Node's diagnostics channels. It creates no telemetry and changes none.
import { subscribe } from 'node:diagnostics_channel';
import type { ClientRequest, IncomingMessage } from 'node:http';

const endpoint = new URL(readEnvironment());
// For messages only: never print a password the URL may carry.
const shown = withoutCredentials(endpoint.href);
let failing = false;
let exiting = false;
let flushReported = false;
// Registered before the bundle's own 'beforeExit' flush, so it knows that flush is the last one.
process.once('beforeExit', () => (exiting = true));

function isExport(request: ClientRequest): boolean {
  return request.getHeader('host') === endpoint.host && request.path === endpoint.pathname;
}

function failed(reason: string): void {
  // One line on the way out, however many retries of the last flush fail.
  if (exiting && !flushReported) console.warn(`telemetry: spans not flushed on exit (${reason})`);
  else if (!exiting && !failing) console.warn(`telemetry: cannot export spans to ${shown} (${reason}); they are dropped until it answers`);
  flushReported ||= exiting;
  failing = true;
}

subscribe('http.client.request.error', (message) => {
  const { request, error } = message as { request: ClientRequest; error: Error };
  if (isExport(request)) failed(error.message);
});
subscribe('http.client.response.finish', (message) => {
  const { request, response } = message as { request: ClientRequest; response: IncomingMessage };
  if (!isExport(request)) return;
  const ok = response.statusCode !== undefined && response.statusCode < 300;
  if (!ok) return failed(`HTTP ${response.statusCode}`);
  if (failing) console.warn(`telemetry: exporting spans to ${shown} again`);
  failing = false;
});

/** Refuses bad values of the variables the bundle reads, naming each at once; returns the traces endpoint. */
function readEnvironment(): string {
  const problems: string[] = [];
  const refuse = (name: string, why: string): void => {
    problems.push(`telemetry: ${name}=${JSON.stringify(withoutCredentials(process.env[name] ?? ''))} ${why}`);
  };
  const value = (name: string): string | undefined => process.env[name]?.trim();

  const disabled = value('OTEL_SDK_DISABLED')?.toLowerCase() ?? '';
  if (!['', 'true', 'false'].includes(disabled)) refuse('OTEL_SDK_DISABLED', 'is neither true nor false');

  const exporters = (value('OTEL_TRACES_EXPORTER') || 'otlp').split(',').map((e) => e.trim());
  const unknown = exporters.filter((e) => !['otlp', 'console', 'none'].includes(e));
  if (unknown.length > 0) refuse('OTEL_TRACES_EXPORTER', `names an exporter this stage does not have (${unknown.join(', ')}): use otlp, console, both (otlp,console) or none`);

  // The bundle would quietly fall back to unknown_service:node.
  if (process.env.OTEL_SERVICE_NAME !== undefined && value('OTEL_SERVICE_NAME') === '') refuse('OTEL_SERVICE_NAME', 'is empty: name the service, or unset the variable');

  const scheduleDelay = Number(value('OTEL_BSP_SCHEDULE_DELAY') || 5000);
  if (!Number.isSafeInteger(scheduleDelay) || scheduleDelay < 1) refuse('OTEL_BSP_SCHEDULE_DELAY', 'is not a whole number of milliseconds');

  // The bundle would quietly fall back to http://localhost:4318, someone else's collector maybe.
  const isHttpUrl = (url: string): boolean => URL.canParse(url) && ['http:', 'https:'].includes(new URL(url).protocol);
  const base = value('OTEL_EXPORTER_OTLP_ENDPOINT');
  const full = value('OTEL_EXPORTER_OTLP_TRACES_ENDPOINT');
  for (const [name, url] of [['OTEL_EXPORTER_OTLP_ENDPOINT', base], ['OTEL_EXPORTER_OTLP_TRACES_ENDPOINT', full]] as const) {
    if (url && !isHttpUrl(url)) refuse(name, 'is not an absolute http:// or https:// URL');
  }
  if (base && isHttpUrl(base) && /\/v1\/traces\/?$/.test(new URL(base).pathname)) {
    refuse('OTEL_EXPORTER_OTLP_ENDPOINT', 'ends in /v1/traces, which the exporter adds itself: give the base URL (http://host:4318), or set OTEL_EXPORTER_OTLP_TRACES_ENDPOINT to the full URL');
  }

  if (problems.length > 0) {
    // A value is shown, not obeyed: JSON.stringify escapes its C0 control characters, and this
    // DEL, the C1 ones (U+009B is ESC [ to many terminals) and any in the words around it.
    const escaped = (c: string): string => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`;
    for (const problem of problems) console.error(problem.replace(/[\u0000-\u001f\u007f-\u009f]/g, escaped));
    process.exit(1);
  }
  if (full) return full;
  return base ? `${base.replace(/\/$/, '')}/v1/traces` : 'http://localhost:4318/v1/traces';
}

// user:password@ before the host, with or without a scheme: a mistyped URL may still carry one.
function withoutCredentials(url: string): string {
  return url.replace(/^([a-z][\w+.-]*:\/\/)?[^/@]*@/i, '$1');
}
