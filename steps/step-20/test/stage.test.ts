// Boots step-20's three services with the real start script and checks, over OTLP, that one
// request is one trace across all three, with the error, the baggage and nothing lost on Ctrl+C:
// the suites every stage since keeps (shared/harness/suites.ts); and what a stranger can send.
import { describe, expect, it } from 'vitest';
import {
  describeEnvironmentConventions,
  describeOneTraceAcrossServices,
  describeServiceCannotStart,
  runStage,
  SpanKind,
} from '@otel-steps/shared/harness';

describeOneTraceAcrossServices('step-20');

describe('step-20: what a stranger can send, and SIGTERM', () => {
  it('lets no query secret or credential header reach any signal or console of any service, and flushes all three on SIGTERM', async () => {
    const run = await runStage('step-20', {
      requests: [{ path: '/?token=tok-SECRET-1&password=pw-SECRET-2', headers: { authorization: 'Bearer s3cret-token', cookie: 'session=c00kie' } }, '/'],
      signal: 'SIGTERM',
    });
    try {
      expect(run.statuses).toEqual([200, 200]);
      expect(run.leaked(['tok-SECRET-1', 'pw-SECRET-2', 's3cret-token', 'c00kie'])).toEqual([]);
      // Two requests through three services: six server spans, none lost on SIGTERM.
      expect(run.receiver.spans.filter((s) => s.kind === SpanKind.SERVER)).toHaveLength(6);
      expect(run.receiver.spans.find((s) => s.attributes['http.route'] === '/' && s.kind === SpanKind.SERVER)?.attributes['url.query']).toBe('token=REDACTED&password=REDACTED');
    } finally {
      await run.close();
    }
  });
});

describeServiceCannotStart('step-20');
describeEnvironmentConventions('step-20', { span: 'GET /', metrics: true, logs: true, services: 3 });

// The chapter's promises (test/promises.ts) are held by shared/tools/exercises.test.ts, against a copy
// of this stage run as a learner's finished exercise is.
