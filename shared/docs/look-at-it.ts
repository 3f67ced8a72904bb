// The "look at it" half of the chapters, done in a real browser (Debian's Chromium, driven by
// playwright-core) against a running stack: Zipkin finds step 19's failing request, its Logs
// button opens the logs UI on that trace's records, the logs UI finds them by service too, and
// Prometheus graphs a chapter's query with its exemplars; and step 21's page, clicked, is one trace
// in Zipkin from the browser to words. The end-to-end test runs it and checks
// each page; `pnpm screenshots` runs the same code to write the pictures the chapters show.
import { mkdirSync } from 'node:fs';
import { startStage } from '../harness/stage-runner.ts';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { SCREENSHOTS } from './screenshots.ts';
import { eventually, logsQuery, promQuery, promQueryRange, zipkinDependencies, zipkinTrace, zipkinTraces } from '../backends/index.ts';
import { logsUiUrl, URLS } from '../stack/urls.ts';
import { clickThePage, launchChromium } from '../harness/browser-page.ts';

/** The PromQL the metrics picture graphs: step 18's p95, on the span metrics (which carry exemplars). */
export const EXEMPLAR_QUERY = 'histogram_quantile(0.95, sum by (le, span_name) (rate(traces_span_metrics_duration_milliseconds_bucket{service_name="step-19-logs", span_kind="SPAN_KIND_SERVER"}[5m])))';



const SERIES_OF_STEP_19 = 'traces_span_metrics_calls_total{service_name="step-19-logs", span_kind="SPAN_KIND_SERVER"}';

/** The span of time Prometheus's graph is asked for, in seconds: the lines fill most of it. */
const GRAPH_SECONDS = 60;

export interface LookedAt {
  /** The trace id the Zipkin trace page showed. */
  zipkinTraceId: string;
  /** The text of the exception annotation on the failing handler span. */
  exception: string;
  /** The logs UI's URL after the Logs button, and the rows it listed. */
  logsUrl: string;
  logsOfTrace: string[];
  /** The trace_id field of the error record, expanded in the logs UI. */
  errorRecordTraceId: string;
  logsByService: string[];
  /** What Prometheus's graph page says it drew for EXEMPLAR_QUERY ("Total time series: N"). */
  prometheusSeries: string;
}

/**
 * Walks through step 19's "look at it" for the trace `traceId` (a GET /error), writing one
 * screenshot per page into `outDir`; returns what each page showed, for a test to check.
 */
