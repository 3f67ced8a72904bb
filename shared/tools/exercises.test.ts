// The exercises can fail, and the reference passes them: for every stage after 06, the untouched
// starting copy breaks every promise of its chapter (each ✗ line says so) and a copy of the
// reference stage keeps them all; a correct solution written differently passes too, and code
// that contradicts its chapter fails, with the ✗ line and the file the fix belongs in. The
// commands themselves: a bad argument gets one line, and a learner's work is never overwritten.
// Each run boots a stage and mostly waits on it: the suites run concurrently, the commands' own
// chain in order within its suite.
import { execFile } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { startStage } from '../harness/stage-runner.ts';
import { REPO_ROOT } from '../repo.ts';
import type { Promised } from '../harness/promises.ts';
import { checkExercise, createExercise, exercisable, exerciseFor, lessonOf, report, typeCheck, type Exercise } from './exercises.ts';

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

/** Rewrites `file` of `exercise` with `edit`, and makes sure the edit changed it. */
function edit(exercise: Exercise, file: string, change: (text: string) => string): void {
  const path = join(exercise.dir, file);
  const before = readFileSync(path, 'utf8');
  const after = change(before);
  expect(after, `${file}: the edit changes nothing`).not.toBe(before);
  writeFileSync(path, after);
}

/** The ✗ block of the promise whose line starts with `says`: its three lines, or undefined when it is kept. */
function broken(text: string, says: string): { arrived: string; look: string } | undefined {
  const lines = text.split('\n');
  const at = lines.findIndex((l) => l.startsWith(`  ✗ ${says}`));
  if (at < 0) return undefined;
  return { arrived: lines[at + 1]!.replace(/^ {6}arrived instead: /, ''), look: lines[at + 2]!.replace(/^ {6}look at: /, '') };
}

/** The lines a learner's own telemetry.ts for step 8 might have: the SDK in a few lines, `processor` and `flush` as written. */
function setUp(processor: string, flush: string): string {
  return [
    "import { trace } from '@opentelemetry/api';",
    "import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';",
    "import { resourceFromAttributes } from '@opentelemetry/resources';",
    "import { BatchSpanProcessor, TracerProvider } from '@opentelemetry/sdk-trace';",
    `const provider = new TracerProvider({ resource: resourceFromAttributes({ 'service.name': 'step-08-manual' }), spanProcessors: [${processor}] });`,
    'trace.setGlobalTracerProvider(provider);',
    flush,
    '',
  ].join('\n');
}

// The batch's delay read from the variable in a line, as a learner without environment.ts may: SDK 3 reads none itself.
const FROM_THE_VARIABLE = 'scheduledDelayMillis: Number(process.env.OTEL_BSP_SCHEDULE_DELAY ?? 5000)';
const FLUSH_ON_EXIT = "process.once('beforeExit', () => void provider.shutdown());";

/** The learner's step 8, its start script without environment.ts. */
function learnersOwn(label: string, telemetry: string): Exercise {
  const exercise = solved(fresh('08', label));
  rmSync(join(exercise.dir, 'src', 'environment.ts'));
  writeFileSync(join(exercise.dir, 'src', 'telemetry.ts'), telemetry);
  const pkg = JSON.parse(readFileSync(join(exercise.dir, 'package.json'), 'utf8')) as { scripts: Record<string, string> };
  pkg.scripts.start = 'node --import ./src/telemetry.ts src/server.ts';
  writeFileSync(join(exercise.dir, 'package.json'), JSON.stringify(pkg));
  return exercise;
}

/** The untouched copy's report: every promise of the chapter broken, each with its ✗ line and where to look. */
function expectAllBroken(text: string, lesson: Promised[]): void {
  const lines = text.split('\n');
  for (const promise of lesson) expect(lines, text).toContain(`  ✗ ${promise.says}`);
  expect(lines.filter((l) => l.startsWith('      look at: ')), text).toHaveLength(lesson.length);
  expect(text).toMatch(new RegExp(`^0 of ${lesson.length} promises kept`, 'm'));
}

