// End to end: every incident of `pnpm incident`, on one start of step 22 through its real start
// script and its default flag file, against the real collector and backends. Each is started as a
// learner starts it, shown with traffic, found through the signal the chapter finds it in (the
// latency through an exemplar in Prometheus, the others in Jaeger, Prometheus or VictoriaLogs),
// and answered: the right diagnosis with that evidence is taken; a wrong service, a wrong cause
// and, where evidence is asked for, a healthy span of the same incident are refused.
import { execFile } from 'node:child_process';
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually, getJson, isErrorSpan, jaegerTraces, logsQuery, promQuery, serviceOf, tag, type JaegerSpan, type JaegerTrace } from '../backends/index.ts';
import { startStage, type RunningStage } from '../harness/index.ts';
import { REPO_ROOT } from '../repo.ts';
import { URLS } from '../stack/urls.ts';
import { flagFile, SCENARIOS, SERVICES, type Cause, type Scenario } from '../tools/incident.ts';

const run = promisify(execFile);
const FILE = flagFile({});
const kept = existsSync(FILE) ? readFileSync(FILE, 'utf8') : undefined;

// The chapter's commands, word for word: each is run below, its placeholders filled in.
const CHAPTER = {
  worked: 'pnpm incident start slow-words',
  workedAnswer: 'pnpm incident answer --service words --cause latency --trace <trace id> --span <span id>',
  answer: 'pnpm incident answer --service <service> --cause <cause> --trace <trace id> --span <span id>',
  answerByMetric: 'pnpm incident answer --service <service> --cause <cause> --metric <metric>',
  random: 'pnpm incident start --random',
  seeded: 'pnpm incident start --random --seed 7',
  help: 'pnpm incident answer --help',
  list: 'pnpm incident list',
  reveal: 'pnpm incident reveal',
  stop: 'pnpm incident stop',
};

/**
 * A command as a learner types it, in a shell at the repository's root; `fast` runs the same file
 * with node instead of through pnpm (for the refusals, many of them).
 */
async function incident(command: string, fast = false): Promise<{ code: number; out: string }> {
  const line = fast ? command.replace(/^pnpm incident /, `'${process.execPath}' shared/tools/incident.ts `) : command.replace(/^pnpm /, 'pnpm --silent ');
  const env = { ...process.env, FLAGS_FILE: '' };
  try {
    const { stdout } = await run('sh', ['-c', line], { cwd: REPO_ROOT, env });
    return { code: 0, out: stdout };
  } catch (err) {
    const { code, stdout, stderr } = err as { code: number; stdout: string; stderr: string };
    return { code, out: `${stdout}${stderr}` };
  }
}

/** A chapter command with its placeholders filled: the evidence, a trace and span id or a metric's name. */
function fill(template: string, service: string, cause: string, evidence: [string, string] | string): string {
  const named = template.replace(/--service \S+/, `--service ${service}`).replace(/--cause \S+/, `--cause ${cause}`);
  if (typeof evidence === 'string') return CHAPTER.answerByMetric.replace('<service>', service).replace('<cause>', cause).replace('<metric>', evidence);
  return named.replace('<trace id>', evidence[0]).replace('<span id>', evidence[1]);
}

const micros = (ms: number): number => ms * 1000;
const isServer = (span: JaegerSpan): boolean => tag(span, 'span.kind') === 'server';
const of = (trace: JaegerTrace, service: string): JaegerSpan[] => trace.spans.filter((s) => serviceOf(trace, s) === `step-22-${service}`);
const otherService = (s: Scenario): string => SERVICES.find((name) => name !== s.service)!;
const otherCause = (s: Scenario): Cause => (s.cause === 'latency' ? 'errors' : 'latency');

/** A trace id and span id found as the chapter finds it, and a healthy one from the same incident. */
interface Evidence {
  found: [string, string] | string;
  healthy: [string, string] | string;
  /** What an attacker would give, made by hand (a request sent past the gateway, a trace id shared on purpose). */
  forged?: [string, string];
}

