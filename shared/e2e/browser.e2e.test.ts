// Step 21 in a real browser (Debian's Chromium, through playwright-core): the page is opened and
// both buttons clicked, and what arrives is checked twice. Over OTLP, from the stage's real start
// script to a receiver: one trace from the click to words, CLIENT → SERVER at every hop, the
// document-load spans under the gateway's span for the page, the error, and no secret of the
// page's. Against the native stack: the same click's trace in Jaeger, with its four services.
import { readFileSync } from 'node:fs';
import { createServer, type IncomingHttpHeaders } from 'node:http';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { leaked, renderSpanTrees, SpanKind, startOtlpReceiver, startStage, StatusCode, type OtlpReceiver, type ReceivedSpan, type StageExit } from '../harness/index.ts';
import { REPO_ROOT } from '../repo.ts';
import { URLS } from '../stack/urls.ts';
import { eventually, jaegerTrace, zipkinDependencies } from '../backends/index.ts';
import { clickThePage, launchChromium, type Clicked } from '../harness/browser-page.ts';

const SERVICES = ['step-21-browser', 'step-21-gateway', 'step-21-greeter', 'step-21-words'];
const service = (span: ReceivedSpan): string => String(span.resource['service.name']);

let browser: Browser;
beforeAll(async () => {
  browser = await launchChromium();
});
afterAll(async () => {
  await browser?.close();
});