export async function lookAtIt(traceId: string, outDir: string): Promise<LookedAt> {
  mkdirSync(outDir, { recursive: true });
  const browser = await launchChromium();
  try {
    const context = await browser.newContext({ viewport: { width: 1200, height: 720 } });
    const page = await context.newPage();
    const shot = (p: Page, name: string): Promise<Buffer> => p.screenshot({ path: join(outDir, name) });

    // Zipkin: the service's traces, newest first; RUN QUERY is what fills the list.
    await page.goto(`${URLS.zipkin}/zipkin/?serviceName=step-19-logs&lookback=1h&limit=10`);
    await page.getByRole('button', { name: 'Run Query' }).click();
    const row = page.locator('div', { hasText: /^step-19-logs: get \/error$/ }).first();
    await row.waitFor({ timeout: 15_000 });
    await shot(page, SCREENSHOTS.zipkinSearch);

    // The trace page, with the failing handler span selected: its exception annotation.
    await page.goto(`${URLS.zipkin}/zipkin/traces/${traceId}`);
    await page.getByText('step-19-logs: handler - fail').click();
    const annotation = page.getByText(/^exception\|/).first();
    await annotation.waitFor({ timeout: 15_000 });
    const exception = (await annotation.innerText()).trim();
    const zipkinTraceId = (await page.getByText(/^[0-9a-f]{32}$/).first().innerText()).trim();

    // Its Logs button, in the menu beside SPAN TABLE, opens the logs UI in a new tab.
    await page.locator('button:right-of(:text("Span table"))').first().click();
    const viewLogs = page.getByRole('menuitem', { name: 'View Logs' });
    await viewLogs.waitFor();
    // The menu fades in: the picture waits until it is fully there.
    await page.waitForFunction(() => [...document.querySelectorAll('[role="menu"]')].some((m) => getComputedStyle(m.closest('.MuiPaper-root') ?? m).opacity === '1'));
    await page.waitForTimeout(200);
    await shot(page, SCREENSHOTS.zipkinTrace);
    const [logs] = await Promise.all([context.waitForEvent('page'), viewLogs.click()]);
    await logs.setViewportSize({ width: 1200, height: 720 });
    await logs.getByText('Something went wrong on purpose').first().waitFor({ timeout: 15_000 });
    const logsOfTrace = await logRows(logs);
    // The error record, opened: its fields, the trace id among them.
    await logs.getByText('Something went wrong on purpose').first().click();
    const traceField = logs.locator('tr', { hasText: /^\s*trace_id/ }).first();
    await traceField.waitFor({ timeout: 10_000 });
    const errorRecordTraceId = /[0-9a-f]{32}/.exec(await traceField.innerText())?.[0] ?? '';
    await traceField.scrollIntoViewIfNeeded();
    await shot(logs, SCREENSHOTS.logsOfTrace);
    const logsUrl = logs.url();

    // The service's error records, the other way into the logs (a page of its own: the UI reads
    // its query from the address once, when it loads).
    const byService = await context.newPage();
    await byService.goto(logsUiUrl('service.name:="step-19-logs" severity_text:=error'));
    await byService.getByText('Something went wrong on purpose').first().waitFor({ timeout: 15_000 });
    const logsByService = await logRows(byService);
    await shot(byService, SCREENSHOTS.logsByService);

    // Prometheus's graph page: the p95 latency by span. (Debian's Prometheus 2.42 serves its classic
    // UI, which draws no exemplars; Prometheus 3 in compose has a "Show exemplars" switch.)
    // A new series has no rate until its second scrape: the picture waits for lines 30 s long.
    await eventually('30 s of the p95 lines in Prometheus', async () => {
      const series = await promQueryRange(EXEMPLAR_QUERY, GRAPH_SECONDS, 3);
      return series.some((s) => s.values.filter(([, v]) => v !== 'NaN').length >= 10) ? true : undefined;
    }, 90_000);
    const params = new URLSearchParams({ 'g0.expr': EXEMPLAR_QUERY, 'g0.tab': '0', 'g0.range_input': `${GRAPH_SECONDS}s`, 'g0.show_exemplars': '1' });
    // Tall enough for the plot under the query box.
    await page.setViewportSize({ width: 1200, height: 1000 });
    await page.goto(`${URLS.prometheus}/graph?${params}`);
    // The classic UI says "Total time series: N", Prometheus 3's "Result series: N".
    const series = page.getByText(/(Total time series|Result series): [1-9]/).first();
    await series.waitFor({ timeout: 15_000 });
    const prometheusSeries = /(Total time series|Result series): \d+/.exec(await series.innerText())?.[0] ?? '';
    await page.waitForTimeout(500);
    await shot(page, SCREENSHOTS.prometheusGraph);
    return { zipkinTraceId, exception, logsUrl, logsOfTrace, errorRecordTraceId, logsByService, prometheusSeries };
  } finally {
    await browser.close();
  }
}

/**
 * What the pictures show: step 19, started through its start script against the running stack,
 * answering GET / three times and GET /error once, then each once more. Resolves with the failing request's trace id
 * once the trace is in Zipkin, its log records are in VictoriaLogs and its span metrics in Prometheus.
 */
export async function step19Traffic(): Promise<string> {
  const since = Date.now();
  const stage = await startStage('step-19', { otlpEndpoint: URLS.otlpHttp });
  try {
    for (const path of ['/', '/', '/', '/error']) await stage.get(path);
    // A series' first sample has no rate, so a graph of these alone stays empty: a second round,
    // once Prometheus holds the first, gives the p95 lines the chapter describes.
    await eventually('the first requests\' span metrics in Prometheus', async () => ((await promQuery(SERIES_OF_STEP_19)).length > 0 ? true : undefined), 30_000);
    for (const path of ['/', '/error']) await stage.get(path);
  } finally {
    await stage.stop('SIGINT');
  }
  const traceId = await eventually('the GET /error trace in Zipkin', async () => {
    const traces = await zipkinTraces('step-19-logs', Date.now() - since, { spanName: 'get /error', limit: 10 });
    return traces.flat().filter((s) => s.timestamp >= since * 1000).sort((a, b) => b.timestamp - a.timestamp)[0]?.traceId;
  }, 30_000);
  await eventually('its error record in VictoriaLogs', async () => ((await logsQuery(`trace_id:="${traceId}" severity_text:=error`, since)).length ? true : undefined), 30_000);
  await eventually('its span metrics in Prometheus', async () => ((await promQuery(EXEMPLAR_QUERY)).length > 0 ? true : undefined), 30_000);
  return traceId;
}

