// Boots step-21's three services with the real start script and checks, over OTLP, that one
// request is one trace across all three, with the error, the baggage and nothing lost on Ctrl+C;
// that the gateway serves the page and its scripts; and that its route for the page's spans
// refuses what a stranger can send, and never lets a page pass for a server. The page itself,
// clicked in Chromium, is tested end to end (shared/e2e/browser.e2e.test.ts).
import { connect } from 'node:net';
import { afterAll, beforeAll, describe, it } from 'vitest';
import {
  alongside,
  describeEnvironmentConventions,
  describeOneTraceAcrossServices,
  describeServiceCannotStart,
  leaked,
  REPO_ROOT,
  runStage,
  SpanKind,
  startOtlpReceiver,
  startStage,
  type OtlpReceiver,
  type ReceivedSpan,
  type RunningStage,
} from '@otel-steps/shared/harness';

const SERVICES = ['step-21-gateway', 'step-21-greeter', 'step-21-words'];
const service = (span: ReceivedSpan): string => String(span.resource['service.name']);

describeOneTraceAcrossServices('step-21', { alongside: true });

alongside('step-21: what a stranger can send, and SIGTERM', () => {
  const title = 'lets no query secret (its name in any case) or credential header reach any signal or console of any service; '
    + 'forwards with OTEL_EXPORTER_OTLP_HEADERS; flushes all three on SIGTERM';
  it(title, async ({ expect }) => {
    const origin = (stage: RunningStage): string => new URL(stage.baseUrl).origin;
    const run = await runStage('step-21', {
      requests: [
        { path: '/?token=tok-SECRET-1&password=pw-SECRET-2', headers: { authorization: 'Bearer s3cret-token', cookie: 'session=c00kie' } },
        '/',
        // The HTTP instrumentation's own masking compares names as written: ?Token= kept its value.
        '/?Token=tok-CAPS-1&lang=en',
        '/no-such?PASSWORD=pw-CAPS-2',
        '/?Access_Token=tok-CAPS-3',
      ],
      // The gateway's exporter sends these headers, and so does its forwarding of the page's spans.
      env: { OTEL_EXPORTER_OTLP_HEADERS: 'authorization=Bearer%20gw-token' },
      during: async (stage) => {
        const headers = { 'content-type': 'application/json', origin: origin(stage) };
        return (await fetch(new URL('/v1/traces', stage.baseUrl), { method: 'POST', headers, body: JSON.stringify(post('forwarded span')) })).status;
      },
      signal: 'SIGTERM',
    });
    try {
      expect(run.statuses).toEqual([200, 200, 200, 404, 200]);
      expect(run.during).toBe(200);
      expect(run.leaked(['tok-SECRET-1', 'pw-SECRET-2', 's3cret-token', 'c00kie', 'tok-CAPS-1', 'pw-CAPS-2', 'tok-CAPS-3', 'gw-token'])).toEqual([]);
      // Four requests through three services and the 404 the gateway answers alone: thirteen server spans, none lost on SIGTERM.
      const servers = run.receiver.spans.filter((s) => s.kind === SpanKind.SERVER).sort((a, b) => Number(a.startTimeUnixNano - b.startTimeUnixNano));
      expect(servers).toHaveLength(13);
      expect(servers.filter((s) => service(s) === 'step-21-gateway').map((s) => s.attributes['url.query'])).toEqual([
        'token=REDACTED&password=REDACTED',
        undefined,
        'Token=REDACTED&lang=en',
        'PASSWORD=REDACTED',
        'Access_Token=REDACTED',
      ]);
      // The page's post, forwarded, and the gateway's own exports: each carries the same credentials.
      expect(run.receiver.spans.some((s) => s.name === 'forwarded span')).toBe(true);
      const traces = run.receiver.requests.filter((r) => r.signal === 'traces');
      expect(traces.length).toBeGreaterThan(1);
      expect(new Set(traces.map((r) => r.authorization))).toEqual(new Set(['Bearer gw-token']));
    } finally {
      await run.close();
    }
  });
});

// Before the suites that run alongside each other: it looks for services left running under this test process.
describeServiceCannotStart('step-21', {
  refusals: [{ env: { ALLOWED_ORIGINS: 'https://ok.example, ok.example/path' }, says: '"ok.example/path" is not an origin such as https://app.example.com' }],
});

