// `pnpm incident`: the troubleshooting game of step 22. `start` switches one of the stage's faults
// on in the flag file the running stage reads (and says nothing of which), `answer` checks a
// learner's diagnosis, and the evidence for it, against the running Jaeger, VictoriaLogs or Prometheus;
// `reveal` and `list` are for instructors, `stop` switches every fault off.
import { readFileSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { BackendError, jaegerTrace, promQuery, queryLogs } from '../backends/index.ts';
import { USAGE_ERROR } from '../cli.ts';
import { CAUSE_NAMES, CAUSES, clock, flagFile, flagsWith, judgeMetric, judgeSpan, NAMES, pick, runningIn, SCENARIOS, SERVICES } from './incident-scenarios.ts';
import { TEMPLATE, WORKED_EXAMPLE, wrong, type Cause, type FlagFile, type Scenario, type Verdict } from './incident-scenarios.ts';
// The tests and the e2e suite read the scenarios through the command's module.
export * from './incident-scenarios.ts';

const TOOL = 'incident';
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
       pnpm incident answer --service <service> --cause <cause> (--trace <trace id> --span <span id> | --metric <metric>)
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
duration, its error, a call that lost its context (the caller's request, with no call below it),
the calls made below the span of one request); one found in the logs needs the
trace and span ids of the log record that shows it; one found only in the metrics needs --metric,
the name of the metric that shows it, as Prometheus shows it. The check asks the running Jaeger,
VictoriaLogs and Prometheus.

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
    // The file's mtime is when `start` wrote it: on the learner's own machine they can set it back,
    // which the chapter says (the check teaches, it does not examine).
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
