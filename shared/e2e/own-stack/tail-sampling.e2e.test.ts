// Tail sampling (collector/overlays/tail-sampling.yaml), on a stack started the way its chapter
// says, with traffic whose shape the test controls: failing, slow and ordinary traces, sent over
// OTLP as an SDK would. Every failing and every slow trace must reach Jaeger, and a quarter of the
// others, within a stated tolerance; span metrics, computed before sampling, count them all.
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually, jaegerTraces, promQuery, sendOtlpJson, type JaegerTrace } from '../../backends/index.ts';
import { startLearnerStack, type LearnerStack } from '../../stack/learner-stack.ts';

const COMMAND = 'COLLECTOR_OVERLAY=overlays/tail-sampling.yaml pnpm stack:native';
const SERVICE = 'tail-sampling-e2e';
const COUNTS = { error: 40, slow: 40, ordinary: 400 };
// The overlay keeps 25% of the ordinary traces, by a hash of the trace id. With 400 of them the
// count is binomial: mean 100, standard deviation 8.7; 4 standard deviations either side allow
// 65 to 135 (16% to 34%), which a correct overlay misses about once in 15,000 runs.
const SHARE = 0.25;
const TOLERANCE = 35;

type Kind = keyof typeof COUNTS;

/** One trace: a server span with an internal child, as a stage would send it. */
function trace(kind: Kind, startMs: number): object[] {
  const traceId = randomBytes(16).toString('hex');
  const rootId = randomBytes(8).toString('hex');
  const durationMs = kind === 'slow' ? 800 : 5;
  const nanos = (ms: number): string => String(BigInt(Math.round(ms * 1000)) * 1000n);
  const attributes = [{ key: 'test.kind', value: { stringValue: kind } }];
  return [
    {
      traceId,
      spanId: rootId,
      name: 'GET /',
      kind: 2,
      startTimeUnixNano: nanos(startMs),
      endTimeUnixNano: nanos(startMs + durationMs),
      attributes,
      status: kind === 'error' ? { code: 2, message: 'boom' } : { code: 0 },
    },
    {
      traceId,
      spanId: randomBytes(8).toString('hex'),
      parentSpanId: rootId,
      name: 'work',
      kind: 1,
      startTimeUnixNano: nanos(startMs + 1),
      endTimeUnixNano: nanos(startMs + durationMs - 1),
      attributes,
    },
  ];
}

const kindOf = (t: JaegerTrace): string => String(t.spans[0]?.tags.find((tag) => tag.key === 'test.kind')?.value);

describe.skipIf(process.env.E2E_STACK === 'running')(`${COMMAND}: what reaches Jaeger`, () => {
  let stack: LearnerStack;
  beforeAll(async () => {
    stack = await startLearnerStack(COMMAND);
  });
  afterAll(async () => {
    await stack?.stop();
  });

  it(`keeps every error and every slow trace, and ${SHARE * 100}% ± ${TOLERANCE} of ${COUNTS.ordinary} ordinary ones`, async () => {
    // The traces start a second before they are sent.
    const since = (Date.now() - 60_000) * 1000;
    const kinds = (Object.keys(COUNTS) as Kind[]).flatMap((kind) => Array.from({ length: COUNTS[kind] }, () => kind));
    // 40 traces per export request, as a batching SDK would send them.
    for (let i = 0; i < kinds.length; i += 40) {
      const spans = kinds.slice(i, i + 40).flatMap((kind) => trace(kind, Date.now() - 1000));
      await sendOtlpJson('traces', {
        resourceSpans: [{ resource: { attributes: [{ key: 'service.name', value: { stringValue: SERVICE } }] }, scopeSpans: [{ spans }] }],
      });
    }

    // Decisions come 2 s (decision_wait) after a trace's first span; then the exporters batch.
    const kept = await eventually(
      'every error and slow trace in Jaeger, and no more arriving',
      async () => {
        const found = await jaegerTraces(SERVICE, since, 2000);
        const count = (kind: string): number => found.filter((t) => kindOf(t) === kind).length;
        return count('error') === COUNTS.error && count('slow') === COUNTS.slow ? found : undefined;
      },
      60_000,
    );
    // Everything was decided together; give the last batch a moment, then count again.
    await new Promise((resolve) => setTimeout(resolve, 3000));
    const final = await jaegerTraces(SERVICE, since, 2000);
    expect(final.length).toBeGreaterThanOrEqual(kept.length);
    const ordinary = final.filter((t) => kindOf(t) === 'ordinary').length;
    console.log(`tail sampling kept ${ordinary} of ${COUNTS.ordinary} ordinary traces (${((100 * ordinary) / COUNTS.ordinary).toFixed(1)}%)`);
    expect(ordinary).toBeGreaterThanOrEqual(COUNTS.ordinary * SHARE - TOLERANCE);
    expect(ordinary).toBeLessThanOrEqual(COUNTS.ordinary * SHARE + TOLERANCE);
    // A kept trace is kept whole.
    for (const t of final) expect(t.spans.map((s) => s.operationName).sort()).toEqual(['GET /', 'work']);
  });

  it('span metrics still count every request: they are computed before sampling', async () => {
    const total = COUNTS.error + COUNTS.slow + COUNTS.ordinary;
    const query = `sum(traces_span_metrics_calls_total{service_name="${SERVICE}", span_name="GET /"})`;
    await eventually(`${total} calls in ${query}`, async () => {
      const [sample] = await promQuery(query);
      return Number(sample?.value[1]) === total ? true : undefined;
    }, 60_000);
  });
});
