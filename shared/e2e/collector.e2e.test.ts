// The shared collector config at work, on the learner's stack: health checks dropped for every
// stage, secrets masked before any backend, and log records in VictoriaLogs, found by their trace id.
import { randomBytes } from 'node:crypto';
import { describe, expect, inject, it } from 'vitest';
import { startStage } from '../harness/index.ts';
import { URLS } from '../stack/urls.ts';
import { collectorOutput, eventually, jaegerTraces, logsQuery, promQuery, sendOtlpJson, zipkinTraces } from '../backends/index.ts';

describe('drop noise: health checks never reach a backend', () => {
  it('step-14 traces /healthz (zero-code cannot leave it out); Jaeger and Zipkin get only the real request', async () => {
    const since = Date.now();
    const stage = await startStage('step-14', { otlpEndpoint: URLS.otlpHttp });
    try {
      for (let i = 0; i < 3; i++) expect((await stage.get('/healthz')).status).toBe(200);
      expect((await stage.get('/')).status).toBe(200);
    } finally {
      await stage.stop('SIGINT');
    }
    const paths = (tags: Array<{ key: string; value: unknown }>): unknown => tags.find((t) => t.key === 'url.path')?.value;
    const traces = await eventually('the GET / trace in Jaeger', async () => {
      const found = await jaegerTraces('step-14-zero-code', since * 1000);
      return found.some((t) => t.spans.some((s) => paths(s.tags) === '/')) ? found : undefined;
    });
    expect(traces.flatMap((t) => t.spans).filter((s) => paths(s.tags) === '/healthz')).toEqual([]);
    const zipkin = await eventually('the GET / trace in Zipkin', async () => {
      const found = await zipkinTraces('step-14-zero-code', Date.now() - since);
      return found.flat().some((s) => s.tags?.['url.path'] === '/') ? found : undefined;
    });
    expect(zipkin.flat().filter((s) => s.tags?.['url.path'] === '/healthz')).toEqual([]);
    // The collector counts what it dropped.
    await eventually('dropped spans in the collector counter', async () => {
      const [sample] = await promQuery('sum(otelcol_processor_filter_spans_filtered{job="otel-collector"})');
      return Number(sample?.value[1]) >= 3 ? true : undefined;
    });
  });
});

