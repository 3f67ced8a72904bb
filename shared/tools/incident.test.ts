// `pnpm incident`, with no stack: the command line run for real on a flag file of the test's own,
// and the checks of the evidence on traces and log records shaped as Jaeger and VictoriaLogs
// return them. The e2e suite (shared/e2e/incidents.e2e.test.ts) runs every scenario for real.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { JaegerSpan, JaegerTrace, LogRecord } from '../backends/index.ts';
import { REPO_ROOT } from '../repo.ts';
import { CAUSES, diagnose, flagFile, flagsWith, judgeLogs, judgeSpan, pick, run, runningIn, SCENARIOS, STAGE_DIR, TEMPLATE } from './incident.ts';
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
    expect((await incident('reveal')).out).toMatch(/^lost-context: words, broken-propagation, found through the traces, since \d\d:\d\d:\d\d UTC\n$/);
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
    const wrong = script('answer', '--service', 'words', '--cause', 'latency');
    expect([wrong.status, wrong.stdout.slice(0, 2)]).toEqual([1, '✗ ']);
  });
});

describe('pnpm incident answer, without evidence to fetch', () => {
  it('a wrong service, a wrong cause: exit 1 with a ✗ and a hint; a metrics scenario: ✓ with service and cause only', async () => {
    await incident('start', 'blocked-loop');
    const service = await incident('answer', '--service', 'gateway', '--cause', 'blocked-event-loop');
    expect([service.code, service.out.split('\n')[0]]).toEqual([1, '✗ the fault is not in gateway']);
    expect(service.out).toContain('hint: ');
    const cause = await incident('answer', '--service', 'words', '--cause', 'latency');
    expect([cause.code, cause.out.split('\n')[0]]).toEqual([1, '✗ right service, words, but the cause is not latency']);
    const ok = await incident('answer', '--service', 'step-22-words', '--cause', 'blocked-event-loop');
    expect([ok.code, ok.out.split('\n')[0]]).toEqual([0, expect.stringMatching(/^✓ words, blocked-event-loop: this one shows in the metrics only/)]);
  });

  it('a traces scenario, named right but with no evidence: exit 1, asking for the trace and span', async () => {
    await incident('start', 'slow-words');
    const bare = await incident('answer', '--service', 'words', '--cause', 'latency');
    expect([bare.code, bare.out.trim()]).toEqual([1, '✗ right service and cause; now the evidence: --trace and --span of the span that shows it']);
    await incident('stop');
    expect((await incident('answer', '--service', 'words', '--cause', 'latency')).out).toMatch(/^✗ no incident is running/);
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

describe('the evidence, a span of a trace in Jaeger', () => {
  const slow = trace(
    span('a', 'GET /', 'g', { ms: 1510, tags: SERVER }),
    span('b', 'GET', 'r', { parent: 'a', ms: 1505 }),
    span('c', 'GET /word', 'w', { parent: 'b', ms: 1502, tags: SERVER }),
  );
  it('slow-words: the slow span of words is taken; its slow caller in greeter, a fast span, or one from before the incident are not', () => {
    const taken = judgeSpan(scenario('slow-words'), slow, 'c', STARTED);
    expect(taken).toMatchObject({ ok: true, line: expect.stringContaining('span c (GET /word, 1502 ms) shows it') });
    expect(judgeSpan(scenario('slow-words'), slow, 'b', STARTED).line).toMatch(/^✗ span b \(GET\) belongs to step-22-greeter, not step-22-words/);
    const fast = trace(span('c', 'GET /word', 'w', { ms: 4, tags: SERVER }));
    expect(judgeSpan(scenario('slow-words'), fast, 'c', STARTED).line).toMatch(/^✗ span c looks healthy: GET \/word took 4 ms, as fast as usual\n {2}hint: /);
    const old = trace(span('c', 'GET /word', 'w', { ms: 1502, after: -60 }));
    const before = judgeSpan(scenario('slow-words'), old, 'c', STARTED);
    expect(before.line).toBe('✗ span c is from before this incident started (12:00:00 UTC): show one from since then');
    expect(judgeSpan(scenario('slow-words'), slow, 'z', STARTED).line).toMatch(/^✗ trace t+ has no span z/);
  });

  it("tier-errors: an ERROR span of greeter's /greeting; not a healthy one, nor the tutorial's GET /error", () => {
    const failing = trace(span('r', 'GET /greeting', 'r', { tags: { ...SERVER, error: true, 'http.route': '/greeting' } }));
    expect(judgeSpan(scenario('tier-errors'), failing, 'r', STARTED).ok).toBe(true);
    const healthy = trace(span('r', 'GET /greeting', 'r', { tags: { ...SERVER, 'http.route': '/greeting' } }));
    expect(judgeSpan(scenario('tier-errors'), healthy, 'r', STARTED).line).toMatch(/^✗ span r looks healthy: GET \/greeting did not fail/);
    const onPurpose = trace(span('r', 'GET /error', 'r', { tags: { ...SERVER, error: true, 'http.route': '/error' } }));
    expect(judgeSpan(scenario('tier-errors'), onPurpose, 'r', STARTED).line).toContain("is the tutorial's GET /error, which always fails");
  });

  it('lost-context: a words span with no parent; not one whose context arrived', () => {
    expect(judgeSpan(scenario('lost-context'), trace(span('w', 'GET /word', 'w', { tags: SERVER })), 'w', STARTED).ok).toBe(true);
    expect(judgeSpan(scenario('lost-context'), slow, 'c', STARTED).line).toMatch(/^✗ span c looks healthy: GET \/word has a parent/);
  });

  it('retry-storm: a gateway span whose trace calls greeter more than once; not an ordinary trace', () => {
    const calls = [1, 2, 3].map((n) => span(`r${n}`, 'GET /greeting', 'r', { parent: 'a', tags: SERVER }));
    expect(judgeSpan(scenario('retry-storm'), trace(span('a', 'GET /', 'g', { tags: SERVER }), ...calls), 'a', STARTED).ok).toBe(true);
    const once = judgeSpan(scenario('retry-storm'), trace(span('a', 'GET /', 'g', { tags: SERVER }), calls[0]!), 'a', STARTED);
    expect(once.line).toMatch(/^✗ span a looks healthy: its trace calls greeter once/);
  });
});

describe('the evidence, the log records of a span in VictoriaLogs', () => {
  const record = (fields: Partial<LogRecord>): LogRecord => ({
    _time: new Date(STARTED + 5000).toISOString(),
    'service.name': 'step-22-words',
    severity_text: 'info',
    _msg: 'request completed',
    ...fields,
  });
  it("silent-fallback: words' warn record is taken; its usual info records, another service's, or none at all are not", () => {
    const warned = [record({}), record({ severity_text: 'warn', severity_number: '13', _msg: 'dictionary lookup failed, answering the fallback word' })];
    const taken = judgeLogs(scenario('silent-fallback'), warned, 's', STARTED);
    expect(taken.line).toContain('the warn record "dictionary lookup failed, answering the fallback word" shows it');
    expect(judgeLogs(scenario('silent-fallback'), [record({})], 's', STARTED).line).toMatch(/^✗ none of the records of span s is a warning \(info\)/);
    const elsewhere = judgeLogs(scenario('silent-fallback'), [record({ 'service.name': 'step-22-greeter' })], 's', STARTED);
    expect(elsewhere.line).toMatch(/come from step-22-greeter, not step-22-words/);
    expect(judgeLogs(scenario('silent-fallback'), [], 's', STARTED).line).toMatch(/^✗ no log record was written in span s/);
    // GET /error's record: a failure, but one that was not swallowed.
    const error = record({ severity_text: 'error', severity_number: '17', _msg: 'Something went wrong on purpose' });
    expect(judgeLogs(scenario('silent-fallback'), [error], 's', STARTED).line).toMatch(/^✗ none of the records of span s is a warning \(error\)/);
    const old = [record({ severity_text: 'warn', _time: new Date(STARTED - 60_000).toISOString() })];
    expect(judgeLogs(scenario('silent-fallback'), old, 's', STARTED).line).toMatch(/from before this incident started/);
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
    expect(diagnose(running, 'greeter', 'errors')).toMatchObject({ ok: false, line: expect.stringMatching(/^✗ the fault is not in greeter/) });
  });
});
