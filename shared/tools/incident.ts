// `pnpm incident`: the troubleshooting game of step 22. `start` switches one of the stage's faults
// on in the flag file the running stage reads (and says nothing of which), `answer` checks a
// learner's diagnosis, and the evidence for it, against the running Jaeger or VictoriaLogs;
// `reveal` and `list` are for instructors, `stop` switches every fault off.
import { randomInt } from 'node:crypto';
import { readFileSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { BackendError, isErrorSpan, jaegerTrace, queryLogs, serviceOf, tag, type JaegerSpan, type JaegerTrace, type LogRecord } from '../backends/index.ts';
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
  /** Said with a wrong answer: where to look, without the answer. */
  hint: string;
  /** For a traces scenario: undefined when `span` shows the fault, or why it does not. */
  shows?: (span: JaegerSpan, trace: JaegerTrace) => string | undefined;
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
    shows: (span) => (parentOf(span) === undefined ? undefined : `${span.operationName} has a parent: its trace context arrived`),
  },
  {
    name: 'blocked-loop',
    service: 'words',
    cause: 'blocked-event-loop',
    signal: 'metrics',
    hint: 'the runtime metrics of each process: nodejs_eventloop_delay_max_seconds, by job',
  },
  {
    name: 'leaky-cache',
    service: 'gateway',
    cause: 'memory-leak',
    signal: 'metrics',
    hint: 'the runtime metrics of each process: v8js_memory_heap_used_bytes, by job, over the last minutes',
  },
  {
    name: 'retry-storm',
    service: 'gateway',
    cause: 'retry-storm',
    signal: 'traces',
    hint: 'the span count of one trace: how many calls does one request make, and from where?',
    shows: (_span, trace) => {
      const calls = trace.spans.filter((s) => serviceOf(trace, s) === 'step-22-greeter' && isServer(s)).length;
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
  if (found) return found;
  const here = running.find((s) => s.service === service);
  if (here) return wrong(`right service, ${service}, but the cause is not ${cause}`, here.hint);
  return wrong(`the fault is not in ${service}`, running[0]?.hint);
}

/** A span as the evidence for `scenario`: in the trace, in the faulty service, from this incident, and showing the fault. */
export function judgeSpan(scenario: Scenario, trace: JaegerTrace, spanId: string, startedMs: number): Verdict {
  const span = trace.spans.find((s) => s.spanID === spanId);
  if (!span) return wrong(`trace ${trace.traceID} has no span ${spanId}: copy both ids from the same trace`);
  const owner = serviceOf(trace, span);
  const name = `step-22-${scenario.service}`;
  if (owner !== name) {
    return wrong(`span ${spanId} (${span.operationName}) belongs to ${owner}, not ${name}: show a span of the service you name`, scenario.hint);
  }
  if (span.startTime / 1000 < startedMs - SLACK_MS) {
    return wrong(`span ${spanId} is from before this incident started (${clock(startedMs)}): show one from since then`);
  }
  const not = scenario.shows?.(span, trace);
  if (not) return wrong(`span ${spanId} looks healthy: ${not}`, scenario.hint);
  return right(`${scenario.service}, ${scenario.cause}: span ${spanId} (${span.operationName}, ${ms(span)} ms) shows it. ${over(scenario)}`);
}

// A warning, and only that: an error record (GET /error's) is a failure that was not swallowed.
const isWarning = (r: LogRecord): boolean => {
  const level = Number(r.severity_number ?? 0);
  return level >= 13 && level <= 16 ? true : level === 0 && /^warn(ing)?$/i.test(r.severity_text ?? '');
};

/** The log records of one span as the evidence for `scenario`: one of them, from the faulty service and this incident, a warning. */
export function judgeLogs(scenario: Scenario, records: LogRecord[], spanId: string, startedMs: number): Verdict {
  const name = `step-22-${scenario.service}`;
  if (records.length === 0) return wrong(`no log record was written in span ${spanId} of that trace: copy both ids from one log line (pnpm logs prints them)`);
  const ours = records.filter((r) => r['service.name'] === name);
  if (ours.length === 0) return wrong(`the records of span ${spanId} come from ${records[0]!['service.name']}, not ${name}`, scenario.hint);
  const recent = ours.filter((r) => Date.parse(r._time ?? '') >= startedMs - SLACK_MS);
  if (recent.length === 0) return wrong(`the records of span ${spanId} are from before this incident started (${clock(startedMs)})`);
  const told = recent.find(isWarning);
  const levels = recent.map((r) => r.severity_text || '-').join(', ');
  if (!told) return wrong(`none of the records of span ${spanId} is a warning (${levels}): nothing was swallowed there`, scenario.hint);
  return right(`${scenario.service}, ${scenario.cause}: the ${told.severity_text} record "${told._msg}" shows it. ${over(scenario)}`);
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
  const partial = `${file}.${process.pid}.tmp`;
  writeFileSync(partial, text);
  renameSync(partial, file);
}

async function answer(values: Record<string, string | boolean | undefined>, file: string): Promise<Verdict> {
  const service = String(values.service ?? '').replace(/^step-22-/, '');
  const cause = String(values.cause ?? '');
  if (!values.service || !values.cause) refuse('answer needs --service and --cause (see --help)');
  if (!(SERVICES as readonly string[]).includes(service)) refuse(`unknown service "${values.service}": one of ${SERVICES.join(', ')}`);
  if (!CAUSE_NAMES.includes(cause as Cause)) refuse(`unknown cause "${cause}": one of ${CAUSE_NAMES.join(', ')}`);
  const { running, startedMs } = readRunning(file);
  if (running.length === 0) return wrong(`no incident is running (${file} has every fault off): pnpm incident start --random`);
  const found = diagnose(running, service as Service, cause as Cause);
  if ('ok' in found) return found;
  if (found.signal === 'metrics') return right(`${found.service}, ${found.cause}: this one shows in the metrics only, so no trace is needed. ${over(found)}`);
  if (values.trace === undefined || values.span === undefined) {
    return wrong(`right service and cause; now the evidence: --trace and --span of the ${found.signal === 'logs' ? 'log record' : 'span'} that shows it`);
  }
  const traceId = String(values.trace).toLowerCase();
  if (!/^[0-9a-f]{32}$/.test(traceId)) refuse(`--trace needs a trace id of 32 hex digits, got "${values.trace}"`);
  const spanId = String(values.span).toLowerCase();
  if (!/^[0-9a-f]{16}$/.test(spanId)) refuse(`--span needs a span id of 16 hex digits, got "${values.span}"`);
  try {
    if (found.signal === 'logs') {
      const { records } = await queryLogs(`trace_id:="${traceId}" span_id:="${spanId}"`, '1d', 100);
      return judgeLogs(found, records, spanId, startedMs);
    }
    const trace = await jaegerTrace(traceId);
    if (!trace) return wrong(`Jaeger has no trace ${traceId}: copy its id from Jaeger, Zipkin or pnpm traces`);
    return judgeSpan(found, trace, spanId, startedMs);
  } catch (err) {
    if (err instanceof BackendError) return refuse(err.message, 1);
    throw err;
  }
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
      for (const s of running) print(`${s.name}: ${s.service}, ${s.cause}, found through the ${s.signal}, since ${clock(startedMs)}`);
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
