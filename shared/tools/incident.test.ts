// `pnpm incident`, with no stack: the command line run for real on a flag file of the test's own,
// and the checks of the evidence on traces and log records shaped as Jaeger and VictoriaLogs
// return them. The e2e suite (shared/e2e/incidents.e2e.test.ts) runs every scenario for real.
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { JaegerSpan, JaegerTrace, LogRecord } from '../backends/index.ts';
import { REPO_ROOT } from '../repo.ts';
import { CAUSES, diagnose, flagFile, flagsWith, judgeMetric, judgeSpan, NOT_CONFIRMED, pick, run, runningIn } from './incident.ts';
import { SCENARIOS, STAGE_DIR, TEMPLATE } from './incident.ts';
import type { Ran, Scenario } from './incident.ts';

const dir = mkdtempSync(join(tmpdir(), 'incident-'));
const FLAGS = join(dir, 'flags.json');
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** The command line, run in this process (the script prints what this returns; one test below runs the script itself). */
const incident = (...args: string[]): Promise<Ran> => run(args, { FLAGS_FILE: FLAGS });

const scenario = (name: string): Scenario => SCENARIOS.find((s) => s.name === name)!;
const on = (): string[] => runningIn(readFileSync(FLAGS, 'utf8')).map((s) => s.name);

describe('pnpm incident: the scenarios', () => {
  it('are the flags of step 22, one each, and list prints their names, a line each', async () => {
    const shipped = Object.keys((JSON.parse(readFileSync(TEMPLATE, 'utf8')) as { flags: object }).flags);
    expect(SCENARIOS.map((s) => s.name).sort()).toEqual(shipped.sort());
    const listed = await incident('list');
    expect(listed.code).toBe(0);
    expect(listed.out.trim().split('\n').map((l) => l.split(/\s+/)[0])).toEqual(SCENARIOS.map((s) => s.name));
  });

  it('cover the three signals, one found only in the metrics and one only in the logs, each with a cause of its own', () => {
    expect(new Set(SCENARIOS.map((s) => s.signal))).toEqual(new Set(['traces', 'metrics', 'logs']));
    expect(new Set(SCENARIOS.map((s) => `${s.service} ${s.cause}`)).size).toBe(SCENARIOS.length);
    expect(SCENARIOS.every((s) => s.cause in CAUSES && (s.signal === 'traces') === (s.shows !== undefined))).toBe(true);
  });

  it('the flag file is FLAGS_FILE, relative to the stage as the stage reads it, or the git-ignored flags.local.json', () => {
    expect(flagFile({ FLAGS_FILE: 'x.json' })).toBe(join(STAGE_DIR, 'x.json'));
    expect(flagFile({})).toBe(join(STAGE_DIR, 'flags.local.json'));
    const ignored = spawnSync('git', ['check-ignore', '-q', join(STAGE_DIR, 'flags.local.json')], { cwd: REPO_ROOT });
    expect(ignored.status).toBe(0);
  });
});

describe('pnpm incident start, reveal, stop', () => {
  it('start NAME switches that fault on and no other; reveal names it; stop puts back the committed file, byte for byte', async () => {
    const started = await incident('start', 'lost-context');
    expect(started.code).toBe(0);
    expect(on()).toEqual(['lost-context']);
    const revealed = /^lost-context: greeter, broken-propagation, found through the traces, since \d\d:\d\d:\d\d UTC\n {2}a hint to give: .+\n$/;
    expect((await incident('reveal')).out).toMatch(revealed);
    expect((await incident('stop')).code).toBe(0);
    expect(readFileSync(FLAGS, 'utf8')).toBe(readFileSync(TEMPLATE, 'utf8'));
    expect((await incident('reveal')).out).toContain('no incident is running');
  });

  it('start --random prints the same words whichever fault it picks, and --seed picks the same one every time', async () => {
    const outputs = new Set<string>();
    const picked = new Set<string>();
    for (const seed of ['1', '2', '3', '5']) {
      outputs.add((await incident('start', '--random', '--seed', seed)).out);
      picked.add(on()[0]!);
      expect((await incident('start', '--random', '--seed', seed)).out).toBe([...outputs][0]);
      expect(on()).toEqual([pick(Number(seed)).name]);
    }
    expect(picked.size).toBeGreaterThan(1);
    // Never the worked example, which the chapter plays with its name.
    const picks = new Set(Array.from({ length: 200 }, (_, seed) => pick(seed).name));
    expect([...picks].sort()).toEqual(SCENARIOS.map((s) => s.name).filter((name) => name !== 'slow-words').sort());
    expect(outputs.size).toBe(1);
    expect([...outputs][0]).not.toMatch(new RegExp(SCENARIOS.flatMap((s) => [s.name, s.cause]).join('|')));
  });

  it('an unknown scenario, a cause or service it does not know, or a stray --seed: exit 2 with the list', async () => {
    const unknown = await incident('start', 'slow-gateway');
    expect([unknown.code, unknown.err]).toEqual([2, `incident: unknown scenario "slow-gateway": one of ${SCENARIOS.map((s) => s.name).join(', ')}\n`]);
    const cause = await incident('answer', '--service', 'words', '--cause', 'gremlins');
    expect([cause.code, cause.err]).toEqual([2, `incident: unknown cause "gremlins": one of ${Object.keys(CAUSES).join(', ')}\n`]);
    expect((await incident('answer', '--service', 'db', '--cause', 'latency')).err).toContain('unknown service "db": one of gateway, greeter, words');
    expect((await incident('start', 'slow-words', '--seed', '3')).code).toBe(2);
    expect((await incident('--help')).out).toContain(`  swallowed-error      ${CAUSES['swallowed-error']}`);
  });
});

