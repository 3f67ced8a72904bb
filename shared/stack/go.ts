// The Go side of the native stack's builds: the pinned toolchain, and `go build` and module
// downloads timed apart, so that each build can say what it spent on download, compile and link.
import { spawn, spawnSync } from 'node:child_process';
import { readFileSync, renameSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { run, track, type RunOptions } from './processes.ts';
import { FILES } from './versions.ts';

// Every Go build runs on the toolchain named in collector/go.toolchain (.ci/run reads the same
// file), through the go command's own mechanism: GOTOOLCHAIN=<it>+auto makes any go from 1.21 on
// fetch that version from the Go module proxy, once, when it is not that version itself. (The
// collector 0.161 modules need go 1.26.0, VictoriaLogs v1.52.2 go 1.26.5.)
export const GO_TOOLCHAIN = readFileSync(FILES.goToolchain, 'utf8').trim();

/**
 * Environment for the Go builds: the pinned toolchain (unless GOTOOLCHAIN is set already), no
 * workspace, no VCS stamping (module sources have no .git).
 */
export function goEnv(extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  return {
    ...process.env,
    GOTOOLCHAIN: process.env.GOTOOLCHAIN || `${GO_TOOLCHAIN}+auto`,
    GOWORK: 'off',
    GOFLAGS: `${process.env.GOFLAGS ?? ''} -buildvcs=false`.trim(),
    ...extra,
  };
}

/** The machine's own Go, and whether the builds will fetch the pinned one; a line for the log, or undefined. */
export function toolchainNote(): string | undefined {
  if (process.env.GOTOOLCHAIN) return undefined;
  const goversion = spawnSync('go', ['env', 'GOVERSION'], { encoding: 'utf8', env: { ...process.env, GOTOOLCHAIN: 'local' } }).stdout ?? '';
  const own = /go\d+(\.\d+)+/.exec(goversion)?.[0];
  if (!own || own === GO_TOOLCHAIN) return undefined;
  return (
    `${own} here: the builds run on ${GO_TOOLCHAIN} (collector/go.toolchain), which the go command fetches from the Go module proxy itself ` +
    `the first time (GOTOOLCHAIN=${GO_TOOLCHAIN}+auto, about 76 MB)`
  );
}

// The collector and Jaeger are compiled without the compiler's optimizations and inlining: on two
// cores the collector then compiles in 120 s instead of 170 s (measured cold, December 2026), and
// it does the same work; the few requests of one learner's stages need no optimized code.
export const QUICK_COMPILE = '-gcflags=all=-N -l';

/**
 * `go build` with Go's own trace of its actions, which says how long the link took: the rest of
 * the build's time is loading and compiling packages. Writes `output` under a temporary name and
 * renames it when the build succeeded, so that a build cut short leaves nothing to trust.
 */
export async function goBuild(args: string[], output: string, options: RunOptions): Promise<{ compile: number; link: number }> {
  const trace = join(dirname(options.logFile), 'build-trace.json');
  const partial = `${output}.partial`;
  const started = Date.now();
  await run('go', ['build', ...args, `-debug-trace=${trace}`, '-o', partial, options.pkg ?? '.'], options);
  const total = (Date.now() - started) / 1000;
  let link = 0;
  try {
    const events = JSON.parse(readFileSync(trace, 'utf8')) as Array<{ name?: string; ph?: string; ts?: number; tid?: number }>;
    const isLink = (e: { name?: string }): boolean => /^Executing action \(link /.test(e.name ?? '');
    const begin = events.find((e) => isLink(e) && e.ph === 'B');
    const end = begin && events.find((e) => e.ph === 'E' && e.tid === begin.tid && (e.ts ?? 0) >= (begin.ts ?? 0));
    if (begin && end) link = ((end.ts ?? 0) - (begin.ts ?? 0)) / 1e6;
  } catch {
    // no trace: the whole time counts as compiling
  }
  rmSync(trace, { force: true });
  renameSync(partial, output);
  return { compile: total - link, link };
}

/** How a Go build spent its time, a line for the log and for the closing figures. */
export function spent(label: string, download: number, { compile, link }: { compile: number; link: number }): string {
  return `${label}: ${Math.round(download + compile + link)}s (download ${Math.round(download)}s, compile ${Math.round(compile)}s, link ${Math.round(link)}s)`;
}

/**
 * Downloads a Go module's sources and every module it builds with, timed apart from the compile.
 * Returns the sources' (read-only) directory and how long it took.
 */
export async function goModDownloadAll(module: string, logFile: string): Promise<{ source: string; seconds: number }> {
  const started = Date.now();
  // Not spawnSync: this runs while another build does, and must not hold up this process.
  const source = await new Promise<string>((resolveSource, reject) => {
    let out = '';
    const child = track(spawn('go', ['mod', 'download', '-json', module], { env: goEnv(), stdio: ['ignore', 'pipe', 'pipe'], detached: true }), true);
    child.stdout!.setEncoding('utf8').on('data', (chunk: string) => (out += chunk));
    child.stderr!.setEncoding('utf8').on('data', (chunk: string) => (out += chunk));
    child.on('error', reject);
    child.on('exit', (code) => {
      const dir = (() => {
        try {
          return (JSON.parse(out) as { Dir?: string }).Dir;
        } catch {
          return undefined;
        }
      })();
      if (code === 0 && dir) resolveSource(dir);
      else reject(new Error(`go mod download ${module} failed: ${out}`));
    });
  });
  await run('go', ['mod', 'download'], { cwd: source, env: goEnv(), logFile, label: `Downloading what ${module} builds with`, log: () => {}, quiet: true });
  return { source, seconds: (Date.now() - started) / 1000 };
}

