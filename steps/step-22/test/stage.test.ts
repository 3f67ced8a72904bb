// Boots step-22's three services once, through the real start script, with a flag file of the
// test's own: switches each fault on while they run, and checks over OTLP that each one shows in
// the signal the chapter finds it through; a change takes effect within a second, and a malformed
// file changes nothing.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  describeLogSecrets,
  itKeepsItsPromises,
  itMatchesTelemetrySnapshot,
  SpanKind,
  startOtlpReceiver,
  startStage,
  StatusCode,
  type OtlpReceiver,
  type ReceivedMetric,
  type ReceivedSpan,
  type RunningStage,
  type StageExit,
  type StageRun,
} from '@otel-steps/shared/harness';
import { lesson } from './promises.ts';

const SHIPPED = JSON.parse(readFileSync(new URL('../flags.json', import.meta.url), 'utf8')) as { flags: Record<string, { defaultVariant: string }> };
const FAULTS = ['slow-words', 'tier-errors', 'lost-context', 'blocked-loop', 'leaky-cache', 'retry-storm', 'silent-fallback'];
const dir = mkdtempSync(join(tmpdir(), 'step-22-flags-'));
const FLAGS_FILE = join(dir, 'flags.json');

/** Polls `value` until `done` holds, or fails after `ms` (beforeAll has no expect.poll). */
async function until<T>(value: () => T, done: (v: T) => boolean, what: string, ms = 5_000): Promise<void> {
  for (const end = Date.now() + ms; !done(value()); await new Promise((r) => setTimeout(r, 20))) {
    if (Date.now() > end) throw new Error(`${what}: still ${String(value())} after ${ms} ms`);
  }
}
// A flag file saved half-way.
const MALFORMED = '{ "flags": { "tier-errors": ';
// FLAGS_FILE may name any file: one that is not JSON must not be echoed, whatever it holds.
const NOT_JSON = 'password=hunter2 not a flag file';
// tier-errors on, through a targeting rule flagd parses but cannot evaluate: it counts as off, and says so.
// The variant's name and a flag's key hold control characters: flagd's messages quote them, escaped when printed.
const RULE = { ...SHIPPED.flags['tier-errors'], defaultVariant: 'on', targeting: { if: [true, 'gone\u001b[2J\u0085', 'on'] } };
const ODD = { state: 'ENABLED', variants: { on: true, off: false }, defaultVariant: 'off', targeting: { nope: [1] } };
const UNEVALUABLE = JSON.stringify({ flags: { ...SHIPPED.flags, 'tier-errors': RULE, 'odd\u0007\u007f': ODD } });
// tier-errors on only for a rule that loops: reduce over map over reduce, a few lines that can run for minutes
// with larger arrays (small ones here, so that a stage that took it would not stall the test).
const fifty = Array.from({ length: 50 }, (_, n) => n);
const sum = (over: unknown) => ({ reduce: [over, { '+': [{ var: 'current' }, { var: 'accumulator' }] }, 0] });
const LOOPING = JSON.stringify({
  flags: { ...SHIPPED.flags, 'tier-errors': { ...RULE, targeting: { if: [{ '>': [sum({ map: [fifty, sum(fifty)] }), 0] }, 'on', 'off'] } } },
});
// Shared rules ($evaluators) that name each other twice, twenty deep: a million copies once flagd puts each in place of its $ref.
const twice = (n: number) => ({ or: [{ $ref: `e${n + 1}` }, { $ref: `e${n + 1}` }] });
const evaluators = Object.fromEntries(Array.from({ length: 21 }, (_, n) => [`e${n}`, n === 20 ? true : twice(n)]));
const SHARED = { ...RULE, targeting: { if: [{ $ref: 'e0' }, 'on', 'off'] } };
// A rule nested forty deep, with no loop: deeper than any rule needs.
const deep = (n: number): unknown => (n === 0 ? true : { '!': [{ '!': [deep(n - 1)] }] });
const DEEP = JSON.stringify({ flags: { ...SHIPPED.flags, 'tier-errors': { ...RULE, targeting: { if: [deep(20), 'on', 'off'] } } } });
const EXPANDING = JSON.stringify({ $evaluators: evaluators, flags: { ...SHIPPED.flags, 'tier-errors': SHARED } });
// A good flag file padded past the 1 MB a flag file may be, with tier-errors switched off.
const HUGE = `${JSON.stringify(SHIPPED)}${' '.repeat(1_000_001)}`;
const NOT_BOOLEAN = JSON.stringify({ flags: { 'tier-errors': { state: 'ENABLED', variants: { on: 'yes', off: 'no' }, defaultVariant: 'on' } } });
const now = (): bigint => BigInt(Date.now()) * 1_000_000n;
const service = (x: { resource: Record<string, unknown> }): string => String(x.resource['service.name']);

