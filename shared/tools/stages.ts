// `pnpm stages`: the stages there are, and the command that runs each. What a learner needs after
// `pnpm --filter step-8 start` fails with "No projects matched the filters".
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { REPO_ROOT } from '../repo.ts';

interface Stage {
  name: string;
  description: string;
  scripts: string[];
}

/** The stages in `stepsDir`, in order; each folder's name is its package's name. */
export function listStages(stepsDir = join(REPO_ROOT, 'steps')): Stage[] {
  return readdirSync(stepsDir)
    .filter((dir) => /^step-\d+$/.test(dir))
    .sort()
    .map((dir) => JSON.parse(readFileSync(join(stepsDir, dir, 'package.json'), 'utf8')) as { name: string; description?: string; scripts?: Record<string, string> })
    .map((pkg) => ({ name: pkg.name, description: pkg.description ?? '', scripts: Object.keys(pkg.scripts ?? {}).filter((s) => s.startsWith('start')) }));
}

if (import.meta.main) {
  for (const stage of listStages()) {
    console.log(`${stage.name}  ${stage.description}`);
    for (const script of stage.scripts) console.log(`         pnpm --filter ${stage.name} ${script}`);
  }
}
