// `pnpm stack:native`: the backend stack of collector/compose.yaml without
// Docker. Builds (once, cached) and runs the OpenTelemetry Collector, Jaeger v2,
// Zipkin, VictoriaLogs and Prometheus as local processes on 127.0.0.1. Ctrl+C stops them.
//
//   node shared/stack/native.ts              build what is missing, start each part as soon as it is ready
//   node shared/stack/native.ts --build-only build everything if needed and validate
//   node shared/stack/native.ts --validate   validate the collector's and Jaeger's configs and
//                                            VictoriaLogs' flags (builds those three if needed)
//
// A first start does not wait for every build: the collector, Zipkin and Prometheus start as soon
// as they are ready (a first trace in Zipkin's UI needs nothing more), and Jaeger and VictoriaLogs
// join when built, in the order the chapters need them. Until a backend joins, the collector keeps
// what it accepted for it in its disk queue, and delivers it then.
//
// The work is done by build.ts (with go.ts and processes.ts), configs.ts and run.ts.

import { parseArgs } from 'node:util';
import { fail, parseOrFail } from '../cli.ts';
import { buildPart, buildStack, checkedVersions, missingPrerequisites, type Binaries } from './build.ts';
import { toolchainNote } from './go.ts';
import { defaultLog, seconds } from './processes.ts';
import { validateConfigs } from './configs.ts';
import { startStack, type RunningStack, type StackProcess } from './run.ts';
import { URLS } from './urls.ts';
import { cacheRoot, lessonOverlays } from './versions.ts';

const TOOL = 'stack:native';

/** Where each part answers, for the lines that say it is up. */
const SHOWN: Record<StackProcess, string> = {
  otelcol: `Collector            OTLP gRPC ${URLS.otlpGrpc}, OTLP HTTP ${URLS.otlpHttp}, health ${URLS.collectorHealth}, metrics ${URLS.collectorMetrics}`,
  zipkin: `Zipkin (traces)      ${URLS.zipkin}/zipkin/`,
  prometheus: `Prometheus (metrics) ${URLS.prometheus}`,
  jaeger: `Jaeger (HTTP API)    ${URLS.jaeger}   (pnpm traces reads it; its UI: use the compose stack, see collector/README.md)`,
  victorialogs: `VictoriaLogs (logs)  ${URLS.victorialogsUi}`,
};
const LABEL: Record<StackProcess, string> = { otelcol: 'the collector', zipkin: 'Zipkin', prometheus: 'Prometheus', jaeger: 'Jaeger', victorialogs: 'VictoriaLogs' };

