// shared/ depends one way: each folder may import only from folders of a lower rank (and the root
// modules, rank 0), so that the folders show which way things depend and a backend query, the OTLP
// receiver or the stage runner is changed in one place. The stages' code imports nothing from
// shared/; their tests import the harness only, through @otel-steps/shared/harness.
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { describe, expect, it } from 'vitest';
import { REPO_ROOT } from './repo.ts';

/** Lowest first. The root modules (repo.ts, cli.ts) are rank 0. */
export const RANKS = ['otlp', 'harness', 'stack', 'backends', 'docs', 'tools', 'e2e'] as const;

const SHARED = join(REPO_ROOT, 'shared');

function tsFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    if (entry.name === 'node_modules') return [];
    const path = join(dir, entry.name);
    return entry.isDirectory() ? tsFiles(path) : entry.name.endsWith('.ts') ? [path] : [];
  });
}

/** Every module a file names: static imports and exports, and dynamic import() with a literal. */
export function importsOf(source: string): string[] {
  const found: string[] = [];
  const from = /(?:^|\s)(?:import|export)\s[^'"]*?\sfrom\s*['"]([^'"]+)['"]/.source;
  const dynamic = /\bimport\s*\(\s*['"]([^'"]+)['"]\s*\)/.source;
  const bare = /^\s*import\s*['"]([^'"]+)['"]/.source;
  for (const match of source.matchAll(new RegExp(`${from}|${dynamic}|${bare}`, 'gm'))) {
    found.push(match[1] ?? match[2] ?? match[3]!);
  }
  return found;
}

/** A file's rank: its folder's place in RANKS plus one, 0 for shared/'s root modules, undefined outside shared/. */
export function rankOf(file: string): number | undefined {
  const rel = relative(SHARED, file);
  if (rel.startsWith('..')) return undefined;
  const [top, ...rest] = rel.split(sep);
  if (rest.length === 0) return 0;
  const index = RANKS.indexOf(top as (typeof RANKS)[number]);
  return index < 0 ? -1 : index + 1;
}

/** What is wrong with `file` importing `specifier`, or undefined when it may. */
export function violation(file: string, specifier: string): string | undefined {
  const from = rankOf(file);
  const where = relative(REPO_ROOT, file);
  if (from === undefined) {
    // A stage: its code imports nothing of shared/, its tests the harness entry only.
    const isTest = /[\\/]test[\\/]/.test(relative(REPO_ROOT, file));
    const shared = specifier.startsWith('@otel-steps/shared') || (specifier.startsWith('.') && rankOf(resolve(dirname(file), specifier)) !== undefined);
    if (!shared) return undefined;
    if (isTest && specifier === '@otel-steps/shared/harness') return undefined;
    return `${where} imports ${specifier}: ${isTest ? 'a stage test imports @otel-steps/shared/harness only' : "a stage's code imports nothing from shared/"}`;
  }
  if (!specifier.startsWith('.')) return undefined;
  const target = resolve(dirname(file), specifier);
  const to = rankOf(target);
  if (to === undefined) return `${where} imports ${specifier}, outside shared/`;
  const name = (rank: number): string => (rank === 0 ? 'the root modules' : `${RANKS[rank - 1]}/`);
  if (from === -1 || to === -1) return `${where} imports ${specifier}: every folder of shared/ has a rank in layers.test.ts`;
  // Within a folder anything goes; e2e tests are imported by nothing.
  if (to === from && !(to === RANKS.length && /\.test\.ts$/.test(target))) return undefined;
  const below = RANKS.slice(0, Math.max(0, from - 1)).join(', ') || 'the root modules';
  if (to > from || (to === from && to === RANKS.length)) {
    return `${where} imports ${specifier}: ${name(from)} may import only from folders below it (${below}), not from ${name(to)}`;
  }
  return undefined;
}

describe('shared/ imports run one way', () => {
  // This file's own examples are not imports.
  const files = [...tsFiles(SHARED), ...tsFiles(join(REPO_ROOT, 'steps'))].filter((file) => file !== import.meta.filename);

  it('finds the files, and the imports in them (so that nothing passes by mistake)', () => {
    expect(files.filter((f) => rankOf(f) !== undefined).length).toBeGreaterThan(50);
    const source = [
      "import { a } from './x.ts';",
      "export { b } from '../y.ts';",
      "const m = await import('../z.ts');",
      "import './side.ts';",
      'import type { T } from "./t.ts";',
    ].join('\n');
    expect(importsOf(source)).toEqual([
      './x.ts',
      '../y.ts',
      '../z.ts',
      './side.ts',
      './t.ts',
    ]);
  });

  it('refuses an import that runs up, and one of a stage into shared/', () => {
    const up = violation(join(SHARED, 'harness', 'browser.ts'), '../docs/look-at-it.ts');
    expect(up).toMatch(/harness\/ may import only from folders below it \(otlp\), not from docs\//);
    expect(violation(join(SHARED, 'stack', 'native.ts'), '../tools/diff.ts')).toMatch(/not from tools\//);
    expect(violation(join(SHARED, 'repo.ts'), './otlp/receiver.ts')).toMatch(/not from otlp\//);
    expect(violation(join(SHARED, 'e2e', 'a.e2e.test.ts'), './b.e2e.test.ts')).toMatch(/not from e2e\//);
    expect(violation(join(SHARED, 'tools', 'traces.ts'), '../backends/jaeger.ts')).toBeUndefined();
    expect(violation(join(REPO_ROOT, 'steps', 'step-08', 'src', 'app.ts'), '@otel-steps/shared/harness')).toMatch(/imports nothing from shared/);
    expect(violation(join(REPO_ROOT, 'steps', 'step-08', 'test', 'stage.test.ts'), '../../../shared/tools/cli.ts')).toMatch(/harness only/);
    expect(violation(join(REPO_ROOT, 'steps', 'step-08', 'test', 'stage.test.ts'), '@otel-steps/shared/harness')).toBeUndefined();
  });

  it('every import in shared/ and the stages keeps to the ranks', () => {
    const wrong = files.flatMap((file) => importsOf(readFileSync(file, 'utf8')).flatMap((specifier) => violation(file, specifier) ?? []));
    expect(wrong).toEqual([]);
  });
});
