// Runs after `pnpm install` (the root postinstall script): says which Node.js runs the tutorial.
// Scripts find `node` in node_modules/.bin first, so they run on the pinned `node` package
// whatever `node --version` says in your shell; this line makes that visible instead of surprising.
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { delimiter, join } from 'node:path';

/** The first `node` on PATH outside node_modules: the one your shell runs. */
function shellNode(): string | undefined {
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    if (!dir || dir.includes('node_modules')) continue;
    const candidate = join(dir, 'node');
    if (!existsSync(candidate)) continue;
    try {
      return execFileSync(candidate, ['--version'], { encoding: 'utf8' }).trim();
    } catch {
      // not runnable: keep looking
    }
  }
  return undefined;
}

const own = shellNode();
const yours = own === undefined ? 'none on PATH' : own === process.version ? `${own} too` : `${own}, which only runs pnpm`;
console.log(`otel-steps: every script runs on Node.js ${process.version} from node_modules/.bin (your shell's node: ${yours})`);