describe('pnpm incident, the script', () => {
  it('prints what the command line gives, on stdout and stderr, with its exit code', () => {
    const env = { ...process.env, FLAGS_FILE: FLAGS };
    const script = (...args: string[]) => spawnSync(process.execPath, ['shared/tools/incident.ts', ...args], { cwd: REPO_ROOT, encoding: 'utf8', env });
    const unknown = script('start', 'slow-gateway');
    expect([unknown.status, unknown.stdout, unknown.stderr.split(':')[0]]).toEqual([2, '', 'incident']);
    const wrong = script('answer', '--service', 'words', '--cause', 'latency', '--metric', 'http_server_request_duration_seconds');
    expect([wrong.status, wrong.stdout.slice(0, 2)]).toEqual([1, '✗ ']);
  });
});

describe('pnpm incident answer, without evidence to fetch', () => {
  // The same ✗ for a wrong service, a wrong cause and the right diagnosis with evidence that does
  // not show it: an answer that said "right service" would let a learner find the fault by asking.
  const notConfirmed = (service: string, cause: string) => `✗ ${service}, ${cause}: ${NOT_CONFIRMED}`;
  it('a wrong service, a wrong cause, the right one with a metric that does not show it: the same ✗ and the same general hint', async () => {
    await incident('start', 'blocked-loop');
    const answers = await Promise.all(
      [['gateway', 'blocked-event-loop'], ['words', 'latency'], ['words', 'blocked-event-loop']].map(([service, cause]) =>
        incident('answer', '--service', service!, '--cause', cause!, '--metric', 'http_server_request_duration_seconds')),
    );
    expect(answers.map((a) => a.code)).toEqual([1, 1, 1]);
    const expected = [notConfirmed('gateway', 'blocked-event-loop'), notConfirmed('words', 'latency'), notConfirmed('words', 'blocked-event-loop')];
    expect(answers.map((a) => a.out.split('\n')[0])).toEqual(expected);
    const rest = new Set(answers.map((a) => a.out.split('\n').slice(1).join('\n')));
    expect(rest.size).toBe(1);
    expect([...rest][0]).not.toContain(scenario('blocked-loop').hint);
  });

  it('no evidence, or both kinds: exit 2, asking for it the same way whatever runs; none running: ✗', async () => {
    await incident('start', 'slow-words');
    const bare = await incident('answer', '--service', 'words', '--cause', 'latency');
    const needs = 'an answer needs its evidence: --trace and --span (of a span, or of a log record), or --metric NAME for a fault only the metrics show';
    expect([bare.code, bare.err]).toEqual([2, `incident: ${needs}\n`]);
    await incident('start', 'leaky-cache');
    expect((await incident('answer', '--service', 'words', '--cause', 'latency')).err).toBe(bare.err);
    const both = await incident('answer', '--service', 'words', '--cause', 'latency', '--metric', 'x', '--trace', 'a'.repeat(32), '--span', 'b'.repeat(16));
    expect(both.code).toBe(2);
    await incident('stop');
    expect((await incident('answer', '--service', 'words', '--cause', 'latency', '--metric', 'x')).out).toMatch(/^✗ no incident is running/);
  });

  it('a value that is no id or metric name is refused with control characters escaped and the value cut short', async () => {
    const ran = await incident('answer', '--service', '\u001b]0;PWNED\u0007', '--cause', 'latency', '--metric', 'x');
    expect(ran.err).toBe('incident: unknown service "\\u001b]0;PWNED\\u0007": one of gateway, greeter, words\n');
    const long = await incident('answer', '--service', 'words', '--cause', 'latency', '--trace', 'f'.repeat(5000), '--span', 'b'.repeat(16));
    expect(long.err.length).toBeLessThan(200);
  });
});

