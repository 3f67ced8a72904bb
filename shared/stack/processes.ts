// How the native stack starts programs, for its builds and for its backends: each one logged to a
// file, tracked so that none outlives the Node process (Ctrl+C included), and timed.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';

export type Log = (line: string) => void;
export const defaultLog: Log = (line) => console.log(`[stack] ${line}`);

export function which(command: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${command}`], { stdio: 'ignore' }).status === 0;
}

export function commandOutput(command: string, args: string[]): string {
  const result = spawnSync(command, args, { encoding: 'utf8' });
  return `${result.stdout ?? ''}${result.stderr ?? ''}`;
}

export function tail(file: string, lines = 25): string {
  if (!existsSync(file)) return '';
  return readFileSync(file, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
}

// Every process this module starts, killed if the Node process exits first
// (for instance on Ctrl+C during a build), so that none is left behind. A process started in a
// group of its own (a build, a backend) is killed with its whole group: `go build` runs the
// compiler and linker as processes of its own.
const live = new Set<ChildProcess>();
let exitHook = false;
export function track(child: ChildProcess, group = false): ChildProcess {
  live.add(child);
  child.once('exit', () => live.delete(child));
  if (!exitHook) {
    exitHook = true;
    process.once('exit', () => {
      for (const running of live) {
        try {
          if (groups.has(running) && running.pid) process.kill(-running.pid, 'SIGKILL');
          else running.kill('SIGKILL');
        } catch {
          // already gone
        }
      }
    });
  }
  if (group) groups.add(child);
  return child;
}
const groups = new WeakSet<ChildProcess>();

export function seconds(since: number): number {
  return Math.round((Date.now() - since) / 1000);
}

export type RunOptions = { cwd?: string; env?: NodeJS.ProcessEnv; logFile: string; label: string; note?: string; log: Log; pkg?: string; quiet?: boolean };

/** Runs a build command, output to logFile, with a progress line every 15 s. */
export function run(command: string, args: string[], options: RunOptions): Promise<void> {
  const started = Date.now();
  mkdirSync(dirname(options.logFile), { recursive: true });
  const fd = openSync(options.logFile, 'a');
  writeFileSync(fd, `\n$ ${command} ${args.join(' ')}\n`);
  if (!options.quiet) options.log(`${options.label}${options.note ? ` (${options.note})` : ''}... log: ${options.logFile}`);
  return new Promise((resolveRun, reject) => {
    const child = track(spawn(command, args, { cwd: options.cwd, env: options.env ?? process.env, stdio: ['ignore', fd, fd], detached: true }), true);
    const ticker = setInterval(() => options.quiet || options.log(`  still ${options.label.toLowerCase()} (${seconds(started)}s)`), 15_000);
    const finish = (error?: Error): void => {
      clearInterval(ticker);
      closeSync(fd);
      if (error) {
        reject(new Error(`${options.label} failed: ${error.message}\n--- last lines of ${options.logFile} ---\n${tail(options.logFile)}`));
      } else {
        if (!options.quiet) options.log(`  ${options.label.toLowerCase()}: done in ${seconds(started)}s`);
        resolveRun();
      }
    };
    child.on('error', (error) => finish(error));
    child.on('exit', (code, signal) => finish(code === 0 ? undefined : new Error(`exit ${code ?? signal}`)));
  });
}