/** What happened while the stage ran, for the tests below to check. */
interface Phase {
  from: bigint;
  to: bigint;
  /** receiver.metrics.length at the start and end of the phase: the readings taken during it. */
  metricsFrom: number;
  metricsTo: number;
  statuses: number[];
  bodies: string[];
}

describe('step-22: faults switched on and off while it runs, each found in its signal', () => {
  let receiver: OtlpReceiver;
  let stage: RunningStage;
  let exit: StageExit;
  const phases: Record<string, Phase> = {};
  let switchedInMs = Number.NaN;
  let afterMalformed: { statuses: number[]; lines: string[] } = { statuses: [], lines: [] };
  const afterUnusable: number[] = [];
  const refusedLines: string[] = [];
  let notJsonLines: string[] = [];
  let fifoStatus = 0;
  let floodLines = 0;
  let unevaluable: { statuses: number[]; lines: string[] } = { statuses: [], lines: [] };
  const paths = ['/', '/error', '/nope', '/healthz'];
  const sentAt: bigint[] = [];

  /** Writes the flag file with `on` switched on and every other fault off. */
  const write = (on: string[]): void => {
    const flags = structuredClone(SHIPPED);
    for (const name of on) flags.flags[name]!.defaultVariant = 'on';
    writeFileSync(FLAGS_FILE, `${JSON.stringify(flags, null, 2)}\n`);
  };
  const reloads = (): number => stage.output().split('\n').filter((l) => l.includes(`flags: ${FLAGS_FILE} changed, flags reloaded`)).length;
  /** Switches to `on` and waits until each of the three services says it reloaded. */
  const switchTo = async (on: string[]): Promise<void> => {
    const before = reloads();
    write(on);
    await until(reloads, (n) => n === before + 3, `services that reloaded ${on.join(', ') || 'no fault'}`);
  };
  /** `readings` metric readings from `name` after the requests of a phase: with two, one was taken after the last of them. */
  const nextReading = async (name: string, readings: number): Promise<void> => {
    const count = receiver.metrics.filter((m) => service(m) === name).length;
    await until(() => receiver.metrics.filter((m) => service(m) === name).length, (n) => n >= count + readings, `readings from ${name}`);
  };
  /** Switches to `on` (undefined: as it is), sends the requests, and waits for `reading`: [service, readings]. */
  type Answers = () => Promise<Array<{ status: number; body: string }>>;
  const phase = async (name: string, on: string[] | undefined, requests: Answers, reading?: [string, number]): Promise<void> => {
    if (on) await switchTo(on);
    const from = now();
    const metricsFrom = receiver.metrics.length;
    const answers = await requests();
    if (reading) await nextReading(...reading);
    const [statuses, bodies] = [answers.map((a) => a.status), answers.map((a) => a.body)];
    phases[name] = { from, to: now(), metricsFrom, metricsTo: receiver.metrics.length, statuses, bodies };
  };
  const get = (headers: Record<string, string> = {}) => () => stage.get('/', headers);
  const times = <T,>(n: number, f: () => Promise<T>): Promise<T[]> => Promise.all(Array.from({ length: n }, f));
  const sequential = async <T,>(n: number, f: () => Promise<T>): Promise<T[]> => {
    const out: T[] = [];
    for (let i = 0; i < n; i++) out.push(await f());
    return out;
  };

  beforeAll(async () => {
    write([]);
    receiver = await startOtlpReceiver();
    // Metric readings every 500 ms: the runtime metrics of a phase arrive sooner.
    stage = await startStage('step-22', { otlpEndpoint: receiver.url, env: { FLAGS_FILE, OTEL_METRIC_EXPORT_INTERVAL: '500' } });
    // The telemetry snapshot's requests, every fault off.
    for (const path of paths) {
      sentAt.push(now());
      await stage.get(path);
      await new Promise((r) => setTimeout(r, 20));
    }

    // A flag switched on in the file: the next requests see it, within a second and no restart.
    const gold = { 'x-user-tier': 'gold' };
    write(['tier-errors']);
    const written = Date.now();
    while ((await stage.get('/', gold)).status !== 500 && Date.now() - written < 5_000) await new Promise((r) => setTimeout(r, 20));
    switchedInMs = Date.now() - written;
    await phase('tier-errors', undefined, async () => [...(await sequential(3, get(gold))), ...(await sequential(2, get({ 'x-user-tier': 'pro' })))]);

    // A malformed file while tier-errors is on: the services keep it on, and say so once each.
    const lines = stage.output().length;
    writeFileSync(FLAGS_FILE, MALFORMED);
    const refusals = (): number => stage.output().slice(lines).split('\n').filter((l) => l.includes('is not a valid flag file')).length;
    await until(refusals, (n) => n === 3, 'services that refused the malformed file');
    const statuses = (await sequential(3, get(gold))).map((a) => a.status);
    afterMalformed = { statuses, lines: stage.output().slice(lines).split('\n').filter((l) => l.includes('flags:')) };
    // Valid JSON that is no good as flags: none at all, then a fault whose variant is not a boolean.
    // Then rules that could block a service: one that loops, and shared rules that grow past any flag file.
    const unusable: Array<[string, string]> = [
      ['{"flags":{}}', 'it holds no flags'],
      [NOT_BOOLEAN, 'must be true or false'],
      [LOOPING, 'loops over an array'],
      [EXPANDING, 'bytes'],
      [DEEP, 'deep'],
      [HUGE, 'is more than 1000000 bytes'],
    ];
    for (const [bad, why] of unusable) {
      const before = stage.output().length;
      writeFileSync(FLAGS_FILE, bad);
      await until(() => stage.output().slice(before).split('\n').filter((l) => l.includes(why)).length, (n) => n === 3, `services that refused: ${why}`);
      afterUnusable.push(...(await sequential(2, get(gold))).map((a) => a.status));
      refusedLines.push(...stage.output().slice(before).split('\n').filter((l) => l.includes(why)));
    }

    // A file that is not JSON at all: said by where it breaks, never by what it holds.
    const beforeNotJson = stage.output().length;
    writeFileSync(FLAGS_FILE, NOT_JSON);
    const notJson = (): string[] => stage.output().slice(beforeNotJson).split('\n').filter((l) => l.includes('is not a valid flag file'));
    await until(() => notJson().length, (n) => n === 3, 'services that refused a file that is not JSON');
    notJsonLines = notJson();
    // A FIFO put in its place: a read would block every service; refused, and still serving.
    const beforeFifo = stage.output().length;
    const fifo = `${FLAGS_FILE}.fifo`;
    execFileSync('mkfifo', [fifo]);
    renameSync(fifo, FLAGS_FILE);
    const notAFile = (): number => stage.output().slice(beforeFifo).split('\n').filter((l) => l.includes('is not a regular file')).length;
    await until(notAFile, (n) => n === 3, 'services that refused a FIFO');
    fifoStatus = (await stage.get('/')).status;
    rmSync(FLAGS_FILE);
    // The same fault written again and again (each time other bytes): one line from each service, not one a write.
    const beforeFlood = stage.output().length;
    for (let i = 0; i < 6; i++) {
      writeFileSync(FLAGS_FILE, `${MALFORMED}${' '.repeat(i)}`);
      await new Promise((r) => setTimeout(r, 250));
    }
    await until(() => stage.output().slice(beforeFlood).split('\n').filter((l) => l.includes('is not a valid flag file')).length, (n) => n >= 3, 'refusals');
    floodLines = stage.output().slice(beforeFlood).split('\n').filter((l) => l.includes('is not a valid flag file')).length;
    // A rule that cannot be evaluated: the fault is off, and greeter says so once, however many requests.
    const beforeRule = stage.output().length;
    writeFileSync(FLAGS_FILE, UNEVALUABLE);
    const reloadedRule = (): number => stage.output().slice(beforeRule).split('\n').filter((l) => l.includes('flags reloaded')).length;
    await until(reloadedRule, (n) => n === 3, 'services that reloaded the rule');
    const ruleStatuses = (await sequential(3, get(gold))).map((a) => a.status);
    unevaluable = { statuses: ruleStatuses, lines: stage.output().slice(beforeRule).split('\n').filter((l) => l.includes('cannot be evaluated')) };

    await phase('slow-words', ['slow-words'], () => times(30, get()));
    // Two readings after the requests: the second was taken after the last of them.
    await phase('blocked-loop', ['blocked-loop'], () => times(3, get()), ['step-22-words', 2]);
    await phase('leaky-cache', ['leaky-cache'], () => sequential(30, get()), ['step-22-gateway', 2]);
    await phase('retry-storm', ['retry-storm'], () => sequential(1, get()));
    await phase('lost-context', ['lost-context'], () => sequential(1, get()));
    await phase('silent-fallback', ['silent-fallback'], () => sequential(1, get()));
    await phase('all off', [], () => sequential(2, get({ 'x-user-tier': 'gold' })));
    exit = await stage.stop();
  }, 60_000);

  afterAll(async () => {
    // A set-up that failed half-way leaves the stage running: stop it, or its three services outlive the test.
    if (stage && !exit) await stage.stop().catch(() => undefined);
    await receiver?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const spansIn = (name: string): ReceivedSpan[] => {
    const { from, to } = phases[name]!;
    return receiver.spans.filter((s) => s.startTimeUnixNano >= from && s.startTimeUnixNano < to);
  };
  const servers = (spans: ReceivedSpan[], name: string): ReceivedSpan[] => spans.filter((s) => s.kind === SpanKind.SERVER && service(s) === `step-22-${name}`);
  const readings = (name: string, metric: string, who: string): ReceivedMetric[] =>
    receiver.metrics.slice(phases[name]!.metricsFrom, phases[name]!.metricsTo).filter((m) => m.name === metric && service(m) === who);
  const heapUsed = (m: ReceivedMetric | undefined): number => (m?.dataPoints ?? []).reduce((sum, p) => sum + (p.value ?? 0), 0);

  it('ships every fault in flags.json, off, and reads the file each service was given', () => {
    expect(Object.keys(SHIPPED.flags).sort()).toEqual([...FAULTS].sort());
    expect(Object.values(SHIPPED.flags).map((f) => f.defaultVariant)).toEqual(FAULTS.map(() => 'off'));
    for (const name of ['gateway', 'greeter', 'words']) expect(exit.output).toContain(`[${name}] flags: 7 flags from ${FLAGS_FILE}`);
    expect(exit.code).toBe(0);
  });

  it('takes a change to the flag file within a second, with no restart', () => {
    expect(switchedInMs).toBeLessThan(1_000);
    // The same three processes throughout: each said it was listening once.
    expect(exit.output.match(/^\[(gateway|greeter|words)\] listening on /gm)).toHaveLength(3);
  });

  it('tier-errors: 500 for the gold tier only, an ERROR span in greeter with user.tier=gold and the exception', () => {
    expect(phases['tier-errors']!.statuses).toEqual([500, 500, 500, 200, 200]);
    const codes = servers(spansIn('tier-errors'), 'greeter').map((s) => s.status.code);
    expect(codes).toEqual([...Array(3).fill(StatusCode.ERROR), StatusCode.UNSET, StatusCode.UNSET]);
    // The handler's span carries the tier, and the exception.
    const handlers = spansIn('tier-errors').filter((s) => service(s) === 'step-22-greeter' && s.name === 'handler - greeting');
    expect(handlers.map((s) => [s.attributes['user.tier'], s.events.some((e) => e.name === 'exception'), s.status.message])).toEqual([
      ...Array(3).fill(['gold', true, 'no greeting template for this tier']),
      ...Array(2).fill(['pro', false, '']),
    ]);
  });

  it('a malformed flag file: one clear line from each service, the last good flags kept, still serving', () => {
    expect(afterMalformed.statuses).toEqual([500, 500, 500]);
    // No flags, or a fault that is not on or off: refused too, tier-errors still on.
    expect(afterUnusable).toEqual(Array(12).fill(500));
    const line = `flags: ${FLAGS_FILE} is not a valid flag file (the JSON ends before it is complete): keeping the last good flags until it is fixed`;
    expect(afterMalformed.lines.sort()).toEqual(['gateway', 'greeter', 'words'].map((name) => `[${name}] ${line}`));
  });

  it('a rule that loops over arrays, one nested too deep, or shared rules that grow past a flag file: refused in one line, before flagd compiles them', () => {
    const why = [
      'the targeting of tier-errors uses "reduce", which loops over an array: map, filter, reduce, all, some and none are not taken',
      'its $evaluators, each $ref replaced, are over 1000000 bytes',
      'the targeting of tier-errors is nested over 32 deep, more than a flag file needs',
    ];
    const line = (w: string) => `flags: ${FLAGS_FILE} is not a valid flag file (${w}): keeping the last good flags until it is fixed`;
    const lines = why.flatMap((w) => ['gateway', 'greeter', 'words'].map((name) => `[${name}] ${line(w)}`));
    expect(refusedLines.filter((l) => /loops|\$evaluators|deep/.test(l)).sort()).toEqual(lines.sort());
  });

  it('a file over 1 MB: refused in one line, read no further than a byte past the limit, still serving', () => {
    const line = `flags: ${FLAGS_FILE} is more than 1000000 bytes, more than a flag file needs: keeping the last good flags until it is fixed`;
    expect(refusedLines.filter((l) => l.includes('1000000 bytes, more')).sort()).toEqual(['gateway', 'greeter', 'words'].map((name) => `[${name}] ${line}`));
  });

  it('a file that is not JSON: the line says where it breaks, and nothing of what it holds', () => {
    const line = `flags: ${FLAGS_FILE} is not a valid flag file (not JSON from line 1, column 1 on): keeping the last good flags until it is fixed`;
    expect(notJsonLines.sort()).toEqual(['gateway', 'greeter', 'words'].map((name) => `[${name}] ${line}`));
    expect(stage.output()).not.toContain('hunter2');
  });

  it('a FIFO or a device in place of the file: refused in one line, never read, still serving', () => {
    expect(fifoStatus).toBe(200);
  });

  it('a malformed file rewritten six times with the same fault: one line from each service, not one a write', () => {
    expect(floodLines).toBe(3);
  });

  it('a targeting rule that cannot be evaluated: the fault counts as off, and greeter says so on stderr, once', () => {
    expect(unevaluable.statuses).toEqual([200, 200, 200]);
    const why = "Variant 'gone\\u001b[2J\\u0085' not found in flag with key 'tier-errors'";
    const line = `[greeter] flags: tier-errors in ${FLAGS_FILE} cannot be evaluated (${why}): it counts as off until the file is fixed`;
    expect(unevaluable.lines).toEqual([line]);
    // flagd's own warning, for the rule it cannot compile, names the flag's key: its controls escaped too, and none reach the console.
    const odd = ['gateway', 'greeter', 'words'].map((name) => `[${name}] flags: Invalid targeting configuration for flag 'odd\\u0007\\u007f'`);
    expect(stage.output().split('\n').filter((l) => l.includes('Invalid targeting'))).toEqual(expect.arrayContaining(odd));
    expect(stage.output()).not.toMatch(/[\u0000-\u0008\u000b-\u001f\u007f-\u009f]/);
  });

  it('slow-words: about three in ten /word spans of words take 1.5 s, the others not', () => {
    const words = servers(spansIn('slow-words'), 'words');
    expect(words).toHaveLength(30);
    const slow = words.filter((s) => s.endTimeUnixNano - s.startTimeUnixNano >= 1_500_000_000n);
    expect(slow.length).toBeGreaterThan(0);
    expect(slow.length).toBeLessThan(20);
    expect(phases['slow-words']!.statuses.every((s) => s === 200)).toBe(true);
  });

  it('blocked-loop: the event loop delay of words, in nodejs.eventloop.delay.max, reaches 200 ms', () => {
    const max = Math.max(...readings('blocked-loop', 'nodejs.eventloop.delay.max', 'step-22-words').flatMap((m) => m.dataPoints.map((p) => p.value ?? 0)));
    expect(max).toBeGreaterThanOrEqual(0.19);
  });

  it('leaky-cache: the heap of the gateway, in v8js.memory.heap.used, grows by the pages it keeps', () => {
    const heap = (m: ReceivedMetric): boolean => m.name === 'v8js.memory.heap.used' && service(m) === 'step-22-gateway';
    const before = receiver.metrics.slice(0, phases['leaky-cache']!.metricsFrom).filter(heap).at(-1);
    const after = readings('leaky-cache', 'v8js.memory.heap.used', 'step-22-gateway').at(-1);
    expect(heapUsed(after) - heapUsed(before)).toBeGreaterThan(20 * 1024 * 1024);
  });

  it('retry-storm: one request, six calls from the gateway to greeter, each down to words, in one trace', () => {
    const spans = spansIn('retry-storm');
    expect(new Set(spans.map((s) => s.traceId)).size).toBe(1);
    expect(spans.filter((s) => s.kind === SpanKind.CLIENT && service(s) === 'step-22-gateway')).toHaveLength(6);
    expect(servers(spans, 'greeter')).toHaveLength(6);
    expect(servers(spans, 'words')).toHaveLength(6);
  });

  it('lost-context: the call to words starts a trace of its own, with no parent and no tier; greeter shows no call', () => {
    const spans = spansIn('lost-context');
    const [gateway, greeter, words] = ['gateway', 'greeter', 'words'].map((name) => servers(spans, name)[0]) as [ReceivedSpan, ReceivedSpan, ReceivedSpan];
    expect(greeter.traceId).toBe(gateway.traceId);
    expect(words.traceId).not.toBe(gateway.traceId);
    expect(words.parentSpanId).toBe('');
    expect(words.attributes['user.tier']).toBeUndefined();
    expect(spans.filter((s) => s.kind === SpanKind.CLIENT && service(s) === 'step-22-greeter')).toEqual([]);
    expect(phases['lost-context']!.statuses).toEqual([200]);
  });

  it('silent-fallback: a 200 with another word, no error on any span, and a WARN log record in words that says so', () => {
    expect(phases['silent-fallback']!.bodies).toEqual(['Hi from the otel-steps Fastify app!\n']);
    const spans = spansIn('silent-fallback');
    expect(spans.filter((s) => s.status.code === StatusCode.ERROR || s.events.some((e) => e.name === 'exception'))).toEqual([]);
    const warned = receiver.logs.filter((l) => l.severityText === 'warn' && l.traceId === spans[0]!.traceId);
    const said = warned.map((l) => [service(l), l.body, l.attributes['word.fallback']]);
    expect(said).toEqual([['step-22-words', 'dictionary lookup failed, answering the fallback word', 'Hi']]);
  });

  it('every fault off again: gold is served, one trace, no retries, the usual word', () => {
    expect(phases['all off']!.bodies).toEqual(Array(2).fill('Hello from the otel-steps Fastify app!\n'));
    expect(servers(spansIn('all off'), 'greeter')).toHaveLength(2);
  });

  it('records each evaluation as a feature_flag.evaluation span event, with its key and provider, and not its result', () => {
    const events = receiver.spans.flatMap((s) =>
      s.events.filter((e) => e.name === 'feature_flag.evaluation').map((e): Record<string, unknown> => ({ service: service(s), ...e.attributes })),
    );
    const keys = (name: string): string[] =>
      [...new Set(events.filter((e) => e.service === `step-22-${name}`).map((e) => String(e['feature_flag.key'])))].sort();
    expect(keys('gateway')).toEqual(['leaky-cache', 'retry-storm']);
    expect(keys('greeter')).toEqual(['lost-context', 'tier-errors']);
    expect(keys('words')).toEqual(['blocked-loop', 'silent-fallback', 'slow-words']);
    expect(events.every((e) => e['feature_flag.provider.name'] === 'flagd')).toBe(true);
    // Static, but for the rule that could not be evaluated.
    const reasons = new Set(events.map((e) => `${String(e['feature_flag.key'])} ${String(e['feature_flag.result.reason'])}`));
    expect([...reasons].filter((r) => !r.endsWith(' static'))).toEqual(['tier-errors error']);
    expect(events.filter((e) => 'feature_flag.result.variant' in e || 'feature_flag.result.value' in e)).toEqual([]);
  });

  // The snapshot's run: its first requests, and everything the stage exported until it stopped.
  const run = (): StageRun => ({ receiver, exit, paths, sentAt, statuses: [], children: () => [], leaked: () => [], close: async () => {} });
  itMatchesTelemetrySnapshot('step-22', run);
});

describeLogSecrets('step-22', { logs: true });

// The chapter's promises, in a run of their own, as pnpm check would hold a learner's code to them.
itKeepsItsPromises(lesson);
