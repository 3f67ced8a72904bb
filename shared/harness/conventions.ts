// The promises every instrumented stage makes about the standard OTEL_* variables and about lost
// telemetry, as one suite each stage's test calls: the same checks, whichever way the stage sets
// up the SDK (by hand in 08 and 11, from the environment in 14).
import { describe, expect as expectOutside, it } from 'vitest';
import { startOtlpReceiver, type ReceivedSpan } from './otlp-receiver.ts';
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
}

/** The lines of `output` that contain `text`, without the `[service] ` prefix a stage of several services adds. */
function linesWith(output: string, text: string): string[] {
  return output.split('\n').map((l) => l.replace(/^\[[\w-]+\] /, '')).filter((l) => l.includes(text));
}

export function describeEnvironmentConventions(stageName: string, { span, env = {}, metrics = false, logs = false, services = 1 }: ConventionOptions): void {
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

  // Concurrent: each test boots its own stage and mostly waits on it.
  describe.concurrent(`${stageName}: the environment conventions`, () => {
    it('OTEL_SERVICE_NAME renames the service', async ({ expect }) => {
      const { spans } = await exported({ OTEL_SERVICE_NAME: 'renamed-from-the-shell' });
      expect(spans.map((s) => s.resource['service.name'])).toEqual(['renamed-from-the-shell']);
    });

    it('OTEL_SDK_DISABLED=true turns telemetry off, and the app still serves', async ({ expect }) => {
      const { spans, exit } = await exported({ OTEL_SDK_DISABLED: 'true' });
      expect(spans).toEqual([]);
      expect(exit.output).not.toContain(`name: '${span}'`);
    });

    // otlp,console, the default of every stage, is what all their other tests run with.
    it.for<[string, number, boolean]>([
      ['otlp', 1, false],
      ['console', 0, true],
      ['none', 0, false],
    ])('OTEL_TRACES_EXPORTER=%s: %i span(s) over OTLP, console %s', async ([value, count, printed], { expect }) => {
      const { spans, exit } = await exported({ OTEL_TRACES_EXPORTER: value });
      expect(spans).toHaveLength(count);
      expect(exit.output.includes(`name: '${span}'`)).toBe(printed);
    });

    it.for<[string, string, string]>([
      ['OTEL_BSP_SCHEDULE_DELAY', 'soon', 'is not a whole number of milliseconds'],
      ['OTEL_EXPORTER_OTLP_ENDPOINT', 'garbage', 'is not an absolute http:// or https:// URL'],
      ['OTEL_EXPORTER_OTLP_ENDPOINT', 'ftp://127.0.0.1:4318', 'is not an absolute http:// or https:// URL'],
      ['OTEL_EXPORTER_OTLP_ENDPOINT', 'http://127.0.0.1:4318/v1/traces', 'ends in /v1/traces, which the exporter adds itself'],
      ['OTEL_EXPORTER_OTLP_TRACES_ENDPOINT', 'localhost:4318', 'is not an absolute http:// or https:// URL'],
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
    ])('%s=%s stops the stage with one line that names it', async ([name, value, why], { expect }) => {
      const started = startStage(stageName, { env: { ...baseEnv, [name]: value }, startTimeoutMs: 15_000 });
      await expect(started).rejects.toThrow(`telemetry: ${name}=${JSON.stringify(value)} ${why}`);
    });

    it('never prints the password of an endpoint URL, in a refusal or in a warning', async ({ expect }) => {
      const refused = startStage(stageName, { env: { ...baseEnv, OTEL_EXPORTER_OTLP_ENDPOINT: 'http://me:hunter2@127.0.0.1:9/v1/traces' }, startTimeoutMs: 15_000 });
      await expect(refused).rejects.toThrow('telemetry: OTEL_EXPORTER_OTLP_ENDPOINT="http://127.0.0.1:9/v1/traces" ends in /v1/traces');
      await expect(refused).rejects.not.toThrow(/hunter2/);
      const env = { ...baseEnv, OTEL_TRACES_EXPORTER: 'otlp', OTEL_EXPORTER_OTLP_ENDPOINT: 'http://me:hunter2@127.0.0.1:9' };
      const stage = await startStage(stageName, { env });
      await stage.get('/');
      await expect.poll(() => stage.output(), { timeout: 15_000, interval: 200 }).toContain('telemetry: cannot export spans to http://127.0.0.1:9/v1/traces');
      const exit = await stage.stop('SIGINT');
      expect(exit.output).not.toContain('hunter2');
    });

    it('OTEL_EXPORTER_OTLP_TRACES_ENDPOINT is used as it is, /v1/traces included', async ({ expect }) => {
      const receiver = await startOtlpReceiver();
      try {
        const stage = await startStage(stageName, { env: { ...baseEnv, OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: `${receiver.url}/v1/traces` } });
        await stage.get('/');
        await stage.stop('SIGINT');
        expect(named(receiver.spans)).toHaveLength(1);
      } finally {
        await receiver.close();
      }
    });
  });

  describe.concurrent(`${stageName}: telemetry loss is never silent`, () => {
    it('says once when exports start failing and once when they work again, not per span', async ({ expect }) => {
      const receiver = await startOtlpReceiver();
      try {
        receiver.setAvailable(false);
        const stage = await startStage(stageName, { otlpEndpoint: receiver.url, env: { ...baseEnv, OTEL_TRACES_EXPORTER: 'otlp' } });
        const lines = (text: string): string[] => linesWith(stage.output(), text);
        for (let i = 0; i < 20; i++) await stage.get('/');
        await expect.poll(() => lines('cannot export spans'), { timeout: 15_000, interval: 200 }).toHaveLength(services);
        expect(lines('cannot export spans')[0]).toMatch(new RegExp(`telemetry: cannot export spans to ${receiver.url}/v1/traces \\(.+\\); they are dropped until it answers`));
        receiver.setAvailable(true);
        for (let i = 0; i < 20; i++) await stage.get('/');
        await expect.poll(() => lines('exporting spans to'), { timeout: 15_000, interval: 200 }).toEqual(Array(services).fill(`telemetry: exporting spans to ${receiver.url}/v1/traces again`));
        expect(lines('cannot export spans')).toHaveLength(services);
        await stage.stop('SIGINT');
        expect(named(receiver.spans).length).toBeGreaterThanOrEqual(20);
      } finally {
        await receiver.close();
      }
    }, 40_000);

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

    // Metrics are read and logs written on their own schedule; each signal says its own lines.
    // Generous waits: with several stages booting at once on two cores, an export can take seconds.
    const periodic: Array<{ what: string; env: Record<string, string> }> = [
      ...(metrics ? [{ what: 'metrics', env: { OTEL_METRIC_EXPORT_INTERVAL: '500' } }] : []),
      ...(logs ? [{ what: 'logs', env: { OTEL_BLRP_SCHEDULE_DELAY: '500' } }] : []),
    ];
    if (periodic.length > 0) {
      it.for(periodic)('says once when $what exports start failing and once when they work again', { timeout: 60_000 }, async ({ what, env }, { expect }) => {
        const receiver = await startOtlpReceiver();
        // Requests keep coming, so that there is always something to export (log lines come with requests).
        let traffic: NodeJS.Timeout | undefined;
        try {
          receiver.setAvailable(false);
          const stage = await startStage(stageName, { otlpEndpoint: receiver.url, env: { ...baseEnv, ...env } });
          traffic = setInterval(() => void stage.get('/').catch(() => {}), 200);
          const lines = (text: string): string[] => linesWith(stage.output(), text);
          await expect.poll(() => lines(`cannot export ${what}`), { timeout: 30_000, interval: 200 }).toHaveLength(services);
          expect(lines(`cannot export ${what}`)[0]).toMatch(`telemetry: cannot export ${what} to ${receiver.url}/v1/${what} (`);
          await new Promise((r) => setTimeout(r, 1000));
          receiver.setAvailable(true);
          const again = `telemetry: exporting ${what} to ${receiver.url}/v1/${what} again`;
          await expect.poll(() => lines(`exporting ${what} to`), { timeout: 30_000, interval: 200 }).toEqual(Array(services).fill(again));
          expect(lines(`cannot export ${what}`)).toHaveLength(services);
          clearInterval(traffic);
          await stage.stop('SIGINT');
        } finally {
          clearInterval(traffic);
          await receiver.close();
        }
      });
    }
  });
}
