// `pnpm logs` prints VictoriaLogs' records a line each; the e2e suite runs it against the real
// VictoriaLogs, this checks the rendering: time, severity, message, service, trace and span.
import { describe, expect, it } from 'vitest';
import { renderLogs } from './logs.ts';

describe('pnpm logs', () => {
  it('renders each record on one line, with its trace and span when it has them', () => {
    expect(
      renderLogs([
        { _time: '2026-12-01T19:47:05.74Z', _msg: 'Something went wrong on purpose', severity_text: 'error', 'service.name': 'step-19-logs', trace_id: 'ab'.repeat(16), span_id: 'cd'.repeat(8) },
        { _time: '2026-12-01T19:47:05.7Z', _msg: 'Server listening at http://127.0.0.1:3030', severity_text: 'info', 'service.name': 'step-19-logs' },
      ]),
    ).toEqual([
      `2026-12-01 19:47:05.740  ERROR  Something went wrong on purpose  (step-19-logs)  trace ${'ab'.repeat(16)} span ${'cd'.repeat(8)}`,
      '2026-12-01 19:47:05.700  INFO   Server listening at http://127.0.0.1:3030  (step-19-logs)',
    ]);
  });
});
