// `pnpm exercise NN [--reset]`: starts the exercise of chapter NN, a working copy of the stage the
// chapter starts from, in exercises/step-NN (git-ignored), to write the chapter's code in.
import { existsSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { parseArgs } from 'node:util';
import { fail, parseOrFail } from '../cli.ts';
import { createExercise, exerciseFor, removeExercise } from './exercises.ts';

const TOOL = 'exercise';
const { values, positionals } = parseOrFail(TOOL, () => parseArgs({ allowPositionals: true, options: { reset: { type: 'boolean' }, help: { type: 'boolean', short: 'h' } } }));
if (values.help) {
  console.log('usage: pnpm exercise NN [--reset]   (a copy of the stage chapter NN starts from, in exercises/step-NN; --reset deletes yours and starts over)');
  process.exit(0);
}
if (positionals.length > 1) fail(TOOL, `one stage at a time, not ${positionals.join(' ')}`);
const exercise = exerciseFor(positionals[0]);
if (typeof exercise === 'string') fail(TOOL, exercise);
const where = relative(process.cwd(), exercise.dir);
if (existsSync(exercise.dir) && !values.reset) {
  fail(TOOL, `${where} already exists, with your work in it, and is left as it is: pnpm exercise ${exercise.number} --reset deletes it and starts over`, 1);
}
if (values.reset) removeExercise(exercise);
createExercise(exercise);
const chapter = relative(process.cwd(), exercise.chapter);
console.log(`${values.reset ? 'Started over' : 'Started'}: ${where} (package ${exercise.name}) is a copy of ${exercise.base}, ready for chapter ${Number(exercise.number)}.

Read ${chapter}, and write what it describes in ${where}/.
Its package.json already lists the packages the chapter uses; its start script is ${exercise.base}'s,
  ${startScript(exercise.dir)}
which is all the chapter needs unless it says otherwise.

${[
  [`pnpm --filter ${exercise.name} start`, 'run your version, against the stack, as the stage runs'],
  [`pnpm check ${exercise.number}`, "check it against the chapter's promises, a line each"],
  [`pnpm diff ${exercise.name} ${exercise.number}`, 'compare it with the reference stage'],
]
  .map(([command, what]) => `  ${command!.padEnd(34)}${what}`)
  .join('\n')}`);

/** The exercise's start script, as pnpm runs it. */
function startScript(dir: string): string {
  return (JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as { scripts: { start: string } }).scripts.start;
}
