// `pnpm stack:native`: the backend stack of collector/compose.yaml without
// Docker. Builds (once, cached) and runs the OpenTelemetry Collector, Jaeger v2,
// Zipkin and Prometheus as local processes on 127.0.0.1. Ctrl+C stops them.
//
//   node shared/stack/native.ts              build if needed, validate, start
//   node shared/stack/native.ts --build-only build if needed and validate
//   node shared/stack/native.ts --validate   validate the collector and Jaeger
//                                                  configs (builds those two if needed)
//
// The work is done by build.ts and run.ts.

import { buildStack, checkPrerequisites, validateConfigs } from './build.ts';
import { startStack, type RunningStack } from './run.ts';
import { URLS } from './urls.ts';

const USAGE = 'usage: node shared/stack/native.ts [--build-only | --validate | --help]';

async function main(args: string[]): Promise<number> {
  if (args.includes('--help') || args.includes('-h')) {
    console.log(USAGE);
    return 0;
  }
  const unknown = args.filter((arg) => !['--build-only', '--validate'].includes(arg));
  if (unknown.length) {
    console.error(`unknown option ${unknown.join(' ')}\n${USAGE}`);
    return 2;
  }
  const validateOnly = args.includes('--validate');
  const buildOnly = args.includes('--build-only');

  // Until the stack is up, Ctrl+C just exits (build.ts kills what it
  // started); afterwards it stops the stack in order.
  let stack: RunningStack | undefined;
  const stopped = new Promise<void>((resolveSignal) => {
    const onSignal = (): void => {
      if (!stack) process.exit(130);
      resolveSignal();
    };
    process.once('SIGINT', onSignal);
    process.once('SIGTERM', onSignal);
  });

  const prerequisites = checkPrerequisites(validateOnly ? { go: true } : undefined);
  if (prerequisites.message) {
    console.error(prerequisites.message);
    return 1;
  }

  const binaries = await buildStack(validateOnly ? { only: ['otelcol', 'jaeger'] } : {});
  validateConfigs(binaries);
  if (validateOnly || buildOnly) return 0;

  stack = await startStack({ binaries });
  console.log(`
otel-steps native stack is running (logs in ${stack.logDir}):
  OTLP gRPC            ${URLS.otlpGrpc}
  OTLP HTTP            ${URLS.otlpHttp}
  Jaeger (HTTP API)    ${URLS.jaeger}   (UI: use the compose stack; see collector/README.md)
  Zipkin               ${URLS.zipkin}/zipkin/
  Prometheus           ${URLS.prometheus}
  Collector health     ${URLS.collectorHealth}
  Collector metrics    ${URLS.collectorMetrics}
Press Ctrl+C to stop.`);

  await stopped;
  console.log('\nstopping...');
  await stack.stop();
  console.log('stopped.');
  return 0;
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (error: unknown) => {
    console.error(error instanceof Error ? error.message : error);
    process.exit(1);
  },
);
