import { availableParallelism } from 'node:os';
import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['steps/*/test/**/*.test.ts', 'shared/**/*.test.ts'],
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
  },
});
