// The exercises can fail, and the reference passes them: for every stage after 06, the untouched
// starting copy breaks every promise of its chapter (each ✗ line says so) and a copy of the
// reference stage keeps them all; a correct solution written differently passes too. The
// commands themselves: a bad argument gets one line, and a learner's work is never overwritten.
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { startStage } from '../harness/stage-runner.ts';
import { REPO_ROOT } from '../repo.ts';
import { checkExercise, createExercise, exercisable, exerciseFor, lessonOf, report, type Exercise } from './exercises.ts';

const root = mkdtempSync(join(tmpdir(), 'otel-steps-exercises-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

/** A fresh exercise for `number`, in a folder of this test's own. */
function fresh(number: string, label: string): Exercise {
  const exercise = exerciseFor(number, join(root, label)) as Exercise;
  createExercise(exercise);
  return exercise;
}

/** The exercise, solved as the reference stage solves it: its files and its start script. */
function solved(exercise: Exercise): Exercise {
  const stageDir = join(REPO_ROOT, 'steps', exercise.stage);
  for (const entry of readdirSync(stageDir)) {
    if (['node_modules', 'test', 'README.md', 'telemetry.txt', 'package.json'].includes(entry)) continue;
    cpSync(join(stageDir, entry), join(exercise.dir, entry), { recursive: true });
  }
  const pkg = JSON.parse(readFileSync(join(exercise.dir, 'package.json'), 'utf8')) as { scripts: unknown };
  pkg.scripts = (JSON.parse(readFileSync(join(stageDir, 'package.json'), 'utf8')) as { scripts: unknown }).scripts;
  writeFileSync(join(exercise.dir, 'package.json'), JSON.stringify(pkg, null, 2));
  return exercise;
}

describe.each(exercisable().map((s) => s.slice('step-'.length)))('exercise %s', (number) => {
  it('the untouched starting copy breaks every promise of the chapter, each with its ✗ line', async () => {
    const exercise = fresh(number, 'untouched');
    const checked = await checkExercise(exercise);
    const lesson = (await lessonOf(exercise.stage)).promises.filter((p) => !p.extra);
    expect(checked.lessonCount).toBe(lesson.length);
    expect(checked.broken, report(exercise, checked)).toBe(lesson.length);
    const lines = report(exercise, checked).split('\n');
    for (const promise of lesson) expect(lines).toContain(`  ✗ ${promise.says}`);
    expect(lines.filter((l) => l.startsWith('      look at: '))).toHaveLength(lesson.length);
  });

  it('a copy of the reference stage keeps every promise', async () => {
    const exercise = solved(fresh(number, 'solved'));
    const checked = await checkExercise(exercise);
    expect(checked.broken, report(exercise, checked)).toBe(0);
    expect(report(exercise, checked)).toContain(`All ${checked.lessonCount} promises kept`);
  });
});

describe('every chapter after 06 ends with its exercise', () => {
  it.each(exercisable())('%s: a "Try it yourself" section, last, naming its exercise, check and diff', (stage) => {
    const n = stage.slice('step-'.length);
    const chapter = readFileSync(join(REPO_ROOT, 'steps', stage, 'README.md'), 'utf8');
    const section = /^## Try it yourself\n([\s\S]*)$/m.exec(chapter)?.[1] ?? '';
    expect(section, 'the last section').not.toMatch(/^## /m);
    for (const command of [`pnpm exercise ${n}`, `pnpm check ${n}`, `pnpm --filter exercise-${n} start`, `pnpm diff exercise-${n} ${n}`]) expect(section).toContain(command);
  });
});

describe('a correct solution written differently passes', () => {
  it('step 8 with startSpan instead of startActiveSpan, another tracer name, and no environment.ts', async () => {
    const exercise = solved(fresh('08', 'different'));
    const app = join(exercise.dir, 'src', 'app.ts');
    writeFileSync(
      app,
      readFileSync(app, 'utf8')
        .replace("trace.getTracer('step-08-app')", "trace.getTracer('my-own-tracer')")
        .replaceAll(/return tracer\.startActiveSpan\('(\w+)', \(span\) => \{/g, "const span = tracer.startSpan('$1');\n    {")
        .replaceAll(/\n {4}\}\);\n {2}\}\);/g, '\n    }\n  });'),
    );
    expect(readFileSync(app, 'utf8')).not.toContain('startActiveSpan');
    rmSync(join(exercise.dir, 'src', 'environment.ts'));
    // The SDK set up in a few lines, as a learner might: no OTEL_* checks, no loss warnings.
    writeFileSync(
      join(exercise.dir, 'src', 'telemetry.ts'),
      [
        "import { trace } from '@opentelemetry/api';",
        "import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';",
        "import { resourceFromAttributes } from '@opentelemetry/resources';",
        "import { BatchSpanProcessor, TracerProvider } from '@opentelemetry/sdk-trace';",
        "const provider = new TracerProvider({ resource: resourceFromAttributes({ 'service.name': 'my-app' }), spanProcessors: [new BatchSpanProcessor({ exporter: new OTLPTraceExporter() })] });",
        'trace.setGlobalTracerProvider(provider);',
        "process.once('beforeExit', () => void provider.shutdown());",
        '',
      ].join('\n'),
    );
    const pkg = JSON.parse(readFileSync(join(exercise.dir, 'package.json'), 'utf8')) as { scripts: Record<string, string> };
    pkg.scripts.start = 'node --import ./src/telemetry.ts src/server.ts';
    writeFileSync(join(exercise.dir, 'package.json'), JSON.stringify(pkg));
    const checked = await checkExercise(exercise);
    expect(checked.broken, report(exercise, checked)).toBe(0);
    // What it leaves out is the reference's hardening, shown but never failing.
    expect(report(exercise, checked)).toContain('· every span is also printed on the console');
  });
});

describe('pnpm --filter exercise-NN start', () => {
  it('runs the exercise as a workspace package, as the stage runs, and installs nothing: pnpm-lock.yaml stays as it is', async () => {
    // In exercises/, where pnpm finds workspace packages, under a name no learner's has.
    const exercise = { ...(exerciseFor('08') as Exercise), dir: join(REPO_ROOT, 'exercises', `test-${process.pid}`) };
    const name = `exercise-test-${process.pid}`;
    const lockfile = readFileSync(join(REPO_ROOT, 'pnpm-lock.yaml'), 'utf8');
    try {
      createExercise(exercise, name);
      const stage = await startStage(name);
      expect((await stage.get('/')).status).toBe(200);
      expect((await stage.stop()).code).toBe(0);
      expect(stage.output()).toContain('$ node --import ./src/telemetry.ts src/server.ts');
      expect(readFileSync(join(REPO_ROOT, 'pnpm-lock.yaml'), 'utf8')).toBe(lockfile);
    } finally {
      rmSync(exercise.dir, { recursive: true, force: true });
    }
  });
});

describe('pnpm exercise and pnpm check, the commands', () => {
  const dir = join(root, 'commands');
  const run = (tool: string, ...args: string[]) =>
    spawnSync(join(REPO_ROOT, 'node_modules', '.bin', 'node'), [join(REPO_ROOT, 'shared', 'tools', `${tool}.ts`), ...args], {
      cwd: REPO_ROOT,
      encoding: 'utf8',
      env: { ...process.env, OTEL_STEPS_EXERCISES: dir },
      timeout: 60_000,
    });

  it.each([
    ['exercise', ['99'], /^exercise: there is no exercise 99: the exercises are 08, 11, /],
    ['exercise', ['8'], /^exercise: "8" is not a stage number: write it with two digits, as in pnpm exercise 08/],
    ['exercise', ['06'], /^exercise: there is no exercise 06: /],
    ['check', ['8'], /^check: "8" is not a stage number: write it with two digits, as in pnpm check 08/],
    ['check', ['11'], /^check: no exercise 11 yet: pnpm exercise 11 starts it$/],
    ['check', ['--all'], /^check: no exercise started on this machine yet: pnpm exercise 08 starts one$/],
  ] as const)('pnpm %s %s: one clear line, and a non-zero exit', (tool, args, line) => {
    const result = run(tool, ...args);
    expect(result.status).not.toBe(0);
    expect(result.stdout).toBe('');
    expect(result.stderr.trim().split('\n')).toHaveLength(1);
    expect(result.stderr.trim()).toMatch(line);
  });

  it('starts the exercise, never overwrites it when run again, and starts over with --reset', () => {
    const first = run('exercise', '08');
    expect(first.status, first.stderr).toBe(0);
    expect(first.stdout).toMatch(/is a copy of step-06, ready for chapter 8/);
    expect(first.stdout).toContain('Read steps/step-08/README.md');
    for (const command of ['pnpm --filter exercise-08 start', 'pnpm check 08', 'pnpm diff exercise-08 08']) expect(first.stdout).toContain(command);
    const pkg = JSON.parse(readFileSync(join(dir, 'step-08', 'package.json'), 'utf8')) as { name: string; scripts: { start: string }; dependencies: Record<string, string> };
    expect(pkg.name).toBe('exercise-08');
    // step-06's start script, the chapter's packages.
    expect(pkg.scripts.start).toBe('node --import ./src/telemetry.ts src/server.ts');
    expect(Object.keys(pkg.dependencies)).toEqual(expect.arrayContaining(['@opentelemetry/api', '@opentelemetry/sdk-trace', '@opentelemetry/exporter-trace-otlp-http']));

    const mine = join(dir, 'step-08', 'src', 'telemetry.ts');
    writeFileSync(mine, '// my work\n');
    const again = run('exercise', '08');
    expect(again.status).toBe(1);
    expect(again.stderr).toMatch(/already exists, with your work in it, and is left as it is: pnpm exercise 08 --reset/);
    expect(readFileSync(mine, 'utf8')).toBe('// my work\n');

    expect(run('exercise', '08', '--reset').status).toBe(0);
    expect(readFileSync(mine, 'utf8')).toBe(readFileSync(join(REPO_ROOT, 'steps', 'step-06', 'src', 'telemetry.ts'), 'utf8'));
  });

  it('pnpm check 08 exits 1 while a promise is broken, and 0 once every one is kept', () => {
    if (!existsSync(join(dir, 'step-08'))) expect(run('exercise', '08').status).toBe(0);
    const broken = run('check', '08');
    expect(broken.status).toBe(1);
    expect(broken.stdout).toContain('  ✗ a span named `hello` for `GET /`');
    expect(broken.stdout).toMatch(/^0 of 5 promises kept, in [\d.]+ s: fix the ✗ lines above and run pnpm check 08 again\.$/m);
    solved(exerciseFor('08', dir) as Exercise);
    const kept = run('check', '08');
    expect(kept.status, kept.stdout).toBe(0);
    expect(kept.stdout).toMatch(/^All 5 promises kept, in [\d.]+ s\. Compare with the reference: pnpm diff exercise-08 08$/m);
    expect(run('exercise', '08', '--reset').status).toBe(0);
  });

  it('pnpm check --all: a line per exercise started, for the instructor\'s screen', () => {
    if (!existsSync(join(dir, 'step-08'))) expect(run('exercise', '08').status).toBe(0);
    expect(run('exercise', '11').status).toBe(0);
    const all = run('check', '--all');
    expect(all.status).toBe(1);
    expect(all.stdout).toMatch(/^ {2}✗ exercise-08 {2}0\/5 promises {3}extras \d\/3 {3}first ✗: a span named `hello` for `GET \/`, of kind internal/m);
    expect(all.stdout).toMatch(/^ {2}✗ exercise-11 {2}0\/4 promises/m);
  });
});
