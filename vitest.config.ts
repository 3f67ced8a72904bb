import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['steps/*/test/**/*.test.ts', 'shared/**/*.test.ts'],
    exclude: ['**/node_modules/**', '**/*.e2e.test.ts'],
    // Each stage test boots real processes (pnpm, node); give them room on a 2-core machine.
    testTimeout: 60_000,
    hookTimeout: 60_000,
  },
});