describe('step 21 in Chromium: one click, one trace, from the browser to words (over OTLP)', () => {
  let receiver: OtlpReceiver;
  let clicked: Clicked;
  let exit: StageExit;
  // Another origin the page calls: it must not get the page's traceparent.
  const elsewhere: IncomingHttpHeaders[] = [];
  let otherUrl: string;
  const other = createServer((req, res) => {
    elsewhere.push(req.headers);
    res.writeHead(200, { 'access-control-allow-origin': '*' }).end('elsewhere');
  });
  const spans = (): ReceivedSpan[] => receiver.spans;
  const byId = (id: string): ReceivedSpan | undefined => spans().find((s) => s.spanId === id);
  const traceOf = (traceId: string): ReceivedSpan[] => spans().filter((s) => s.traceId === traceId);

  beforeAll(async () => {
    receiver = await startOtlpReceiver();
    await new Promise<void>((resolve) => other.listen(0, '127.0.0.1', resolve));
    otherUrl = `http://127.0.0.1:${(other.address() as AddressInfo).port}/`;
    const stage = await startStage('step-21', { otlpEndpoint: receiver.url });
    try {
      clicked = await clickThePage(browser, stage.baseUrl, {
        // Names as the servers read them too: an array (session[]) and one after a `;`.
        path: '/?token=tok-PAGE-SECRET&lang=en&session[]=arr-PAGE-SECRET&x;jwt=semi-PAGE-SECRET',
        cookies: { session: 'c00kie-PAGE-SECRET' },
        // The page's Content-Security-Policy refuses any other origin outright; without it, this
        // shows what the fetch instrumentation itself would send there.
        alsoFetch: otherUrl,
        bypassCsp: true,
      });
      // The page's last batch, sent as it closed, reaches the collector through the gateway.
      await eventually('the page\'s spans', async () => (traceOf(clicked.failTraceId).some((s) => s.name === 'click fail') ? true : undefined), 15_000);
    } finally {
      exit = await stage.stop();
    }
  }, 120_000);
  afterAll(async () => {
    other.close();
    await receiver?.close();
  });

  it("renders as the chapter shows it: the block under <!-- e2e: click greet --> in steps/step-21/README.md", () => {
    // Without the events: which of the browser's timings it records varies with the connection.
    const rendered = renderSpanTrees(traceOf(clicked.greetTraceId).map((s) => ({ ...s, events: [] })));
    const chapter = readFileSync(join(REPO_ROOT, 'steps', 'step-21', 'README.md'), 'utf8');
    const block = /<!-- e2e: click greet -->\n```text\n([\s\S]*?)\n```/.exec(chapter)?.[1];
    expect(block?.split('\n'), 'the chapter has the block').toEqual(rendered);
  });

  it("closing the page sends what it still held: the last click's spans, ended just before it closed", () => {
    // clickThePage closes the page as soon as the Fail fetch span has ended, before the next
    // scheduled export (every second): only the flush on pagehide/visibilitychange sends it.
    const last = traceOf(clicked.failTraceId).filter((s) => service(s) === 'step-21-browser');
    expect(last.map((s) => s.name).sort()).toEqual(['GET', 'click fail']);
  });

  it('the page shows the greeting and the failure, each with the trace id of its click', () => {
    expect(clicked.greetAnswer).toBe('Hello from the otel-steps Fastify app!\n');
    expect(clicked.failAnswer).toMatch(/^500: .*Something went wrong on purpose/);
    expect(clicked.greetTraceId).toMatch(/^[0-9a-f]{32}$/);
    expect(clicked.failTraceId).not.toBe(clicked.greetTraceId);
    expect(exit.code).toBe(0);
  });

  it('Greet me is one trace: click greet → fetch CLIENT → gateway → greeter → words, CLIENT → SERVER at every hop', () => {
    const trace = traceOf(clicked.greetTraceId);
    expect(new Set(trace.map(service))).toEqual(new Set(SERVICES));
    const root = trace.find((s) => s.parentSpanId === '')!;
    expect(root).toMatchObject({ name: 'click greet', kind: SpanKind.INTERNAL, scope: { name: 'otel-steps-page' } });
    expect(service(root)).toBe('step-21-browser');
    // Each SERVER span's parent is a CLIENT span of the service before it.
    const servers = trace.filter((s) => s.kind === SpanKind.SERVER);
    const hops = servers.map((server) => {
      const client = byId(server.parentSpanId)!;
      expect(client.kind, `${service(server)} ${server.name}`).toBe(SpanKind.CLIENT);
      return `${service(client)} ${client.name} → ${service(server)} ${server.name}`;
    });
    expect(hops.sort()).toEqual(['step-21-browser GET → step-21-gateway GET /', 'step-21-gateway GET → step-21-greeter GET /greeting', 'step-21-greeter GET → step-21-words GET /word']);
    const fetchSpan = trace.find((s) => service(s) === 'step-21-browser' && s.kind === SpanKind.CLIENT)!;
    expect(fetchSpan.parentSpanId).toBe(root.spanId);
    expect(fetchSpan.scope.name).toBe('@opentelemetry/instrumentation-fetch');
    expect(fetchSpan.attributes).toMatchObject({ 'http.request.method': 'GET', 'http.response.status_code': 200 });
  });

  it('Fail shows the error on the right spans: the click and its fetch in the browser, every hop on the servers, the exception in words', () => {
    const trace = traceOf(clicked.failTraceId);
    expect(new Set(trace.map(service))).toEqual(new Set(SERVICES));
    const click = trace.find((s) => s.name === 'click fail')!;
    expect(click.status).toEqual({ code: StatusCode.ERROR, message: 'the gateway answered 500' });
    const fetchSpan = trace.find((s) => service(s) === 'step-21-browser' && s.kind === SpanKind.CLIENT)!;
    expect(fetchSpan.status.code).toBe(StatusCode.ERROR);
    expect(fetchSpan.attributes).toMatchObject({ 'http.response.status_code': 500, 'error.type': '500' });
    for (const span of trace.filter((s) => s.kind === SpanKind.SERVER)) expect(span.status.code, `${service(span)} ${span.name}`).toBe(StatusCode.ERROR);
    expect(new Set(trace.filter((s) => s.events.some((e) => e.name === 'exception')).map(service))).toEqual(new Set(['step-21-words']));
  });

  it("the page's load: documentLoad under the gateway's span for GET /, with documentFetch and a resourceFetch per script", () => {
    const load = spans().find((s) => s.name === 'documentLoad')!;
    expect(service(load)).toBe('step-21-browser');
    const parent = byId(load.parentSpanId)!;
    expect([service(parent), parent.name]).toEqual(['step-21-gateway', 'handler - hello']);
    const children = spans().filter((s) => s.parentSpanId === load.spanId);
    expect(children.map((s) => `${s.name} ${new URL(String(s.attributes['url.full'])).pathname}`).sort()).toEqual(['documentFetch /', 'resourceFetch /app.js', 'resourceFetch /telemetry.js']);
    expect(load.events.map((e) => e.name)).toEqual(expect.arrayContaining(['domInteractive', 'loadEventEnd']));
  });

  it("sends traceparent only to the page's own origin: the request to another one got none", () => {
    expect(elsewhere).toHaveLength(1);
    expect(elsewhere[0]!.traceparent).toBeUndefined();
    // Its CLIENT span is still recorded, in the browser.
    expect(spans().filter((s) => s.attributes['url.full'] === otherUrl).map((s) => [service(s), s.kind])).toEqual([['step-21-browser', SpanKind.CLIENT]]);
  });

  it("lets no cookie or query secret of the page's reach any signal or console", () => {
    expect(leaked(['tok-PAGE-SECRET', 'arr-PAGE-SECRET', 'semi-PAGE-SECRET', 'c00kie-PAGE-SECRET'], receiver, exit.output)).toEqual([]);
    const load = spans().find((s) => s.name === 'documentLoad')!;
    // The page's URL API writes the names' [ ] and ; percent-encoded.
    expect(load.attributes['url.full']).toMatch(/\/\?token=REDACTED&lang=en&session%5B%5D=REDACTED&x%3Bjwt=REDACTED$/);
    // Masked in the page already, before the gateway masks it again: it never leaves the browser.
    expect(clicked.posted.length).toBeGreaterThan(0);
    expect(clicked.posted.filter((body) => /(tok|arr|semi)-PAGE-SECRET/.test(body))).toEqual([]);
    expect(clicked.posted.join('')).toContain('token=REDACTED');
  });
});

describe('step 21 in Chromium, against the native stack', () => {
  it("the click's trace is in Jaeger, with its four services", async () => {
    const stage = await startStage('step-21', { otlpEndpoint: URLS.otlpHttp });
    let clicked: Clicked;
    try {
      clicked = await clickThePage(browser, stage.baseUrl);
    } finally {
      await stage.stop();
    }
    const services = await eventually('the click\'s trace in Jaeger, from all four services', async () => {
      const trace = await jaegerTrace(clicked.greetTraceId);
      const found = [...new Set(Object.values(trace?.processes ?? {}).map((p) => p.serviceName))].sort();
      return found.length === SERVICES.length ? found : undefined;
    });
    expect(services).toEqual(SERVICES);
    // The chapter: Zipkin's Dependencies page now starts at the browser.
    const edges = await eventually('the call graph in Zipkin, from the browser', async () => {
      const found = (await zipkinDependencies()).filter((d) => d.parent.startsWith('step-21-')).map((d) => `${d.parent} → ${d.child}`).sort();
      return found.length >= 3 ? found : undefined;
    });
    expect(edges).toEqual(['step-21-browser → step-21-gateway', 'step-21-gateway → step-21-greeter', 'step-21-greeter → step-21-words']);
  });
});
