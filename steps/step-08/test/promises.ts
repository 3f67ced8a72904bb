// What chapter 8 promises its code emits, one line each in the chapter's words: held against the
// reference stage (a copy of it, run as an exercise, by exercises.test) and by `pnpm check 08` against a learner's exercise.
import { arrived, named, SpanKind, spansOfRequest, type Lesson } from '@otel-steps/shared/harness';

const APP = 'src/app.ts, "What changed since step 6"';
const TELEMETRY = 'src/telemetry.ts, "What changed since step 6"';

export const lesson: Lesson = {
  stage: 'step-08',
  // Batches held for a minute: the spans reach the receiver through the flush on Ctrl+C, or never,
  // unless each is sent on its own as it ends, or the batch's delay is not the variable's (200 ms
  // written down, or the SDK's own 5 s when nothing passes the variable on: the 6 s before Ctrl+C
  // show it), which the promise on batches tells apart.
  run: { env: { OTEL_BSP_SCHEDULE_DELAY: '60000' }, requests: ['/', '/error', '/healthz'], during: () => new Promise((resolve) => setTimeout(resolve, 6_000)) },
  setup: `${TELEMETRY}: the provider, its BatchSpanProcessor({ exporter }) and the flush on exit`,
  promises: [
    {
      says: 'a span named `hello` for `GET /`, of kind internal (the app\'s own work, not the HTTP server\'s)',
      look: APP,
      check: (run) => {
        const hello = spansOfRequest(run, 0).find((s) => s.name === 'hello');
        if (!hello) return `for GET /: ${arrived(run)}`;
        return hello.kind === SpanKind.INTERNAL ? undefined : `hello is of kind ${Object.keys(SpanKind).find((k) => SpanKind[k as keyof typeof SpanKind] === hello.kind)?.toLowerCase()}`;
      },
    },
    {
      says: 'a span named `fail` for `GET /error`, with status ERROR and an `exception` event',
      look: `${APP}: recordException and setStatus`,
      check: (run) => {
        const fail = named(run, 'fail')[0];
        if (!fail) return `no span named fail; ${arrived(run)}`;
        if (fail.status.code !== 2) return `fail has status ${['UNSET', 'OK', 'ERROR'][fail.status.code]}, not ERROR`;
        return fail.events.some((e) => e.name === 'exception') ? undefined : `fail has the events [${fail.events.map((e) => e.name).join(', ')}], no exception`;
      },
    },
    {
      says: "the `exception` event is the error itself, as `span.recordException` writes it: `exception.type`, `exception.message`, `exception.stacktrace`",
      look: `${APP}: recordException, not addEvent('exception')`,
      check: (run) => {
        const fail = named(run, 'fail')[0];
        if (!fail) return `no span named fail; ${arrived(run)}`;
        const event = fail.events.find((e) => e.name === 'exception');
        if (!event) return 'fail has no exception event';
        const missing = ['exception.type', 'exception.message', 'exception.stacktrace'].filter((key) => !event.attributes[key]);
        if (missing.length === 0) return undefined;
        return `the exception event has no ${missing.join(', ')}: an event named exception by hand is not the error recorded`;
      },
    },
    {
      says: 'each request is a trace of its own: `hello` and `fail` have no parent',
      look: APP,
      check: (run) => {
        const spans = [...named(run, 'hello'), ...named(run, 'fail')];
        const children = spans.filter((s) => s.parentSpanId !== '');
        return spans.length > 0 && children.length === 0 ? undefined : spans.length === 0 ? arrived(run) : `${children.map((s) => s.name).join(', ')} has a parent`;
      },
    },
    {
      says: 'the spans name their service in the resource: `service.name` is `step-08-manual`, as the chapter sets it',
      look: `${TELEMETRY}: the resource`,
      check: (run) => {
        const names = [...new Set(run.receiver.spans.map((s) => String(s.resource['service.name'])))];
        if (names.length === 0) return arrived(run);
        return names.length === 1 && names[0] === 'step-08-manual' ? undefined : `service.name is ${names.join(', ')}`;
      },
    },
    {
      says: '`GET /healthz` makes no span (health checks would bury real traffic), while `GET /` does',
      look: `${APP}: the healthz route`,
      check: (run) => {
        if (spansOfRequest(run, 0).length === 0) return `for GET /: ${arrived(run)}, so nothing shows that /healthz makes none`;
        const made = spansOfRequest(run, 2);
        return made.length === 0 ? undefined : `GET /healthz made ${made.map((s) => s.name).join(', ')}`;
      },
    },
    {
      says: 'no span is lost on Ctrl+C: what the batch holds is flushed on the way out, and the app exits 0',
      look: `${TELEMETRY}: shutting the provider down`,
      check: (run) => {
        if (run.exit.code !== 0) return `the app exited with code ${run.exit.code} on Ctrl+C`;
        const missing = ['hello', 'fail'].filter((name) => named(run, name).length === 0);
        return missing.length === 0 ? undefined : `after Ctrl+C, no ${missing.join(' and no ')} span arrived (${arrived(run)})`;
      },
    },
    {
      says: 'the spans leave in batches: held for OTEL_BSP_SCHEDULE_DELAY (a minute here), `hello` and `fail` go together, in one export, on Ctrl+C',
      look: `${TELEMETRY}: the BatchSpanProcessor, its scheduledDelayMillis from OTEL_BSP_SCHEDULE_DELAY`,
      check: (run) => {
        const [hello, fail] = [named(run, 'hello')[0], named(run, 'fail')[0]];
        if (!hello || !fail) return `no ${hello ? 'fail' : 'hello'} span: ${arrived(run)}`;
        const exports = run.receiver.requests;
        const [first, second] = [hello, fail].map((span) => exports.findIndex((e) => e.spanIds.includes(span.spanId)));
        if (first !== second) return 'hello and fail came in exports of their own: each span sent as it ends (a SimpleSpanProcessor), not in a batch';
        if (first! < (run.exportsBeforeStop ?? 0)) {
          const delay = 'although OTEL_BSP_SCHEDULE_DELAY=60000 holds a batch for a minute';
          return `hello and fail were sent before Ctrl+C, ${delay}: the batch's delay does not come from the variable (the SDK's own is 5 s)`;
        }
        return undefined;
      },
    },
    {
      says: '`hello` records the event `greeting.built`',
      look: `${APP}: addEvent`,
      extra: true,
      check: (run) => (named(run, 'hello')[0]?.events.some((e) => e.name === 'greeting.built') ? undefined : 'no greeting.built event on hello'),
    },
    {
      says: 'every span is also printed on the console',
      look: `${TELEMETRY}: the console exporter`,
      extra: true,
      check: (run) => (/name: 'hello'/.test(run.exit.output) ? undefined : 'no span printed on the console'),
    },
  ],
};
