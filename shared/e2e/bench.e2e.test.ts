// `pnpm bench` runs end to end on a short load: each stage boots, takes requests and gets a row.
// It lives in the e2e suite because it keeps both cores busy for seconds.
// Its numbers are not asserted: speed goals live in the benchmark's output, never in tests.
import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../harness/stage-runner.ts';

describe('pnpm bench', () => {
  it('prints a row per stage it was asked for', () => {
    const run = spawnSync('pnpm', ['--silent', 'bench', '--duration', '1s', '--concurrency', '2', '--stages', '06,08'], { cwd: REPO_ROOT, encoding: 'utf8', timeout: 50_000 });
    expect(run.status, run.stderr).toBe(0);
    const rows = run.stdout.split('\n').filter((l) => /^step-0[68] +\d+ /.test(l));
    expect(rows).toHaveLength(2);
    // step-06 exports nothing; step-08 exports spans (how many survive the load is a figure, not a test).
    expect(rows[0]).toMatch(/ 0\/\d+$/);
    expect(rows[1]).toMatch(/ [1-9]\d*\/\d+$/);
  });
});