async function main(): Promise<void> {
  const started = Date.now();
  const { values } = parseOrFail(TOOL, () =>
    parseArgs({ options: { 'build-only': { type: 'boolean' }, validate: { type: 'boolean' }, help: { type: 'boolean', short: 'h' } } }),
  );
  if (values.help) return void console.log('usage: pnpm stack:native [--build-only | --validate | --help]');
  const validateOnly = values.validate === true;
  const log = defaultLog;

  // Ctrl+C: before anything runs it just exits (processes.ts kills the build in progress with its
  // whole process group; a build writes its result under a temporary name, or stamps it last, so
  // nothing half-built is ever taken for a finished one); afterwards it also stops what runs.
  let stack: RunningStack | undefined;
  let building = '';
  const stopped = new Promise<void>((resolveSignal) => {
    const onSignal = (): void => {
      if (building) console.log(`\nstopping: the ${building} build is abandoned; nothing half-built is kept, the next start builds it again`);
      if (stack) resolveSignal();
      else process.exit(130);
    };
    process.once('SIGINT', onSignal);
    process.once('SIGTERM', onSignal);
    // Closing the terminal window: without a handler Node would exit at once, leaving the backends
    // (each in a process group of its own) running and the stack's directory behind.
    process.once('SIGHUP', onSignal);
  });
  const stop = async (): Promise<never> => {
    await stopped;
    console.log('\nstopping (the collector first, so that it flushes)...');
    console.log((await stack!.stop()).join('\n'));
    console.log(`stopped. The builds stay cached in ${cacheRoot()}.`);
    process.exit(building ? 130 : 0);
  };

  // A lesson overlay, named the way compose.yaml takes it.
  const overlay = process.env.COLLECTOR_OVERLAY || undefined;
  const known = lessonOverlays().filter((file): file is string => file !== undefined);
  if (overlay && !known.includes(overlay)) fail(TOOL, `COLLECTOR_OVERLAY=${overlay} is not a lesson overlay; use one of: ${known.join(', ')}`);

  const missing = missingPrerequisites(validateOnly ? { go: true, java: false, prometheus: false } : undefined);
  if (missing) fail(TOOL, missing, 1);
  const note = toolchainNote();
  if (note) log(note);

  if (validateOnly || values['build-only']) {
    const binaries = await buildStack(validateOnly ? { only: ['otelcol', 'jaeger', 'victorialogs'] } : {});
    validateConfigs(binaries);
    return;
  }

  // The collector first (every stage sends to it), Zipkin's jar fetched alongside; Prometheus is
  // the distribution's.
  const versions = checkedVersions();
  const binaries: Binaries = { otelcol: '', zipkinJar: '', prometheus: 'prometheus', jaeger: '', victorialogs: '' };
  building = 'collector';
  // Nothing else runs alongside the collector's build: fetching Jaeger's and VictoriaLogs'
  // modules meanwhile made it 94 s slower cold on two cores (unpacking and hashing modules takes
  // the cores it compiles with), and every chapter needs the collector first.
  const zipkin = buildPart('zipkinJar', versions, log);
  binaries.otelcol = await buildPart('otelcol', versions, log);
  validateConfigs({ otelcol: binaries.otelcol, jaeger: '', victorialogs: '' });
  binaries.zipkinJar = await zipkin;
  building = '';
  stack = await startStack({ binaries, overlay });
  void stop();
  const later = ['jaeger', 'victorialogs'] as const;
  console.log(`
otel-steps native stack (logs in ${stack.logDir}), up in ${seconds(started)} s:
${stack.running().map((name) => `  ${SHOWN[name]}`).join('\n')}
  Collector config     otel-collector-config.yaml + overlays/stack-native.yaml${overlay ? ` + ${overlay}` : ''}
Still to join: ${later.map((name) => LABEL[name]).join(', then ')} (built first if need be; the collector keeps their data on disk until then).
Press Ctrl+C to stop.`);

  // Then the others, in the order the chapters need them, each joining as soon as it is built.
  // A part that fails to build or start is named, and the rest of the stack keeps running.
  const failed: string[] = [];
  for (const name of later) {
    building = LABEL[name];
    try {
      const binary = await buildPart(name, versions, log);
      validateConfigs({ otelcol: '', jaeger: name === 'jaeger' ? binary : '', victorialogs: name === 'victorialogs' ? binary : '' });
      building = '';
      await stack.join(name, binary);
      console.log(`${LABEL[name]} joined, ${seconds(started)} s after the start:\n  ${SHOWN[name]}`);
    } catch (error) {
      building = '';
      failed.push(LABEL[name]);
      console.error(`${LABEL[name]} could not join: ${(error as Error).message}\nThe rest of the stack keeps running; Ctrl+C stops it.`);
    }
  }
  if (failed.length === 0) console.log(`Every part is up, ${seconds(started)} s after the start: ${stack.running().map((name) => LABEL[name]).join(', ')}.`);
  // Runs until Ctrl+C, which stop() above waits for, stops the stack and exits.
  await new Promise<never>(() => {});
}

main().then(
  () => process.exit(0),
  (error: unknown) => fail(TOOL, error instanceof Error ? error.message : String(error), 1),
);
