// The exercises: a learner's own copy of the stage a chapter starts from, in a git-ignored folder
// (exercises/step-NN, package exercise-NN), to write the chapter's instrumentation in; and the
// check of it against the chapter's promises (steps/step-NN/test/promises.ts). `pnpm exercise`
// and `pnpm check` are the commands; this is what they share with the tests.
import { execFile } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { pathToFileURL } from 'node:url';
import { runLesson, verdicts, type Lesson, type Verdict } from '../harness/promises.ts';
import { listStages, REPO_ROOT } from '../repo.ts';

// OTEL_STEPS_EXERCISES moves them, for the tests, which must not touch a learner's own.
export const EXERCISES_DIR = process.env.OTEL_STEPS_EXERCISES ?? join(REPO_ROOT, 'exercises');

// What a copy leaves out: what the learner writes (the chapter's own files come with the stage),
// and what belongs to the reference stage (its tests, snapshot and chapter).
const LEFT_OUT = new Set(['node_modules', 'test', 'README.md', 'telemetry.txt']);

export interface Exercise {
  /** The stage number as the learner types it: 08. */
  number: string;
  /** The stage the exercise becomes, and the one it starts from (the chapter's "What changed since step N"). */
  stage: string;
  base: string;
  dir: string;
  /** exercise-08 */
  name: string;
  chapter: string;
}

/** The stages with an exercise: every stage whose chapter says which stage it changes. */
export function exercisable(): string[] {
  return listStages()
    .map((s) => s.name)
    .filter((name) => baseOf(name) !== undefined);
}

/** The stage a chapter starts from: "## What changed since step 6" is step-06. */
function baseOf(stage: string): string | undefined {
  const chapter = join(REPO_ROOT, 'steps', stage, 'README.md');
  if (!existsSync(chapter)) return undefined;
  const since = /^## What changed since step (\d+)$/m.exec(readFileSync(chapter, 'utf8'))?.[1];
  return since ? `step-${since.padStart(2, '0')}` : undefined;
}

/**
 * The exercise for `arg` (08), or the one line that says why there is none. `dir` is where
 * exercises live (exercises/, or a test's own folder).
 */
export function exerciseFor(arg: string | undefined, dir = EXERCISES_DIR): Exercise | string {
  const numbers = exercisable().map((s) => s.slice('step-'.length));
  const list = `the exercises are ${numbers.join(', ')}`;
  if (!arg) return `name a stage: pnpm exercise 08 (${list})`;
  if (!/^\d\d$/.test(arg)) return `"${arg}" is not a stage number: write it with two digits, as in pnpm exercise ${arg.replace(/\D/g, '').padStart(2, '0') || '08'} (${list})`;
  if (!numbers.includes(arg)) return `there is no exercise ${arg}: ${list}`;
  const stage = `step-${arg}`;
  const base = baseOf(stage)!;
  return { number: arg, stage, base, dir: join(dir, stage), name: `exercise-${arg}`, chapter: join(REPO_ROOT, 'steps', stage, 'README.md') };
}

/**
 * Writes the exercise: the base stage's files, and a package.json that is the base stage's start
 * script with the packages the chapter uses already listed. Its node_modules is the stage's own
 * (a link), so that nothing needs installing and the workspace's lockfile stays as it is.
 */
