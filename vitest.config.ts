import { availableParallelism } from 'node:os';
import { defineConfig } from 'vitest/config';

// Two tiers, so that the check at the end of the README's set-up stays under a minute:
//   quick   `pnpm test`: the tools, the harness, the chapters' checks; no test boots a stage
//           (startStage refuses to, so a test put in the wrong tier fails at once);
//   stages  `pnpm test:stages`: every test that boots a stage through its real start script
//           (well over a hundred boots), which CI runs after the set-up, as it runs the e2e tests.
// `vitest run` with no --project runs both.
const STAGE_TESTS = ['steps/*/test/**/*.test.ts', 'shared/tools/exercises.test.ts', 'shared/docs/runnable.test.ts'];

export default defineConfig({
  test: {
    exclude: ['**/node_modules/**', '**/*.e2e.test.ts'],
    // Most test files wait on the processes they boot (pnpm, node, curl) rather than use a core:
    // one worker per core plus one, where vitest's default would leave one core idle.
    maxWorkers: availableParallelism() + 1,
    // Files share workers instead of each starting its own: no test relies on a fresh module state.
    isolate: false,
    // Each stage test boots real processes (pnpm, node); give them room on a 2-core machine.
    testTimeout: 60_000,
    hookTimeout: 60_000,
    // With OTEL_STEPS_TRIPWIRE=1 (CI), the run fails if any test sent telemetry to the stack's
    // default ports; unarmed otherwise, so that `pnpm test` never takes a learner's stack's ports.
    globalSetup: ['shared/harness/tripwire.ts'],
    projects: [
      {
        extends: true,
        test: {
          name: 'quick',
          include: ['shared/**/*.test.ts'],
          exclude: ['**/node_modules/**', '**/*.e2e.test.ts', ...STAGE_TESTS],
          env: { OTEL_STEPS_TIER: 'quick' },
        },
      },
      { extends: true, test: { name: 'stages', include: STAGE_TESTS } },
    ],
  },
});
