// VictoriaLogs writes `_time` with as many fraction digits as it needs, so records must be ordered by
// time, not by the text: `05.52Z` is later than `05.5Z` and earlier than `05.525Z`.
import { describe, expect, it } from 'vitest';
import { nanosecondsOf, oldestFirst } from './victorialogs.ts';

describe('VictoriaLogs records', () => {
  it('are ordered by time, whatever the number of fraction digits', () => {
    const times = ['2026-12-01T19:47:20.525Z', '2026-12-01T19:47:20.52Z', '2026-12-01T19:47:21Z', '2026-12-01T19:47:20.5Z', '2026-12-01T19:47:20.520000001Z'];
    expect(oldestFirst(times.map((_time) => ({ _time }))).map((r) => r._time)).toEqual([
      '2026-12-01T19:47:20.5Z',
      '2026-12-01T19:47:20.52Z',
      '2026-12-01T19:47:20.520000001Z',
      '2026-12-01T19:47:20.525Z',
      '2026-12-01T19:47:21Z',
    ]);
  });

  it('read nanoseconds exactly, beyond what a Date holds', () => {
    expect(nanosecondsOf('1970-01-01T00:00:01.000000007Z')).toBe(1_000_000_007n);
    expect(nanosecondsOf('1970-01-01T00:00:01+01:00')).toBe(-3_599_000_000_000n);
    expect(nanosecondsOf('not a time')).toBe(0n);
  });
});