export function createExercise(exercise: Exercise, name = exercise.name): void {
  const baseDir = join(REPO_ROOT, 'steps', exercise.base);
  const stageDir = join(REPO_ROOT, 'steps', exercise.stage);
  mkdirSync(exercise.dir, { recursive: true });
  for (const entry of readdirSync(baseDir)) {
    if (LEFT_OUT.has(entry) || entry === 'package.json') continue;
    cpSync(join(baseDir, entry), join(exercise.dir, entry), { recursive: true });
  }
  const base = JSON.parse(readFileSync(join(baseDir, 'package.json'), 'utf8')) as Record<string, unknown>;
  const stage = JSON.parse(readFileSync(join(stageDir, 'package.json'), 'utf8')) as Record<string, unknown> & { description?: string };
  const pkg = {
    name,
    version: '0.0.0',
    private: true,
    type: 'module',
    description: `Exercise ${exercise.number}, started from ${exercise.base}: ${stage.description?.replace(/^Step \d+: /, '') ?? ''}`,
    // The base stage's: the chapter says when to change it.
    scripts: base.scripts,
    // The chapter's packages, at the catalog's versions (the stage's own list).
    dependencies: stage.dependencies,
    devDependencies: stage.devDependencies,
  };
  writeFileSync(join(exercise.dir, 'package.json'), `${JSON.stringify(pkg, null, 2)}\n`);
  symlinkSync(relative(exercise.dir, join(stageDir, 'node_modules')), join(exercise.dir, 'node_modules'), 'dir');
}

export function removeExercise(exercise: Exercise): void {
  rmSync(exercise.dir, { recursive: true, force: true });
}

/** The chapter's promises: steps/step-NN/test/promises.ts. */
export async function lessonOf(stage: string): Promise<Lesson> {
  const file = join(REPO_ROOT, 'steps', stage, 'test', 'promises.ts');
  return ((await import(pathToFileURL(file).href)) as { lesson: Lesson }).lesson;
}

export interface Checked {
  verdicts: Verdict[];
  /** The lesson's own promises that are broken (extras never count). */
  broken: number;
  lessonCount: number;
  /** What the compiler says of the exercise, a line per error; empty when it type-checks. */
  typeErrors: string[];
  /** The exit code, when the run ended with another than 0. */
  exitCode?: number | null;
  /** What it printed on stderr, when it exited with another code than 0. */
  stderr?: string;
  ms: number;
}

/** Whether `checked` passes: every promise kept, and code that type-checks. */
export const passes = (checked: Checked): boolean => checked.broken === 0 && checked.typeErrors.length === 0;

/**
 * What the compiler says of the exercise's TypeScript, with the stages' own options
 * (tsconfig.base.json): a line per error, each naming its file, line and column. A set-up written
 * for another SDK version (SDK 2's `new BatchSpanProcessor(exporter)`) runs, exports nothing and
 * says nothing; the compiler names the line at once.
 */
export async function typeCheck(dir: string): Promise<string[]> {
  const config = mkdtempSync(join(tmpdir(), 'otel-steps-check-'));
  try {
    const tsconfig = {
      extends: join(REPO_ROOT, 'tsconfig.base.json'),
      // @types/node is the workspace's, wherever the exercise is.
      compilerOptions: { typeRoots: [join(REPO_ROOT, 'node_modules', '@types')] },
      include: [join(dir, '**', '*.ts')],
      exclude: [join(dir, 'node_modules')],
    };
    writeFileSync(join(config, 'tsconfig.json'), JSON.stringify(tsconfig));
    const tsc = join(REPO_ROOT, 'node_modules', '.bin', 'tsc');
    const { code, stdout, stderr } = await new Promise<{ code: number; stdout: string; stderr: string }>((resolve) =>
      execFile(tsc, ['-p', join(config, 'tsconfig.json'), '--pretty', 'false'], { cwd: dir, encoding: 'utf8', timeout: 60_000 }, (err, out, errOut) =>
        resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stdout: out, stderr: errOut }),
      ),
    );
    if (code === 0) return [];
    const lines = `${stdout}${stderr}`.split('\n').filter((l) => l.trim() !== '');
    return lines.length > 0 ? lines : [`tsc exited with code ${code}`];
  } finally {
    rmSync(config, { recursive: true, force: true });
  }
}

/**
 * Runs the exercise in its folder through its own start script, as the lesson says, and checks
 * each promise; type-checks it meanwhile.
 */
