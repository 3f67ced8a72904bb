// What chapter 20 promises its code emits, one line each in the chapter's words: held against the
// reference stage (a copy of it, run as an exercise, by exercises.test) and by `pnpm check 20` against a learner's exercise.
import { SpanKind, type Lesson, type ReceivedSpan, type StageRun } from '@otel-steps/shared/harness';

const service = (span: ReceivedSpan): string => String(span.resource['service.name']);
/** The trace of the request sent `index`-th: the one its first server span belongs to. */
function traceOf(run: StageRun, index: number): ReceivedSpan[] {
  const from = run.sentAt[index]!;
  const to = run.sentAt[index + 1] ?? BigInt(Number.MAX_SAFE_INTEGER) * 1_000_000n;
  const first = run.receiver.spans.filter((s) => s.kind === SpanKind.SERVER && s.startTimeUnixNano >= from && s.startTimeUnixNano < to).sort((a, b) => Number(a.startTimeUnixNano - b.startTimeUnixNano))[0];
  return first ? run.receiver.spans.filter((s) => s.traceId === first.traceId) : [];
}
const services = (spans: ReceivedSpan[]): string[] => [...new Set(spans.map(service))].sort();

export const lesson: Lesson = {
  stage: 'step-20',
  run: { env: { OTEL_BSP_SCHEDULE_DELAY: '60000' }, requests: [{ path: '/', headers: { 'x-user-tier': 'pro' } }, '/error'] },
  setup: 'src/telemetry.ts of each service: the provider, its exporter and the flush on exit',
  promises: [
    {
      says: '`GET /` is one trace across three services, each with its own `service.name`',
      look: 'src/services.ts and src/app.ts, "What changed since step 19"',
      check: (run) => {
        const found = services(traceOf(run, 0));
        return found.length === 3 ? undefined : `the trace of GET / has the services ${found.join(', ') || '(no trace)'}`;
      },
    },
    {
      says: "at every hop, a `client` span from `fetch` is the parent of the next service's `server` span",
      look: 'src/telemetry.ts, "What changed since step 19": UndiciInstrumentation',
      check: (run) => {
        const trace = traceOf(run, 0);
        const servers = trace.filter((s) => s.kind === SpanKind.SERVER && s.parentSpanId !== '');
        if (servers.length < 2) return `${servers.length} server span(s) with a parent in the trace of GET /`;
        const unlinked = servers.filter((s) => trace.find((p) => p.spanId === s.parentSpanId)?.kind !== SpanKind.CLIENT);
        return unlinked.length === 0 ? undefined : `${unlinked.map((s) => `${service(s)} ${s.name}`).join(', ')}: parent is not a client span`;
      },
    },
    {
      says: "the caller's tier, put in the baggage by the gateway, is recorded as `user.tier` two services down",
      look: 'src/app.ts, "Baggage, and why it leaks"',
      check: (run) => {
        const trace = traceOf(run, 0);
        const tagged = trace.filter((s) => s.attributes['user.tier'] === 'pro');
        return tagged.length > 0 && tagged.every((s) => service(s) !== service(trace.find((t) => t.parentSpanId === '') ?? s)) ? undefined : `user.tier=pro on: ${tagged.map(service).join(', ') || 'no span'}`;
      },
    },
    {
      says: '`GET /error` fails in the deepest service: the exception there, status ERROR on every `server` span of its three services',
      look: 'src/app.ts, "What changed since step 19"',
      check: (run) => {
        const trace = traceOf(run, 1);
        const servers = trace.filter((s) => s.kind === SpanKind.SERVER);
        if (services(trace).length !== 3) return `the trace of GET /error has the services ${services(trace).join(', ') || '(no trace)'}`;
        const ok = servers.filter((s) => s.status.code !== 2);
        return ok.length === 0 && trace.some((s) => s.events.some((e) => e.name === 'exception')) ? undefined : `${ok.map(service).join(', ')} not ERROR, or no exception event`;
      },
    },
  ],
};
