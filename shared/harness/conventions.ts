// The promises every instrumented stage makes about the standard OTEL_* variables and about lost
// telemetry, as one suite each stage's test calls: the same checks, whichever way the stage sets
// up the SDK (by hand in 08 and 11, from the environment in 14).
import { connect } from 'node:net';
import { afterAll, beforeAll, describe, expect as expectOutside, it } from 'vitest';
import { startOtlpReceiver, type OtlpReceiver, type ReceivedSpan } from '../otlp/receiver.ts';
import { exportedText, foundIn } from './run.ts';
import { startStage, type StageExit } from './stage-runner.ts';

export interface ConventionOptions {
  /** Name of the span `GET /` produces in this stage. */
  span: string;
  /** Extra environment for every run. */
  env?: Record<string, string>;
  /** The stage exports metrics too, set up by OTEL_METRICS_EXPORTER and OTEL_METRIC_EXPORT_INTERVAL. */
  metrics?: boolean;
  /** The stage exports logs too, set up by OTEL_LOGS_EXPORTER and OTEL_BLRP_SCHEDULE_DELAY. */
  logs?: boolean;
  /** How many processes (services) the stage runs, each saying its own lines, prefixed with its name. */
  services?: number;
  /** What the stage's spans do with url.query's secrets: `kept` only where the chapter says it cannot help it (zero-code). */
  spans?: 'masked' | 'kept';
}

/** The lines of `output` that contain `text`, without the `[service] ` prefix a stage of several services adds. */
function linesWith(output: string, text: string): string[] {
  return output.split('\n').map((l) => l.replace(/^\[[\w-]+\] /, '')).filter((l) => l.includes(text));
}

