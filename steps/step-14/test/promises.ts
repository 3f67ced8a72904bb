// What chapter 14 promises its code emits, one line each in the chapter's words: held against the
// reference stage (a copy of it, run as an exercise, by exercises.test) and by `pnpm check 14` against a learner's exercise.
import { arrived, spansOfRequest, SpanKind, type Lesson, type ReceivedSpan, type StageRun } from '@otel-steps/shared/harness';

const START = 'package.json\'s start script and otel.env, "What changed since step 6"';
const server = (run: StageRun, index: number): ReceivedSpan | undefined => spansOfRequest(run, index).find((s) => s.kind === SpanKind.SERVER);

export const lesson: Lesson = {
  stage: 'step-14',
  run: { env: { OTEL_BSP_SCHEDULE_DELAY: '60000' }, requests: ['/', '/error', '/nope'] },
  setup: START,
  promises: [
    {
      says: 'with no tracing code in the app, a `server` span for each request, from the auto-instrumentations',
      look: START,
      check: (run) => {
        const missing = [0, 1, 2].filter((i) => !server(run, i)).map((i) => run.paths[i]);
        if (missing.length > 0) return `no server span for ${missing.join(', ')}; ${arrived(run)}`;
        return server(run, 0)!.scope.name === '@opentelemetry/instrumentation-http' ? undefined : `the server span comes from ${server(run, 0)!.scope.name}`;
      },
    },
    {
      says: 'the server span of `GET /error` has status ERROR and `http.response.status_code` 500',
      look: START,
      check: (run) => {
        const span = server(run, 1);
        if (!span) return `for GET /error: ${arrived(run)}`;
        return span.status.code === 2 && span.attributes['http.response.status_code'] === 500 ? undefined : `status ${span.status.code}, http.response.status_code ${span.attributes['http.response.status_code']}`;
      },
    },
    {
      says: 'the service is named by `OTEL_SERVICE_NAME`, not unknown_service',
      look: `otel.env, "What changed since step 6"`,
      check: (run) => {
        const names = [...new Set(run.receiver.spans.map((s) => String(s.resource['service.name'])))];
        if (names.length === 0) return arrived(run);
        return names.some((n) => n.startsWith('unknown_service')) ? `service.name is ${names.join(', ')}` : undefined;
      },
    },
    {
      says: 'no span is lost on Ctrl+C, and the app exits 0',
      look: START,
      check: (run) => (run.exit.code === 0 && [0, 1, 2].every((i) => server(run, i)) ? undefined : `exit code ${run.exit.code}; ${arrived(run)}`),
    },
  ],
};
