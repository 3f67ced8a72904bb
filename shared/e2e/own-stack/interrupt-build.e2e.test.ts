// Ctrl+C while `pnpm stack:native` builds: the build stops with every process it started, and
// nothing half-built is left for the next start to trust. Runs the command as a learner does,
// with a stack cache and a Go build cache of its own, so that the collector really compiles.
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import psList from 'ps-list';
import { describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../../repo.ts';
import { readVersions } from '../../stack/versions.ts';

describe.skipIf(process.env.E2E_STACK === 'running')('Ctrl+C during a build', () => {
  it('stops the collector build and its compilers, says so, and leaves no binary or stamp behind', { timeout: 300_000 }, async () => {
    const dir = mkdtempSync(join(tmpdir(), 'otel-steps-interrupt-'));
    try {
      const env = { ...process.env, OTEL_STEPS_CACHE: join(dir, 'stack'), GOCACHE: join(dir, 'go-build') };
      const child = spawn('pnpm', ['stack:native'], { cwd: REPO_ROOT, env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
      let output = '';
      child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
      child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
      const exited = once(child, 'exit');
      const deadline = Date.now() + 240_000;
      while (!output.includes('Building the collector') && Date.now() < deadline && child.exitCode === null) await new Promise((r) => setTimeout(r, 200));
      expect(output).toContain('Building the collector');
      // Compiling for a few seconds, then Ctrl+C, as a terminal sends it: to the whole group.
      await new Promise((r) => setTimeout(r, 5000));
      process.kill(-child.pid!, 'SIGINT');
      await exited;
      expect(output).toContain('the collector build is abandoned; nothing half-built is kept');
      const built = join(dir, 'stack', `otelcol-${readVersions().collector}`);
      expect(existsSync(join(built, 'dist', 'otelcol-otel-steps')), 'a finished binary').toBe(false);
      expect(existsSync(join(built, 'manifest.sha256')), 'a stamp the next start would trust').toBe(false);
      // Nothing of the build is still running: no go command working in this test's caches, and
      // none of the compilers it started (nothing else compiles Go while the e2e suite runs).
      await new Promise((r) => setTimeout(r, 1000));
      const left = (await psList()).filter((p) => (p.cmd ?? '').includes(dir) || /\/pkg\/tool\/[^/ ]+\/(compile|link|asm|cgo) /.test(p.cmd ?? ''));
      expect(left.map((p) => p.cmd?.slice(0, 120))).toEqual([]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