describe('pnpm incident: every scenario found in its signal, and answered', () => {
  let stage: RunningStage;
  const answers: Record<string, Array<{ what: string; code: number; out: string }>> = {};
  const instructor: Record<string, { code: number; out: string }> = {};
  /** The right service and cause with the evidence an attacker made by hand. */
  const forgedAnswers: Record<string, { code: number; out: string }> = {};

  const reloads = (): number => stage.output().split('\n').filter((l) => l.includes(`flags: ${FILE} changed, flags reloaded`)).length;
  /** Runs `pnpm incident` with `args` and waits until the three services read the change. */
  async function switchTo(command: string): Promise<{ code: number; out: string }> {
    const before = reloads();
    const text = (): string => (existsSync(FILE) ? readFileSync(FILE, 'utf8') : '');
    const was = text();
    const done = await incident(command);
    expect(done.code, done.out).toBe(0);
    // --random may pick the fault that is on already: the same file, nothing to reload.
    if (text() === was) return done;
    // Within a second on an idle machine; a loaded one (CI, with a fault that blocks words) takes longer.
    await eventually('the three services reloading the flags', async () => (reloads() >= before + 3 ? true : undefined), 20_000);
    return done;
  }
  const get = (n: number, path = '/', headers: Record<string, string> = {}) => Promise.all(Array.from({ length: n }, () => stage.get(path, headers)));
  /** The URL of greeter or words, as the stage's start says it. */
  const urlOf = (service: 'greeter' | 'words'): string => new RegExp(`${service} on (http://[^,)\\s]+)`).exec(stage.output())![1]!;
  /** A request sent to greeter or words by hand, past the gateway, as Node's fetch sends it (user agent node). */
  const byHand = async (service: 'greeter' | 'words', path: string, headers: Record<string, string> = {}): Promise<void> => {
    await (await fetch(`${urlOf(service)}${path}`, { headers })).arrayBuffer();
  };

  /** Each scenario's traffic and the chapter's way to its evidence; metrics scenarios return none. */
  const find: Record<string, (since: number) => Promise<Evidence>> = {
    // The worked example: the latency histogram's exemplars, the slowest one's trace and span.
    'slow-words': async (since) => {
      await run('pnpm', ['--silent', 'traffic', '--target', stage.baseUrl, '--count', '30', '--rate', '15'], { cwd: REPO_ROOT });
      const query = 'traces_span_metrics_duration_milliseconds_bucket{service_name="step-22-words", span_kind="SPAN_KIND_SERVER"}';
      const params = new URLSearchParams({ query, start: String(since / 1000), end: String(Date.now() / 1000 + 60) });
      type Exemplars = { data: Array<{ exemplars: Array<{ labels: Record<string, string>; value: string }> }> };
      const exemplars = await eventually('exemplars of a slow and a fast request of words', async () => {
        const all = (await getJson<Exemplars>('Prometheus', `${URLS.prometheus}/api/v1/query_exemplars?${params}`)).data.flatMap((s) => s.exemplars);
        const sorted = all.filter((e) => e.labels.trace_id && e.labels.span_id).sort((a, b) => Number(b.value) - Number(a.value));
        return Number(sorted[0]?.value) >= 1000 && Number(sorted.at(-1)?.value) < 1000 ? sorted : undefined;
      });
      const ids = (e: (typeof exemplars)[number]): [string, string] => [e.labels.trace_id!, e.labels.span_id!];
      // Jaeger has the trace the exemplar names.
      const slowest = exemplars[0]!.labels.trace_id;
      const inJaeger = async (): Promise<boolean> => (await jaegerTraces('step-22-words', micros(since))).some((t) => t.traceID === slowest);
      await eventually('the slow trace in Jaeger', async () => ((await inJaeger()) ? true : undefined));
      return { found: ids(exemplars[0]!), healthy: ids(exemplars.at(-1)!) };
    },
    'tier-errors': async (since) => {
      await get(6, '/', { 'x-user-tier': 'gold' });
      await get(3, '/', { 'x-user-tier': 'pro' });
      return eventually('a failing gold trace and a served pro one, in greeter', async () => {
        const traces = await jaegerTraces('step-22-greeter', micros(since));
        const failing = traces.flatMap((t) => of(t, 'greeter').filter((s) => isErrorSpan(s) && tag(s, 'http.route') === '/greeting'));
        const served = traces.flatMap((t) => of(t, 'greeter').filter((s) => isServer(s) && !isErrorSpan(s)));
        return failing[0] && served[0] ? { found: [failing[0].traceID, failing[0].spanID], healthy: [served[0].traceID, served[0].spanID] } : undefined;
      });
    },
    'lost-context': async (since) => {
      await get(3);
      await get(1, '/error');
      // The attacker's evidence: words' span of a request sent to words by hand, with no parent, as greeter's lost call makes it.
      await byHand('words', '/word');
      // Greeter's side of the broken hop: its GET /greeting with no call to words in its trace; its
      // GET /error, whose call to words keeps the context, does not show it.
      return eventually("greeter's GET /greeting with no call to words, its GET /error with one, and words' orphan spans", async () => {
        const traces = await jaegerTraces('step-22-greeter', micros(since));
        const route = (t: JaegerTrace, path: string) => of(t, 'greeter').find((s) => isServer(s) && tag(s, 'http.route') === path);
        const lost = traces.find((t) => route(t, '/greeting') && of(t, 'words').length === 0);
        const kept = traces.find((t) => route(t, '/error') && of(t, 'words').length > 0);
        const words = (await jaegerTraces('step-22-words', micros(since))).flatMap((t) => of(t, 'words').filter(isServer));
        const orphan = words.find((s) => s.references.length === 0 && tag(s, 'user_agent.original') === 'node');
        if (!lost || !kept || !orphan || words.filter((s) => s.references.length === 0).length < 4) return undefined;
        const [found, healthy] = [route(lost, '/greeting')!, route(kept, '/error')!];
        return { found: [found.traceID, found.spanID], healthy: [healthy.traceID, healthy.spanID], forged: [orphan.traceID, orphan.spanID] };
      });
    },
    'retry-storm': async (since) => {
      await get(1);
      await get(2, '/error');
      const root = (t: JaegerTrace): JaegerSpan => of(t, 'gateway').find((s) => s.references.length === 0)!;
      const [storm, single, shared] = await eventually('a gateway trace with many calls to greeter, and two with a single call', async () => {
        const traces = await jaegerTraces('step-22-gateway', micros(since));
        const stormy = traces.find((t) => of(t, 'greeter').filter(isServer).length >= 6);
        const [one, two] = traces.filter((t) => of(t, 'greeter').filter(isServer).length === 1);
        return stormy && one && two ? ([stormy, one, two] as const) : undefined;
      });
      // The attacker's evidence: five requests sent to greeter by hand, each naming the gateway's own call in its traceparent.
      const call = of(shared, 'gateway').find((s) => tag(s, 'span.kind') === 'client')!;
      for (let i = 0; i < 5; i++) await byHand('greeter', '/greeting', { traceparent: `00-${shared.traceID}-${call.spanID}-01` });
      await eventually('the five calls by hand in the shared trace', async () => {
        const grown = (await jaegerTraces('step-22-gateway', micros(since))).find((t) => t.traceID === shared.traceID);
        return grown && of(grown, 'greeter').filter(isServer).length >= 6 ? true : undefined;
      });
      return { found: [storm.traceID, root(storm).spanID], healthy: [single.traceID, root(single).spanID], forged: [shared.traceID, root(shared).spanID] };
    },
    'blocked-loop': async () => {
      await eventually("words' event loop delay above 150 ms in Prometheus", async () => {
        await get(4);
        const delay = await promQuery('max by (job) (nodejs_eventloop_delay_max_seconds{job=~"step-22-.*"})');
        const words = Number(delay.find((d) => d.metric.job === 'step-22-words')?.value[1] ?? 0);
        return words > 0.15 ? true : undefined;
      });
      // The metric the chapter reads, and one that does not show this fault.
      return { found: 'nodejs_eventloop_delay_max_seconds', healthy: 'v8js_memory_heap_used_bytes' };
    },
    'leaky-cache': async () => {
      const query = 'sum by (job) (v8js_memory_heap_used_bytes{job="step-22-gateway"})';
      const heap = async (): Promise<number> => Number((await promQuery(query))[0]?.value[1] ?? 0);
      const before = await heap();
      for (let i = 0; i < 60; i++) await stage.get('/');
      await eventually("the gateway's heap grown by 40 MiB in Prometheus", async () => ((await heap()) > before + 40 * 2 ** 20 ? true : undefined));
      return { found: 'v8js_memory_heap_used_bytes', healthy: 'nodejs_eventloop_delay_p90_seconds' };
    },
    'silent-fallback': async (since) => {
      await get(2);
      return eventually("a warn record of words, and one of its usual records, in VictoriaLogs", async () => {
        // logsQuery looks a minute further back (clock skew): this incident's records only.
        const records = (await logsQuery('service.name:="step-22-words"', since)).filter((r) => r.trace_id && r.span_id && Date.parse(r._time ?? '') >= since);
        const warned = records.find((r) => r.severity_text === 'warn');
        const usual = records.find((r) => r.severity_text === 'info' && r.span_id !== warned?.span_id);
        return warned && usual ? { found: [warned.trace_id!, warned.span_id!], healthy: [usual.trace_id!, usual.span_id!] } : undefined;
      });
    },
  };

  beforeAll(async () => {
    // The stage's own default: the git-ignored copy of flags.json, every fault off to begin with.
    rmSync(FILE, { force: true });
    stage = await startStage('step-22', { otlpEndpoint: URLS.otlpHttp });
    await get(2);
    // The instructor's commands, on the running stage.
    instructor.list = await incident(CHAPTER.list);
    instructor.seeded = await switchTo(CHAPTER.seeded);
    instructor.revealed = await incident(CHAPTER.reveal);
    instructor.random = await switchTo(CHAPTER.random);
    instructor.help = await incident(CHAPTER.help);
    await switchTo(CHAPTER.stop);
    instructor.seededAgain = await switchTo(CHAPTER.seeded);
    instructor.revealedAgain = await incident(CHAPTER.reveal);
    await switchTo(CHAPTER.stop);
    for (const scenario of SCENARIOS) {
      const since = Date.now();
      const worked = scenario.name === 'slow-words';
      await switchTo(worked ? CHAPTER.worked : `pnpm incident start ${scenario.name}`);
      const { found, healthy, forged } = await find[scenario.name]!(since);
      const { service, cause } = scenario;
      answers[scenario.name] = [
        { what: 'right, with its evidence', ...(await incident(fill(worked ? CHAPTER.workedAnswer : CHAPTER.answer, service, cause, found))) },
        { what: 'a wrong service', ...(await incident(fill(CHAPTER.answer, otherService(scenario), cause, found), true)) },
        { what: 'a wrong cause', ...(await incident(fill(CHAPTER.answer, service, otherCause(scenario), found), true)) },
        { what: 'evidence that does not show it', ...(await incident(fill(CHAPTER.answer, service, cause, healthy), true)) },
      ];
      if (forged) forgedAnswers[scenario.name] = await incident(fill(CHAPTER.answer, service, cause, forged), true);
      await switchTo(CHAPTER.stop);
    }
  }, 9 * 60_000);

  afterAll(async () => {
    await stage?.stop();
    if (kept === undefined) rmSync(FILE, { force: true });
    else writeFileSync(FILE, kept);
  });

  const each = SCENARIOS.map((s) => [s.name, s] as const);
  it.each(each)('%s: the right diagnosis is taken with its evidence; a wrong service, cause or span is not', (name, scenario) => {
    const [ok, service, cause, healthy] = answers[name]!;
    expect([ok!.code, ok!.out.split('\n')[0]], ok!.out).toEqual([0, expect.stringMatching(new RegExp(`^✓ ${scenario.service}, ${scenario.cause}: `))]);
    // One ✗ for each way to be wrong: it never says which part was right.
    const notConfirmed = (s: string, c: string) => `✗ ${s}, ${c}: not confirmed: either that is not the running fault, or the evidence does not show it`;
    expect([service!.code, service!.out.split('\n')[0]]).toEqual([1, notConfirmed(otherService(scenario), scenario.cause)]);
    expect([cause!.code, cause!.out.split('\n')[0]]).toEqual([1, notConfirmed(scenario.service, otherCause(scenario))]);
    expect([healthy!.code, healthy!.out.split('\n')[0]], healthy!.out).toEqual([1, notConfirmed(scenario.service, scenario.cause)]);
  });

  it('lost-context and retry-storm: evidence made by hand is refused (an orphan span of words, calls to greeter sent into a trace)', () => {
    const refused = (name: string): [string, number, string] => {
      const { service, cause } = SCENARIOS.find((s) => s.name === name)!;
      return [name, 1, `✗ ${service}, ${cause}: not confirmed: either that is not the running fault, or the evidence does not show it`];
    };
    const said = Object.entries(forgedAnswers).map(([name, answer]) => [name, answer.code, answer.out.split('\n')[0]]);
    expect(said.sort()).toEqual(['lost-context', 'retry-storm'].map(refused));
  });

  it("the instructor's commands: list, a seeded start that picks the same fault again and says nothing of it, reveal", () => {
    expect(instructor.list!.out.trim().split('\n')).toHaveLength(SCENARIOS.length);
    expect(instructor.revealed!.out).toMatch(new RegExp(`^(${SCENARIOS.map((s) => s.name).join('|')}): `));
    expect(instructor.revealedAgain!.out.split(',')[0]).toBe(instructor.revealed!.out.split(',')[0]);
    expect(instructor.random!.out).toBe(instructor.seeded!.out);
    expect(instructor.seeded!.out).not.toMatch(new RegExp(SCENARIOS.map((s) => s.name).join('|')));
    expect(instructor.help!.out).toContain('Causes:');
  });

  it('leaves every fault off, in a flag file git ignores', async () => {
    expect((await incident(CHAPTER.reveal)).out).toContain('no incident is running');
    // flags.json as committed; flags.local.json, ignored, listed by neither.
    const status = await run('git', ['status', '--porcelain', '--', 'steps/step-22/flags.json', FILE], { cwd: REPO_ROOT });
    expect(status.stdout).toBe('');
  });
});