/**
 * What the step 21 picture shows: the page clicked in Chromium (Greet me, then Fail), the stage
 * started through its start script against the running stack. Resolves with the Greet me trace
 * id once Zipkin holds that trace from all four services.
 */
export async function step21Traffic(): Promise<string> {
  const browser = await launchChromium();
  const stage = await startStage('step-21', { otlpEndpoint: URLS.otlpHttp });
  let traceId: string;
  try {
    traceId = (await clickThePage(browser, stage.baseUrl)).greetTraceId;
  } finally {
    await stage.stop('SIGINT');
    await browser.close();
  }
  await eventually("the click's trace in Zipkin, from all four services", async () => {
    const spans = await zipkinTrace(traceId);
    return new Set(spans.map((span) => span.localEndpoint?.serviceName)).size === 4 ? true : undefined;
  }, 30_000);
  return traceId;
}

/** Zipkin's page for step 21's trace `traceId`, pictured; resolves with the `service: span` rows it lists, in its order. */
export async function lookAtTheBrowserTrace(traceId: string, outDir: string): Promise<string[]> {
  mkdirSync(outDir, { recursive: true });
  const browser = await launchChromium();
  try {
    const page = await (await browser.newContext({ viewport: { width: 1200, height: 720 } })).newPage();
    await page.goto(`${URLS.zipkin}/zipkin/traces/${traceId}`);
    await page.getByText('step-21-words: handler - word').first().waitFor({ timeout: 15_000 });
    // The browser's fetch span, selected: the CLIENT span whose traceparent the gateway continued.
    await page.getByText('step-21-browser: get', { exact: true }).first().click();
    await page.waitForTimeout(300);
    await page.screenshot({ path: join(outDir, SCREENSHOTS.zipkinBrowserTrace) });
    const lines = (await page.locator('body').innerText()).split('\n').map((line) => line.trim());
    return lines.filter((line) => /^step-21-[a-z]+: /.test(line));
  } finally {
    await browser.close();
  }
}

/** What the pictures of steps 8, 11, 14 and 20 show, for a test to check. */
export interface StagesLookedAt {
  /** Step 8: the `fail` trace's id, and the annotation Zipkin shows on its span. */
  manualTraceId: string;
  manualException: string;
  /** Step 11: the `service: span` rows of its GET / trace page, in Zipkin's order. */
  contribTrace: string[];
  /** Step 14: the `service: span` rows of its search page after RUN QUERY. */
  zeroCodeSearch: string[];
  /** Step 20: the services the Dependencies page's filter offers, and those the graph keeps for step-20-greeter. */
  dependencyServices: string[];
}

/**
 * The requests the chapters of steps 8, 11, 14 and 20 send, each stage started through its start
 * script against the running stack; resolves with the two trace ids the pictures open, once
 * Zipkin holds every trace the pictures show.
 */
export async function stagesTraffic(): Promise<{ manualFail: string; contribHello: string }> {
  const since = Date.now();
  for (const [stage, paths] of [['step-08', ['/', '/error']], ['step-11', ['/', '/error']], ['step-14', ['/', '/error']], ['step-20', ['/', '/']]] as const) {
    const running = await startStage(stage, { otlpEndpoint: URLS.otlpHttp });
    try {
      for (const path of paths) await running.get(path);
    } finally {
      await running.stop('SIGINT');
    }
  }
  const newest = (service: string, spanName: string): Promise<string> =>
    eventually(`${service}'s ${spanName} trace in Zipkin`, async () => {
      const traces = await zipkinTraces(service, Date.now() - since, { spanName, limit: 10 });
      return traces.flat().filter((s) => s.timestamp >= since * 1000).sort((a, b) => b.timestamp - a.timestamp)[0]?.traceId;
    }, 30_000);
  const manualFail = await newest('step-08-manual', 'fail');
  const contribHello = await newest('step-11-contrib', 'get /');
  await newest('step-14-zero-code', 'get');
  await eventually('the gateway → greeter → words edges in Zipkin', async () => {
    const links = await zipkinDependencies(Date.now() - since);
    const edges = new Set(links.map((l) => `${l.parent} -> ${l.child}`));
    return edges.has('step-20-gateway -> step-20-greeter') && edges.has('step-20-greeter -> step-20-words') ? true : undefined;
  }, 30_000);
  return { manualFail, contribHello };
}

