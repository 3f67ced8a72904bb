// `pnpm traces` prints Jaeger's answer as span trees; the e2e suite runs it against the real
// Jaeger, this checks the rendering itself: nesting, kinds, durations, the error flag, order.
import { describe, expect, it } from 'vitest';
import { failed } from '../backends/index.ts';
import { renderTrace } from './traces.ts';

const span = (spanID: string, operationName: string, startTime: number, parent?: string, tags: { key: string; value: unknown }[] = []) => ({
  traceID: 't1',
  spanID,
  operationName,
  references: parent ? [{ refType: 'CHILD_OF', spanID: parent }] : [],
  startTime,
  duration: 2500,
  tags,
  processID: 'p1',
});

describe('pnpm traces', () => {
  it('renders a trace as a tree, children under their parent in start order, errors flagged', () => {
    const trace = {
      traceID: 't1',
      processes: { p1: { serviceName: 'step-11-contrib' } },
      spans: [
        span('c2', 'handler - fail', 1_795_000_000_000_300, 'c1', [{ key: 'otel.status_code', value: 'ERROR' }]),
        span('r', 'GET /error', 1_795_000_000_000_100, undefined, [{ key: 'span.kind', value: 'server' }, { key: 'error', value: true }]),
        span('c1', 'request', 1_795_000_000_000_200, 'r'),
      ],
    };
    expect(renderTrace(trace)).toEqual([
      'trace t1  2026-11-18 11:06:40 UTC  3 spans',
      '  GET /error  [server]  2.5 ms  ERROR  (step-11-contrib)  span r',
      '      └── request  [internal]  2.5 ms  (step-11-contrib)  span c1',
      '          └── handler - fail  [internal]  2.5 ms  ERROR  (step-11-contrib)  span c2',
    ]);
  });

  it('treats a span whose parent is not in the trace as a root', () => {
    const trace = { traceID: 't1', processes: { p1: { serviceName: 's' } }, spans: [span('a', 'orphan', 1_795_000_000_000_000, 'missing')] };
    expect(renderTrace(trace).slice(1)).toEqual(['  orphan  [internal]  2.5 ms  (s)  span a']);
  });
});

describe('pnpm traces --errors', () => {
  it('keeps a trace when any of its spans failed, by the error tag or the status', () => {
    const ok = { traceID: 't1', processes: {}, spans: [span('a', 'GET /', 1)] };
    const tagged = { traceID: 't2', processes: {}, spans: [span('a', 'GET /error', 1), span('b', 'x', 2, 'a', [{ key: 'error', value: true }])] };
    const status = { traceID: 't3', processes: {}, spans: [span('a', 'GET /error', 1, undefined, [{ key: 'otel.status_code', value: 'ERROR' }])] };
    expect([ok, tagged, status].filter(failed).map((t) => t.traceID)).toEqual(['t2', 't3']);
  });
});