export async function checkExercise(exercise: Exercise): Promise<Checked> {
  const started = performance.now();
  const lesson = await lessonOf(exercise.stage);
  const typed = typeCheck(exercise.dir);
  const run = await runLesson(lesson, exercise.name, exercise.dir).catch(async (err: unknown) => {
    // It did not start: what the compiler says is the likelier story, told first.
    const typeErrors = await typed;
    throw typeErrors.length > 0 ? new Error(`${typeErrors.join('\n')}\n\n${(err as Error).message}`) : err;
  });
  try {
    const typeErrors = await typed;
    const all = verdicts(lesson, run);
    const lessonOnly = all.filter((v) => !v.promise.extra && !v.unchecked);
    const failed = run.exit.code !== 0 ? { exitCode: run.exit.code, stderr: run.exit.stderr } : {};
    return {
      verdicts: all,
      broken: lessonOnly.filter((v) => v.broken !== undefined).length,
      lessonCount: lessonOnly.length,
      typeErrors,
      ...failed,
      ms: performance.now() - started,
    };
  } finally {
    await run.close();
  }
}

/** The check's verdict, as the learner reads it: a line per promise, ✓ or ✗, what arrived and where to look. */
export function report(exercise: Exercise, checked: Checked): string {
  const lines = [`pnpm check ${exercise.number}: ${relative(process.cwd(), exercise.dir) || '.'} against the promises of ${relative(process.cwd(), exercise.chapter)}`, ''];
  if (checked.typeErrors.length > 0) {
    // First: code the compiler refuses explains the ✗ lines below it.
    const files = [...new Set(checked.typeErrors.map((l) => /^(\S+?\.ts)\(\d+,\d+\)/.exec(l)?.[1]).filter((f) => f !== undefined))];
    lines.push(
      `  ✗ the code type-checks (tsc, with the stages' compiler options): ${checked.typeErrors.length} error${checked.typeErrors.length > 1 ? 's' : ''}`,
      ...checked.typeErrors.slice(0, 10).map((l) => `      ${l}`),
      ...(checked.typeErrors.length > 10 ? [`      and ${checked.typeErrors.length - 10} more`] : []),
      `      look at: ${files.join(', ') || 'the lines above'}, as the compiler says; an API of another SDK version is the usual cause`,
    );
  }
  if (checked.exitCode !== undefined) {
    const stderr = (checked.stderr ?? '').trimEnd().split('\n').filter((l) => l !== '');
    lines.push(
      `  ! on Ctrl+C it exited with code ${checked.exitCode}${stderr.length > 0 ? ', and printed on stderr:' : ', and printed nothing on stderr'}`,
      ...stderr.slice(-20).map((l) => `      ${l}`),
    );
  }
  const line = (v: Verdict): string[] =>
    v.unchecked
      ? [`  ? ${v.promise.says}`, `      ${v.unchecked}`]
      : v.broken === undefined
        ? [`  ✓ ${v.promise.says}`]
        : [`  ✗ ${v.promise.says}`, `      arrived instead: ${v.broken}`, `      look at: ${v.look}`];
  lines.push(...checked.verdicts.filter((v) => !v.promise.extra).flatMap(line));
  const extras = checked.verdicts.filter((v) => v.promise.extra);
  if (extras.length > 0) {
    lines.push('', '  Beyond the lesson (what the reference stage also does; optional, never a failure):');
    lines.push(...extras.map((v) => `    ${v.unchecked ? '?' : v.broken === undefined ? '✓' : '·'} ${v.promise.says}`));
  }
  const kept = checked.lessonCount - checked.broken;
  const seconds = (checked.ms / 1000).toFixed(1);
  const typeNote = checked.typeErrors.length > 0 ? ', and tsc refuses the code' : '';
  lines.push(
    '',
    passes(checked)
      ? `All ${checked.lessonCount} promises kept, in ${seconds} s. Compare with the reference: pnpm diff exercise-${exercise.number} ${exercise.number}`
      : `${kept} of ${checked.lessonCount} promises kept${typeNote}, in ${seconds} s: fix the ✗ lines above and run pnpm check ${exercise.number} again.`,
  );
  return lines.join('\n');
}
