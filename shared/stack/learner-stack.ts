// Runs a stack command the way a learner types it (`pnpm stack:native`, with or without
// COLLECTOR_OVERLAY=...), waits for its "Every part is up" line, and stops it with Ctrl+C.
// Used by the e2e global set-up and by the tests of a lesson overlay.
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { REPO_ROOT } from '../repo.ts';
import { URLS, waitForUrls } from './urls.ts';

const HEALTH = [URLS.collectorHealth, URLS.jaegerHealth, URLS.zipkinHealth, URLS.prometheusReady, URLS.victorialogsHealth];

/** Resolves once every backend answers (or, with reverse, once none does). */
export const waitForStack = (options: { timeout: number; reverse?: boolean }): Promise<void> => waitForUrls(HEALTH, options);

export type LearnerStack = {
  /** The collector's output file (the stack prints where its logs are). */
  collectorLog: string;
  /** Milliseconds from the command's start to its first parts answering ("Press Ctrl+C to stop."). */
  firstUp: number;
  /** Resolves with the milliseconds from the command's start to every part being up. */
  allUp: Promise<number>;
  stop(): Promise<void>;
};

/**
 * Starts `command` and resolves once every part is up, or, with `{ first: true }`, once its first
 * parts are (the collector, Zipkin and Prometheus start while the others still build).
 */
export async function startLearnerStack(command: string, { first = false }: { first?: boolean } = {}): Promise<LearnerStack> {
  const started = Date.now();
  const child = spawn('sh', ['-c', command], { cwd: REPO_ROOT, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
  const exited = once(child, 'exit');
  let output = '';
  const relay = (chunk: Buffer): void => {
    output += chunk.toString();
    for (const line of chunk.toString().split('\n')) if (line.trim()) console.log(line.startsWith('[stack]') ? line : `[stack] ${line}`);
  };
  child.stdout.on('data', relay);
  child.stderr.on('data', relay);
  // The tool prints "Press Ctrl+C to stop." once its first parts answer their health checks, and
  // "Every part is up" once every one does.
  const printed = (text: string): Promise<number> =>
    Promise.race([
      new Promise<number>((resolve) => {
        const check = (): void => void (output.includes(text) && resolve(Date.now() - started));
        check();
        child.stdout.on('data', check);
      }),
      exited.then(([code]): never => {
        throw new Error(`${command} exited (code ${code}) before printing "${text}":\n${output}`);
      }),
    ]);
  const allUp = printed('Every part is up');
  allUp.catch(() => {}); // awaited below, or by the caller
  const firstUp = await printed('Press Ctrl+C to stop.');
  if (!first) await allUp;
  const logDir = /logs in (\S+)\)/.exec(output)?.[1] ?? '';
  return {
    collectorLog: logDir && join(logDir, 'otelcol.log'),
    firstUp,
    allUp,
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
