// The scenarios of `pnpm incident` (step 22's faults: service, cause, the signal that shows each),
// the flag file they are switched in, and how an answer's evidence is judged; incident.ts is the
// command line around them.
import { join, resolve } from 'node:path';
import { randomInt } from 'node:crypto';
import { isErrorSpan, serviceOf, tag } from '../backends/index.ts';
import type { JaegerSpan, JaegerTrace, LogRecord } from '../backends/index.ts';
import { REPO_ROOT } from '../repo.ts';

export const STAGE_DIR = join(REPO_ROOT, 'steps', 'step-22');
/** The committed flag file, every fault off: the template every write starts from. */
export const TEMPLATE = join(STAGE_DIR, 'flags.json');

export const SERVICES = ['gateway', 'greeter', 'words'] as const;
export type Service = (typeof SERVICES)[number];

/** What a learner may say went wrong: `--help` lists them, each with what it means. */
export const CAUSES = {
  latency: 'some requests take far longer than the rest',
  errors: 'requests fail, for some callers and not others',
  'broken-propagation': 'a call loses its trace context: one request becomes two traces',
  'blocked-event-loop': 'synchronous work blocks the process, and every request waits behind it',
  'memory-leak': 'memory grows with every request and is never given back',
  'retry-storm': 'one request makes many more calls downstream than it needs',
  'swallowed-error': 'a failure is hidden: the answer is 200, and only a log record says so',
} as const;
export type Cause = keyof typeof CAUSES;

export type Signal = 'traces' | 'metrics' | 'logs';

export interface Scenario {
  /** The flag in flags.json. */
  name: string;
  service: Service;
  cause: Cause;
  /** Where the chapter finds it, and so what evidence `answer` asks for. */
  signal: Signal;
  /** For an instructor to give (reveal prints it): where to look, without the answer. */
  hint: string;
  /** For a traces scenario: undefined when `span` shows the fault, or why it does not; `sinceMs`: when the incident started (epoch ms). */
  shows?: (span: JaegerSpan, trace: JaegerTrace, sinceMs: number) => string | undefined;
  /** For a metrics scenario: the metric names that show it, and the PromQL whose answer is its value for the service now. */
  metric?: { names: RegExp; query: (service: string) => string; over: number; unit: string; what: string };
}

const ms = (span: JaegerSpan): number => Math.round(span.duration / 1000);
const routeOf = (span: JaegerSpan): string => String(tag(span, 'http.route') ?? tag(span, 'url.path') ?? '');
const isServer = (span: JaegerSpan): boolean => tag(span, 'span.kind') === 'server';
const parentOf = (span: JaegerSpan): string | undefined => span.references.find((r) => r.refType === 'CHILD_OF')?.spanID;

/** The server span of the request `span` is part of, in the same service: itself, or the nearest such ancestor. */
function serverOf(trace: JaegerTrace, span: JaegerSpan): JaegerSpan | undefined {
  const byId = new Map(trace.spans.map((s) => [s.spanID, s]));
  const service = serviceOf(trace, span);
  // At most one step per span: a trace made by hand may hold a loop of parents.
  for (let at: JaegerSpan | undefined = span, steps = 0; at && steps <= trace.spans.length; at = byId.get(parentOf(at) ?? ''), steps++) {
    if (serviceOf(trace, at) !== service) return undefined;
    if (isServer(at)) return at;
  }
  return undefined;
}

/** Every span below `root` in its trace, by parent: its children, theirs, and so on, each once (a loop of parents ends). */
function under(trace: JaegerTrace, root: JaegerSpan): JaegerSpan[] {
  const children = new Map<string, JaegerSpan[]>();
  for (const s of trace.spans) {
    const siblings = children.get(parentOf(s) ?? '') ?? [];
    children.set(parentOf(s) ?? '', siblings);
    siblings.push(s);
  }
  const seen = new Set([root.spanID]);
  const below: JaegerSpan[] = [];
  for (let i = -1; i < below.length; i++) {
    for (const child of children.get(i < 0 ? root.spanID : below[i]!.spanID) ?? []) {
      if (seen.has(child.spanID)) continue;
      seen.add(child.spanID);
      below.push(child);
    }
  }
  return below;
}

