// `pnpm check NN`: runs the learner's exercise (exercises/step-NN) through its own start script,
// sends the chapter's requests, and checks what arrives over OTLP against the chapter's promises,
// a line each. Exits 1 while one of them is broken. `pnpm check --all`: one line per exercise
// started on this machine, for an instructor's screen.
import { existsSync, readdirSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { fail, parseOrFail } from '../cli.ts';
import { checkExercise, EXERCISES_DIR, exerciseFor, passes, report, type Exercise } from './exercises.ts';

const TOOL = 'check';
const { values, positionals } = parseOrFail(TOOL, () => parseArgs({ allowPositionals: true, options: { all: { type: 'boolean' }, help: { type: 'boolean', short: 'h' } } }));
if (values.help) {
  console.log('usage: pnpm check NN   (checks exercises/step-NN against chapter NN)\n       pnpm check --all   (a line for every exercise started here)');
  process.exit(0);
}

if (values.all) {
  if (positionals.length > 0) fail(TOOL, '--all checks every exercise: name no stage with it');
  const started = existsSync(EXERCISES_DIR) ? readdirSync(EXERCISES_DIR).filter((d) => /^step-\d\d$/.test(d)).sort() : [];
  if (started.length === 0) fail(TOOL, 'no exercise started on this machine yet: pnpm exercise 08 starts one', 1);
  let failing = 0;
  console.log(`Exercises in ${EXERCISES_DIR}:`);
  for (const dir of started) {
    const exercise = exerciseFor(dir.slice('step-'.length)) as Exercise;
    try {
      const checked = await checkExercise(exercise);
      const broken = checked.verdicts.find((v) => !v.promise.extra && v.broken !== undefined)?.promise.says;
      const first = checked.typeErrors.length > 0 ? `tsc: ${checked.typeErrors[0]}` : broken;
      const extras = checked.verdicts.filter((v) => v.promise.extra);
      const extra = extras.length > 0 ? `   extras ${extras.filter((v) => v.broken === undefined).length}/${extras.length}` : '';
      console.log(`  ${first ? '✗' : '✓'} ${exercise.name}  ${checked.lessonCount - checked.broken}/${checked.lessonCount} promises${extra}${first ? `   first ✗: ${first}` : ''}`);
      if (first) failing++;
    } catch (err) {
      console.log(`  ✗ ${exercise.name}  does not run: ${(err as Error).message.split('\n')[0]}`);
      failing++;
    }
  }
  process.exit(failing > 0 ? 1 : 0);
}

if (positionals.length > 1) fail(TOOL, `one stage at a time, not ${positionals.join(' ')} (or --all)`);
const exercise = exerciseFor(positionals[0]);
if (typeof exercise === 'string') fail(TOOL, exercise.replace('pnpm exercise', 'pnpm check'));
if (!existsSync(exercise.dir)) fail(TOOL, `no exercise ${exercise.number} yet: pnpm exercise ${exercise.number} starts it`, 1);
try {
  const checked = await checkExercise(exercise);
  console.log(report(exercise, checked));
  process.exit(passes(checked) ? 0 : 1);
} catch (err) {
  // It did not start, or stopped before answering: say so in one place, with what it printed.
  fail(TOOL, `${exercise.name} did not run: ${(err as Error).message}`, 1);
}
