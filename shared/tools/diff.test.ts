import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';

const cli = fileURLToPath(new URL('./diff.ts', import.meta.url));
const realSteps = fileURLToPath(new URL('../../steps/', import.meta.url));

function diff(args: string[], stepsRoot?: string): { code: number | null; stdout: string; stderr: string } {
  const env: NodeJS.ProcessEnv = { ...process.env, NO_COLOR: '', OTEL_STEPS_ROOT: stepsRoot ?? '' };
  const run = spawnSync(process.execPath, [cli, ...args], { env, encoding: 'utf8' });
  return { code: run.status, stdout: run.stdout, stderr: run.stderr };
}

/** `diff --git a/x b/x` headers, i.e. the files the patch shows. */
function patchedFiles(stdout: string): string[] {
  return [...stdout.matchAll(/^diff --git a\/(\S+) b\//gm)].map((m) => m[1] ?? '');
}

describe('pnpm diff on the real stages', () => {
  it('--telemetry 19 20 shows what the services add, not step 19\'s spans again, and the baggage value step 20 is about', () => {
    const { code, stdout } = diff(['--telemetry', '19', '20']);
    expect(code).toBe(0);
    const removed = stdout.split('\n').filter((l) => l.startsWith('-') && !l.startsWith('---'));
    // The gateway's spans are step 19's, unchanged: no line of them is removed and added again.
    expect(removed.filter((l) => l.startsWith('-GET /  [server]') || l.includes('handler - hello'))).toEqual([]);
    expect(stdout).toMatch(/^\+ +└── GET \/greeting  \[server\].*\(step-20-greeter, scope /m);
    expect(stdout).toMatch(/^\+.*handler - word  \[internal\].*user\.tier=\w+/m);
  });

  it('shows that step 14 changed no line of the app: no file under src differs from step 6', () => {
    const { code, stdout } = diff(['06', '14', '--', 'src']);
    expect(code).toBe(0);
    expect(stdout).toContain('no code differences between step-06 and step-14 under src');
    const whole = diff(['06', '14']);
    expect(whole.code).toBe(0);
    expect(patchedFiles(whole.stdout).filter((file) => file.startsWith('src/'))).toEqual([]);
  });

  it('shows step 8 changing src/app.ts and src/telemetry.ts, with paths relative to the stage', () => {
    const { code, stdout } = diff(['06', '08']);
    expect(code).toBe(0);
    expect(stdout.split('\n')[0]).toMatch(/^code: step-06 → step-08 \(not shown: README\.md, telemetry\.txt, test\/, node_modules/);
    expect(patchedFiles(stdout)).toEqual(expect.arrayContaining(['src/app.ts', 'src/telemetry.ts']));
    expect(stdout).toContain('--- a/src/app.ts\n+++ b/src/app.ts\n');
    expect(stdout).not.toContain(realSteps);
    expect(stdout).not.toMatch(/README\.md b\/|telemetry\.txt b\/|node_modules\//);
    expect(stdout).toContain("+import { SpanStatusCode, trace } from '@opentelemetry/api';");
  });

  it('takes 6, 06 and step-06 as the same stage', () => {
    const expected = diff(['06', '08', '--stat']).stdout;
    expect(diff(['6', 'step-08', '--stat']).stdout).toBe(expected);
    expect(diff(['step-06', '8', '--stat']).stdout).toBe(expected);
  });

  it('--stat summarises files, insertions and deletions instead of the patch', () => {
    const { code, stdout } = diff(['06', '08', '--stat']);
    expect(code).toBe(0);
    expect(stdout).toMatch(/^ src\/app\.ts +\| +\d+ \+*-*$/m);
    expect(stdout).toMatch(/^ src\/telemetry\.ts +\| +\d+ \+*-*$/m);
    expect(stdout).toMatch(/^ \d+ files? changed, \d+ insertions?\(\+\), \d+ deletions?\(-\)$/m);
    expect(stdout).not.toContain('diff --git');
  });

  it('rejects an unknown stage in one line that lists the stages, with exit code 2', () => {
    const { code, stdout, stderr } = diff(['06', '07']);
    expect(code).toBe(2);
    expect(stdout).toBe('');
    expect(stderr).toMatch(/^diff: unknown stage "07": the stages are 06, 08, (\d+, )*22\n$/);
  });

  it('refuses a path that matches nothing in either stage rather than reporting no differences', () => {
    const { code, stderr } = diff(['06', '08', '--', 'scr']);
    expect(code).toBe(2);
    expect(stderr).toBe('diff: nothing matches scr in step-06 or step-08\n');
  });

  it('colours when asked to, not in a pipe by default', () => {
    const escape = '\x1b[';
    expect(diff(['06', '08']).stdout).not.toContain(escape);
    expect(diff(['06', '08', '--color']).stdout).toContain(`${escape}32m+`);
    expect(diff(['06', '08', '--color', '--no-color']).stdout).not.toContain(escape);
  });
});

describe('pnpm diff on fixture stages (OTEL_STEPS_ROOT)', () => {
  const root = mkdtempSync(join(tmpdir(), 'otel-steps-diff-test-'));
  afterAll(() => rmSync(root, { recursive: true, force: true }));

  const write = (file: string, text: string): void => {
    mkdirSync(dirname(join(root, file)), { recursive: true });
    writeFileSync(join(root, file), text);
  };
  const pkg = (n: string, deps: string) =>
    `{\n  "name": "step-${n}",\n  "version": "0.0.${n}",\n  "description": "Step ${n}",\n  "dependencies": {\n${deps}\n  }\n}\n`;
  const app = 'export const x = 1;\n';
  write('step-01/package.json', pkg('01', '    "fastify": "catalog:"'));
  write('step-01/src/app.ts', app);
  write('step-01/README.md', 'one\n');
  write('step-01/telemetry.txt', '## GET /\nhello  [internal]\n');
  write('step-01/node_modules/x/index.js', 'one\n');
  write('step-02/package.json', pkg('02', '    "fastify": "catalog:"'));
  write('step-02/src/app.ts', app);
  write('step-02/README.md', 'two\n');
  write('step-02/telemetry.txt', '## GET /\nGET  [server]\n  hello  [internal]\n');
  write('step-02/node_modules/x/index.js', 'two\n');
  write('step-02/flags.local.json', '{"flags": {}}\n');
  write('step-03/package.json', pkg('03', '    "@opentelemetry/api": "catalog:",\n    "fastify": "catalog:"'));
  write('step-03/src/app.ts', app);
  write('step-03/otel.env', 'OTEL_SERVICE_NAME=three\n');
  write('step-03/telemetry.txt', '## GET /\nhello  [internal]\n');
  write('step-04/package.json', pkg('04', '    "fastify": "catalog:"'));

  it('ignores README.md, telemetry.txt, node_modules, a *.local.json and package.json name, description and version', () => {
    const { code, stdout } = diff(['01', '02'], root);
    expect(code).toBe(0);
    expect(stdout).toContain('no code differences between step-01 and step-02');
  });

  it('shows the rest of package.json, and files that only one stage has', () => {
    const { code, stdout } = diff(['01', '03'], root);
    expect(code).toBe(0);
    expect(patchedFiles(stdout)).toEqual(['otel.env', 'package.json']);
    expect(stdout).toContain('new file mode 100644\nindex 0000000..');
    expect(stdout).toContain('+    "@opentelemetry/api": "catalog:",');
    expect(stdout).not.toMatch(/"(name|description|version)"/);
  });

  it('--telemetry diffs the two telemetry.txt snapshots', () => {
    const { code, stdout } = diff(['--telemetry', '01', '02'], root);
    expect(code).toBe(0);
    expect(stdout.split('\n')[0]).toBe('telemetry: step-01 → step-02 (telemetry.txt snapshots, written by pnpm test:stages)');
    expect(patchedFiles(stdout)).toEqual(['telemetry.txt']);
    expect(stdout).toContain('-hello  [internal]\n+GET  [server]\n+  hello  [internal]\n');
  });

  it('--telemetry --stat summarises, and says so when the snapshots agree', () => {
    const stat = diff(['--telemetry', '--stat', '01', '02'], root);
    expect(stat.stdout).toMatch(/^ telemetry\.txt \| 3 \+\+-$/m);
    expect(stat.stdout).toContain(' 1 file changed, 2 insertions(+), 1 deletion(-)');
    const same = diff(['--telemetry', '01', '03'], root);
    expect(same.code).toBe(0);
    expect(same.stdout).toContain('no telemetry differences between step-01 and step-03');
  });

  it('--telemetry names the missing snapshot and how to write it', () => {
    const { code, stdout, stderr } = diff(['--telemetry', '01', '04'], root);
    expect(code).toBe(1);
    expect(stdout).toBe('');
    expect(stderr).toMatch(/^diff: no telemetry snapshot at \S*step-04\/telemetry\.txt: pnpm test:stages writes them\n$/);
  });
});