describe('pnpm incident start and stop: only a flag file is written', () => {
  it('refuses the committed template, a file that is not a flag file, and a folder, leaving each as it is', async () => {
    const template = readFileSync(TEMPLATE, 'utf8');
    const atTemplate = await run(['start', '--random'], { FLAGS_FILE: 'flags.json' });
    expect([atTemplate.code, atTemplate.err]).toEqual([2, expect.stringContaining('is the committed template')]);
    expect(readFileSync(TEMPLATE, 'utf8')).toBe(template);
    const other = join(dir, 'package.json');
    writeFileSync(other, '{"name": "not flags"}\n');
    const notFlags = await run(['stop'], { FLAGS_FILE: other });
    expect([notFlags.code, notFlags.err]).toEqual([2, expect.stringContaining('is not a flag file, and is left as it is')]);
    expect(readFileSync(other, 'utf8')).toBe('{"name": "not flags"}\n');
    const folder = join(dir, 'folder.json');
    mkdirSync(folder);
    expect((await run(['stop'], { FLAGS_FILE: folder })).err).toContain('is not a regular file');
    expect(readdirSync(dir).filter((f) => f.endsWith('.tmp'))).toEqual([]);
  });
});

// Jaeger's shape: times and durations in microseconds, the service by process.
const STARTED = Date.parse('2026-12-03T12:00:00Z');
const at = (secondsAfter: number): number => (STARTED + secondsAfter * 1000) * 1000;
interface Shape {
  parent?: string;
  ms?: number;
  after?: number;
  tags?: Record<string, unknown>;
}
function span(spanID: string, operationName: string, processID: string, options: Shape = {}): JaegerSpan {
  const tags = Object.entries(options.tags ?? {}).map(([key, value]) => ({ key, value }));
  const references = options.parent ? [{ refType: 'CHILD_OF', spanID: options.parent }] : [];
  return { traceID: 't'.repeat(32), spanID, operationName, processID, references, startTime: at(options.after ?? 5), duration: (options.ms ?? 3) * 1000, tags };
}
const trace = (...spans: JaegerSpan[]): JaegerTrace => ({
  traceID: 't'.repeat(32),
  spans,
  processes: { g: { serviceName: 'step-22-gateway' }, r: { serviceName: 'step-22-greeter' }, w: { serviceName: 'step-22-words' } },
});
const SERVER = { 'span.kind': 'server' };

