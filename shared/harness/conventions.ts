// The promises every instrumented stage makes about the standard OTEL_* variables and about lost
// telemetry, as one suite each stage's test calls: the same checks, whichever way the stage sets
// up the SDK (by hand in 08 and 11, from the environment in 14).
import { describe, expect as expectOutside, it } from 'vitest';
import { startOtlpReceiver, type ReceivedSpan } from '../otlp/receiver.ts';
import { startStage, type StageExit } from './stage-runner.ts';
import { describeLogSecrets, escapeControls, linesWith, rawControls } from './stranger.ts';

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
