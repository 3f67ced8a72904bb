// `pnpm incident`: the troubleshooting game of step 22. `start` switches one of the stage's faults
// on in the flag file the running stage reads (and says nothing of which), `answer` checks a
// learner's diagnosis, and the evidence for it, against the running Jaeger or VictoriaLogs;
// `reveal` and `list` are for instructors, `stop` switches every fault off.
import { randomInt } from 'node:crypto';
import { readFileSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { BackendError, isErrorSpan, jaegerTrace, promQuery, queryLogs, serviceOf, tag } from '../backends/index.ts';
import type { JaegerSpan, JaegerTrace, LogRecord } from '../backends/index.ts';
import { USAGE_ERROR } from '../cli.ts';
import { REPO_ROOT } from '../repo.ts';

const TOOL = 'incident';
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
  /** For a traces scenario: undefined when `span` shows the fault, or why it does not. */
  shows?: (span: JaegerSpan, trace: JaegerTrace) => string | undefined;
  /** For a metrics scenario: the metric names that show it, and the PromQL whose answer is its value for the service now. */
  metric?: { names: RegExp; query: (service: string) => string; over: number; unit: string; what: string };
}

const ms = (span: JaegerSpan): number => Math.round(span.duration / 1000);
const routeOf = (span: JaegerSpan): string => String(tag(span, 'http.route') ?? tag(span, 'url.path') ?? '');
const isServer = (span: JaegerSpan): boolean => tag(span, 'span.kind') === 'server';
const parentOf = (span: JaegerSpan): string | undefined => span.references.find((r) => r.refType === 'CHILD_OF')?.spanID;

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
    service: 'words',
    cause: 'broken-propagation',
    signal: 'traces',
    hint: "Zipkin's Dependencies page, and the traces of each service: does every request still reach the end of one trace?",
    // Greeter's own call, as its fetch sends it (user agent node), not a request made by hand to words.
    shows: (span) => {
      if (parentOf(span) !== undefined) return `${span.operationName} has a parent: its trace context arrived`;
      if (!isServer(span) || routeOf(span) !== '/word') return `${span.operationName} is not words' GET /word`;
      const agent = String(tag(span, 'user_agent.original') ?? tag(span, 'http.request.header.user-agent') ?? '');
      return /^\[?"?node"?\]?$/.test(agent) ? undefined : `${span.operationName} was not called by greeter (user agent ${agent || 'none'})`;
    },
  },
  {
    name: 'blocked-loop',
    service: 'words',
    cause: 'blocked-event-loop',
    signal: 'metrics',
    hint: 'the runtime metrics of each process: nodejs_eventloop_delay_max_seconds, by job',
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
    shows: (_span, trace) => {
      // Calls the gateway made: greeter server spans whose parent is a gateway span of this trace
      // (a request sent to greeter by hand, naming the trace in its traceparent, has no such parent).
      const byId = new Map(trace.spans.map((s) => [s.spanID, s]));
      const fromGateway = (s: JaegerSpan): boolean => {
        const parent = byId.get(parentOf(s) ?? '');
        return parent !== undefined && serviceOf(trace, parent) === 'step-22-gateway';
      };
      const calls = trace.spans.filter((s) => serviceOf(trace, s) === 'step-22-greeter' && isServer(s) && fromGateway(s)).length;
      return calls > 1 ? undefined : `its trace calls greeter ${calls === 1 ? 'once' : `${calls} times`}, as every request does`;
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

const NAMES = SCENARIOS.map((s) => s.name);
const CAUSE_NAMES = Object.keys(CAUSES) as Cause[];

/** The flag file the stage reads: FLAGS_FILE, relative to the stage's folder as the stage reads it, or flags.local.json there. */
export function flagFile(env: NodeJS.ProcessEnv = process.env): string {
  return env.FLAGS_FILE ? resolve(STAGE_DIR, env.FLAGS_FILE) : join(STAGE_DIR, 'flags.local.json');
}

interface FlagFile {
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
const right = (line: string): Verdict => ({ ok: true, line: `✓ ${line}` });
const wrong = (line: string, hint?: string): Verdict => ({ ok: false, line: `✗ ${line}${hint ? `\n  hint: ${hint}` : ''}` });
const over = (scenario: Scenario): string => `The incident was ${scenario.name}; pnpm incident stop ends it.`;
const clock = (msSinceEpoch: number): string => `${new Date(msSinceEpoch).toISOString().slice(11, 19)} UTC`;
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
  const shown =
    inService && found.signal === 'traces' ? found.shows?.(span, trace) === undefined : inService && found.signal === 'logs' && recent.some(isWarning);
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

/** A command line the tool cannot act on (exit 2), or a backend that does not answer (exit 1): one line on stderr. */
class Refusal extends Error {
  readonly code: number;
  constructor(message: string, code = USAGE_ERROR) {
    super(message);
    this.code = code;
  }
}
const refuse = (message: string, code?: number): never => {
  throw new Refusal(message, code);
};

const HELP = `Usage: pnpm incident list
       pnpm incident start <scenario> | --random [--seed N]
       pnpm incident answer --service <service> --cause <cause> [--trace <trace id> --span <span id>]
       pnpm incident reveal
       pnpm incident stop

A troubleshooting exercise on step 22 (pnpm --filter step-22 start, with the stack and pnpm traffic
running): start switches one fault on in the flag file the stage reads, and says nothing of which.
Find it in the telemetry, then answer: which service, and what went wrong.

Services: ${SERVICES.join(', ')}
Causes:
${CAUSE_NAMES.map((c) => `  ${c.padEnd(20)} ${CAUSES[c]}`).join('\n')}

Evidence: a fault found in the traces needs the trace and the span that shows it (--trace, --span:
the span is in the service you name, from since the incident started, and shows the fault: its
duration, its error, its missing parent, the calls in its trace); one found in the logs needs the
trace and span ids of the log record that shows it; one found only in the metrics needs none. The
check asks the running Jaeger and VictoriaLogs.

--random picks any scenario but the chapter's worked example, ${WORKED_EXAMPLE}. The flag file:
FLAGS_FILE (relative to steps/step-22, as the stage reads it), or steps/step-22/flags.local.json.
The same --seed starts the same incident on every machine: a room gets one incident without
anyone seeing its name. list and reveal are for instructors.

Exits 0 for a right answer, 1 for a wrong one (with a ✗ and a hint), 2 for a command it cannot act on.`;

function readRunning(file: string): { running: Scenario[]; startedMs: number } {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    return { running: [], startedMs: 0 };
  }
  try {
    return { running: runningIn(text), startedMs: statSync(file).mtimeMs };
  } catch {
    return refuse(`${file} is not a valid flag file: pnpm incident stop writes a good one`, 1);
  }
}

/** Written whole (a temporary file renamed into place): the stage never reads half a file. */
function writeFlags(file: string, text: string): void {
  // Only a flag file the stage may read: never the committed template, and never a file that is
  // not one already (FLAGS_FILE=../../package.json must not be overwritten).
  if (resolve(file) === TEMPLATE) refuse(`${shown(file)} is the committed template: give the stage and pnpm incident another FLAGS_FILE, or none`);
  if (!file.endsWith('.json')) refuse(`FLAGS_FILE must name a .json flag file, got ${shown(file)}`);
  let existing: ReturnType<typeof statSync> | undefined;
  try {
    existing = statSync(file);
  } catch {
    existing = undefined;
  }
  if (existing && !existing.isFile()) refuse(`${shown(file)} is not a regular file`);
  if (existing) {
    let flags: unknown;
    try {
      flags = (JSON.parse(readFileSync(file, 'utf8')) as Partial<FlagFile>).flags;
    } catch {
      flags = undefined;
    }
    if (typeof flags !== 'object' || flags === null) refuse(`${shown(file)} is not a flag file, and is left as it is`);
  }
  const partial = `${file}.${process.pid}.tmp`;
  writeFileSync(partial, text);
  renameSync(partial, file);
}

async function answer(values: Record<string, string | boolean | undefined>, file: string): Promise<Verdict> {
  const service = String(values.service ?? '').replace(/^step-22-/, '');
  const cause = String(values.cause ?? '');
  if (!values.service || !values.cause) refuse('answer needs --service and --cause (see --help)');
  if (!(SERVICES as readonly string[]).includes(service)) refuse(`unknown service "${shown(values.service)}": one of ${SERVICES.join(', ')}`);
  if (!CAUSE_NAMES.includes(cause as Cause)) refuse(`unknown cause "${shown(cause)}": one of ${CAUSE_NAMES.join(', ')}`);
  // Evidence with every answer, asked for the same way whatever the fault, so that the question
  // gives nothing away: a span or log record's ids, or the metric that shows it.
  const spanEvidence = values.trace !== undefined || values.span !== undefined;
  if (spanEvidence === (values.metric !== undefined)) {
    refuse('an answer needs its evidence: --trace and --span (of a span, or of a log record), or --metric NAME for a fault only the metrics show');
  }
  const { running, startedMs } = readRunning(file);
  if (running.length === 0) return wrong(`no incident is running (${file} has every fault off): pnpm incident start --random`);
  let traceId = '';
  let spanId = '';
  if (spanEvidence) {
    traceId = String(values.trace ?? '').toLowerCase();
    if (!/^[0-9a-f]{32}$/.test(traceId)) refuse(`--trace needs a trace id of 32 hex digits, got "${shown(values.trace)}"`);
    spanId = String(values.span ?? '').toLowerCase();
    if (!/^[0-9a-f]{16}$/.test(spanId)) refuse(`--span needs a span id of 16 hex digits, got "${shown(values.span)}"`);
  } else if (!/^[a-z][a-z0-9_.]{0,99}$/.test(String(values.metric))) {
    refuse(`--metric needs a metric name as Prometheus shows it, got "${shown(values.metric)}"`);
  }
  const found = running.find((s) => s.service === service && s.cause === cause);
  try {
    if (!spanEvidence) {
      const metric = String(values.metric);
      const family = SCENARIOS.find((s) => s.metric?.names.test(metric));
      const [sample] = family ? await promQuery(family.metric!.query(service)) : [];
      return judgeMetric(found, service, cause, metric, Number(sample?.value[1] ?? Number.NaN));
    }
    // Both backends asked whatever the answer: the time taken and the backends' errors say nothing of the fault.
    const [trace, { records }] = await Promise.all([jaegerTrace(traceId), queryLogs(`trace_id:="${traceId}" span_id:="${spanId}"`, '1d', 100)]);
    return judgeSpan(found, service, cause, { trace, spanId, records }, startedMs);
  } catch (err) {
    if (err instanceof BackendError) return refuse(err.message, 1);
    throw err;
  }
}

/** A value from the command line, as a refusal shows it: control characters escaped, and no longer than a line. */
function shown(value: unknown): string {
  const text = String(value ?? '').replace(/[\u0000-\u001f\u007f-\u009f]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
  return text.length > 60 ? `${text.slice(0, 60)}...` : text;
}

export interface Ran {
  code: number;
  out: string;
  err: string;
}

/** The command line `argv`, run with `env`: what it prints and its exit code (the tests call this; the script prints it). */
export async function run(argv: string[], env: NodeJS.ProcessEnv = process.env): Promise<Ran> {
  const out: string[] = [];
  try {
    const code = await commands(argv, flagFile(env), (line) => out.push(line));
    return { code, out: out.map((l) => `${l}\n`).join(''), err: '' };
  } catch (err) {
    if (!(err instanceof Refusal)) throw err;
    return { code: err.code, out: out.map((l) => `${l}\n`).join(''), err: `${TOOL}: ${err.message}\n` };
  }
}

function parse(argv: string[]) {
  try {
    return parseArgs({
      args: argv,
      allowPositionals: true,
      options: {
        random: { type: 'boolean' },
        seed: { type: 'string' },
        service: { type: 'string' },
        cause: { type: 'string' },
        trace: { type: 'string' },
        span: { type: 'string' },
        metric: { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
    });
  } catch (err) {
    const { code, message } = err as NodeJS.ErrnoException;
    const option = code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION' ? /'([^']+)'/.exec(message)?.[1] : undefined;
    return refuse(`${option ? `unknown option ${option}` : message} (see --help)`);
  }
}

async function commands(argv: string[], file: string, print: (line: string) => void): Promise<number> {
  const { values, positionals } = parse(argv);
  if (values.help) return (print(HELP), 0);
  const [command, ...rest] = positionals;
  switch (command) {
    case 'list':
      for (const s of SCENARIOS) print(`${s.name.padEnd(16)} ${s.service.padEnd(8)} ${s.cause.padEnd(19)} found through the ${s.signal}`);
      return 0;
    case 'start': {
      if (Boolean(values.random) === (rest.length === 1) || rest.length > 1) refuse(`start takes one scenario, or --random: one of ${NAMES.join(', ')}`);
      if (values.seed !== undefined && !values.random) refuse('--seed goes with --random');
      if (values.seed !== undefined && !/^\d{1,9}$/.test(values.seed)) refuse(`--seed must be a whole number, got "${values.seed}"`);
      const scenario = values.random ? pick(values.seed === undefined ? undefined : Number(values.seed)) : SCENARIOS.find((s) => s.name === rest[0]);
      if (!scenario) return refuse(`unknown scenario "${rest[0]}": one of ${NAMES.join(', ')}`);
      writeFlags(file, flagsWith(readFileSync(TEMPLATE, 'utf8'), [scenario.name]));
      // The same words whichever fault it is.
      print(`An incident has started in step 22 (${file}). Find it in the telemetry, then: pnpm incident answer --help`);
      return 0;
    }
    case 'stop':
      writeFlags(file, flagsWith(readFileSync(TEMPLATE, 'utf8'), []));
      print(`Every fault is off (${file}): the alerts resolve within a minute or two.`);
      return 0;
    case 'reveal': {
      const { running, startedMs } = readRunning(file);
      if (running.length === 0) return (print(`no incident is running (${file} has every fault off)`), 0);
      for (const s of running) {
        print(`${s.name}: ${s.service}, ${s.cause}, found through the ${s.signal}, since ${clock(startedMs)}\n  a hint to give: ${s.hint}`);
      }
      return 0;
    }
    case 'answer': {
      const verdict = await answer(values, file);
      print(verdict.line);
      return verdict.ok ? 0 : 1;
    }
    default:
      return refuse(`${command ? `unknown command "${command}"` : 'give a command'}: list, start, stop, reveal or answer (see --help)`);
  }
}

if (import.meta.main) {
  const { code, out, err } = await run(process.argv.slice(2));
  process.stdout.write(out);
  process.stderr.write(err);
  process.exitCode = code;
}
