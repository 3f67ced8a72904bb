// Brings up the backends for `pnpm test:e2e` the way a learner does: it runs `pnpm stack:native`
// (built once, cached) and stops it with Ctrl+C (SIGINT) at the end. With E2E_STACK=running it uses
// whatever stack is already up instead (the compose one, in users' CI).
import type { TestProject } from 'vitest/node';
import { startLearnerStack, waitForStack } from '../stack/learner-stack.ts';

declare module 'vitest' {
  export interface ProvidedContext {
    /** The native collector's output file ('' for a stack started elsewhere: read `docker compose logs`). */
    collectorLog: string;
  }
}

export default async function setup(project: TestProject): Promise<(() => Promise<void>) | undefined> {
  project.provide('collectorLog', '');
  if (process.env.E2E_STACK === 'running') {
    // A stack that was just started may need a few seconds before every health check answers.
    await waitForStack({ timeout: 60_000 }).catch((err: Error) => {
      throw new Error(`E2E_STACK=running, but the stack does not answer (${err.message}). Start a stack first: pnpm stack:up`);
    });
    return undefined;
  }
  const stack = await startLearnerStack('pnpm stack:native');
  project.provide('collectorLog', stack.collectorLog);
  return () => stack.stop();
}
