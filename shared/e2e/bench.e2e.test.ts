// `pnpm bench` runs end to end on a short load: each stage boots, takes requests and gets a row per
// mode. It lives in the e2e suite because it keeps both cores busy for seconds.
// Its numbers are not asserted: speed goals live in the benchmark's output, never in tests.
import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../repo.ts';

describe('pnpm bench', () => {
  it('prints a row for step-06 and two for an instrumented stage, with ratios to step-06', () => {
    const run = spawnSync('pnpm', ['--silent', 'bench', '--duration', '1s', '--concurrency', '2', '--stages', '06,08', '--rounds', '1'], { cwd: REPO_ROOT, encoding: 'utf8', timeout: 60_000 });
    expect(run.status, run.stderr).toBe(0);
    const rows = run.stdout.split('\n').filter((l) => /^step-0[68] /.test(l));
    expect(rows.map((r) => r.split(/\s{2,}/).slice(0, 2).join(' / '))).toEqual(['step-06 / no telemetry', 'step-08 / as taught', 'step-08 / OTLP only']);
    // step-06 is the reference; step-08 gets a ratio to it.
    expect(rows[0]).toMatch(/ 1\.00× /);
    for (const row of rows.slice(1)) expect(row).toMatch(/ \d+\.\d\d× /);
    // step-06 exports nothing; step-08 a trace per request at most (how many survive the load is a
    // figure, not a test), counted against every request sent, so the column adds up.
    expect(rows[0]).toMatch(/ 0\.0 {2,}n\/a$/);
    for (const row of rows.slice(1)) {
      const [traces, sent] = / ([1-9]\d*)\/(\d+)$/.exec(row)!.slice(1).map(Number);
      expect(traces).toBeLessThanOrEqual(sent!);
    }
  });
});
