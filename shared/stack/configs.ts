// How the native stack runs the programs build.ts makes: the environment the shared configs read,
// the collector's layered --config arguments, and the check of every config combination
// (`pnpm stack:native --build-only` and `--validate`).
import { spawnSync } from 'node:child_process';
import { join, relative } from 'node:path';
import { defaultLog, type Binaries, type Log } from './build.ts';
import { COLLECTOR_DIR, FILES, lessonOverlays } from './versions.ts';

/** The environment the shared configs read, with their safe native values. */
export function nativeEnv(): NodeJS.ProcessEnv {
  return { ...process.env, OTELCOL_BIND: '127.0.0.1', JAEGER_HOST: '127.0.0.1', JAEGER_LISTEN_HOST: '127.0.0.1', LOKI_HOST: '127.0.0.1', LOKI_LISTEN_HOST: '127.0.0.1' };
}

/** The collector's --config arguments: the base config, the native stack overlay, then a lesson overlay if any. */
export function collectorConfigArgs(lesson?: string): string[] {
  return [FILES.collectorConfig, FILES.nativeOverlay, ...(lesson ? [join(COLLECTOR_DIR, lesson)] : [])].map((file) => `--config=${file}`);
}

/** Checks every collector config combination the native stack can run (`validate`), and Jaeger's and Loki's configs. */
export function validateConfigs(binaries: Pick<Binaries, 'otelcol' | 'jaeger' | 'loki'>, log: Log = defaultLog): void {
  const label = (files: string[]): string => files.map((file) => relative(COLLECTOR_DIR, file)).join(' + ');
  const checks: Array<{ name: string; binary: string; args: string[]; configs: string }> = [
    ...lessonOverlays().map((lesson) => {
      const args = collectorConfigArgs(lesson);
      return { name: 'collector', binary: binaries.otelcol, args: ['validate', ...args], configs: label(args.map((arg) => arg.slice('--config='.length))) };
    }),
    { name: 'Jaeger', binary: binaries.jaeger, args: ['validate', `--config=${FILES.jaegerConfig}`], configs: label([FILES.jaegerConfig]) },
    // Loki checks its config with a flag, after expanding the environment as the stack runs it.
    { name: 'Loki', binary: binaries.loki, args: [`-config.file=${FILES.lokiConfig}`, '-config.expand-env=true', '-verify-config'], configs: label([FILES.lokiConfig]) },
  ];
  for (const { name, binary, args, configs } of checks) {
    if (!binary) continue;
    const result = spawnSync(binary, args, { encoding: 'utf8', env: nativeEnv() });
    if (result.status !== 0) throw new Error(`${name} config ${configs} is invalid:\n${result.stdout}${result.stderr}`);
    log(`${name} config is valid (${configs})`);
  }
}
