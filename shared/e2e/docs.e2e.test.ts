// Docs that run, the half that needs the stack: after each instrumented stage has served its
// chapter's requests, every backend URL a chapter links answers, every `pnpm traces` and `pnpm logs`
// command and backend curl it gives prints what the chapter says, and every PromQL query it gives returns series,
// with the labels it groups by on every row.
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { startStage } from '../harness/index.ts';
import { listStages, REPO_ROOT } from '../repo.ts';
import { chapterFiles, loadWorkspace } from '../docs/check-chapters.ts';
import { parseChapter, runnerOf } from '../docs/runnable.ts';
import { STACK_PORTS, URLS } from '../stack/urls.ts';
import { eventually, jaegerTraces, logsQuery, promQuery } from '../backends/index.ts';
import { expectationsFromSnapshot, type StageExpectations } from '../harness/telemetry-text.ts';

// Every instrumented stage: all but step 6.
const STAGES = listStages().map((s) => s.name).filter((name) => name !== 'step-06');
const parsed = chapterFiles(loadWorkspace(REPO_ROOT)).map((f) => parseChapter(f));
const expectations = new Map<string, StageExpectations>(STAGES.map((s) => [s, expectationsFromSnapshot(join(REPO_ROOT, 'steps', s))]));
const byService = new Map([...expectations.values()].map((e) => [e.service, e]));

beforeAll(async () => {
  const since = Date.now() * 1000;
  for (const name of STAGES) {
    const stage = await startStage(name, { otlpEndpoint: URLS.otlpHttp });
    // /healthz too: the collector's filter drops step 14's, and the chapter's counter shows it.
    for (const path of ['/', '/error', '/nope', '/healthz']) await stage.get(path);
    // From step 18 on the stage sends metrics: a series' first sample has no rate, so the
    // chapters' rate() queries need requests after the stage's first export (every second).
    if (Number(name.slice('step-'.length)) >= 18) {
      await new Promise((r) => setTimeout(r, 2_500));
      for (const path of ['/', '/error', '/nope']) await stage.get(path);
    }
    await stage.stop('SIGINT');
  }
  for (const { service } of expectations.values()) {
    await eventually(`traces of ${service} in Jaeger`, async () => ((await jaegerTraces(service, since)).length >= 2 ? true : undefined));
  }
}, 120_000);

describe('every backend URL a chapter links answers', () => {
  const urls = parsed.flatMap((p) => p.urls).filter((u) => Object.keys(STACK_PORTS).some((port) => u.text.includes(`127.0.0.1:${port}`)));
  it.each(urls.map((u) => [`${u.file}:${u.line} ${u.text}`, u.text] as const))('%s', async (_name, url) => {
    const res = await fetch(url, { signal: AbortSignal.timeout(5000) });
    expect(res.status).toBe(200);
  });
});

describe('every stack command a chapter gives prints what it says', () => {
  const commands = parsed.flatMap((p) => p.shell).filter((s) => runnerOf(s.text).kind === 'stack');
  it('there are some', () => expect(commands.length).toBeGreaterThan(0));
  it.each(commands.map((s) => [`${s.file}:${s.line} ${s.text}`, s.text] as const))('%s', (_name, command) => {
    const run = spawnSync('sh', ['-c', command], { cwd: REPO_ROOT, encoding: 'utf8', timeout: 30_000 });
    expect(run.status, run.stderr).toBe(0);
    const traces = /^pnpm traces (\S+)$/.exec(command);
    if (!traces) return expect(run.stdout.trim()).not.toBe('');
    const expected = byService.get(traces[1]!);
    expect(expected, `no stage is named ${traces[1]}`).toBeDefined();
    for (const { spans, errors } of Object.values(expected!.byRequest)) {
      for (const span of spans) expect(run.stdout).toContain(`${span}  [`);
      for (const span of errors) expect(run.stdout).toMatch(new RegExp(`${span.replace(/[/]/g, '\\/')}  \\[\\w+\\]  [\\d.]+ ms  ERROR`));
    }
  });
});

describe('every PromQL query a chapter gives returns series', () => {
  const queries = parsed.flatMap((p) => p.promql);
  it('there are some', () => expect(queries.length).toBeGreaterThan(0));
  it.each(queries.map((q) => [`${q.file}:${q.line} ${q.text}`, q.text] as const))('%s', async (_name, query) => {
    const result = await eventually(`series for ${query}`, async () => {
      const series = await promQuery(query);
      return series.length > 0 ? series : undefined;
    });
    const service = /service_name="([^"]+)"/.exec(query)?.[1];
    if (service) expect(byService.has(service), `${service} is a stage's service.name`).toBe(true);
    expect(result.length).toBeGreaterThan(0);
    // A query that groups `by (...)` promises those labels: some row carries them all, no row is
    // left with none (`{}`: a misnamed label, or series that lack it), none carries another.
    // (A row may lack one: step 18's 404s have no http_route.)
    const labels = groupedBy(query);
    const keys = (metric: Record<string, string>): string[] => Object.keys(metric).filter((k) => k !== '__name__').sort();
    if (labels?.length) {
      expect(result.some((s) => keys(s.metric).length === labels.length), `a row with every label of ${labels.join(', ')}`).toBe(true);
      for (const series of result) {
        expect(keys(series.metric).length, `a row with none of ${labels.join(', ')}`).toBeGreaterThan(0);
        expect(labels, JSON.stringify(series.metric)).toEqual(expect.arrayContaining(keys(series.metric)));
      }
    }
    // A quantile is NaN for a series with no request in its window (the chapters say so); the
    // query must still answer with a number somewhere.
    expect(result.some((s) => s.value[1] !== 'NaN'), 'some row with a number').toBe(true);
  });
});

describe('every LogsQL query a chapter gives finds records of a stage', () => {
  const queries = parsed.flatMap((p) => p.logsql);
  it('there are some', () => expect(queries.length).toBeGreaterThan(0));
  it.each(queries.map((q) => [`${q.file}:${q.line} ${q.text}`, q.text] as const))('%s', async (_name, query) => {
    const records = await eventually(`records for ${query}`, async () => {
      const found = await logsQuery(query, Date.now() - 3_600_000);
      return found.length > 0 ? found : undefined;
    });
    for (const record of records) expect(byService.has(record['service.name'] ?? ''), `${record['service.name']} is a stage's service.name`).toBe(true);
  });
});

/** The labels the rows of `query` carry when its outermost aggregation groups `by (...)`, `le` aside (a quantile consumes it). */
export function groupedBy(query: string): string[] | undefined {
  const match = /\bby\s*\(([^)]*)\)/.exec(query);
  return match ? match[1]!.split(',').map((l) => l.trim()).filter((l) => l && l !== 'le').sort() : undefined;
}