export const SCENARIOS: Scenario[] = [
  {
    name: 'slow-words',
    service: 'words',
    cause: 'latency',
    signal: 'traces',
    hint: 'the latency alert, then a slow trace from its exemplar: which span takes the time itself, rather than waiting for a child?',
    shows: (span) => (span.duration >= 1_000_000 ? undefined : `${span.operationName} took ${ms(span)} ms, as fast as usual`),
  },
  {
    name: 'tier-errors',
    service: 'greeter',
    cause: 'errors',
    signal: 'traces',
    hint:
      'the error-ratio alert, then the failing traces (pnpm traces step-22-gateway --errors): ' +
      'where does the first error start, and what do the failing requests share?',
    shows: (span) => {
      if (!isErrorSpan(span)) return `${span.operationName} did not fail`;
      // GET /error fails on purpose, in every stage: not this incident.
      if (routeOf(span) === '/error') return `${span.operationName} is the tutorial's GET /error, which always fails, not the incident`;
      return undefined;
    },
  },
  {
    name: 'lost-context',
    service: 'greeter',
    cause: 'broken-propagation',
    signal: 'traces',
    hint: "Zipkin's Dependencies page, and the traces of each service: does every request still reach the end of one trace?",
    // The broken hop as greeter records it: its GET /greeting answered, and no call to words below
    // it in its trace (greeter's call is made outside the trace context, so it has no span, and
    // words' side of it starts a trace of its own). Words' orphan span is no evidence: a request
    // sent to words by hand, whatever its user agent, looks just the same.
    shows: (span, trace, sinceMs) => {
      const server = serverOf(trace, span);
      if (!server || serviceOf(trace, server) !== 'step-22-greeter' || routeOf(server) !== '/greeting') {
        return `${span.operationName} is not part of greeter's GET /greeting`;
      }
      if (server.startTime / 1000 < sinceMs) return `greeter's GET /greeting of span ${span.spanID} started before this incident`;
      if (isErrorSpan(server)) return "greeter's GET /greeting failed: it was not answered";
      const below = under(trace, server);
      const calls = below.filter((s) => tag(s, 'span.kind') === 'client' || serviceOf(trace, s) === 'step-22-words');
      return calls.length === 0 ? undefined : "greeter's call to words is in the same trace: its trace context went with it";
    },
  },
  {
    name: 'blocked-loop',
    service: 'words',
    cause: 'blocked-event-loop',
    signal: 'metrics',
    hint: 'the runtime metrics of each process: nodejs_eventloop_delay_p90_seconds, by job (the max is noisier)',
    metric: {
      names: /^nodejs[._]eventloop[._]delay[._](?:max|p90|p99)(?:_seconds)?$/,
      // The longest stall of the last two minutes: 200 ms and more with the fault, tens of ms without.
      query: (service) => `max_over_time(nodejs_eventloop_delay_max_seconds{job="step-22-${service}"}[2m])`,
      over: 0.15,
      unit: ' s',
      what: 'its longest event-loop stall over the last 2 min',
    },
  },
  {
    name: 'leaky-cache',
    service: 'gateway',
    cause: 'memory-leak',
    signal: 'metrics',
    hint: 'the runtime metrics of each process: v8js_memory_heap_used_bytes, by job, over the last minutes',
    metric: {
      names: /^v8js[._]memory[._]heap[._]used(?:_bytes)?$/,
      // Growth, not size: the heap now above the lowest of the last ten minutes (now, not a
      // subquery's maximum, whose steps end up to 15 s before the newest sample).
      query: (service) => {
        const heap = `sum(v8js_memory_heap_used_bytes{job="step-22-${service}"})`;
        return `${heap} - min_over_time(${heap}[10m:15s])`;
      },
      over: 32 * 1024 * 1024,
      unit: ' bytes',
      what: 'how much its heap grew in the last 10 min',
    },
  },
  {
    name: 'retry-storm',
    service: 'gateway',
    cause: 'retry-storm',
    signal: 'traces',
    hint: 'the span count of one trace: how many calls does one request make, and from where?',
    shows: (span, trace, sinceMs) => {
      // The calls that one request made: the gateway's client spans below the gateway's server span
      // of that request, since the incident started, each answered by a greeter server span. A
      // request sent to greeter by hand, naming the trace (and even one of its spans) in its
      // traceparent, adds a greeter span but no call of the gateway's.
      const server = serverOf(trace, span);
      if (!server || serviceOf(trace, server) !== 'step-22-gateway') return `${span.operationName} is not part of a request the gateway served`;
      const answered = new Set(trace.spans.filter((s) => isServer(s) && serviceOf(trace, s) === 'step-22-greeter').map(parentOf));
      const calls = under(trace, server).filter(
        // serverOf: the call's own request is this one, not a request nested below it by hand.
        (s) =>
          serviceOf(trace, s) === 'step-22-gateway' &&
          tag(s, 'span.kind') === 'client' &&
          serverOf(trace, s) === server &&
          s.startTime / 1000 >= sinceMs &&
          answered.has(s.spanID),
      ).length;
      return calls > 1 ? undefined : `its request calls greeter ${calls === 1 ? 'once' : `${calls} times`}, as every request does`;
    },
  },
  {
    name: 'silent-fallback',
    service: 'words',
    cause: 'swallowed-error',
    signal: 'logs',
    hint: 'every span is fine and every answer a 200: read the logs of each service, warn and above (pnpm logs step-22-words, ...)',
  },
];