/** The reference's report: every promise kept, the extras too (its own stage test no longer runs them: this run is that check). */
function expectAllKept(text: string, lesson: Promised[]): void {
  const lines = text.split('\n');
  for (const promise of lesson) expect(lines, text).toContain(`  ✓ ${promise.says}`);
  expect(lines.filter((l) => l.startsWith('    · ')), `extras not kept:\n${text}`).toEqual([]);
  expect(text).toMatch(new RegExp(`^All ${lesson.length} promises kept`, 'm'));
}

const lessonPromises = async (stage: string): Promise<Promised[]> => (await lessonOf(stage)).promises.filter((p) => !p.extra);

// One exercise at a time: fourteen boots side by side (three services each from step 20 on, and
// Chromium for 21) starve a 2-core machine until a stage misses its 20 s to exit on Ctrl+C.
// Exercise 08 is checked by the commands' session below, through pnpm check itself.
describe.each(exercisable().map((s) => s.slice('step-'.length)).filter((n) => n !== '08'))('exercise %s', (number) => {
  it('the untouched starting copy breaks every promise of the chapter, each with its ✗ line', async () => {
    const exercise = fresh(number, 'untouched');
    const checked = await checkExercise(exercise);
    const lesson = await lessonPromises(exercise.stage);
    expect(checked.lessonCount).toBe(lesson.length);
    expect(checked.broken, report(exercise, checked)).toBe(lesson.length);
    expectAllBroken(report(exercise, checked), lesson);
  });

  // The reference stage's promises are held here, through the exercise's own start script in its
  // own folder, as a learner's finished exercise runs, type-checked as the exercise is (with
  // @types/node alone: pnpm test's own tsc also sees the DOM's types, which accept more).
  it('a copy of the reference stage keeps every promise, the extras included', async () => {
    const exercise = solved(fresh(number, 'solved'));
    const checked = await checkExercise(exercise);
    expect(checked.broken, report(exercise, checked)).toBe(0);
    expectAllKept(report(exercise, checked), await lessonPromises(exercise.stage));
  });
});

describe('every chapter after 06 ends with its exercise', { concurrent: true }, () => {
  it.each(exercisable())('%s: a "Try it yourself" section, last, naming its exercise, check and diff', (stage) => {
    const n = stage.slice('step-'.length);
    const chapter = readFileSync(join(REPO_ROOT, 'steps', stage, 'README.md'), 'utf8');
    const section = /^## Try it yourself\n([\s\S]*)$/m.exec(chapter)?.[1] ?? '';
    expect(section, 'the last section').not.toMatch(/^## /m);
    for (const command of [`pnpm exercise ${n}`, `pnpm check ${n}`, `pnpm --filter exercise-${n} start`, `pnpm diff exercise-${n} ${n}`]) expect(section).toContain(command);
  });
});

describe('a correct solution written differently passes', { concurrent: true }, () => {
  it('step 8 with startSpan instead of startActiveSpan, another tracer name, and no environment.ts', async () => {
    // The SDK set up in a few lines, as a learner might: no OTEL_* checks, no loss warnings.
    const exercise = learnersOwn(
      'different',
      setUp(`new BatchSpanProcessor({ exporter: new OTLPTraceExporter(), ${FROM_THE_VARIABLE} })`, FLUSH_ON_EXIT),
    );
    edit(exercise, join('src', 'app.ts'), (app) =>
      app
        .replace("trace.getTracer('step-08-app')", "trace.getTracer('my-own-tracer')")
        .replaceAll(/return tracer\.startActiveSpan\('(\w+)', \(span\) => \{/g, "const span = tracer.startSpan('$1');\n    {")
        .replaceAll(/\n {4}\}\);\n {2}\}\);/g, '\n    }\n  });'),
    );
    expect(readFileSync(join(exercise.dir, 'src', 'app.ts'), 'utf8')).not.toContain('startActiveSpan');
    const checked = await checkExercise(exercise);
    expect(checked.broken, report(exercise, checked)).toBe(0);
    expect(checked.typeErrors).toEqual([]);
    // What it leaves out is the reference's hardening, shown but never failing.
    expect(report(exercise, checked)).toContain('· every span is also printed on the console');
  });
});