describe('redact: secrets are masked before any exporter, the rest stays', () => {
  const service = `redaction-e2e-${randomBytes(3).toString('hex')}`;
  const traceId = randomBytes(16).toString('hex');
  const spanId = randomBytes(8).toString('hex');
  const secrets = ['s3cr3t-token', 's3cr3t-at', 'hunter2', 's3cr3t-key', 's3cr3t-secret', 's3cr3t-sig', 's3cr3t-bearer', 's3cr3t-cookie', 's3cr3t-enc', 's3cr3t-plus', 's3cr3t-pct']
    .concat(['s3cr3t-caps', 's3cr3t-cap-token', 's3cr3t-cap-password', 's3cr3t-cap-at', 's3cr3t-fragment', 's3cr3t-in-fragment']);
  // Keys as an app reads them whatever their spelling: a letter percent-encoded, words joined by
  // + or %20, in any capitals; and a value with + and %20 in it, masked whole.
  const query =
    'token=s3cr3t-token&page=2&access_token=s3cr3t-at&password=hunter2&api_key=s3cr3t-key&secret=s3cr3t-secret&signature=s3cr3t-sig' +
    '&%74oken=s3cr3t-enc&api+key=s3cr3t-plus&api%20key=s3cr3t-pct+and%20more&TOKEN=s3cr3t-caps' +
    '&Token=s3cr3t-cap-token&PASSWORD=s3cr3t-cap-password&Access_Token=s3cr3t-cap-at';
  const masked =
    'token=****&page=2&access_token=****&password=****&api_key=****&secret=****&signature=****&%74oken=****&api+key=****&api%20key=****&TOKEN=****' +
    '&Token=****&PASSWORD=****&Access_Token=****';
  // A page opened as the OAuth implicit flow leaves it: the token in the fragment, which a
  // browser's spans record in url.full (http.url in the older conventions) and url.fragment.
  const fragment = '#access_token=s3cr3t-fragment&token_type=bearer';
  const resource = { attributes: [{ key: 'service.name', value: { stringValue: service } }] };
  const str = (key: string, value: string): object => ({ key, value: { stringValue: value } });
  const now = BigInt(Date.now()) * 1_000_000n;

  it('a span and a log record carrying secrets (names in any capitals, a token in a URL fragment) are sent to the collector as an app would', async () => {
    await sendOtlpJson('traces', {
      resourceSpans: [
        {
          resource,
          scopeSpans: [
            {
              spans: [
                {
                  traceId,
                  spanId,
                  name: 'GET /login',
                  kind: 2,
                  startTimeUnixNano: String(now),
                  endTimeUnixNano: String(now + 5_000_000n),
                  attributes: [
                    str('http.request.method', 'GET'),
                    str('url.path', '/login'),
                    str('url.query', query),
                    str('url.full', `http://127.0.0.1:3030/login?${query}${fragment}`),
                    str('http.url', `http://127.0.0.1:3030/login?${query}${fragment}`),
                    str('url.fragment', fragment.slice(1)),
                    // A fragment where the collector cannot know it is one: its secrets masked.
                    str('page.referrer', 'http://127.0.0.1:3030/#access_token=s3cr3t-in-fragment&state=xyz'),
                    str('http.request.header.authorization', 'Bearer s3cr3t-bearer'),
                    str('http.request.header.cookie', 'session=s3cr3t-cookie'),
                    str('user.tier', 'pro'),
                    { key: 'http.response.status_code', value: { intValue: '200' } },
                  ],
                },
              ],
            },
          ],
        },
      ],
    });
    await sendOtlpJson('logs', {
      resourceLogs: [
        {
          resource,
          scopeLogs: [
            {
              logRecords: [
                {
                  timeUnixNano: String(now),
                  severityNumber: 9,
                  severityText: 'info',
                  traceId,
                  spanId,
                  body: { stringValue: `incoming request GET /login?${query}` },
                  // The request as a logger records it (pino's req), a map.
                  attributes: [
                    str('http.request.header.cookie', 'session=s3cr3t-cookie'),
                    { key: 'req', value: { kvlistValue: { values: [str('method', 'GET'), str('url', `/login?${query}`)] } } },
                  ],
                },
              ],
            },
          ],
        },
      ],
    });
  });

  it('Jaeger has the span with the values masked, keys and other attributes intact', async () => {
    const [trace] = await eventually('the span in Jaeger', async () => {
      const found = await jaegerTraces(service, Number(now / 1000n) - 60e6);
      return found.length ? found : undefined;
    });
    const tags = Object.fromEntries(trace!.spans[0]!.tags.map((t) => [t.key, t.value]));
    expect(tags).toMatchObject({
      'url.query': masked,
      // The fragment dropped.
      'url.full': `http://127.0.0.1:3030/login?${masked}`,
      'http.url': `http://127.0.0.1:3030/login?${masked}`,
      'page.referrer': 'http://127.0.0.1:3030/#access_token=****&state=xyz',
      'http.request.header.authorization': '****',
      'http.request.header.cookie': '****',
      'url.path': '/login',
      'user.tier': 'pro',
      'http.response.status_code': 200,
    });
    expect(tags).not.toHaveProperty('url.fragment');
    for (const secret of secrets) expect(JSON.stringify(trace)).not.toContain(secret);
  });

  it('Zipkin has it masked too', async () => {
    const spans = await eventually('the span in Zipkin', async () => {
      const found = (await zipkinTraces(service, 120_000)).flat();
      return found.length ? found : undefined;
    });
    expect(spans[0]!.tags).toMatchObject({ 'url.query': masked, 'http.request.header.authorization': '****', 'user.tier': 'pro' });
    for (const secret of secrets) expect(JSON.stringify(spans)).not.toContain(secret);
  });

  it('VictoriaLogs has the log record masked, its map attribute included', async () => {
    const entries = await eventually('the log record in VictoriaLogs', async () => {
      const found = await logsQuery(`service.name:=${JSON.stringify(service)}`, Date.now() - 120_000);
      return found.length ? found : undefined;
    });
    expect(entries.map((e) => e._msg)).toEqual([`incoming request GET /login?${masked}`]);
    for (const secret of secrets) expect(JSON.stringify(entries)).not.toContain(secret);
  });

  it("the collector's debug output shows the masked values and no secret", async () => {
    const output = await eventually('the span in the debug output', async () => {
      const text = collectorOutput(inject('collectorLog'));
      return text.includes(service) && text.includes(`incoming request GET /login?${masked}`) ? text : undefined;
    });
    expect(output).toContain(masked);
    for (const secret of secrets) expect(output).not.toContain(secret);
  });
});

describe("a logs backend: VictoriaLogs finds a request's log records by its trace id, or by its service", () => {
  it("step-19's GET /error: the trace in Jaeger, its log records in VictoriaLogs, named as the conventions name them", async () => {
    const since = Date.now();
    const stage = await startStage('step-19', { otlpEndpoint: URLS.otlpHttp });
    try {
      expect((await stage.get('/error')).status).toBe(500);
    } finally {
      await stage.stop('SIGINT');
    }
    const [trace] = await eventually('the trace in Jaeger', async () => {
      const found = await jaegerTraces('step-19-logs', since * 1000);
      return found.length ? found : undefined;
    });
    // The query the chapters give, and the one Zipkin's Logs button opens.
    const logsql = `trace_id:=${JSON.stringify(trace!.traceID)}`;
    const records = await eventually(`log records for ${logsql}`, async () => {
      const found = await logsQuery(logsql, since);
      return found.length >= 3 ? found : undefined;
    });
    // In time order, but pino stamps a line to the millisecond, and the lines of one request often
    // share one: in any order, then.
    expect(records.map((r) => [r.severity_text, r._msg]).sort()).toEqual([
      ['error', 'Something went wrong on purpose'],
      ['info', 'incoming request'],
      ['info', 'request completed'],
    ]);
    for (const record of records) expect(record).toMatchObject({ trace_id: trace!.traceID, 'service.name': 'step-19-logs' });
    expect(records.find((r) => r.severity_text === 'error')).toMatchObject({ 'url.path': '/error', 'http.response.status_code': '500', 'exception.type': 'Error' });
    // By service, the other way in that step 19's chapter shows.
    const byService = await logsQuery('service.name:="step-19-logs" severity_text:=error', since);
    expect(byService.map((r) => r.trace_id)).toContain(trace!.traceID);
  });
});
