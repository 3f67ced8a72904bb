// Docs that run, the half that needs the stack: after each instrumented stage has served its
// chapter's requests, every backend URL a chapter links answers, every `pnpm traces` command and
// backend curl it gives prints what the chapter says, and every PromQL query it gives returns series.
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { REPO_ROOT, startStage } from '../harness/index.ts';
import { chapterFiles, loadWorkspace } from '../docs/check-chapters.ts';
import { parseChapter, runnerOf, STACK_PORTS } from '../docs/runnable.ts';
import { URLS } from '../stack/urls.ts';
import { listStages } from '../tools/stages.ts';
import { eventually, expectationsFromSnapshot, jaegerTraces, promQuery, type StageExpectations } from './backends.ts';

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
    await stage.stop('SIGINT');
  }
  for (const { service } of expectations.values()) {
    await eventually(`traces of ${service} in Jaeger`, async () => ((await jaegerTraces(service, since)).length >= 2 ? true : undefined));
  }
}, 120_000);

describe('every backend URL a chapter links answers', () => {
  const urls = parsed.flatMap((p) => p.urls).filter((u) => STACK_PORTS.some((port) => u.text.includes(`127.0.0.1:${port}`)));
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
  });
});
