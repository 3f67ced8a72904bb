// The chapters' "look at it", in a real browser against the running stack: what a learner clicks
// and what each page must show, with the screenshots written on the way (shared/docs/look-at-it.ts).
// `pnpm screenshots` runs the same walk-through into shared/docs/screenshots/.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../repo.ts';
import { URLS } from '../stack/urls.ts';
import { chapterScreenshots, SCREENSHOTS } from '../docs/screenshots.ts';
import { eventually } from '../backends/index.ts';
import { lookAtIt, lookAtTheBrowserTrace, lookAtTheStages, stagesTraffic, step19Traffic, step21Traffic, type LookedAt, type StagesLookedAt } from '../docs/look-at-it.ts';

describe('look at it, in Chromium: from a trace in Zipkin to its logs, and a chapter query in Prometheus', () => {
  const out = mkdtempSync(join(tmpdir(), 'otel-steps-screenshots-'));
  let traceId: string;
  let seen: LookedAt;
  let clicked: string;
  let browserTrace: string[];
  let stageTraces: { manualFail: string; contribHello: string };
  let stages: StagesLookedAt;

  beforeAll(async () => {
    traceId = await step19Traffic();
    seen = await lookAtIt(traceId, out);
    clicked = await step21Traffic();
    browserTrace = await lookAtTheBrowserTrace(clicked, out);
    stageTraces = await stagesTraffic();
    stages = await lookAtTheStages(stageTraces, out);
  }, 300_000);

  afterAll(() => rmSync(out, { recursive: true, force: true }));

  it("Zipkin finds step 19's GET /error trace, and shows the exception's type, message and stack on the failing span", () => {
    expect(seen.zipkinTraceId).toBe(traceId);
    const [name, attributes] = seen.exception.split('|');
    expect(name).toBe('exception');
    expect(JSON.parse(attributes!)).toMatchObject({ 'exception.type': 'Error', 'exception.message': 'Something went wrong on purpose', 'exception.stacktrace': expect.stringMatching(/^Error: Something went wrong on purpose\n/) });
  });

  it("its Logs button opens the logs UI on that trace's records: the error record, with the same trace id", () => {
    expect(decodeURIComponent(seen.logsUrl)).toContain(`query=trace_id:="${traceId}"`);
    expect(seen.logsUrl.startsWith(URLS.victorialogsUi)).toBe(true);
    // The request's three lines, newest first; lines that share a millisecond come in any order.
    expect([...seen.logsOfTrace].sort()).toEqual(['ERROR Something went wrong on purpose', 'INFO incoming request', 'INFO request completed']);
    expect(seen.errorRecordTraceId).toBe(traceId);
  });

  it('the logs UI finds the error records by service too', () => {
    expect(seen.logsByService.length).toBeGreaterThan(0);
    expect(new Set(seen.logsByService)).toEqual(new Set(['ERROR Something went wrong on purpose']));
  });

  it("Prometheus's graph page answers the chapter's p95 query, and the exemplars behind it name step 19's traces", async () => {
    expect(seen.prometheusSeries).toMatch(/^(Total time series|Result series): [1-9]/);
    // From a point on a latency graph to its trace: the span metrics' exemplars carry trace ids.
    const exemplars = await eventually('exemplars for step 19', async () => {
      const params = new URLSearchParams({ query: 'traces_span_metrics_duration_milliseconds_bucket{service_name="step-19-logs"}', start: String(Date.now() / 1000 - 600), end: String(Date.now() / 1000 + 60) });
      const body = (await (await fetch(`${URLS.prometheus}/api/v1/query_exemplars?${params}`)).json()) as { data: Array<{ exemplars: Array<{ labels: { trace_id?: string } }> }> };
      const ids = body.data.flatMap((s) => s.exemplars.map((e) => e.labels.trace_id ?? ''));
      return ids.includes(traceId) ? ids : undefined;
    });
    expect(exemplars.every((id) => /^[0-9a-f]{32}$/.test(id))).toBe(true);
  });

  it("Zipkin shows step 21's click as one trace, from the browser's click span down to the words handler", () => {
    expect(browserTrace[0]).toBe('step-21-browser: click greet');
    expect(browserTrace.at(-1)).toBe('step-21-words: handler - word');
    expect(new Set(browserTrace.map((row) => row.split(':')[0]))).toEqual(new Set(['step-21-browser', 'step-21-gateway', 'step-21-greeter', 'step-21-words']));
  });

  it("step 8: Zipkin's page of the fail trace shows the exception event on its one span", () => {
    expect(stages.manualTraceId).toBe(stageTraces.manualFail);
    const [name, attributes] = stages.manualException.split('|');
    expect(name).toBe('exception');
    expect(JSON.parse(attributes!)).toMatchObject({ 'exception.type': 'Error', 'exception.message': expect.any(String), 'exception.stacktrace': expect.stringMatching(/^Error: /) });
  });

  it("step 11: Zipkin shows GET / as three levels, server span, request, handler", () => {
    expect(stages.contribTrace).toEqual(['step-11-contrib: get /', 'step-11-contrib: request', 'step-11-contrib: handler - hello']);
  });

  it("step 14: Zipkin's search lists its requests as get spans, and no /healthz", () => {
    expect(stages.zeroCodeSearch.length).toBeGreaterThanOrEqual(2);
    expect(new Set(stages.zeroCodeSearch.filter((row) => row !== 'step-14-zero-code: dns.lookup'))).toEqual(new Set(['step-14-zero-code: get']));
  });

  it("step 20: Zipkin's Dependencies page is given the three services, gateway, greeter and words", () => {
    expect([...stages.dependencyServices].sort()).toEqual(['step-20-gateway', 'step-20-greeter', 'step-20-words']);
  });

  it('wrote every picture a chapter shows, under the name the chapter uses', () => {
    const written = readdirSync(out).sort();
    expect(written).toEqual(Object.values(SCREENSHOTS).sort());
    for (const { image } of chapterScreenshots()) expect(written, image).toContain(image);
  });

  // The chapters' terminal view of the same request, with the trace id the browser looked at.
  it.each(['pnpm traces --trace <trace id>', 'pnpm logs --trace <trace id>'])('%s prints the request\'s error record with its trace id', (command) => {
    const run = spawnSync('sh', ['-c', command.replace('<trace id>', traceId)], { cwd: REPO_ROOT, encoding: 'utf8', timeout: 30_000 });
    expect(run.status, run.stderr).toBe(0);
    expect(run.stdout).toMatch(new RegExp(`ERROR  Something went wrong on purpose  \\(step-19-logs\\)  trace ${traceId} span [0-9a-f]{16}`));
    if (command.startsWith('pnpm traces')) expect(run.stdout).toContain('handler - fail  [internal]');
  });

  it('pnpm screenshots, the command the instructors regenerate the pictures with, writes them all', () => {
    const dir = mkdtempSync(join(tmpdir(), 'otel-steps-screenshots-cmd-'));
    try {
      const run = spawnSync('sh', ['-c', `pnpm screenshots --out ${dir}`], { cwd: REPO_ROOT, encoding: 'utf8', timeout: 150_000 });
      expect(run.status, `${run.stdout}${run.stderr}`).toBe(0);
      expect(readdirSync(dir).sort()).toEqual(Object.values(SCREENSHOTS).sort());
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 180_000);
});
