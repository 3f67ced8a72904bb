// Brings up the backends for `pnpm test:e2e` the way a learner does: it runs `pnpm stack:native`
// (built once, cached) and stops it with Ctrl+C (SIGINT) at the end. With E2E_STACK=running it uses
// whatever stack is already up instead (the compose one, in users' CI).
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { REPO_ROOT } from '../harness/stage-runner.ts';
import waitOn from 'wait-on';
import { URLS } from '../stack/urls.ts';

const HEALTH = [URLS.collectorHealth, URLS.jaegerHealth, URLS.zipkinHealth, URLS.prometheusReady];
// GET, not wait-on's default HEAD; proxy: false, or a proxy set in the environment would be asked for 127.0.0.1.
const waitFor = (options: { timeout: number; reverse?: boolean }): Promise<void> =>
  waitOn({ resources: HEALTH.map((url) => url.replace(/^http/, 'http-get')), interval: 500, proxy: false, ...options });

export default async function setup(): Promise<(() => Promise<void>) | undefined> {
  if (process.env.E2E_STACK === 'running') {
    // A stack that was just started may need a few seconds before every health check answers.
    await waitFor({ timeout: 60_000 }).catch((err: Error) => {
      throw new Error(`E2E_STACK=running, but the stack does not answer (${err.message}). Start a stack first: pnpm stack:up`);
    });
    return undefined;
  }
  const child = spawn('pnpm', ['stack:native'], { cwd: REPO_ROOT, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
  const exited = once(child, 'exit');
  let output = '';
  const relay = (chunk: Buffer): void => {
    output += chunk.toString();
    for (const line of chunk.toString().split('\n')) if (line.trim()) console.log(line.startsWith('[stack]') ? line : `[stack] ${line}`);
  };
  child.stdout.on('data', relay);
  child.stderr.on('data', relay);
  // The tool prints "Press Ctrl+C to stop." once every process answers its health check.
  await Promise.race([
    new Promise<void>((resolve) => {
      const check = (): void => void (output.includes('Press Ctrl+C to stop.') && resolve());
      child.stdout.on('data', check);
    }),
    exited.then(([code]) => {
      throw new Error(`pnpm stack:native exited (code ${code}) before the stack was up:\n${output}`);
    }),
  ]);
  return async () => {
    // Ctrl+C, as in a terminal: the tool stops the collector first, then the backends.
    if (child.exitCode === null) process.kill(-child.pid!, 'SIGINT');
    await exited;
    // pnpm may return before the tool has stopped every process: wait until nothing answers.
    await waitFor({ timeout: 30_000, reverse: true });
  };
}