export const NAMES = SCENARIOS.map((s) => s.name);
export const CAUSE_NAMES = Object.keys(CAUSES) as Cause[];

/** The flag file the stage reads: FLAGS_FILE, relative to the stage's folder as the stage reads it, or flags.local.json there. */
export function flagFile(env: NodeJS.ProcessEnv = process.env): string {
  return env.FLAGS_FILE ? resolve(STAGE_DIR, env.FLAGS_FILE) : join(STAGE_DIR, 'flags.local.json');
}

export interface FlagFile {
  flags: Record<string, { state?: string; variants?: Record<string, unknown>; defaultVariant?: string }>;
}

/** `template` with the faults `on` switched on and every other one off; the template itself when that changes nothing. */
export function flagsWith(template: string, on: string[]): string {
  const parsed = JSON.parse(template) as FlagFile;
  if (Object.entries(parsed.flags).every(([name, flag]) => (flag.defaultVariant === 'on') === on.includes(name))) return template;
  for (const [name, flag] of Object.entries(parsed.flags)) flag.defaultVariant = on.includes(name) ? 'on' : 'off';
  return `${JSON.stringify(parsed, null, 2)}\n`;
}

/** The scenarios a flag file switches on. */
export function runningIn(text: string): Scenario[] {
  const { flags } = JSON.parse(text) as FlagFile;
  return SCENARIOS.filter((s) => {
    const flag = flags?.[s.name];
    return flag !== undefined && flag.state !== 'DISABLED' && flag.variants?.[flag.defaultVariant ?? ''] === true;
  });
}

/** The chapter's worked example: played with its name, so never one that --random picks. */
export const WORKED_EXAMPLE = 'slow-words';
const UNSEEN = SCENARIOS.filter((s) => s.name !== WORKED_EXAMPLE);

/** The scenario `--random` starts, any but the worked example: from `seed`, the same one on every machine. */
export function pick(seed?: number): Scenario {
  if (seed === undefined) return UNSEEN[randomInt(UNSEEN.length)]!;
  // mulberry32: a few lines, and the same sequence on every platform.
  let t = (seed + 0x6d2b79f5) | 0;
  t = Math.imul(t ^ (t >>> 15), t | 1);
  t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
  const unit = ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  return UNSEEN[Math.floor(unit * UNSEEN.length)]!;
}

export interface Verdict {
  ok: boolean;
  line: string;
}
export const right = (line: string): Verdict => ({ ok: true, line: `✓ ${line}` });
export const wrong = (line: string, hint?: string): Verdict => ({ ok: false, line: `✗ ${line}${hint ? `\n  hint: ${hint}` : ''}` });
const over = (scenario: Scenario): string => `The incident was ${scenario.name}; pnpm incident stop ends it.`;
export const clock = (msSinceEpoch: number): string => `${new Date(msSinceEpoch).toISOString().slice(11, 19)} UTC`;
// A request that began a moment before the flag file changed may already see the fault.
const SLACK_MS = 1_000;

/** The service and cause, held to the running scenarios: the scenario they name, or the ✗ line. */
export function diagnose(running: Scenario[], service: Service, cause: Cause): Scenario | Verdict {
  const found = running.find((s) => s.service === service && s.cause === cause);
  return found ?? notConfirmed(service, cause);
}

