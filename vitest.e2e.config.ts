import { defineConfig } from 'vitest/config';

// Two projects, run one after the other by `pnpm test:e2e` (both bind the stack's fixed ports):
//   shared-stack  every stage and chapter against one stack started as a learner does;
//   own-stack     tests that start a stack of their own: with a lesson overlay, or to stop and
//                 restart its processes one at a time.
export default defineConfig({
  test: {
    // One collector, fixed ports: the stages take turns.
    fileParallelism: false,
    testTimeout: 120_000,
    // A cold build of the native stack takes about 20 minutes on 2 cores.
    hookTimeout: 40 * 60_000,
    projects: [
      { extends: true, test: { name: 'shared-stack', include: ['shared/e2e/*.e2e.test.ts'], globalSetup: ['shared/e2e/global-setup.ts'] } },
      { extends: true, test: { name: 'own-stack', include: ['shared/e2e/own-stack/*.e2e.test.ts'] } },
    ],
  },
});