describe('the evidence, a span of a trace in Jaeger and its log records', () => {
  const slow = trace(
    span('a', 'GET /', 'g', { ms: 1510, tags: SERVER }),
    span('b', 'GET', 'r', { parent: 'a', ms: 1505 }),
    span('c', 'GET /word', 'w', { parent: 'b', ms: 1502, tags: SERVER }),
  );
  const judge = (name: string, t: JaegerTrace, spanId: string, records: LogRecord[] = []) => {
    const found = scenario(name);
    return judgeSpan(found, found.service, found.cause, { trace: t, spanId, records }, STARTED);
  };
  const refused = /^✗ \S+, \S+: not confirmed: either that is not the running fault, or the evidence does not show it\n {2}the evidence: /;
  it('slow-words: the slow span of words is taken; its slow caller in greeter, a fast span, or one from before the incident are not', () => {
    expect(judge('slow-words', slow, 'c')).toMatchObject({ ok: true, line: expect.stringContaining("span c is step-22-words's GET /word, 1502 ms") });
    expect(judge('slow-words', slow, 'b').line).toMatch(refused);
    expect(judge('slow-words', slow, 'b').line).toContain("span b is step-22-greeter's GET, 1505 ms");
    const fast = trace(span('c', 'GET /word', 'w', { ms: 4, tags: SERVER }));
    expect(judge('slow-words', fast, 'c').line).toMatch(refused);
    const old = trace(span('c', 'GET /word', 'w', { ms: 1502, after: -60 }));
    expect(judge('slow-words', old, 'c').line).toBe('✗ span c is from before this incident started (12:00:00 UTC): show one from since then');
    expect(judge('slow-words', slow, 'z').line).toMatch(/^✗ trace t+ has no span z/);
    // The same span for a diagnosis that is not the running one: the same ✗, the same facts.
    expect(judgeSpan(undefined, 'words', 'errors', { trace: slow, spanId: 'c', records: [] }, STARTED).line.split('\n').slice(1)).toEqual(
      judge('slow-words', fast, 'c').line.split('\n').slice(1).map((l) => l.replace('4 ms', '1502 ms').replace(', no parent', '')),
    );
  });

  it("tier-errors: an ERROR span of greeter's /greeting; not a healthy one, nor the tutorial's GET /error", () => {
    const failing = trace(span('r', 'GET /greeting', 'r', { tags: { ...SERVER, error: true, 'http.route': '/greeting' } }));
    expect(judge('tier-errors', failing, 'r').ok).toBe(true);
    const healthy = trace(span('r', 'GET /greeting', 'r', { tags: { ...SERVER, 'http.route': '/greeting' } }));
    expect(judge('tier-errors', healthy, 'r').line).toMatch(refused);
    const onPurpose = trace(span('r', 'GET /error', 'r', { tags: { ...SERVER, error: true, 'http.route': '/error' } }));
    expect(judge('tier-errors', onPurpose, 'r').ok).toBe(false);
  });

  const CLIENT = { 'span.kind': 'client' };
  it("lost-context: greeter's answered GET /greeting with no call to words below it; not one whose call is traced, nor words' orphan span", () => {
    // One request as the stage records it with the fault on: gateway → greeter, and no call below greeter's handler.
    const hop = [
      span('a', 'GET /', 'g', { tags: SERVER }),
      span('b', 'GET', 'g', { parent: 'a', tags: CLIENT }),
      span('r', 'GET /greeting', 'r', { parent: 'b', tags: { ...SERVER, 'http.route': '/greeting' } }),
      span('h', 'handler - greeting', 'r', { parent: 'r' }),
    ];
    expect(judge('lost-context', trace(...hop), 'r').ok).toBe(true);
    expect(judge('lost-context', trace(...hop), 'h').ok).toBe(true);
    // With the context kept: greeter's call to words, and words' span, in the same trace.
    const kept = [...hop, span('c', 'GET', 'r', { parent: 'h', tags: CLIENT }), span('w', 'GET /word', 'w', { parent: 'c', tags: SERVER })];
    expect(judge('lost-context', trace(...kept), 'r').line).toMatch(refused);
    expect(judge('lost-context', trace(...kept), 'h').line).toMatch(refused);
    // A failed greeting (tier-errors' kind) never reached its call to words.
    const failed = hop.map((s) => (s.spanID === 'r' ? { ...s, tags: [...s.tags, { key: 'error', value: true }] } : s));
    expect(judge('lost-context', trace(...failed), 'r').ok).toBe(false);
    // Words' GET /word with no parent, as a request sent to words by hand makes it, with greeter's user agent.
    const orphan = trace(span('w', 'GET /word', 'w', { tags: { ...SERVER, 'http.route': '/word', 'user_agent.original': 'node' } }));
    const orphanAs = (s: Scenario, service: string) => judgeSpan(s, service, 'broken-propagation', { trace: orphan, spanId: 'w', records: [] }, STARTED);
    for (const service of ['greeter', 'words']) expect(orphanAs(scenario('lost-context'), service).ok).toBe(false);
    const words = { ...scenario('lost-context'), service: 'words' as const };
    expect(orphanAs(words, 'words').ok).toBe(false);
    // The gateway's span of the same request is not greeter's.
    expect(judge('lost-context', trace(...hop), 'a').ok).toBe(false);
  });

  it('retry-storm: the calls to greeter made by the gateway request given, since the incident; not one call, nor calls sent by hand into its trace', () => {
    // The gateway's request: its server span, its handler, a client span per call, each answered by greeter.
    const request = (id: string, calls: number, after = 5): JaegerSpan[] => [
      span(id, 'GET /', 'g', { tags: SERVER, after }),
      span(`${id}h`, 'handler - hello', 'g', { parent: id, after }),
      ...Array.from({ length: calls }, (_, n) => [
        span(`${id}c${n}`, 'GET', 'g', { parent: `${id}h`, tags: CLIENT, after }),
        span(`${id}r${n}`, 'GET /greeting', 'r', { parent: `${id}c${n}`, tags: SERVER, after }),
      ]).flat(),
    ];
    expect(judge('retry-storm', trace(...request('a', 6)), 'a').ok).toBe(true);
    expect(judge('retry-storm', trace(...request('a', 6)), 'ah').ok).toBe(true);
    expect(judge('retry-storm', trace(...request('a', 1)), 'a').line).toMatch(refused);
    // Requests sent to greeter by hand, naming the trace in their traceparent, with a parent of the gateway's or none the trace has.
    const forged = ['a', 'ah', 'ac0', 'ffffffffffffffff'].map((parent, n) => span(`f${n}`, 'GET /greeting', 'r', { parent, tags: SERVER }));
    expect(judge('retry-storm', trace(...request('a', 1), ...forged), 'a').line).toMatch(refused);
    // A second request to the gateway, sent by hand into the same trace: its calls are not the given span's.
    expect(judge('retry-storm', trace(...request('a', 1), ...request('b', 6)), 'a').line).toMatch(refused);
    // ... nor one sent by hand below the given request's own span: its calls are its own request's.
    const nested = request('b', 6).map((s) => (s.spanID === 'b' ? { ...s, references: [{ refType: 'CHILD_OF', spanID: 'a' }] } : s));
    expect(judge('retry-storm', trace(...request('a', 1), ...nested), 'a').line).toMatch(refused);
    // Calls made before the incident started do not count.
    const before = request('o', 6, -60).map((s) => (s.spanID === 'o' ? { ...s, startTime: at(5) } : s));
    expect(judge('retry-storm', trace(...before), 'o').line).toMatch(refused);
  });

  const record = (fields: Partial<LogRecord>): LogRecord => ({
    _time: new Date(STARTED + 5000).toISOString(),
    'service.name': 'step-22-words',
    severity_text: 'info',
    _msg: 'request completed',
    ...fields,
  });
  it("silent-fallback: a span of words with a warn record is taken; its usual info records, another service's span, or an error record are not", () => {
    const words = trace(span('s', 'GET /word', 'w', { tags: SERVER }));
    const warned = [record({}), record({ severity_text: 'warn', severity_number: '13', _msg: 'dictionary lookup failed, answering the fallback word' })];
    expect(judge('silent-fallback', words, 's', warned)).toMatchObject({ ok: true, line: expect.stringContaining('its log records: info, warn') });
    expect(judge('silent-fallback', words, 's', [record({})]).line).toMatch(refused);
    const greeter = trace(span('s', 'GET /greeting', 'r', { tags: SERVER }));
    expect(judge('silent-fallback', greeter, 's', warned).ok).toBe(false);
    const error = record({ severity_text: 'error', severity_number: '17', _msg: 'Something went wrong on purpose' });
    expect(judge('silent-fallback', words, 's', [error]).ok).toBe(false);
    expect(judge('silent-fallback', undefined as unknown as JaegerTrace, 's').line).toMatch(/^✗ Jaeger has no such trace/);
  });
});

