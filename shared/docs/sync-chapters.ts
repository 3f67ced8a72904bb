// `pnpm docs:sync`: copies each stage's telemetry.txt into the telemetry block of its chapter
// (the fenced block after <!-- telemetry.txt -->), after `pnpm test -u` has rewritten the files.
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { REPO_ROOT } from '../harness/stage-runner.ts';
import { loadWorkspace } from './check-chapters.ts';

const BLOCK = /(<!-- telemetry\.txt -->\n```text\n)[\s\S]*?(\n```)/g;

for (const stage of loadWorkspace(REPO_ROOT).stages.values()) {
  const readme = join(stage.dir, 'README.md');
  const snapshot = join(stage.dir, 'telemetry.txt');
  if (!existsSync(readme) || !existsSync(snapshot)) continue;
  const before = readFileSync(readme, 'utf8');
  const body = readFileSync(snapshot, 'utf8').trimEnd();
  const after = before.replace(BLOCK, (_match, open: string, close: string) => `${open}${body}${close}`);
  if (after !== before) {
    writeFileSync(readme, after);
    console.log(`updated ${relative(REPO_ROOT, readme)}`);
  }
}