/** `text` with DEL and the C1 control characters (U+0080 to U+009F) escaped as JSON escapes C0: what the stages print instead of them. */
function escapeControls(text: string): string {
  return text.replace(/[\u007f-\u009f]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}
/** DEL and the C1 control characters in `text`, as they came: none may reach a terminal raw. */
const rawControls = (text: string): string[] => text.match(/[\u007f-\u009f]/g) ?? [];

/**
 * Sends `request` (latin1: one byte a character, as a header's bytes are read) on a connection of
 * its own and leaves it unfinished: the first status it gets, and how long the stage took to close
 * the connection (undefined: still open after `giveUpMs`).
 */
function leftUnfinished(baseUrl: string, request: string, giveUpMs: number): Promise<{ status: number; closedAfterMs?: number }> {
  const { hostname, port } = new URL(baseUrl);
  return new Promise((resolve) => {
    const sent = Date.now();
    let response = '';
    const status = (): number => Number(/^HTTP\/1\.1 (\d{3})/.exec(response)?.[1] ?? 0);
    const socket = connect({ host: hostname, port: Number(port) }, () => socket.write(request, 'latin1'));
    const giveUp = setTimeout(() => (socket.destroy(), resolve({ status: status() })), giveUpMs);
    // Read: a socket whose data nobody reads never sees the other end close.
    socket.setEncoding('latin1').on('data', (chunk: string) => (response += chunk));
    socket.on('error', () => {});
    socket.once('close', () => (clearTimeout(giveUp), resolve({ status: status(), closedAfterMs: Date.now() - sent })));
  });
}

/**
 * What a stranger can send an instrumented stage, in one boot. No secret in any log line, log
 * record or span, whatever the route and the status: secrets in the query of a route that exists,
 * of one that does not, and of requests Fastify or Node refuse, with names encoded or in any
 * capitals. Logging runs at `trace`, so that every message Fastify can write for these requests is
 * written, on the console and, in the stages that send logs, as OTLP records. No control character
 * from a request reaches the console raw. And a request that never ends is closed: a body or
 * headers that never end, a POST to no route (answered 404 at once, its body still coming).
 * `spans: 'kept'` is for step 14, whose chapter says zero-code cannot mask url.query's secrets.
 */
export function describeLogSecrets(
  stageName: string,
  { env = {}, logs = false, spans = 'masked' }: { env?: Record<string, string>; logs?: boolean; spans?: 'masked' | 'kept' } = {},
): void {
  describe.concurrent(`${stageName}: what a stranger can send`, () => {
    const request = (line: string, ...headers: string[]): string => `${line} HTTP/1.1\r\nHost: 127.0.0.1\r\n${headers.map((h) => `${h}\r\n`).join('')}Connection: close\r\n\r\n`;
    // [what it is, the raw request, the status it must get (undefined: any answer)]
    const attacks: Array<[string, string, number | undefined]> = [
      ['a route that exists', request('GET /?token=SECRET-1&lang=en'), 200],
      ['the failing route', request('GET /error?api_key=SECRET-2'), 500],
      ['a route that does not exist', request('GET /no-such?access_token=SECRET-3'), 404],
      ['a name URL-encoded, another in capitals', request('GET /no-such?%74oken=SECRET-4&PassWord=SECRET-5'), 404],
      ['a value with + and %20', request('GET /?to%6Ben=SECRET-6+and%20SECRET-7'), 200],
      ['a method no route has', request('PROPFIND /?token=SECRET-8'), 404],
      ['a method Node refuses', request('FOO /?token=SECRET-9'), 400],
      ['a header too large, and a credential', request('GET /?token=SECRET-10', `X-Filler: ${'x'.repeat(20_000)}`, 'Authorization: Bearer SECRET-11'), 431],
      ['a malformed URL', request('GET /%E0%A4%A?token=SECRET-12'), 400],
      ['names in capitals, on a route that exists', request('GET /?Token=SECRET-13&Access_Token=SECRET-14&lang=en'), 200],
      ['a name in capitals, on a route that does not exist', request('GET /no-such?PASSWORD=SECRET-15'), 404],
      ['a route that exists, after all of them', request('GET /'), 200],
    ];
    const secrets = Array.from({ length: 15 }, (_, i) => `SECRET-${i + 1}`);
    // Requests that never end, each on a connection of its own, sent once the others are answered.
    // [what it is, the raw request, the first status it must get]
    const unfinished: Array<[string, string, number]> = [
      ['a body that never ends', 'POST / HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: text/plain\r\nContent-Length: 1000\r\n\r\nthe first bytes', 408],
      ['a POST to no route, answered 404 at once, its body never ending', 'POST /no-such HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 1000\r\n\r\nthe', 404],
      ['headers that never end', 'GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: the first bytes', 408],
      ['a connection that sends nothing', '', 408],
      // A stage may refuse a Host it does not serve: what it prints is the test (its status is not).
      ['a C1 control character (CSI) in the Host header, which Fastify logs', 'GET / HTTP/1.1\r\nHost: 127.0.0.1\u009b31m\r\nConnection: close\r\n\r\n', 0],
    ];
    // The stages' limit for a whole request, 10 s (5 s for its headers), made 5 s here: a loaded
    // machine (CI, on 2 cores) can stall a stage's event loop for more than a second, and a request
    // it had not yet read would then be timed out. A connection still open after 11 s would be open for good.
    const LIMIT_MS = 5_000;
    let receiver: OtlpReceiver;
    let statuses: number[];
    let closed: Array<{ status: number; closedAfterMs?: number }>;
    let exit: StageExit;

    beforeAll(async () => {
      receiver = await startOtlpReceiver();
      const stage = await startStage(stageName, {
        otlpEndpoint: receiver.url,
        env: { OTEL_BSP_SCHEDULE_DELAY: '500', ...env, LOG_LEVEL: 'trace', REQUEST_TIMEOUT_MS: String(LIMIT_MS) },
      });
      try {
        // The first request warms the stage up (routes, instrumentation, loggers), unmeasured; the
        // requests that never end come after the others, so that none of those waits behind them.
        await stage.get('/');
        statuses = [];
        for (const [, raw] of attacks) statuses.push((await stage.raw(raw)).status);
        closed = await Promise.all(unfinished.map(([, raw]) => leftUnfinished(stage.baseUrl, raw, 11_000)));
      } finally {
        exit = await stage.stop('SIGINT');
      }
    });

    afterAll(async () => {
      await receiver?.close();
    });

    it('answers each request clearly, and keeps serving', ({ expect }) => {
      expect(statuses).toEqual(attacks.map(([, , status]) => status));
    });

    it('masks query secrets in every log line and record: 200, 500, 404, a method no route has, a method Node refuses, a header too large, a malformed URL; names encoded (%74oken) or in any capitals, values with + and %20', ({ expect }) => {
      // The log lines: all the console says but the console exporters' indented dumps of spans.
      const logLines = linesWith(exit.output, '').filter((line) => !/^\s/.test(line) && !/^[{}]$/.test(line));
      expect(foundIn(secrets, logLines.join('\n')), 'secrets in a log line on the console').toEqual([]);
      expect(foundIn(secrets, exportedText(receiver.logs)), 'secrets in an OTLP log record').toEqual([]);
      // Masked, not dropped: Fastify's own line is still there to read, on the console and in the record.
      expect(linesWith(exit.output, 'not found')).toContainEqual(expect.stringContaining('Route GET:/no-such?access_token=REDACTED not found'));
      expect(linesWith(exit.output, 'not found')).toContainEqual(expect.stringContaining('Route GET:/no-such?%74oken=REDACTED&PassWord=REDACTED not found'));
      expect(linesWith(exit.output, 'not found')).toContainEqual(expect.stringContaining('Route GET:/no-such?PASSWORD=REDACTED not found'));
      if (logs) expect(receiver.logs.map((l) => l.body)).toContain('Route GET:/no-such?access_token=REDACTED not found');
    });

    it.skipIf(spans === 'kept')("masks them in every span's url.query too, in any capitals (?Token=, ?PASSWORD=), over OTLP and on the console", ({ expect }) => {
      expect(foundIn(secrets, exportedText(receiver.spans)), 'secrets in an OTLP span').toEqual([]);
      expect(foundIn(secrets, exit.output), 'secrets on the console, span dumps included').toEqual([]);
      // Masked, not dropped, where the stage records the query at all (step 8's hand-made spans do not).
      const queries = receiver.spans.map((s) => s.attributes['url.query']).filter((q) => q !== undefined);
      if (queries.length > 0) expect(queries).toContain('Token=REDACTED&Access_Token=REDACTED&lang=en');
    });

    it("prints no DEL or C1 control character raw: the Host header's CSI is on the console escaped, as JSON escapes C0", ({ expect }) => {
      expect(rawControls(exit.output), 'raw control characters on the console').toEqual([]);
      expect(exit.output).toContain('\\u009b31m');
    });

    it(`closes every request that never ends within its limit (${LIMIT_MS} ms here, set by REQUEST_TIMEOUT_MS), 408 unless it was answered`, ({ expect }) => {
      unfinished.forEach(([what, , status], i) => {
        if (status) expect(closed[i]!.status, what).toBe(status);
        // The limit, the tenth of it Node takes to look, and room for a loaded machine.
        expect(closed[i]!.closedAfterMs, `${what}: closed after (ms)`).toBeLessThan(LIMIT_MS + 4_000);
      });
    });
  });
}

export function describeEnvironmentConventions(
  stageName: string,
  { span, env = {}, metrics = false, logs = false, services = 1, spans = 'masked' }: ConventionOptions,
): void {
  describeLogSecrets(stageName, { env, logs, spans });
  // Batches every half second (OTEL_BSP_SCHEDULE_DELAY, which every stage honours), so that
  // failing and recovering exports show up quickly.
  const baseEnv = { OTEL_BSP_SCHEDULE_DELAY: '500', ...env };
  const named = (spans: ReceivedSpan[]): ReceivedSpan[] => spans.filter((s) => s.name === span);

  async function exported(env: Record<string, string>): Promise<{ spans: ReceivedSpan[]; exit: StageExit }> {
    const receiver = await startOtlpReceiver();
    try {
      const stage = await startStage(stageName, { otlpEndpoint: receiver.url, env: { ...baseEnv, ...env } });
      expectOutside((await stage.get('/')).status).toBe(200);
      const exit = await stage.stop('SIGINT');
      return { spans: named(receiver.spans), exit };
    } finally {
      await receiver.close();
    }
  }

  // Concurrent: each test boots its own stage and mostly waits on it. A stage boot is the costly
  // part of this suite (hundreds of modules to load, three services in step 20), so a test checks
  // every promise one boot can show, and says in its name which ones.
  describe.concurrent(`${stageName}: the environment conventions`, () => {
    it('OTEL_SERVICE_NAME renames the service; OTEL_TRACES_EXPORTER=otlp sends spans and prints none; OTEL_EXPORTER_OTLP_TRACES_ENDPOINT is used as it is, /v1/traces included', async ({ expect }) => {
      const receiver = await startOtlpReceiver();
      try {
        // The base endpoint leads nowhere: the spans can only arrive through the traces endpoint.
        const stage = await startStage(stageName, {
          otlpEndpoint: 'http://127.0.0.1:9',
          env: { ...baseEnv, OTEL_SERVICE_NAME: 'renamed-from-the-shell', OTEL_TRACES_EXPORTER: 'otlp', OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: `${receiver.url}/v1/traces` },
        });
        expect((await stage.get('/')).status).toBe(200);
        const exit = await stage.stop('SIGINT');
        expect(named(receiver.spans).map((s) => s.resource['service.name'])).toEqual(['renamed-from-the-shell']);
        expect(exit.output).not.toContain(`name: '${span}'`);
      } finally {
        await receiver.close();
      }
    });

    it('OTEL_SDK_DISABLED=true turns telemetry off, and the app still serves', async ({ expect }) => {
      const { spans, exit } = await exported({ OTEL_SDK_DISABLED: 'true' });
      expect(spans).toEqual([]);
      expect(exit.output).not.toContain(`name: '${span}'`);
    });

    // otlp,console, the default of every stage, is what all their other tests run with.
    it.for<[string, number, boolean]>([
      ['console', 0, true],
      ['none', 0, false],
    ])('OTEL_TRACES_EXPORTER=%s: %i span(s) over OTLP, console %s', async ([value, count, printed], { expect }) => {
      const { spans, exit } = await exported({ OTEL_TRACES_EXPORTER: value });
      expect(spans).toHaveLength(count);
      expect(exit.output.includes(`name: '${span}'`)).toBe(printed);
    });

    // [variable, bad value, what the stage says of it, the value as shown when it differs]
    const refusals: Array<[string, string, string, string?]> = [
      // With DEL and a C1 control character (CSI), which the line shows escaped, as JSON escapes C0.
      ['OTEL_BSP_SCHEDULE_DELAY', 'soon\u009b2J\u007f', 'is not a whole number of milliseconds'],
      ['OTEL_EXPORTER_OTLP_ENDPOINT', 'garbage', 'is not an absolute http:// or https:// URL'],
      ['OTEL_EXPORTER_OTLP_ENDPOINT', 'ftp://127.0.0.1:4318', 'is not an absolute http:// or https:// URL'],
      // A refusal never prints the password an endpoint URL may carry.
      ['OTEL_EXPORTER_OTLP_ENDPOINT', 'http://me:hunter2@127.0.0.1:4318/v1/traces', 'ends in /v1/traces, which the exporter adds itself', 'http://127.0.0.1:4318/v1/traces'],
      // Without a scheme, too: a URL that is not one may still carry a password.
      ['OTEL_EXPORTER_OTLP_TRACES_ENDPOINT', 'me:hunter2@localhost:4318', 'is not an absolute http:// or https:// URL', 'localhost:4318'],
      ['OTEL_TRACES_EXPORTER', 'jaeger', 'names an exporter this stage does not have (jaeger)'],
      ['OTEL_SDK_DISABLED', 'yes', 'is neither true nor false'],
      ['OTEL_SERVICE_NAME', '', 'is empty'],
      ...(metrics
        ? ([
            ['OTEL_EXPORTER_OTLP_ENDPOINT', 'http://127.0.0.1:4318/v1/metrics', 'ends in /v1/metrics, which the exporter adds itself'],
            ['OTEL_METRICS_EXPORTER', 'prometheus', 'names an exporter this stage does not have (prometheus)'],
            ['OTEL_METRIC_EXPORT_INTERVAL', '5s', 'is not a whole number of milliseconds'],
            ['OTEL_EXPORTER_OTLP_METRICS_ENDPOINT', 'localhost:4318', 'is not an absolute http:// or https:// URL'],
          ] as Array<[string, string, string]>)
        : []),
      ...(logs
        ? ([
            ['OTEL_LOGS_EXPORTER', 'syslog', 'names an exporter this stage does not have (syslog)'],
            ['OTEL_BLRP_SCHEDULE_DELAY', '1s', 'is not a whole number of milliseconds'],
            ['OTEL_EXPORTER_OTLP_LOGS_ENDPOINT', 'localhost:4318', 'is not an absolute http:// or https:// URL'],
          ] as Array<[string, string, string]>)
        : []),
    ];
    // As few runs as there are bad values for one variable: each run sets every variable at most once.
    const runs: Array<typeof refusals> = [];
    for (const refusal of refusals) {
      const run = runs.find((r) => r.every(([name]) => name !== refusal[0]));
      if (run) run.push(refusal);
      else runs.push([refusal]);
    }
    it.for(runs.map((run) => [run.map(([name, value]) => `${name}=${escapeControls(value)}`).join(' '), run] as const))(
      'stops the stage before it serves, with one line for each variable that is wrong: %s',
      async ([, run], { expect }) => {
        const refused = await startStage(stageName, { env: { ...baseEnv, ...Object.fromEntries(run.map(([name, value]) => [name, value])) }, startTimeoutMs: 15_000 }).then(
          async (stage) => (await stage.stop('SIGINT'), undefined),
          (err: Error) => err.message,
        );
        expect(refused, 'the stage started').toBeDefined();
        expect(refused).toContain('exited (code 1) before listening');
        const said = linesWith(refused!, 'telemetry: ');
        for (const [name, value, why, shown = value] of run) {
          expect(said).toContainEqual(expect.stringContaining(`telemetry: ${name}=${escapeControls(JSON.stringify(shown))} ${why}`));
        }
        expect(said).toHaveLength(run.length);
        expect(refused).not.toContain('hunter2');
        expect(rawControls(refused!), 'raw control characters on the console').toEqual([]);
      },
    );
  });

  describe.concurrent(`${stageName}: telemetry loss is never silent`, () => {
    // Every signal the stage exports, each with its own line; the endpoint carries a password,
    // which no line may show.
    const signals = [
      { what: 'spans', path: 'traces' },
      ...(metrics ? [{ what: 'metrics', path: 'metrics' }] : []),
      ...(logs ? [{ what: 'logs', path: 'logs' }] : []),
    ];
    it(`says once when ${signals.map((s) => s.what).join(', ')} exports start failing and once when they work again, never per item, never with the endpoint's password`, { timeout: 60_000 }, async ({ expect }) => {
      const receiver = await startOtlpReceiver();
      // Requests keep coming, so that there is always something to export (log lines come with requests).
      let traffic: NodeJS.Timeout | undefined;
      try {
        receiver.setAvailable(false);
        const env = { ...baseEnv, OTEL_TRACES_EXPORTER: 'otlp', OTEL_METRIC_EXPORT_INTERVAL: '500', OTEL_BLRP_SCHEDULE_DELAY: '500' };
        const stage = await startStage(stageName, { otlpEndpoint: receiver.url.replace('//', '//me:hunter2@'), env });
        traffic = setInterval(() => void stage.get('/').catch(() => {}), 100);
        const lines = (text: string): string[] => linesWith(stage.output(), text);
        // Generous waits: with several stages booting at once on two cores, an export can take seconds.
        for (const { what, path } of signals) {
          await expect.poll(() => lines(`cannot export ${what}`), { timeout: 30_000, interval: 200 }).toHaveLength(services);
          expect(lines(`cannot export ${what}`)[0]).toMatch(new RegExp(`^telemetry: cannot export ${what} to ${receiver.url}/v1/${path} \\(.+\\); they are dropped until it answers$`));
        }
        // A few more failed exports of each signal, which must not add lines.
        await new Promise((r) => setTimeout(r, 1500));
        receiver.setAvailable(true);
        for (const { what, path } of signals) {
          const again = `telemetry: exporting ${what} to ${receiver.url}/v1/${path} again`;
          await expect.poll(() => lines(`exporting ${what} to`), { timeout: 30_000, interval: 200 }).toEqual(Array(services).fill(again));
        }
        clearInterval(traffic);
        for (const { what } of signals) expect(lines(`cannot export ${what}`), what).toHaveLength(services);
        const before = named(receiver.spans).length;
        for (let i = 0; i < 20; i++) await stage.get('/');
        const exit = await stage.stop('SIGINT');
        expect(named(receiver.spans).length - before).toBeGreaterThanOrEqual(20);
        expect(exit.output).not.toContain('hunter2');
      } finally {
        clearInterval(traffic);
        await receiver.close();
      }
    });

    it('keeps serving with no collector, and says on Ctrl+C that pending spans were not flushed, exit 0', async ({ expect }) => {
      const receiver = await startOtlpReceiver();
      const deadEndpoint = receiver.url;
      await receiver.close(); // nothing listens there any more
      // Batches (and metric readings) held for a minute: the flush on exit is the only export, whatever the machine's load.
      const env = { ...baseEnv, OTEL_TRACES_EXPORTER: 'otlp', OTEL_BSP_SCHEDULE_DELAY: '60000', OTEL_METRIC_EXPORT_INTERVAL: '60000', OTEL_BLRP_SCHEDULE_DELAY: '60000' };
      const stage = await startStage(stageName, { otlpEndpoint: deadEndpoint, env });
      expect((await stage.get('/')).status).toBe(200);
      expect((await stage.get('/error')).status).toBe(500);
      expect((await stage.get('/')).status).toBe(200);
      const exit = await stage.stop('SIGINT');
      expect(exit.code).toBe(0);
      const lost = linesWith(exit.output, 'telemetry: ').sort();
      const each = (line: RegExp): unknown[] => Array(services).fill(expect.stringMatching(line));
      expect(lost).toEqual([
        ...(logs ? each(/^telemetry: logs not flushed on exit \(.*ECONNREFUSED/) : []),
        ...(metrics ? each(/^telemetry: metrics not flushed on exit \(.*ECONNREFUSED/) : []),
        ...each(/^telemetry: spans not flushed on exit \(.*ECONNREFUSED/),
      ]);
    });
  });
}
