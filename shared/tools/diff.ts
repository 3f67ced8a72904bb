// pnpm diff <a> <b>: what one lesson changed, between two stage folders, readable on a projector.
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { fail, painter, parseOrFail, wantsColor } from '../cli.ts';
import { EXERCISES_DIR } from './exercises.ts';
import { listStages } from '../repo.ts';

const TOOL = 'diff';

const HELP = `Usage: pnpm diff [options] <stage> <stage> [-- <path>...]

Shows what changed from the first stage to the second: the stage folders' files, with paths
relative to the stage (a/src/app.ts is the first stage's, b/src/app.ts the second's).
A stage is 06, 6 or step-06; an exercise (pnpm exercise 08) is exercise-08. Paths (e.g. -- src) limit the diff to those files or folders.

Not shown: README.md, telemetry.txt, the tests (test/), node_modules, lockfiles, logs, a running stage's *.local.json, and the name, description
and version lines of package.json, which differ between every two stages.

Options:
  --telemetry    diff the stages' telemetry snapshots (steps/step-NN/telemetry.txt, which
                 pnpm test:stages writes) instead of their code
  --stat         only a summary: files changed, insertions, deletions
  --color        colour even when the output is not a terminal (e.g. | less -R)
  --no-color     never colour
  -h, --help     this help

Exits 0 whether or not the stages differ.`;

const IGNORED_ANYWHERE = new Set(['node_modules', 'coverage', '.DS_Store', 'pnpm-lock.yaml', 'package-lock.json', 'yarn.lock']);
// The chapter, the snapshot and the tests change with every stage; the lesson is in the code.
const IGNORED_AT_STAGE_ROOT = new Set(['README.md', 'telemetry.txt', 'test']);
// Two-space indent: only package.json's own top-level fields, never a dependency's.
const PACKAGE_IDENTITY_LINE = /^ {2}"(?:name|description|version)":.*\n/gm;
const IGNORED_SUMMARY = 'README.md, telemetry.txt, test/, node_modules, lockfiles, *.local.json, package.json name/description/version';

const stepsRoot = process.env.OTEL_STEPS_ROOT
  ? resolve(process.env.OTEL_STEPS_ROOT)
  : fileURLToPath(new URL('../../steps/', import.meta.url));

/** An exercise (exercise-08): the learner's copy in exercises/step-08, diffed like a stage. */
function resolveExercise(arg: string): string | undefined {
  const number = /^exercise-(\d\d)$/.exec(arg)?.[1];
  if (!number) return undefined;
  const dir = join(EXERCISES_DIR, `step-${number}`);
  if (!existsSync(dir)) fail(TOOL, `no exercise ${arg} yet: pnpm exercise ${number} starts it`);
  return dir;
}

function resolveStage(arg: string, stages: string[]): string {
  const match = /^(?:step-)?(\d+)$/.exec(arg);
  const found = match ? stages.find((stage) => Number(stage.slice('step-'.length)) === Number(match[1])) : undefined;
  if (found === undefined) {
    fail(TOOL, `unknown stage "${arg}": the stages are ${stages.map((s) => s.slice('step-'.length)).join(', ')}`);
  }
  return found;
}

/** The stage's files worth showing, as paths relative to the stage folder. */
function stageFiles(stageDir: string, rel = ''): string[] {
  const files: string[] = [];
  for (const entry of readdirSync(join(stageDir, rel), { withFileTypes: true })) {
    const path = rel === '' ? entry.name : `${rel}/${entry.name}`;
    // *.local.json: a running stage's own state, git-ignored (step 22's flags.local.json, which pnpm incident writes).
    if (IGNORED_ANYWHERE.has(entry.name) || entry.name.endsWith('.log') || entry.name.endsWith('.local.json')) continue;
    if (rel === '' && IGNORED_AT_STAGE_ROOT.has(entry.name)) continue;
    if (entry.isDirectory()) files.push(...stageFiles(stageDir, path));
    else if (entry.isFile()) files.push(path);
  }
  return files;
}

function copyCode(stageDir: string, into: string): void {
  for (const file of stageFiles(stageDir)) {
    const target = join(into, file);
    mkdirSync(dirname(target), { recursive: true });
    if (file === 'package.json') {
      writeFileSync(target, readFileSync(join(stageDir, file), 'utf8').replace(PACKAGE_IDENTITY_LINE, ''));
    } else {
      copyFileSync(join(stageDir, file), target);
    }
  }
}

