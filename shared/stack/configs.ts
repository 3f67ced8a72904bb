// How the native stack runs the programs build.ts makes: the environment the shared configs read,
// the collector's layered --config arguments, and the check of every config combination
// (`pnpm stack:native --build-only` and `--validate`).
import { spawnSync } from 'node:child_process';
import { join, relative } from 'node:path';
import type { Binaries } from './build.ts';
import { defaultLog, type Log } from './processes.ts';
import { COLLECTOR_DIR, FILES, lessonOverlays, victoriaLogsFlags } from './versions.ts';

/** The environment the shared configs read, with their safe native values. */
export function nativeEnv(): NodeJS.ProcessEnv {
  return { ...process.env, OTELCOL_BIND: '127.0.0.1', JAEGER_HOST: '127.0.0.1', JAEGER_LISTEN_HOST: '127.0.0.1', JAEGER_UI_CONFIG: FILES.jaegerUiConfig, VICTORIALOGS_HOST: '127.0.0.1' };
}

/** The collector's --config arguments: the base config, the native stack overlay, then a lesson overlay if any. */
export function collectorConfigArgs(lesson?: string): string[] {
  return [FILES.collectorConfig, FILES.nativeOverlay, ...(lesson ? [join(COLLECTOR_DIR, lesson)] : [])].map((file) => `--config=${file}`);
}

/** Checks every collector config combination the native stack can run (`validate`), Jaeger's config, and VictoriaLogs' flags. */
export function validateConfigs(binaries: Pick<Binaries, 'otelcol' | 'jaeger' | 'victorialogs'>, log: Log = defaultLog): void {
  const label = (files: string[]): string => files.map((file) => relative(COLLECTOR_DIR, file)).join(' + ');
  const checks: Array<{ name: string; binary: string; args: string[]; configs: string }> = [
    ...lessonOverlays().map((lesson) => {
      const args = collectorConfigArgs(lesson);
      return { name: 'collector', binary: binaries.otelcol, args: ['validate', ...args], configs: label(args.map((arg) => arg.slice('--config='.length))) };
    }),
    { name: 'Jaeger', binary: binaries.jaeger, args: ['validate', `--config=${FILES.jaegerConfig}`], configs: label([FILES.jaegerConfig]) },
    // VictoriaLogs' configuration is its flags (compose.yaml): parsing them, which -version does
    // before it prints and exits, refuses an unknown flag or a bad value.
    { name: 'VictoriaLogs', binary: binaries.victorialogs, args: [...victoriaLogsFlags({ listen: '127.0.0.1:9428', dataDir: 'unused' }), '-version'], configs: 'compose.yaml victorialogs command' },
  ];
  for (const { name, binary, args, configs } of checks) {
    if (!binary) continue;
    const result = spawnSync(binary, args, { encoding: 'utf8', env: nativeEnv() });
    if (result.status !== 0) throw new Error(`${name} config ${configs} is invalid:\n${result.stdout}${result.stderr}`);
    log(`${name} config is valid (${configs})`);
  }
}