/** Zipkin's pages for the chapters of steps 8, 11, 14 and 20, pictured into `outDir`; resolves with what each showed. */
export async function lookAtTheStages(traces: { manualFail: string; contribHello: string }, outDir: string): Promise<StagesLookedAt> {
  mkdirSync(outDir, { recursive: true });
  const browser = await launchChromium();
  try {
    const page = await (await browser.newContext({ viewport: { width: 1200, height: 720 } })).newPage();

    // Step 8: the fail trace, its one span selected: the exception annotation.
    await page.goto(`${URLS.zipkin}/zipkin/traces/${traces.manualFail}`);
    await page.getByText('step-08-manual: fail').first().click();
    const annotation = page.getByText(/^exception\|/).first();
    await annotation.waitFor({ timeout: 15_000 });
    const manualException = (await annotation.innerText()).trim();
    const manualTraceId = (await page.getByText(/^[0-9a-f]{32}$/).first().innerText()).trim();
    await page.waitForTimeout(300);
    await page.screenshot({ path: join(outDir, SCREENSHOTS.zipkinManualTrace) });

    // Step 11: GET / as three levels, server span to handler.
    await page.goto(`${URLS.zipkin}/zipkin/traces/${traces.contribHello}`);
    await page.getByText('step-11-contrib: handler - hello').first().waitFor({ timeout: 15_000 });
    await page.waitForTimeout(300);
    await page.screenshot({ path: join(outDir, SCREENSHOTS.zipkinContribTrace) });
    // The first row is the page's heading, the root span's name.
    const contribTrace = (await spanRows(page, 'step-11-contrib')).slice(1);

    // Step 14: the service's traces, one `get` span each.
    await page.goto(`${URLS.zipkin}/zipkin/?serviceName=step-14-zero-code&lookback=15m&limit=10`);
    await page.getByRole('button', { name: 'Run Query' }).click();
    await page.locator('div', { hasText: /^step-14-zero-code: get$/ }).first().waitFor({ timeout: 15_000 });
    await page.waitForTimeout(300);
    await page.screenshot({ path: join(outDir, SCREENSHOTS.zipkinZeroCodeSearch) });
    const zeroCodeSearch = await spanRows(page, 'step-14-zero-code');

    // Step 20: the Dependencies page, filtered to greeter: the services it calls and is called by.
    // (The graph is drawn on a canvas; the filter's options are the services the page was given.)
    await page.goto(`${URLS.zipkin}/zipkin/dependency`);
    await page.getByRole('button', { name: 'Run Query' }).click();
    await page.getByLabel('Filter').click();
    await page.getByRole('option', { name: 'step-20-greeter' }).waitFor({ timeout: 15_000 });
    const dependencyServices = (await page.getByRole('option').allInnerTexts()).filter((name) => name.startsWith('step-20-'));
    await page.getByRole('option', { name: 'step-20-greeter' }).click();
    // The graph settles into place after an animation.
    await page.waitForTimeout(1_500);
    await page.screenshot({ path: join(outDir, SCREENSHOTS.zipkinDependencies) });
    return { manualTraceId, manualException, contribTrace, zeroCodeSearch, dependencyServices };
  } finally {
    await browser.close();
  }
}

/** The `service: span` rows a Zipkin page lists for `service`, in its order. */
async function spanRows(page: Page, service: string): Promise<string[]> {
  const lines = (await page.locator('body').innerText()).split('\n').map((line) => line.trim());
  return lines.filter((line) => line.startsWith(`${service}: `));
}

/** The records the logs UI lists, in its order (newest first), as `LEVEL message`. */
async function logRows(page: Page): Promise<string[]> {
  const lines = (await page.locator('body').innerText()).split('\n').map((line) => line.trim());
  const rows: string[] = [];
  lines.forEach((line, i) => {
    if (/^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d+$/.test(line) && /^[A-Z]+$/.test(lines[i + 1] ?? '')) rows.push(`${lines[i + 1]} ${lines[i + 2]}`);
  });
  return rows;
}
