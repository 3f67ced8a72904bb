// Runs a stack command the way a learner types it (`pnpm stack:native`, with or without
// COLLECTOR_OVERLAY=...), waits for its "Press Ctrl+C to stop." line, and stops it with Ctrl+C.
// Used by the e2e global set-up and by the tests of a lesson overlay.
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import waitOn from 'wait-on';
import { REPO_ROOT } from '../repo.ts';
import { URLS } from '../stack/urls.ts';

const HEALTH = [URLS.collectorHealth, URLS.jaegerHealth, URLS.zipkinHealth, URLS.prometheusReady, URLS.victorialogsHealth];

/** Resolves once every backend answers (or, with reverse, once none does). */
// GET, not wait-on's default HEAD; proxy: false, or a proxy set in the environment would be asked for 127.0.0.1.
export const waitForStack = (options: { timeout: number; reverse?: boolean }): Promise<void> =>
  waitOn({ resources: HEALTH.map((url) => url.replace(/^http/, 'http-get')), interval: 500, proxy: false, ...options });

export type LearnerStack = {
  /** The collector's output file (the stack prints where its logs are). */
  collectorLog: string;
  stop(): Promise<void>;
};

export async function startLearnerStack(command: string): Promise<LearnerStack> {
  const child = spawn('sh', ['-c', command], { cwd: REPO_ROOT, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
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
      throw new Error(`${command} exited (code ${code}) before the stack was up:\n${output}`);
    }),
  ]);
  const logDir = /logs in (\S+)\)/.exec(output)?.[1] ?? '';
  return {
    collectorLog: logDir && join(logDir, 'otelcol.log'),
    async stop() {
      // Ctrl+C, as in a terminal: the tool stops the collector first, then the backends.
      if (child.exitCode === null) process.kill(-child.pid!, 'SIGINT');
      await exited;
      // pnpm may return before the tool has stopped every process: wait until nothing answers.
      await waitForStack({ timeout: 30_000, reverse: true });
      // Stopping is the cleanup: the tool says what it removed, and nothing of it is left.
      if (logDir && !output.includes(`removed ${logDir}:`)) throw new Error(`${command} did not say it removed ${logDir}:\n${output.slice(-2000)}`);
      if (logDir && existsSync(logDir)) throw new Error(`${command} left ${logDir} behind`);
    },
  };
}
