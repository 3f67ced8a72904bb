import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['shared/e2e/**/*.e2e.test.ts'],
    globalSetup: ['shared/e2e/global-setup.ts'],
    // One collector, fixed ports: the stages take turns.
    fileParallelism: false,
    testTimeout: 120_000,
    // A cold build of the native stack takes about 11 minutes on 2 cores.
    hookTimeout: 30 * 60_000,
  },
});
