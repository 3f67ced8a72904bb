// The repository's root, for every module of shared/ that reads or runs something in it.
import { resolve } from 'node:path';

export const REPO_ROOT = resolve(import.meta.dirname, '..');
