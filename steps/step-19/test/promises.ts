// What chapter 19 promises its code emits, one line each in the chapter's words: held against the
// reference stage (a copy of it, run as an exercise, by exercises.test) and by `pnpm check 19` against a learner's exercise.
import { spansOfRequest, type Lesson, type ReceivedLog, type StageRun } from '@otel-steps/shared/harness';

const TELEMETRY = 'src/telemetry.ts, "What changed since step 18": the LoggerProvider and the pino instrumentation';
const records = (run: StageRun, body: string): ReceivedLog[] => run.receiver.logs.filter((l) => l.body === body);
const bodies = (run: StageRun): string => {
  const all = [...new Set(run.receiver.logs.map((l) => JSON.stringify(l.body)))];
  return all.length === 0 ? 'no log records arrived' : `records arrived: ${all.slice(0, 4).join(', ')}`;
};

export const lesson: Lesson = {
  stage: 'step-19',
  // Batches held for a minute: the records arrive through the flush on Ctrl+C, or never.
  run: { env: { OTEL_BLRP_SCHEDULE_DELAY: '60000' }, requests: ['/', '/error'] },
  setup: `${TELEMETRY}, and the flush on exit`,
  promises: [
    {
      says: "Fastify's log lines arrive as OTLP log records: `incoming request` and `request completed` for each request",
      look: TELEMETRY,
      check: (run) => (records(run, 'incoming request').length === 2 && records(run, 'request completed').length === 2 ? undefined : bodies(run)),
    },
    {
      says: "each of a request's records carries the trace and span ids of that request",
      look: `${TELEMETRY}: the records are emitted in the request's context`,
      check: (run) => {
        const all = [...records(run, 'incoming request'), ...records(run, 'request completed')];
        if (all.length === 0) return bodies(run);
        const traces = new Set([0, 1].flatMap((i) => spansOfRequest(run, i).map((s) => s.traceId)));
        const loose = all.filter((l) => !traces.has(l.traceId));
        return loose.length === 0 ? undefined : `${loose.length} of ${all.length} records carry no trace id of a request (${JSON.stringify(loose[0]!.traceId)})`;
      },
    },
    {
      says: 'the failure is a record of severity `error`, with `exception.type` and `exception.message`',
      look: TELEMETRY,
      check: (run) => {
        const error = records(run, 'Something went wrong on purpose')[0];
        if (!error) return bodies(run);
        if (error.severityText.toLowerCase() !== 'error') return `its severity is ${error.severityText}`;
        return error.attributes['exception.type'] === 'Error' && error.attributes['exception.message'] === 'Something went wrong on purpose' ? undefined : `its attributes are ${Object.keys(error.attributes).join(', ')}`;
      },
    },
    {
      says: 'record attributes named as the conventions name them (`http.request.method`, `url.path`), no `reqId`',
      look: '"Log attributes in the conventions\' words"',
      extra: true,
      check: (run) => {
        const incoming = records(run, 'incoming request')[0];
        return incoming?.attributes['http.request.method'] === 'GET' && incoming.attributes['url.path'] === '/' && !('reqId' in incoming.attributes) ? undefined : `attributes: ${Object.keys(incoming?.attributes ?? {}).join(', ')}`;
      },
    },
  ],
};
