// `pnpm stack:up` and `pnpm stack:down`: docker compose on collector/compose.yaml, after checking
// that Docker Compose v2 is there, so that a missing plugin gets a sentence instead of
// "unknown shorthand flag: 'f' in -f".
import { spawnSync } from 'node:child_process';
import { FILES } from './versions.ts';

// down --volumes: the collector's disk queue (a named volume) goes with the stack.
const ACTIONS: Record<string, string[]> = { up: ['up', '--detach', '--wait'], down: ['down', '--volumes'] };

const action = process.argv[2] ?? '';
if (!ACTIONS[action]) {
  console.error(`usage: node shared/stack/compose.ts up|down`);
  process.exit(2);
}
const probe = spawnSync('docker', ['compose', 'version'], { encoding: 'utf8' });
if (probe.status !== 0) {
  const why = probe.error ? 'there is no docker command' : '`docker compose version` failed: the Compose v2 plugin is missing';
  console.error(`pnpm stack:${action} needs Docker with Docker Compose v2 (${why}).\nNo Docker? Run the same stack from package registries instead: pnpm stack:native`);
  process.exit(1);
}
const run = spawnSync('docker', ['compose', '--file', FILES.compose, ...ACTIONS[action]!], { stdio: 'inherit' });
process.exit(run.status ?? 1);
