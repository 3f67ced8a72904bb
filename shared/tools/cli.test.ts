// shared/README.md is where someone new finds the commands: each package.json script that runs a
// file under shared/ is named, as `pnpm <script>`, in the row of that file's folder.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../repo.ts';

const scripts = (JSON.parse(readFileSync(join(REPO_ROOT, 'package.json'), 'utf8')) as { scripts: Record<string, string> }).scripts;
const readme = readFileSync(join(REPO_ROOT, 'shared', 'README.md'), 'utf8');

/** The folder table's row for `folder/`, '' when there is none. */
function rowOf(folder: string): string {
  return readme.split('\n').find((line) => line.startsWith(`| \`${folder}/\` |`)) ?? '';
}

describe('shared/README.md lists every command', () => {
  const commands = Object.entries(scripts).flatMap(([name, command]) => {
    const folder = /^node shared\/([\w-]+)\/[\w-]+\.ts\b/.exec(command)?.[1];
    // postinstall is what `pnpm install` runs.
    return folder ? [[name === 'postinstall' ? 'pnpm install' : `pnpm ${name}`, folder] as const] : [];
  });

  it('finds the scripts that run shared/ files (so the list below is not empty by mistake)', () => {
    const some = ['pnpm diff', 'pnpm check', 'pnpm stack:native', 'pnpm docs:sync', 'pnpm install'];
    expect(commands.map(([command]) => command)).toEqual(expect.arrayContaining(some));
  });

  it.each(commands)('%s, in the row of shared/%s/', (command, folder) => {
    expect(rowOf(folder), `shared/README.md has no row for \`${folder}/\``).not.toBe('');
    expect(rowOf(folder)).toMatch(new RegExp(`\`${command.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}\``));
  });
});
