// Brings up the backends for `pnpm test:e2e`: the native stack (built once, cached), or, with
// E2E_STACK=running, whatever stack is already up (the compose one in users' CI).
import { buildStack, checkPrerequisites, startStack, URLS } from '../tools/stack-lib.ts';

const HEALTH = {
  collector: URLS.collectorHealth,
  Jaeger: URLS.jaegerHealth,
  Zipkin: URLS.zipkinHealth,
  Prometheus: URLS.prometheusReady,
};

async function assertRunning(timeoutMs = 60_000): Promise<void> {
  // A stack that was just started may need a few seconds before every health check answers.
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const down: string[] = [];
    for (const [name, url] of Object.entries(HEALTH)) {
      const ok = await fetch(url, { signal: AbortSignal.timeout(3000) }).then((r) => r.ok, () => false);
      if (!ok) down.push(`${name} (${url})`);
    }
    if (down.length === 0) return;
    if (Date.now() > deadline) throw new Error(`E2E_STACK=running, but these do not answer: ${down.join(', ')}. Start a stack first: pnpm stack:up`);
    await new Promise((r) => setTimeout(r, 1000));
  }
}

export default async function setup(): Promise<(() => Promise<void>) | undefined> {
  if (process.env.E2E_STACK === 'running') {
    await assertRunning();
    return undefined;
  }
  const prerequisites = checkPrerequisites();
  if (prerequisites.message) throw new Error(prerequisites.message);
  const log = (line: string): void => console.log(`[stack] ${line}`);
  const stack = await startStack({ binaries: await buildStack({ log }), log });
  return () => stack.stop();
}
