// What chapter 11 promises its code emits, one line each in the chapter's words: held against the
// reference stage (a copy of it, run as an exercise, by exercises.test) and by `pnpm check 11` against a learner's exercise.
import { arrived, named, spansOfRequest, SpanKind, type Lesson, type ReceivedSpan, type StageRun } from '@otel-steps/shared/harness';

const TELEMETRY = 'src/telemetry.ts, "What changed since step 8": the instrumentations';
// A token's value, sent in the query: masked in url.query, it arrives nowhere.
const SECRET = 'tok-CHECK-11';
// Secrets after another parameter, a password too, in capitals: a mask of the query's start alone, or of token alone, misses them.
const MIDDLE = `/?lang=en&TOKEN=${SECRET}&PassWord=${SECRET}&a=1`;
const server = (run: StageRun, index: number): ReceivedSpan | undefined => spansOfRequest(run, index).find((s) => s.kind === SpanKind.SERVER);

export const lesson: Lesson = {
  stage: 'step-11',
  run: {
    env: { OTEL_BSP_SCHEDULE_DELAY: '60000' },
    requests: ['/', '/error', '/nope', '/healthz', `/?token=${SECRET}&lang=en`, `/?Token=${SECRET}&lang=en`, MIDDLE],
  },
  setup: `${TELEMETRY} and the provider, exporter and flush kept from step 8`,
  promises: [
    {
      says: 'a `server` span named `GET /` for `GET /`, from `@opentelemetry/instrumentation-http`',
      look: TELEMETRY,
      check: (run) => {
        const span = server(run, 0);
        if (!span) return `for GET /: no server span; ${arrived(run)}`;
        if (span.name !== 'GET /') return `the server span is named ${span.name}`;
        return span.scope.name === '@opentelemetry/instrumentation-http' ? undefined : `it comes from ${span.scope.name}`;
      },
    },
    {
      says: "under it, Fastify's `request` span and the route's `handler - hello`, from `@fastify/otel`",
      look: `${TELEMETRY}: FastifyOtelInstrumentation`,
      check: (run) => {
        const spans = spansOfRequest(run, 0);
        const root = server(run, 0);
        const request = spans.find((s) => s.name === 'request' && s.parentSpanId === root?.spanId);
        const handler = spans.find((s) => s.name === 'handler - hello' && s.parentSpanId === request?.spanId);
        return request && handler ? undefined : `for GET /: ${spans.map((s) => s.name).join(', ') || 'no spans'}`;
      },
    },
    {
      says: 'the server span of `GET /error` has status ERROR and `http.response.status_code` 500',
      look: TELEMETRY,
      check: (run) => {
        const span = server(run, 1);
        if (!span) return `for GET /error: no server span; ${arrived(run)}`;
        return span.status.code === 2 && span.attributes['http.response.status_code'] === 500 ? undefined : `status ${span.status.code}, http.response.status_code ${span.attributes['http.response.status_code']}`;
      },
    },
    {
      says: 'the server span names the route (`http.route=/`), and a 404 (`GET /nope`) has a server span without one',
      look: TELEMETRY,
      check: (run) => {
        const [ok, missing] = [server(run, 0), server(run, 2)];
        if (!ok || !missing) return `no server span for ${!ok ? 'GET /' : 'GET /nope'}`;
        if (ok.attributes['http.route'] !== '/') return `GET /: http.route is ${ok.attributes['http.route']}`;
        return missing.attributes['http.route'] === undefined ? undefined : `GET /nope: http.route is ${missing.attributes['http.route']}`;
      },
    },
    {
      says: "`src/app.ts` is step 6's again: step 8's hand-made `hello` and `fail` spans are gone, the instrumentations make the spans now",
      look: 'src/app.ts, "What changed since step 8": no tracer, no hand-written spans',
      check: (run) => {
        if (run.receiver.spans.length === 0) return arrived(run);
        const left = ['hello', 'fail'].filter((name) => named(run, name).length > 0);
        return left.length === 0 ? undefined : `step 8's ${left.join(' and ')} span${left.length > 1 ? 's' : ''} still arrive${left.length > 1 ? '' : 's'}`;
      },
    },
    {
      says: 'the spans name their service `step-11-contrib` in the resource (`service.name`), as the chapter renames it',
      look: 'src/telemetry.ts, "What changed since step 8": the resource',
      check: (run) => {
        const names = [...new Set(run.receiver.spans.map((s) => String(s.resource['service.name'])))];
        if (names.length === 0) return arrived(run);
        return names.length === 1 && names[0] === 'step-11-contrib' ? undefined : `service.name is ${names.join(', ')}`;
      },
    },
    {
      says: '`/healthz` makes no span',
      look: TELEMETRY,
      extra: true,
      check: (run) => (spansOfRequest(run, 3).length === 0 ? undefined : `GET /healthz made ${spansOfRequest(run, 3).length} spans`),
    },
    {
      says:
        'a token in the query is masked in `url.query`, in any capitals (`?token=abc&lang=en` is `token=REDACTED&lang=en`, `?Token=` too), ' +
        'wherever it is in the query, and so is a password; and it arrives nowhere else',
      look: `${TELEMETRY}: maskedQuery, from startIncomingSpanHook, and the requestHook that keeps url.path a path`,
      check: (run) => {
        const [lower, upper, middle] = [server(run, 4), server(run, 5), server(run, 6)];
        if (!lower || !upper || !middle) return `no server span for GET ${!lower ? '/?token=' : !upper ? '/?Token=' : MIDDLE}...; ${arrived(run)}`;
        const [low, up] = [lower, upper].map((span) => span.attributes['url.query']);
        if (low !== 'token=REDACTED&lang=en') return `for GET /?token=${SECRET}&lang=en, url.query is ${low}`;
        if (up !== 'Token=REDACTED&lang=en') return `for GET /?Token=${SECRET}&lang=en, url.query is ${up}: names compared as written, not in any capitals`;
        const mid = middle.attributes['url.query'];
        if (mid !== 'lang=en&TOKEN=REDACTED&PassWord=REDACTED&a=1') {
          return `for GET ${MIDDLE}, url.query is ${mid}: every secret's value, wherever it is in the query`;
        }
        const where = run.receiver.spans.flatMap((span) =>
          Object.entries(span.attributes).flatMap(([key, value]) => (JSON.stringify(value).includes(SECRET) ? [`${span.name}'s ${key}`] : [])),
        );
        if (where.length > 0) return `the token's value arrives in ${[...new Set(where)].join(', ')}`;
        return run.leaked([SECRET]).length === 0 ? undefined : "the token's value is on the console";
      },
    },
  ],
};