describe('code that contradicts its chapter fails, with the ✗ line and the file the fix belongs in', { concurrent: true }, () => {
  it("08: service.name my-app, addEvent('exception') for recordException, and a span on /healthz: three ✗, the rest kept", async () => {
    const exercise = solved(fresh('08', 'contradicts-08'));
    edit(exercise, join('src', 'telemetry.ts'), (t) => t.replace("[ATTR_SERVICE_NAME]: 'step-08-manual'", "[ATTR_SERVICE_NAME]: 'my-app'"));
    edit(exercise, join('src', 'app.ts'), (app) =>
      app
        .replace('span.recordException(err as Error);', "span.addEvent('exception');")
        .replace(
          "return { status: 'ok' };",
          "return tracer.startActiveSpan('healthz', (span) => {\n      span.end();\n      return { status: 'ok' };\n    });",
        ),
    );
    const checked = await checkExercise(exercise);
    const text = report(exercise, checked);
    expect(checked.broken, text).toBe(3);
    const named = broken(text, 'the spans name their service');
    expect(named, text).toEqual({ arrived: 'service.name is my-app', look: expect.stringMatching(/^src\/telemetry\.ts/) });
    const exception = broken(text, 'the `exception` event is the error itself');
    expect(exception?.arrived, text).toMatch(/no exception\.type, exception\.message, exception\.stacktrace/);
    expect(exception?.look).toMatch(/^src\/app\.ts.*recordException/);
    expect(broken(text, '`GET /healthz` makes no span'), text).toEqual({ arrived: 'GET /healthz made healthz', look: expect.stringMatching(/^src\/app\.ts/) });
    expect(text).toContain('  ✓ a span named `hello` for `GET /`');
  });

  it("11: step 8's hello and fail spans left in src/app.ts, service.name left at step-08-manual: two ✗", async () => {
    const exercise = solved(fresh('11', 'contradicts-11'));
    cpSync(join(REPO_ROOT, 'steps', 'step-08', 'src', 'app.ts'), join(exercise.dir, 'src', 'app.ts'));
    edit(exercise, join('src', 'telemetry.ts'), (t) => t.replace("[ATTR_SERVICE_NAME]: 'step-11-contrib'", "[ATTR_SERVICE_NAME]: 'step-08-manual'"));
    const checked = await checkExercise(exercise);
    const text = report(exercise, checked);
    expect(checked.broken, text).toBe(2);
    const leftover = broken(text, "`src/app.ts` is step 6's again");
    expect(leftover, text).toEqual({ arrived: "step 8's hello and fail spans still arrive", look: expect.stringMatching(/^src\/app\.ts/) });
    expect(broken(text, 'the spans name their service `step-11-contrib`'), text).toEqual({
      arrived: 'service.name is step-08-manual',
      look: expect.stringMatching(/^src\/telemetry\.ts/),
    });
  });

  it("11: the HTTP instrumentation's own redactedQueryParamsServer in place of maskedQuery: ?Token= keeps its value, one ✗", async () => {
    const exercise = solved(fresh('11', 'contradicts-11-query'));
    const own = "redactedQueryParamsServer: ['token'],";
    edit(exercise, join('src', 'telemetry.ts'), (t) => t.replace('startIncomingSpanHook: (request) => maskedQuery(request.url),', own));
    const checked = await checkExercise(exercise);
    const text = report(exercise, checked);
    expect(checked.broken, text).toBe(1);
    expect(broken(text, 'a token in the query is masked in `url.query`, in any capitals'), text).toEqual({
      arrived: 'for GET /?Token=tok-CHECK-11&lang=en, url.query is Token=tok-CHECK-11&lang=en: names compared as written, not in any capitals',
      look: expect.stringMatching(/^src\/telemetry\.ts.*maskedQuery/),
    });
  });

  it('11: a mask of the query\'s first parameter only, for token and Token alone: the secrets further on keep their values, one ✗', async () => {
    const exercise = solved(fresh('11', 'contradicts-11-start'));
    const first =
      "startIncomingSpanHook: (request) => ({ 'url.query': (request.url ?? '').split('?')[1]?.replace(/^([tT]oken)=[^&]*/, '$1=REDACTED') ?? '' }),";
    edit(exercise, join('src', 'telemetry.ts'), (t) => t.replace('startIncomingSpanHook: (request) => maskedQuery(request.url),', first));
    const checked = await checkExercise(exercise);
    const text = report(exercise, checked);
    expect(checked.broken, text).toBe(1);
    expect(broken(text, 'a token in the query is masked in `url.query`, in any capitals'), text).toEqual({
      arrived: expect.stringMatching(
        /^for GET \/\?lang=en&TOKEN=tok-CHECK-11&PassWord=tok-CHECK-11&a=1, url\.query is lang=en&TOKEN=tok-CHECK-11.*: every secret's value/,
      ),
      look: expect.stringMatching(/^src\/telemetry\.ts.*maskedQuery/),
    });
  });

  it('18: a per-request attribute on app.greetings: the ✗ speaks of its cardinality, and the count is still right', async () => {
    const exercise = solved(fresh('18', 'contradicts-18'));
    edit(exercise, join('src', 'app.ts'), (app) => app.replace('greetings.add(1);', "greetings.add(1, { 'request.id': crypto.randomUUID() });"));
    const checked = await checkExercise(exercise);
    const text = report(exercise, checked);
    expect(checked.broken, text).toBe(1);
    const cardinality = broken(text, '`app.greetings` is one time series');
    expect(cardinality?.arrived, text).toMatch(/^app\.greetings has 2 series for 2 greetings \(attributes request\.id\): .*cardinality/);
    expect(cardinality?.look).toMatch(/^src\/app\.ts.*Cardinality/);
    expect(text).toContain('  ✓ the business counter `app.greetings` counts each greeting served');
  });

  it("SDK 2's new BatchSpanProcessor(exporter): the compiler's message first, the stderr of the failed exit, every ✗ at src/telemetry.ts", async () => {
    const sdk2 = setUp('new BatchSpanProcessor(new OTLPTraceExporter())', "process.once('beforeExit', () => void provider.shutdown());");
    const exercise = learnersOwn('sdk2', sdk2);
    const checked = await checkExercise(exercise);
    const text = report(exercise, checked);
    expect(checked.typeErrors, text).toEqual([expect.stringMatching(/^src\/telemetry\.ts\(5,\d+\): error TS2741: Property 'exporter' is missing/)]);
    const lines = text.split('\n');
    expect(lines[2]).toMatch(/^ {2}✗ the code type-checks \(tsc, with the stages' compiler options\): 1 error$/);
    expect(lines[3]).toMatch(/^ {6}src\/telemetry\.ts\(5,\d+\): error TS2741/);
    expect(lines[4]).toMatch(/^ {6}look at: src\/telemetry\.ts, as the compiler says/);
    // What this code prints depends on the clock: SDK 3 reads the exporter as the options, so the
    // batch waits its default 5 s. Stopped sooner, the flush on exit throws (TypeError); stopped
    // later (a loaded machine), the failed export left its 30 s timeout running, and the stage's
    // own deadline ends it. Either way the check shows what the stage printed on stderr.
    const printed = '(TypeError: Cannot read properties of undefined|still closing after 10000 ms, exiting)';
    const stderr = new RegExp(`^ {2}! on Ctrl\\+C it exited with code 1, and printed on stderr:\\n(?: {6}.*\\n)*? {6}${printed}`, 'm');
    expect(text).toMatch(stderr);
    const looks = lines.filter((l) => l.startsWith('      look at: '));
    expect(looks.length).toBeGreaterThan(1);
    expect(looks.filter((l) => !l.startsWith('      look at: src/telemetry.ts')), text).toEqual([]);
    expect(text).toMatch(/tsc refuses the code, in [\d.]+ s: fix the ✗ lines above/);
  });

  it('08: a SimpleSpanProcessor, flushed on exit: every span arrives, one at a time, so the promise on batches is the one ✗', async () => {
    const simple = setUp('new SimpleSpanProcessor({ exporter: new OTLPTraceExporter() })', "process.once('beforeExit', () => void provider.shutdown());");
    const exercise = learnersOwn('simple', simple.replace('{ BatchSpanProcessor, TracerProvider }', '{ SimpleSpanProcessor, TracerProvider }'));
    const checked = await checkExercise(exercise);
    const text = report(exercise, checked);
    expect(checked.typeErrors).toEqual([]);
    expect(checked.broken, text).toBe(1);
    expect(broken(text, 'the spans leave in batches'), text).toEqual({
      arrived: expect.stringMatching(/^hello and fail came in exports of their own: .*SimpleSpanProcessor/),
      look: expect.stringMatching(/^src\/telemetry\.ts, .*BatchSpanProcessor/),
    });
    expect(text).toContain('  ✓ no span is lost on Ctrl+C');
  });

  it("08: the SDK's own batch delay, 5 s (OTEL_BSP_SCHEDULE_DELAY unread): the spans leave before Ctrl+C, one ✗", async () => {
    const exercise = learnersOwn('sdk-default', setUp('new BatchSpanProcessor({ exporter: new OTLPTraceExporter() })', FLUSH_ON_EXIT));
    const checked = await checkExercise(exercise);
    const text = report(exercise, checked);
    expect(checked.broken, text).toBe(1);
    const arrived = broken(text, 'the spans leave in batches')?.arrived;
    expect(arrived, text).toMatch(/^hello and fail were sent before Ctrl\+C, .*not come from the variable \(the SDK's own is 5 s\)$/);
  });

  it("08: a batch every 500 ms, written down: the spans leave before Ctrl+C, OTEL_BSP_SCHEDULE_DELAY unread, one ✗", async () => {
    const batch = 'new BatchSpanProcessor({ exporter: new OTLPTraceExporter(), scheduledDelayMillis: 500 })';
    const exercise = learnersOwn('written-down', setUp(batch, "process.once('beforeExit', () => void provider.shutdown());"));
    const checked = await checkExercise(exercise);
    const text = report(exercise, checked);
    expect(checked.broken, text).toBe(1);
    expect(broken(text, 'the spans leave in batches')?.arrived, text).toMatch(/^hello and fail were sent before Ctrl\+C, .*not come from the variable/);
  });

  it('no flush on exit: nothing arrives, and every ✗ points at the set-up in src/telemetry.ts, none at src/app.ts', async () => {
    const exercise = learnersOwn('no-flush', setUp(`new BatchSpanProcessor({ exporter: new OTLPTraceExporter(), ${FROM_THE_VARIABLE} })`, ''));
    const checked = await checkExercise(exercise);
    const text = report(exercise, checked);
    expect(checked.typeErrors).toEqual([]);
    expect(checked.broken, text).toBe(checked.lessonCount);
    const looks = text.split('\n').filter((l) => l.startsWith('      look at: '));
    expect(looks).toHaveLength(checked.lessonCount);
    for (const look of looks) expect(look).toMatch(/^ {6}look at: src\/telemetry\.ts, .*flush on exit/);
    expect(text).toContain('not one export reached the check, so the set-up never sent');
  });

  it('typeCheck: the untouched copy and the reference type-check; an API misused is named with its file and line', async () => {
    const untouched = fresh('08', 'typed-untouched');
    const wrong = learnersOwn('typed-wrong', setUp('new BatchSpanProcessor(new OTLPTraceExporter())', ''));
    const [none, reference, errors] = await Promise.all([typeCheck(untouched.dir), typeCheck(solved(fresh('08', 'typed-solved')).dir), typeCheck(wrong.dir)]);
    expect(none).toEqual([]);
    expect(reference).toEqual([]);
    expect(errors).toEqual([expect.stringMatching(/^src\/telemetry\.ts\(5,\d+\): error TS2741: /)]);
  });
});

describe('pnpm --filter exercise-NN start', { concurrent: true }, () => {
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

/** `pnpm <tool> <args>`, with the exercises in `dir`: run without blocking, so that other suites' stages run meanwhile. */
function command(dir: string, tool: string, ...args: string[]): Promise<{ status: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) =>
    execFile(
      join(REPO_ROOT, 'node_modules', '.bin', 'node'),
      [join(REPO_ROOT, 'shared', 'tools', `${tool}.ts`), ...args],
      { cwd: REPO_ROOT, encoding: 'utf8', env: { ...process.env, OTEL_STEPS_EXERCISES: dir }, timeout: 60_000 },
      (err, stdout, stderr) => resolve({ status: err ? (typeof err.code === 'number' ? err.code : null) : 0, stdout, stderr }),
    ),
  );
}

describe('pnpm exercise and pnpm check, the commands: a bad argument', { concurrent: true }, () => {
  // A folder no exercise is ever started in.
  const dir = join(root, 'commands-none');
  it.each([
    ['exercise', ['99'], /^exercise: there is no exercise 99: the exercises are 08, 11, /],
    ['exercise', ['8'], /^exercise: "8" is not a stage number: write it with two digits, as in pnpm exercise 08/],
    ['exercise', ['06'], /^exercise: there is no exercise 06: /],
    ['check', ['8'], /^check: "8" is not a stage number: write it with two digits, as in pnpm check 08/],
    ['check', ['11'], /^check: no exercise 11 yet: pnpm exercise 11 starts it$/],
    ['check', ['--all'], /^check: no exercise started on this machine yet: pnpm exercise 08 starts one$/],
  ] as const)('pnpm %s %s: one clear line, and a non-zero exit', async (tool, args, line) => {
    const result = await command(dir, tool, ...args);
    expect(result.status).not.toBe(0);
    expect(result.stdout).toBe('');
    expect(result.stderr.trim().split('\n')).toHaveLength(1);
    expect(result.stderr.trim()).toMatch(line);
  });
});

// A learner's session, in order: its tests share one folder.
describe('pnpm exercise and pnpm check, the commands: a session', { concurrent: true }, () => {
  const dir = join(root, 'commands');
  const run = (tool: string, ...args: string[]) => command(dir, tool, ...args);
  const inOrder = { concurrent: false };

  it('starts the exercise, never overwrites it when run again, and starts over with --reset', inOrder, async () => {
    const first = await run('exercise', '08');
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
    const again = await run('exercise', '08');
    expect(again.status).toBe(1);
    expect(again.stderr).toMatch(/already exists, with your work in it, and is left as it is: pnpm exercise 08 --reset/);
    expect(readFileSync(mine, 'utf8')).toBe('// my work\n');

    expect((await run('exercise', '08', '--reset')).status).toBe(0);
    expect(readFileSync(mine, 'utf8')).toBe(readFileSync(join(REPO_ROOT, 'steps', 'step-06', 'src', 'telemetry.ts'), 'utf8'));
  });

  it('pnpm check --all: a line per exercise started, for the instructor\'s screen', inOrder, async () => {
    if (!existsSync(join(dir, 'step-08'))) expect((await run('exercise', '08')).status).toBe(0);
    expect((await run('exercise', '11')).status).toBe(0);
    const all = await run('check', '--all');
    expect(all.status).toBe(1);
    expect(all.stdout).toMatch(/^ {2}✗ exercise-08 {2}0\/8 promises {3}extras \d\/2 {3}first ✗: a span named `hello` for `GET \/`, of kind internal/m);
    expect(all.stdout).toMatch(/^ {2}✗ exercise-11 {2}0\/7 promises/m);
  });

  it('pnpm check 08 exits 1 while a promise is broken, and 0 once every one is kept', inOrder, async () => {
    if (!existsSync(join(dir, 'step-08'))) expect((await run('exercise', '08')).status).toBe(0);
    const lesson = await lessonPromises('step-08');
    const broken = await run('check', '08');
    expect(broken.status).toBe(1);
    expectAllBroken(broken.stdout, lesson);
    expect(broken.stdout).toMatch(/^0 of 8 promises kept, in [\d.]+ s: fix the ✗ lines above and run pnpm check 08 again\.$/m);
    solved(exerciseFor('08', dir) as Exercise);
    const kept = await run('check', '08');
    expect(kept.status, kept.stdout).toBe(0);
    expectAllKept(kept.stdout, lesson);
    expect(kept.stdout).toMatch(/^All 8 promises kept, in [\d.]+ s\. Compare with the reference: pnpm diff exercise-08 08$/m);
    expect((await run('exercise', '08', '--reset')).status).toBe(0);
  });
});
