// `pnpm docs:sync`: copies each stage's telemetry.txt into the telemetry block of its chapter
// (the fenced block after <!-- telemetry.txt -->), after `pnpm test:stages -u` has rewritten the files,
// and draws the collector's pipelines from its config into the blocks after <!-- pipeline: ... -->.
// With --check it writes nothing, names the chapters it would change, and exits 1 if there are any.
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { REPO_ROOT } from '../repo.ts';
import { loadWorkspace } from './check-chapters.ts';
import { PIPELINE_BLOCKS, withBlock } from './pipeline.ts';

const check = process.argv.includes('--check');
const BLOCK = /(<!-- telemetry\.txt -->\n```text\n)[\s\S]*?(\n```)/g;

const updates: Array<{ readme: string; change: (before: string) => string }> = [];
for (const stage of loadWorkspace(REPO_ROOT).stages.values()) {
  const readme = join(stage.dir, 'README.md');
  const snapshot = join(stage.dir, 'telemetry.txt');
  if (!existsSync(readme) || !existsSync(snapshot)) continue;
  const body = readFileSync(snapshot, 'utf8').trimEnd();
  updates.push({ readme, change: (before) => before.replace(BLOCK, (_match, open: string, close: string) => `${open}${body}${close}`) });
}
for (const { file, marker, fence, body } of PIPELINE_BLOCKS) updates.push({ readme: file, change: (before) => withBlock(before, marker, fence, body()) });

for (const { readme, change } of updates) {
  const before = readFileSync(readme, 'utf8');
  const after = change(before);
  if (after === before) continue;
  if (check) {
    console.log(`out of date: ${relative(REPO_ROOT, readme)}`);
    process.exitCode = 1;
  } else {
    writeFileSync(readme, after);
    console.log(`updated ${relative(REPO_ROOT, readme)}`);
  }
}
