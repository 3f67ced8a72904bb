// The first hour of a learner: the README's set-up block, the pinned runtime, and the mistakes a
// newcomer makes first (a mistyped stage, no Docker Compose) each get one clear line.
import { spawnSync } from 'node:child_process';
import { chmodSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, matchesGlob } from 'node:path';
import { pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';
import type { ViteUserConfig as UserConfig } from 'vitest/config';
import { listStages, REPO_ROOT } from '../repo.ts';

const read = (path: string): string => readFileSync(join(REPO_ROOT, path), 'utf8');
// The extraction both CI entry points use; they must run the README's block, not a copy of it.
const EXTRACT = `awk '/<!-- set-up -->/ { marked = 1; next } marked && /^\`\`\`/ { if (inside) exit; inside = 1; next } inside' README.md`;

function setupBlock(): string[] {
  const run = spawnSync('sh', ['-c', EXTRACT], { cwd: REPO_ROOT, encoding: 'utf8' });
  return run.stdout.trim().split('\n');
}

function pnpm(args: string[], env: NodeJS.ProcessEnv = process.env): { status: number | null; output: string } {
  const run = spawnSync('pnpm', args, { cwd: REPO_ROOT, encoding: 'utf8', env });
  return { status: run.status, output: `${run.stdout}${run.stderr}` };
}

describe('the README set-up', () => {
  it('is one block that installs pnpm with npm and ends with the test command', () => {
    expect(read('README.md').match(/<!-- set-up -->/g)).toHaveLength(1);
    const block = setupBlock();
    expect(block[0]).toMatch(/^npm install --global pnpm@\d+\.\d+\.\d+$/);
    expect(block.at(-1)).toBe('pnpm test');
  });

  it('is what CI runs: .ci/run and the workflow extract that block instead of installing anything else', () => {
    for (const file of ['.ci/run', '.github/workflows/ci.yml']) expect(read(file), file).toContain(EXTRACT.replace(/`/g, '`'));
    // No Node.js is installed behind the README's back.
    expect(read('.ci/run')).not.toMatch(/npm install[^\n]*\bnode@/);
  });

  it('pins the pnpm that package.json names', () => {
    const pinned = (JSON.parse(read('package.json')) as { devEngines: { packageManager: { version: string } } }).devEngines.packageManager.version;
    expect(setupBlock()[0]).toBe(`npm install --global pnpm@${pinned}`);
  });

  it('runs every script on the pinned Node.js, whatever node the shell has', () => {
    const workspace = read('pnpm-workspace.yaml');
    const catalog = /^ {2}node: (\S+)$/m.exec(workspace)?.[1];
    expect(catalog).toBeDefined();
    // Engines of dependencies are checked against the runtime, not against the Node that runs pnpm.
    expect(/^nodeVersion: (\S+)$/m.exec(workspace)?.[1]).toBe(catalog);
    // This test is itself run by a pnpm script: it runs on that Node.js.
    expect(process.version).toBe(`v${catalog}`);
    expect(dirname(process.execPath)).toContain(join('node_modules', '.pnpm', `node@${catalog}`));
  });

  it('says after install which Node.js runs the tutorial', () => {
    const run = spawnSync(process.execPath, ['shared/tools/runtime.ts'], { cwd: REPO_ROOT, encoding: 'utf8' });
    expect(run.stdout).toMatch(new RegExp(`^otel-steps: every script runs on Node\\.js ${process.version.replace(/\./g, '\\.')} from node_modules/\\.bin \\(your shell's node: `));
  });
});

describe('a mistyped stage', () => {
  it.each(['step-99', 'step-8', '08'])('pnpm --filter %s start fails instead of exiting 0', (name) => {
    const run = pnpm(['--filter', name, 'start']);
    expect(run.status).not.toBe(0);
    expect(run.output).toContain('No projects matched the filters');
  });

  it('pnpm stages lists every stage and the commands that start it', () => {
    const run = pnpm(['--silent', 'stages']);
    expect(run.status).toBe(0);
    const stages = listStages();
    expect(stages.map((s) => s.name)).toEqual(['step-06', 'step-08', 'step-11', 'step-14', 'step-18', 'step-19', 'step-20', 'step-21', 'step-22']);
    for (const stage of stages) {
      expect(run.output).toContain(stage.name);
      for (const script of stage.scripts) expect(run.output).toContain(`pnpm --filter ${stage.name} ${script}`);
    }
  });
});

describe('pnpm stack:up without Docker Compose', () => {
  const compose = (path: string): ReturnType<typeof spawnSync> =>
    spawnSync(process.execPath, ['shared/stack/compose.ts', 'up'], { cwd: REPO_ROOT, encoding: 'utf8', env: { ...process.env, PATH: path } });

  it('says Compose v2 is needed and points to the native stack, when there is no docker at all', () => {
    const run = compose(mkdtempSync(join(tmpdir(), 'no-docker-')));
    expect(run.status).toBe(1);
    expect(String(run.stderr)).toMatch(/needs Docker with Docker Compose v2 \(there is no docker command\)[\s\S]*pnpm stack:native/);
  });

  it('says so too when docker is only the client, without the Compose plugin', () => {
    const bin = mkdtempSync(join(tmpdir(), 'docker-client-'));
    // What a docker CLI without the plugin answers to `docker compose ...`.
    writeFileSync(join(bin, 'docker'), '#!/bin/sh\necho "docker: unknown command: docker compose" >&2\nexit 1\n');
    chmodSync(join(bin, 'docker'), 0o755);
    const run = compose(bin);
    expect(run.status).toBe(1);
    expect(String(run.stderr)).toMatch(/the Compose v2 plugin is missing[\s\S]*pnpm stack:native/);
    expect(String(run.stderr)).not.toContain('unknown shorthand flag');
  });
});

describe('pnpm test, pnpm test:stages and pnpm test:e2e', () => {
  it('run every test file in the repository, each in exactly one tier', async () => {
    // The root's configs, read as data (as package.json is): shared/ imports no module outside it.
    const config = async (name: string): Promise<UserConfig> => ((await import(pathToFileURL(join(REPO_ROOT, name)).href)) as { default: UserConfig }).default;
    const [quickAndStages, e2e] = await Promise.all([config('vitest.config.ts'), config('vitest.e2e.config.ts')]);
    // A project's own exclude, else its config's, else vitest's default (node_modules).
    const tiers = [quickAndStages, e2e].flatMap((config) =>
      (config.test?.projects ?? []).map((project) => {
        const test = (project as { test: { name: string; include: string[]; exclude?: string[] } }).test;
        return { ...test, exclude: test.exclude ?? config.test?.exclude ?? ['**/node_modules/**'] };
      }),
    );
    expect(tiers.map((t) => t.name)).toEqual(['quick', 'stages', 'shared-stack', 'own-stack']);
    const files = spawnSync('git', ['ls-files', '--cached', '--others', '--exclude-standard'], { cwd: REPO_ROOT, encoding: 'utf8' })
      .stdout.split('\n')
      .filter((f) => /\.(test|spec)\.[cm]?[jt]sx?$/.test(f));
    expect(files.length).toBeGreaterThan(30);
    const tiersOf = (file: string): string[] =>
      tiers.filter((t) => t.include.some((g) => matchesGlob(file, g)) && !t.exclude.some((g) => matchesGlob(file, g))).map((t) => t.name);
    const notOnce = files.map((file) => [file, tiersOf(file)] as const).filter(([, names]) => names.length !== 1);
    expect(notOnce, 'test files in no tier, or in two').toEqual([]);
  });
});
