// What chapter 18 promises its code emits, one line each in the chapter's words: held against the
// reference stage (a copy of it, run as an exercise, by exercises.test) and by `pnpm check 18` against a learner's exercise.
import type { Lesson, StageRun } from '@otel-steps/shared/harness';

const TELEMETRY = 'src/telemetry.ts, "What changed since step 11": the MeterProvider';
const metric = (run: StageRun, name: string) => run.receiver.metrics.filter((m) => m.name === name);
const names = (run: StageRun): string => {
  const all = [...new Set(run.receiver.metrics.map((m) => m.name))];
  return all.length === 0 ? 'no metrics arrived' : `metrics arrived: ${all.slice(0, 5).join(', ')}${all.length > 5 ? ', ...' : ''}`;
};

export const lesson: Lesson = {
  stage: 'step-18',
  // Readings held for a minute: the metrics arrive through the last reading, sent on Ctrl+C, or never.
  // The two greetings differ (a query, a user agent), so that an attribute taken from the request
  // makes a second series of app.greetings.
  run: { env: { OTEL_METRIC_EXPORT_INTERVAL: '60000' }, requests: ['/', '/error', '/nope', { path: '/?lang=en', headers: { 'user-agent': 'pnpm-check' } }] },
  setup: `${TELEMETRY}, its PeriodicExportingMetricReader and the flush on exit`,
  promises: [
    {
      says: 'the request histogram `http.server.request.duration` (s) arrives, with `http.route` on its points, sent on Ctrl+C at the latest',
      look: `${TELEMETRY} and the HTTP instrumentation`,
      check: (run) => {
        const found = metric(run, 'http.server.request.duration');
        if (found.length === 0) return names(run);
        if (found[0]!.type !== 'histogram' || found[0]!.unit !== 's') return `it is a ${found[0]!.type} in ${found[0]!.unit || 'no unit'}`;
        return found.some((m) => m.dataPoints.some((p) => p.attributes['http.route'] === '/')) ? undefined : 'no point has http.route=/';
      },
    },
    {
      says: 'the business counter `app.greetings` counts each greeting served: 2 for the two `GET /`',
      look: 'src/app.ts, "What changed since step 11": the counter',
      check: (run) => {
        const found = metric(run, 'app.greetings');
        if (found.length === 0) return names(run);
        // The last reading of each series, summed: cumulative, so the last one holds the count.
        const series = new Map(found.flatMap((m) => m.dataPoints.map((p) => [JSON.stringify(p.attributes), p.value ?? 0] as const)));
        const value = [...series.values()].reduce((a, b) => a + b, 0);
        return found[0]!.type === 'sum' && value === 2 ? undefined : `a ${found[0]!.type} whose value is ${value}`;
      },
    },
    {
      says: '`app.greetings` is one time series: no attribute on it that changes with each request (its cardinality stays 1, whatever the traffic)',
      look: 'src/app.ts, the counter\'s add(), and "Cardinality: why GET /nope has no http.route"',
      check: (run) => {
        const found = metric(run, 'app.greetings');
        if (found.length === 0) return names(run);
        const sets = [...new Set(found.flatMap((m) => m.dataPoints.map((p) => JSON.stringify(p.attributes))))];
        if (sets.length <= 1) return undefined;
        const keys = [...new Set(sets.flatMap((set) => Object.keys(JSON.parse(set) as object)))];
        const greetings = run.paths.filter((p) => p === '/' || p.startsWith('/?')).length;
        return (
          `app.greetings has ${sets.length} series for ${greetings} greetings (attributes ${keys.join(', ')}): ` +
          'an attribute that changes per request makes a series per request, an unbounded cardinality the metrics backend stores and pays for; ' +
          'it belongs on the span'
        );
      },
    },
    {
      says: "the runtime's own metrics arrive too: event loop delay and heap (`nodejs.eventloop.*`, `v8js.*`)",
      look: `${TELEMETRY}: RuntimeNodeInstrumentation`,
      check: (run) => {
        const all = run.receiver.metrics.map((m) => m.name);
        return all.some((n) => n.startsWith('nodejs.eventloop.')) && all.some((n) => n.startsWith('v8js.')) ? undefined : names(run);
      },
    },
    {
      says: 'no metric point carries the raw path of a 404 (`/nope`)',
      look: '"Cardinality: why GET /nope has no http.route"',
      extra: true,
      check: (run) => (JSON.stringify(run.receiver.metrics.map((m) => m.dataPoints.map((p) => p.attributes))).includes('/nope') ? 'a point has /nope in an attribute' : undefined),
    },
  ],
};