// One answer for every way an answer can be wrong: a line that said "right service" or named the
// service the evidence should come from would let a learner find the fault by asking, not by looking.
const GENERAL_HINT = "start from what fires on Prometheus's Alerts page, or from what looks wrong in one signal, and follow it: metric, exemplar, trace, logs";
export const NOT_CONFIRMED = 'not confirmed: either that is not the running fault, or the evidence does not show it';
const notConfirmed = (service: string, cause: string, facts?: string): Verdict =>
  wrong(`${service}, ${cause}: ${NOT_CONFIRMED}${facts ? `\n  the evidence: ${facts}` : ''}`, GENERAL_HINT);

// A warning, and only that: an error record (GET /error's) is a failure that was not swallowed.
const isWarning = (r: LogRecord): boolean => {
  const level = Number(r.severity_number ?? 0);
  return level >= 13 && level <= 16 ? true : level === 0 && /^warn(ing)?$/i.test(r.severity_text ?? '');
};

/** What a span and its log records are, said the same way whatever the running fault. */
export interface SpanEvidence {
  /** The trace as Jaeger has it (undefined: Jaeger has no such trace). */
  trace: JaegerTrace | undefined;
  spanId: string;
  /** The log records written in that span. */
  records: LogRecord[];
}

/**
 * A span (or the log records written in it) as the evidence for a diagnosis: `found` is the
 * running scenario that the service and cause name, if any. In the trace, from this incident, in
 * that service, and showing that fault; every other case gets the same ✗, with what the evidence is.
 */
export function judgeSpan(found: Scenario | undefined, service: string, cause: string, evidence: SpanEvidence, startedMs: number): Verdict {
  const { trace, spanId, records } = evidence;
  if (!trace) return wrong('Jaeger has no such trace: copy its id from Jaeger, Zipkin or pnpm traces');
  const span = trace.spans.find((s) => s.spanID === spanId);
  if (!span) return wrong(`trace ${trace.traceID} has no span ${spanId}: copy both ids from the same trace`);
  if (span.startTime / 1000 < startedMs - SLACK_MS) {
    return wrong(`span ${spanId} is from before this incident started (${clock(startedMs)}): show one from since then`);
  }
  const owner = serviceOf(trace, span);
  const recent = records.filter((r) => Date.parse(r._time ?? '') >= startedMs - SLACK_MS);
  const logs = recent.length ? `; its log records: ${recent.map((r) => r.severity_text || '-').join(', ')}` : '; no log records';
  const marks = `${isErrorSpan(span) ? ', an error' : ''}${parentOf(span) ? '' : ', no parent'}`;
  const facts = `span ${spanId} is ${owner}'s ${span.operationName}, ${ms(span)} ms${marks}${logs}`;
  const inService = found !== undefined && owner === `step-22-${found.service}`;
  const shows = (): boolean => found!.shows?.(span, trace, startedMs - SLACK_MS) === undefined;
  const shown = inService && (found.signal === 'traces' ? shows() : found.signal === 'logs' && recent.some(isWarning));
  if (!shown) return notConfirmed(service, cause, facts);
  return right(`${found!.service}, ${found!.cause}: ${facts}: that shows it. ${over(found!)}`);
}

/** A metric's value for a service as the evidence: `found` as for judgeSpan; `value` is the metric's PromQL answer, NaN for none. */
export function judgeMetric(found: Scenario | undefined, service: string, cause: string, metric: string, value: number): Verdict {
  const family = SCENARIOS.find((s) => s.metric?.names.test(metric));
  const read = 'nodejs_eventloop_delay_*, v8js_memory_heap_used_bytes';
  if (!family) return notConfirmed(service, cause, `${metric} is not one of the runtime metrics this check reads (${read})`);
  const reading = Number.isNaN(value) ? 'no data' : `${value.toPrecision(3)}${family.metric!.unit}`;
  const facts = `${metric} of step-22-${service}, ${family.metric!.what}: ${reading}`;
  if (found !== family || !(value > family.metric!.over)) return notConfirmed(service, cause, facts);
  return right(`${found.service}, ${found.cause}: ${facts}, the fault's mark. ${over(found)}`);
}

