// `pnpm docs:sync`: copies each stage's telemetry.txt into the telemetry block of its chapter
// (the fenced block after <!-- telemetry.txt -->), after `pnpm test -u` has rewritten the files.
// With --check it writes nothing, names the chapters it would change, and exits 1 if there are any.
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { REPO_ROOT } from '../harness/stage-runner.ts';
import { loadWorkspace } from './check-chapters.ts';

const check = process.argv.includes('--check');
const BLOCK = /(<!-- telemetry\.txt -->\n```text\n)[\s\S]*?(\n```)/g;

for (const stage of loadWorkspace(REPO_ROOT).stages.values()) {
  const readme = join(stage.dir, 'README.md');
  const snapshot = join(stage.dir, 'telemetry.txt');
  if (!existsSync(readme) || !existsSync(snapshot)) continue;
  const before = readFileSync(readme, 'utf8');
  const body = readFileSync(snapshot, 'utf8').trimEnd();
  const after = before.replace(BLOCK, (_match, open: string, close: string) => `${open}${body}${close}`);
  if (after === before) continue;
  if (check) {
    console.log(`out of date: ${relative(REPO_ROOT, readme)}`);
    process.exitCode = 1;
  } else {
    writeFileSync(readme, after);
    console.log(`updated ${relative(REPO_ROOT, readme)}`);
  }
}
