// The repository's root and its stages, for every module of shared/ that reads or runs something in it.
import { readdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';

export const REPO_ROOT = resolve(import.meta.dirname, '..');

export interface Stage {
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
