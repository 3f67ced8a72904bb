// `pnpm stack:native`: the backend stack of collector/compose.yaml without
// Docker. Builds (once, cached) and runs the OpenTelemetry Collector, Jaeger v2,
// Zipkin and Prometheus as local processes on 127.0.0.1. Ctrl+C stops them.
//
//   node shared/stack/native.ts              build if needed, validate, start
//   node shared/stack/native.ts --build-only build if needed and validate
//   node shared/stack/native.ts --validate   validate the collector's and Jaeger's configs and
//                                            VictoriaLogs' flags (builds those three if needed)
//
// The work is done by build.ts, configs.ts and run.ts.

import { parseArgs } from 'node:util';
import { fail, parseOrFail } from '../tools/cli.ts';
import { buildStack, missingPrerequisites } from './build.ts';
import { validateConfigs } from './configs.ts';
import { startStack, type RunningStack } from './run.ts';
import { URLS } from './urls.ts';
import { lessonOverlays } from './versions.ts';

const TOOL = 'stack:native';

async function main(): Promise<void> {
  const { values } = parseOrFail(TOOL, () =>
    parseArgs({ options: { 'build-only': { type: 'boolean' }, validate: { type: 'boolean' }, help: { type: 'boolean', short: 'h' } } }),
  );
  if (values.help) return void console.log('usage: pnpm stack:native [--build-only | --validate | --help]');
  const validateOnly = values.validate === true;

  // Until the stack is up, Ctrl+C just exits (build.ts kills what it
  // started); afterwards it stops the stack in order.
  let stack: RunningStack | undefined;
  const stopped = new Promise<void>((resolveSignal) => {
    const onSignal = (): void => (stack ? resolveSignal() : process.exit(130));
    process.once('SIGINT', onSignal);
    process.once('SIGTERM', onSignal);
  });

  // A lesson overlay, named the way compose.yaml takes it.
  const overlay = process.env.COLLECTOR_OVERLAY || undefined;
  const known = lessonOverlays().filter((file): file is string => file !== undefined);
  if (overlay && !known.includes(overlay)) fail(TOOL, `COLLECTOR_OVERLAY=${overlay} is not a lesson overlay; use one of: ${known.join(', ')}`);

  const missing = missingPrerequisites(validateOnly ? { go: true, java: false, prometheus: false } : undefined);
  if (missing) fail(TOOL, missing, 1);

  const binaries = await buildStack(validateOnly ? { only: ['otelcol', 'jaeger', 'victorialogs'] } : {});
  validateConfigs(binaries);
  if (validateOnly || values['build-only']) return;

  stack = await startStack({ binaries, overlay });
  console.log(`
otel-steps native stack is running (logs in ${stack.logDir}):
  OTLP gRPC            ${URLS.otlpGrpc}
  OTLP HTTP            ${URLS.otlpHttp}
  Jaeger (HTTP API)    ${URLS.jaeger}   (UI: use the compose stack; see collector/README.md)
  Zipkin               ${URLS.zipkin}/zipkin/
  Prometheus           ${URLS.prometheus}
  VictoriaLogs (logs)  ${URLS.victorialogsUi}
  Collector health     ${URLS.collectorHealth}
  Collector metrics    ${URLS.collectorMetrics}
  Collector config     otel-collector-config.yaml + overlays/stack-native.yaml${overlay ? ` + ${overlay}` : ''}
Press Ctrl+C to stop.`);

  await stopped;
  console.log('\nstopping (the collector first, so that it flushes)...');
  console.log((await stack.stop()).join('\n'));
  console.log('stopped. The builds stay cached in ~/.cache/otel-steps/.');
}

main().then(
  () => process.exit(0),
  (error: unknown) => fail(TOOL, error instanceof Error ? error.message : String(error), 1),
);