/** A page's post of one span, as the browser's OTLP/JSON exporter sends it; `span` overrides the span's own fields. */
function post(
  spanName: string,
  { service = 'step-21-browser', attributes = [] as Array<{ key: string; value: unknown }>, traceId = 'a'.repeat(32), span = {} } = {},
): object {
  const now = String(BigInt(Date.now()) * 1_000_000n);
  const fields = { traceId, spanId: 'b'.repeat(16), name: spanName, kind: 1, startTimeUnixNano: now, endTimeUnixNano: now, attributes, status: {}, ...span };
  return {
    resourceSpans: [
      {
        resource: { attributes: [{ key: 'service.name', value: { stringValue: service } }, { key: 'host.name', value: { stringValue: 'forged-host' } }] },
        scopeSpans: [
          { scope: { name: 'otel-steps-page' }, spans: [fields] },
        ],
      },
    ],
  };
}

/** A raw HTTP/1.1 POST of `body` to /v1/traces, with the Host and Origin given (DNS rebinding, or bytes fetch would not send). */
const rawPost = (host: string, origin: string, body: string): string =>
  `POST /v1/traces HTTP/1.1\r\nHost: ${host}\r\nOrigin: ${origin}\r\nContent-Type: application/json\r\n` +
  `Content-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`;

/**
 * A connection to `url` that sends `request` and then nothing more: what it got back when the
 * server closed it, or undefined if the server kept it open past `deadlineMs`.
 */
function stalled(url: string, request: string, deadlineMs: number): Promise<{ response: string; afterMs: number } | undefined> {
  const { hostname, port } = new URL(url);
  const started = Date.now();
  return new Promise((resolve) => {
    const socket = connect({ host: hostname, port: Number(port) }, () => socket.write(request));
    let response = '';
    socket.setEncoding('utf8').on('data', (chunk: string) => (response += chunk));
    const timer = setTimeout(() => {
      socket.destroy();
      resolve(undefined);
    }, deadlineMs);
    socket.once('error', () => undefined);
    socket.once('close', () => {
      clearTimeout(timer);
      resolve({ response, afterMs: Date.now() - started });
    });
  });
}