describe('the evidence, a runtime metric', () => {
  it('blocked-loop and leaky-cache: the metric over its mark for the named service; under it, another metric, or another diagnosis are not', () => {
    const loop = scenario('blocked-loop');
    expect(judgeMetric(loop, 'words', 'blocked-event-loop', 'nodejs_eventloop_delay_p90_seconds', 0.35)).toMatchObject({ ok: true });
    expect(judgeMetric(loop, 'words', 'blocked-event-loop', 'nodejs_eventloop_delay_p90_seconds', 0.02).ok).toBe(false);
    expect(judgeMetric(loop, 'words', 'blocked-event-loop', 'v8js_memory_heap_used_bytes', 300e6).ok).toBe(false);
    expect(judgeMetric(undefined, 'greeter', 'blocked-event-loop', 'nodejs_eventloop_delay_p90_seconds', 0.35).ok).toBe(false);
    expect(judgeMetric(scenario('leaky-cache'), 'gateway', 'memory-leak', 'v8js.memory.heap.used', 210 * 1024 * 1024).ok).toBe(true);
    expect(judgeMetric(scenario('leaky-cache'), 'gateway', 'memory-leak', 'v8js_memory_heap_used_bytes', Number.NaN).line).toContain('no data');
  });
});

describe('flagsWith and diagnose', () => {
  it('switches exactly the named faults on, and gives the template back untouched when it is already so', () => {
    const template = readFileSync(TEMPLATE, 'utf8');
    expect(flagsWith(template, [])).toBe(template);
    expect(runningIn(flagsWith(template, ['retry-storm'])).map((s) => s.name)).toEqual(['retry-storm']);
    expect(runningIn(flagsWith(flagsWith(template, ['retry-storm']), ['slow-words'])).map((s) => s.name)).toEqual(['slow-words']);
  });

  it('names the scenario that matches service and cause, among several running', () => {
    const running = [scenario('slow-words'), scenario('leaky-cache')];
    expect(diagnose(running, 'gateway', 'memory-leak')).toBe(scenario('leaky-cache'));
    expect(diagnose(running, 'greeter', 'errors')).toMatchObject({ ok: false, line: expect.stringMatching(/^✗ greeter, errors: not confirmed/) });
  });
});