function git(args: string[], env: NodeJS.ProcessEnv = process.env): { status: number; stdout: string } {
  const run = spawnSync('git', args, { env, encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
  if (run.error) throw new Error(`could not run git (${run.error.message}): pnpm diff needs git on the PATH`);
  if (run.status === null || run.status > 1) throw new Error(`git ${args[0]} failed: ${run.stderr.trim()}`);
  return { status: run.status, stdout: run.stdout };
}

interface DiffRequest {
  fill: (side: 'a' | 'b', into: string) => void;
  paths: string[];
  stat: boolean;
  color: boolean;
}

/**
 * Each side is written to a scratch Git object store as a tree, and the two trees are diffed.
 * Unlike `git diff --no-index dirA dirB`, this keeps paths relative to the stage (src/app.ts, not
 * {step-06 => step-08}/src/app.ts), lines the --stat columns up, and takes paths on any Git version.
 */
function diffTrees(request: DiffRequest): { matched: boolean; differs: boolean; output: string } {
  const scratch = mkdtempSync(join(tmpdir(), 'otel-steps-diff-'));
  try {
    const gitDir = join(scratch, 'git');
    git(['init', '--quiet', '--bare', gitDir]);
    const pathspec = ['--', ...request.paths];
    let matched = false;
    const trees = (['a', 'b'] as const).map((side) => {
      const workTree = join(scratch, side);
      mkdirSync(workTree);
      request.fill(side, workTree);
      // Own index per side; set explicitly so a GIT_INDEX_FILE inherited from a Git hook cannot leak in.
      const env = { ...process.env, GIT_INDEX_FILE: join(scratch, `index-${side}`) };
      const repo = [`--git-dir=${gitDir}`, `--work-tree=${workTree}`];
      git([...repo, 'add', '--all', '--force', '.'], env);
      // A mistyped path would otherwise read as "no differences".
      matched ||= git([...repo, 'ls-files', ...pathspec], env).stdout !== '';
      return git([...repo, 'write-tree'], env).stdout.trim();
    });
    const [a = '', b = ''] = trees;
    const base = [`--git-dir=${gitDir}`, '--no-pager', 'diff', '--no-ext-diff', '--src-prefix=a/', '--dst-prefix=b/'];
    const width = process.stdout.isTTY ? `=${process.stdout.columns}` : '';
    const mode = request.stat ? [`--stat${width}`] : [];
    const color = `--color=${request.color ? 'always' : 'never'}`;
    const { status, stdout: output } = git([...base, '--exit-code', color, ...mode, a, b, ...pathspec]);
    const differs = status === 1;
    return { matched, differs, output };
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
}

function main(): void {
  const { values, positionals } = parseOrFail(TOOL, () =>
    parseArgs({
      allowPositionals: true,
      allowNegative: true,
      options: {
        telemetry: { type: 'boolean' },
        stat: { type: 'boolean' },
        color: { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
      },
    }),
  );
  if (values.help) {
    process.stdout.write(`${HELP}\n`);
    return;
  }
  const [first, second, ...paths] = positionals;
  if (first === undefined || second === undefined) fail(TOOL, 'give two stages, e.g. pnpm diff 06 08 (see --help)');
  if (values.telemetry && paths.length > 0) fail(TOOL, 'paths only apply to code diffs, not --telemetry');

  if (!existsSync(stepsRoot)) fail(TOOL, `no stages folder at ${stepsRoot}`);
  const stages = listStages(stepsRoot).map((stage) => stage.name);
  const exerciseA = resolveExercise(first);
  const exerciseB = resolveExercise(second);
  if ((exerciseA || exerciseB) && values.telemetry) fail(TOOL, 'an exercise has no telemetry snapshot: pnpm check NN shows what it emits');
  const stageA = exerciseA ? first : resolveStage(first, stages);
  const stageB = exerciseB ? second : resolveStage(second, stages);
  const dirOf = (side: 'a' | 'b') => (side === 'a' ? (exerciseA ?? join(stepsRoot, stageA)) : (exerciseB ?? join(stepsRoot, stageB)));

  if (values.telemetry) {
    const missing = [stageA, stageB]
      .map((stage) => join(stepsRoot, stage, 'telemetry.txt'))
      .filter((file) => !existsSync(file))
      .map((file) => relative(process.cwd(), file));
    if (missing.length > 0) {
      fail(TOOL, `no telemetry snapshot at ${[...new Set(missing)].join(' or ')}: pnpm test:stages writes them`, 1);
    }
  }

  const color = wantsColor(values.color);
  const paint = painter(color);
  const { matched, differs, output } = diffTrees({
    fill: values.telemetry
      ? (side, into) => copyFileSync(join(dirOf(side), 'telemetry.txt'), join(into, 'telemetry.txt'))
      : (side, into) => copyCode(dirOf(side), into),
    paths,
    stat: values.stat === true,
    color,
  });

  if (!matched) fail(TOOL, `nothing matches ${paths.join(', ')} in ${stageA} or ${stageB}`);

  const what = values.telemetry ? 'telemetry' : 'code';
  const scope = paths.length > 0 ? ` under ${paths.join(', ')}` : '';
  const ignored = values.telemetry ? 'telemetry.txt snapshots, written by pnpm test:stages' : `not shown: ${IGNORED_SUMMARY}`;
  process.stdout.write(`${paint('bold', `${what}: ${stageA} → ${stageB}${scope}`)} ${paint('dim', `(${ignored})`)}\n`);
  process.stdout.write(differs ? `\n${output}` : `no ${what} differences between ${stageA} and ${stageB}${scope}\n`);
}

try {
  main();
} catch (err) {
  fail(TOOL, (err as Error).message, 1);
}