alongside('step-21: the page, and the route its spans arrive by', () => {
  let receiver: OtlpReceiver;
  let stage: RunningStage;
  let port: string;
  // Connections that send part of a request and then nothing: to each of the three services.
  let stalls: Array<Promise<[string, Awaited<ReturnType<typeof stalled>>]>>;
  const send = (body: unknown, headers: Record<string, string> = {}): Promise<Response> =>
    fetch(new URL('/v1/traces', stage.baseUrl), {
      method: 'POST',
      headers: { 'content-type': 'application/json', origin: new URL(stage.baseUrl).origin, ...headers },
      body: typeof body === 'string' ? body : JSON.stringify(body),
    });
  const browserSpans = (): ReceivedSpan[] => receiver.spans.filter((s) => s.resource['service.name'] === 'step-21-browser');
  const lines = (text: string): string[] => stage.output().split('\n').filter((l) => l.includes(text));

  beforeAll(async () => {
    receiver = await startOtlpReceiver();
    stage = await startStage('step-21', {
      otlpEndpoint: receiver.url,
      env: {
        OTEL_BSP_SCHEDULE_DELAY: '100',
        // The traces endpoint with a user:password, which the gateway's exporter and its forwarding both send as Basic auth.
        OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: `${receiver.url.replace('//', '//me:pa%24s@')}/v1/traces`,
        ALLOWED_ORIGINS: 'https://otel-steps.example',
      },
    });
    port = new URL(stage.baseUrl).port;
    const services = /^listening on (\S+) \(gateway; greeter on (\S+), words on (\S+)\)$/m.exec(stage.output())!.slice(1);
    // With a Host and an Origin the gateway takes: nothing refuses the post before its body is read.
    const body = (host: string): string =>
      `POST /v1/traces HTTP/1.1\r\nHost: ${host}\r\nOrigin: http://${host}\r\nContent-Type: application/json\r\n` +
      'Content-Length: 1000\r\n\r\n{"resourceSpans": [';
    const headers = 'GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Still-Coming: ';
    stalls = services.flatMap((url, i) => [
      stalled(url, body(new URL(url).host), 25_000).then((closed) => [`${SERVICES[i]}: a body that never ends`, closed] as [string, typeof closed]),
      stalled(url, headers, 25_000).then((closed) => [`${SERVICES[i]}: headers that never end`, closed] as [string, typeof closed]),
    ]);
  });
  afterAll(async () => {
    await stage?.stop();
    await receiver?.close();
  });

  it('serves the page to a browser at /, with its own span\'s traceparent, never cached, and the greeting to anyone else', async ({ expect }) => {
    const page = await stage.get('/', { accept: 'text/html,application/xhtml+xml;q=0.9,*/*;q=0.8' });
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toBe('text/html; charset=utf-8');
    expect(page.headers.get('cache-control')).toBe('no-store');
    expect(page.headers.get('content-security-policy')).toContain("default-src 'self'");
    const traceparent = /<meta name="traceparent" content="00-([0-9a-f]{32})-([0-9a-f]{16})-01">/.exec(page.body);
    expect(traceparent, page.body).not.toBeNull();
    // The span the page's documentLoad will be a child of: the gateway's handler for this very request.
    await expect.poll(() => receiver.spans.find((s) => s.spanId === traceparent![2])?.name, { timeout: 10_000 }).toBe('handler - hello');
    expect(page.body).toMatch(/<script type="module" src="\/telemetry.js"><\/script>\s*<script type="module" src="\/app.js"><\/script>/);
    expect((await stage.get('/', { accept: '*/*' })).body).toBe('Hello from the otel-steps Fastify app!\n');
  });

  it('serves the two scripts, bundled from TypeScript as it started, and says how long that took', async ({ expect }) => {
    for (const script of ['/telemetry.js', '/app.js']) {
      const res = await stage.get(script);
      expect(res.status, script).toBe(200);
      expect(res.headers.get('content-type')).toBe('text/javascript; charset=utf-8');
      expect(res.body).toContain(`sourceMappingURL=${script.slice(1)}.map`);
    }
    // The SDK 3 browser build, not the Node one: a StackContextManager and no node: imports.
    const telemetry = (await stage.get('/telemetry.js')).body;
    expect(telemetry).not.toMatch(/from"node:|require\("node:/);
    expect(telemetry).toContain('/v1/traces');
    // Polled: a line reaches this test through the launcher's pipe a moment after it is written.
    await expect.poll(() => stage.output()).toMatch(/\[gateway\] .*page scripts bundled by esbuild in \d+ ms: telemetry\.js \d+ KiB, app\.js \d+ KiB/);
  });

  it('serves source maps that name each file from the stage\'s folder, never by the checkout\'s absolute path', async ({ expect }) => {
    for (const path of ['/telemetry.js.map', '/app.js.map']) {
      const map = (await stage.get(path)).body;
      const { sources, sourcesContent } = JSON.parse(map) as { sources: string[]; sourcesContent: string[] };
      expect(sources, path).toContain(`src/browser/${path.slice(1, -'.js.map'.length)}.ts`);
      expect(sources.filter((source) => source.startsWith('/') || !/^(\.\.\/)*(src|node_modules)\//.test(source)), path).toEqual([]);
      // Written with its leading slash or without: neither form of the checkout's path is anywhere in it.
      expect(map.includes(REPO_ROOT.slice(1)), path).toBe(false);
      // The sources themselves still come with the map, for DevTools.
      expect(sourcesContent).toHaveLength(sources.length);
    }
  });

  it('forwards a page\'s spans to the collector as step-21-browser, whatever service.name the page claimed, and says so', async ({ expect }) => {
    expect((await send(post('forged span', { service: 'step-21-gateway', traceId: 'c'.repeat(32) }))).status).toBe(200);
    await expect.poll(() => browserSpans().some((s) => s.name === 'forged span'), { timeout: 10_000 }).toBe(true);
    const forged = browserSpans().find((s) => s.name === 'forged span')!;
    expect(forged.resource).toEqual({ 'service.name': 'step-21-browser' });
    expect(receiver.spans.filter((s) => s.name === 'forged span' && s.resource['service.name'] !== 'step-21-browser')).toEqual([]);
    await expect.poll(() => stage.output()).toContain('a page sent spans as service.name \\"step-21-gateway\\": forwarded as step-21-browser');
  });

  it('holds each span to the servers\' limits, masks the query secrets in it, and drops URL fragments', async ({ expect }) => {
    const long = 'x'.repeat(5000);
    const attributes = [
      { key: 'url.full', value: { stringValue: 'http://127.0.0.1/?token=tok-PAGE-1&lang=en' } },
      // The OAuth implicit flow's shape: the token after #, where no server would ever see it.
      { key: 'page.url', value: { stringValue: 'http://127.0.0.1:3030/#access_token=frag-PAGE-2&token_type=bearer' } },
      { key: 'long', value: { stringValue: long } },
      { key: 'nested', value: { kvlistValue: { values: [] } } },
      ...Array.from({ length: 100 }, (_, i) => ({ key: `a${i}`, value: { intValue: String(i) } })),
    ];
    expect((await send(post('limited span', { attributes, traceId: 'd'.repeat(32) }))).status).toBe(200);
    await expect.poll(() => browserSpans().some((s) => s.name === 'limited span'), { timeout: 10_000 }).toBe(true);
    const span = browserSpans().find((s) => s.name === 'limited span')!;
    expect(span.attributes['url.full']).toBe('http://127.0.0.1/?token=REDACTED&lang=en');
    expect(span.attributes['page.url']).toBe('http://127.0.0.1:3030/');
    expect(String(span.attributes.long)).toHaveLength(1024);
    expect(Object.keys(span.attributes)).toHaveLength(64);
    expect(span.attributes.nested).toBeUndefined();
    expect(leaked(['tok-PAGE-1', 'frag-PAGE-2'], receiver, stage.output())).toEqual([]);
  });

  it('refuses a post from another origin, or with none, with a clear answer and a line saying why', async ({ expect }) => {
    const other = await send(post('from elsewhere'), { origin: 'http://evil.example' });
    expect(other.status).toBe(403);
    expect(await other.json()).toEqual({ error: expect.stringContaining("takes spans from this app's own pages only") });
    const none = await fetch(new URL('/v1/traces', stage.baseUrl), { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(post('from curl')) });
    expect(none.status).toBe(403);
    await expect.poll(() => stage.output()).toMatch(/browser spans refused \(403\): .*not from Origin http:\/\/evil\.example/);
  });

  const rebinding = 'refuses a post for a Host it does not serve (DNS rebinding: Host and Origin alike) with 421 and one line, '
    + 'takes its own names and ALLOWED_ORIGINS, and keeps serving';
  it(rebinding, async ({ expect }) => {
    const body = JSON.stringify(post('rebound span', { traceId: '1'.repeat(32) }));
    const rebound = await stage.raw(rawPost(`attacker.example:${port}`, `http://attacker.example:${port}`, body));
    expect(rebound.status).toBe(421);
    expect(rebound.response).toContain("takes spans for this gateway's own address only");
    // Its own address by either name, and the origin ALLOWED_ORIGINS adds (a proxy's, say).
    expect((await stage.raw(rawPost(`localhost:${port}`, `http://localhost:${port}`, JSON.stringify(post('by localhost'))))).status).toBe(200);
    expect((await stage.raw(rawPost('otel-steps.example', 'https://otel-steps.example', JSON.stringify(post('by the proxy'))))).status).toBe(200);
    // A Host it serves is not enough: the Origin must be one of its own too.
    expect((await stage.raw(rawPost(`127.0.0.1:${port}`, `http://attacker.example:${port}`, body))).status).toBe(403);
    expect((await stage.get('/')).status).toBe(200);
    await expect.poll(() => lines('not for Host attacker.example')).toHaveLength(1);
    expect(lines('not for Host attacker.example')[0]).toMatch(/^\[gateway\] .*browser spans refused \(421\)/);
    await expect.poll(() => browserSpans().filter((s) => ['by localhost', 'by the proxy'].includes(s.name)), { timeout: 10_000 }).toHaveLength(2);
    expect(browserSpans().map((s) => s.name)).not.toContain('rebound span');
  });

  it('writes C1 control characters from a claimed service.name or an Origin as escapes on the console, as it does C0 ones', async ({ expect }) => {
    // U+009B is the terminal's one-character escape sequence introducer (CSI): ESC [ in one.
    expect((await send(post('c1 span', { service: 'gw\u009b31m-c1\u001b[0m' }))).status).toBe(200);
    expect((await stage.raw(rawPost(`127.0.0.1:${port}`, 'http://c1-origin\u009b2J.example', '{}'))).status).toBe(403);
    await expect.poll(() => lines('-c1')).toHaveLength(1);
    await expect.poll(() => lines('c1-origin')).toHaveLength(1);
    const printed = stage.output();
    expect(printed).not.toMatch(/[\u0080-\u009f]/);
    expect(printed).not.toContain('\u001b');
    expect(lines('-c1')[0]).toContain('gw\\\\u009b31m-c1\\\\u001b[0m');
    expect(lines('c1-origin')[0]).toMatch(/refused \(403\): .*c1-origin.*\\u009b2J\.example/);
  });

  const strict = 'refuses what OTLP does not define (400, saying what): intValue as nested lists or outside int64, '
    + 'times outside uint64, a kind or status as a list; and keeps serving';
  it(strict, async ({ expect }) => {
    // Written as text: JSON.stringify itself cannot write a list nested 20,000 deep.
    const deep = `${'['.repeat(20_000)}"42"${']'.repeat(20_000)}`;
    const refused: Array<[string, object | string, string]> = [
      [
        'intValue nested 20,000 deep',
        JSON.stringify(post('x', { attributes: [{ key: 'n', value: { intValue: 'DEEP' } }] })).replace('"DEEP"', deep),
        'an intValue is not a 64-bit integer',
      ],
      ['intValue nested once', post('x', { attributes: [{ key: 'n', value: { intValue: ['42'] } }] }), 'an intValue is not a 64-bit integer'],
      ['intValue 2^63', post('x', { attributes: [{ key: 'n', value: { intValue: '9223372036854775808' } }] }), 'an intValue is not a 64-bit integer'],
      ['intValue -2^63 - 1', post('x', { attributes: [{ key: 'n', value: { intValue: '-9223372036854775809' } }] }), 'an intValue is not a 64-bit integer'],
      ['a time of 2^64 ns', post('x', { span: { endTimeUnixNano: '18446744073709551616' } }), 'endTimeUnixNano is not a time in nanoseconds'],
      ['a time as a list', post('x', { span: { startTimeUnixNano: [['1']] } }), 'startTimeUnixNano is not a time in nanoseconds'],
      ['a kind as a list', JSON.stringify(post('x', { span: { kind: 'DEEP' } })).replace('"DEEP"', deep), 'kind is not one of 0, 1, 2, 3, 4, 5'],
      ['a status code as a list', post('x', { span: { status: { code: [[2]] } } }), 'status.code is not one of 0, 1, 2'],
    ];
    for (const [what, body, why] of refused) {
      const res = await send(body);
      expect(res.status, what).toBe(400);
      expect(((await res.json()) as { error: string }).error, what).toMatch(new RegExp(`^not OTLP/JSON spans: ${why.replace(/[()^]/g, '\\$&')}`));
    }
    // The bounds themselves are OTLP's: taken, as the strings and numbers OTLP/JSON writes them.
    const bounds = [
      { key: 'max', value: { intValue: '9223372036854775807' } },
      { key: 'min', value: { intValue: '-9223372036854775808' } },
      { key: 'number', value: { intValue: 42 } },
    ];
    expect((await send(post('bounds span', { attributes: bounds, span: { endTimeUnixNano: '18446744073709551615' } }))).status).toBe(200);
    await expect.poll(() => browserSpans().some((s) => s.name === 'bounds span'), { timeout: 10_000 }).toBe(true);
    const bounded = browserSpans().find((s) => s.name === 'bounds span')!;
    // The receiver reads integers as JavaScript numbers, the nearest double to each bound; the time, exactly.
    expect(bounded.attributes).toEqual({ max: Number(2n ** 63n - 1n), min: Number(-(2n ** 63n)), number: 42 });
    expect(bounded.endTimeUnixNano).toBe(2n ** 64n - 1n);
    expect(stage.output()).not.toMatch(/refused \(500\)|Maximum call stack/);
    expect((await stage.get('/')).status).toBe(200);
  });

  it('refuses a body over 64 KiB (413), and one that is not OTLP/JSON spans (400, 415), and keeps serving', async ({ expect }) => {
    expect((await send(post('big', { attributes: [{ key: 'filler', value: { stringValue: 'x'.repeat(70 * 1024) } }] }))).status).toBe(413);
    const bad = await send({ resourceSpans: [{ scopeSpans: [{ spans: [{ traceId: 'not hex', spanId: 'b'.repeat(16) }] }] }] });
    expect(bad.status).toBe(400);
    expect(await bad.json()).toEqual({ error: 'not OTLP/JSON spans: traceId is not 32 hex digits' });
    expect((await send('{"resourceSpans": 1}')).status).toBe(400);
    expect((await send('token=x', { 'content-type': 'application/x-www-form-urlencoded' })).status).toBe(415);
    expect((await stage.get('/')).status).toBe(200);
    expect(browserSpans().map((s) => s.name)).not.toContain('big');
  });

  it("forwards with an endpoint's user:password as Basic auth, as the gateway's own exporter sends it, and prints it nowhere", async ({ expect }) => {
    const traces = receiver.requests.filter((r) => r.signal === 'traces');
    // The page's posts above, forwarded, and the gateway's own exports.
    expect(traces.length).toBeGreaterThan(5);
    expect(new Set(traces.map((r) => r.authorization))).toEqual(new Set([`Basic ${Buffer.from('me:pa$s').toString('base64')}`]));
    expect(stage.output()).not.toMatch(/pa\$s|pa%24s/);
  });

  it('closes a connection whose request never ends, on each of the three services: 408, within the timeouts', async ({ expect }) => {
    for (const [what, closed] of await Promise.all(stalls)) {
      expect(closed, `${what}: still open after 25 s`).toBeDefined();
      expect(closed!.response, what).toMatch(/^HTTP\/1\.1 408 /);
    }
  });

  // Last: it uses up the minute's posts.
  it('takes at most sixty posts a minute from one address (429), then still answers the API', async ({ expect }) => {
    const statuses: number[] = [];
    for (let i = 0; i < 65; i++) statuses.push((await send({ resourceSpans: [] })).status);
    expect(statuses.filter((s) => s === 429).length).toBeGreaterThan(0);
    expect(statuses.at(-1)).toBe(429);
    expect((await stage.get('/')).status).toBe(200);
  });
});

alongside("step-21: forwarding the page's spans with no collector", () => {
  it('answers 503 for the page (whose exporter retries), says so once, and the API still answers', async ({ expect }) => {
    const receiver = await startOtlpReceiver();
    await receiver.close();
    const env = { OTEL_TRACES_EXPORTER: 'otlp', OTEL_METRICS_EXPORTER: 'none', OTEL_LOGS_EXPORTER: 'none' };
    const stage = await startStage('step-21', { otlpEndpoint: receiver.url, env });
    const headers = { 'content-type': 'application/json', origin: new URL(stage.baseUrl).origin };
    const post = async (): Promise<number> => (await fetch(new URL('/v1/traces', stage.baseUrl), { method: 'POST', headers, body: '{"resourceSpans": []}' })).status;
    try {
      expect([await post(), await post()]).toEqual([503, 503]);
      expect((await stage.get('/')).status).toBe(200);
      await expect.poll(() => stage.output()).toContain("cannot forward the page's spans to");
      expect(stage.output().split("cannot forward the page's spans").length - 1).toBe(1);
    } finally {
      await stage.stop();
    }
  });
});

// Step 20's suites, which every stage since keeps, alongside the stage's own.
describe.concurrent('step-21: what every stage keeps', () => {
  describeEnvironmentConventions('step-21', { span: 'GET /', metrics: true, logs: true, services: 3 });
});

// The chapter's promises (test/promises.ts) are held by shared/tools/exercises.test.ts, against a copy
// of this stage run as a learner's finished exercise is.
