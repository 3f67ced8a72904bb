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

export function listStages(root = REPO_ROOT): Stage[] {
  return readdirSync(join(root, 'steps'))
    .sort()
    .map((dir) => JSON.parse(readFileSync(join(root, 'steps', dir, 'package.json'), 'utf8')) as { name: string; description?: string; scripts?: Record<string, string> })
    .map((pkg) => ({ name: pkg.name, description: pkg.description ?? '', scripts: Object.keys(pkg.scripts ?? {}).filter((s) => s.startsWith('start')) }));
}

if (import.meta.main) {
  for (const stage of listStages()) {
    console.log(`${stage.name}  ${stage.description}`);
    for (const script of stage.scripts) console.log(`         pnpm --filter ${stage.name} ${script}`);
  }
}
