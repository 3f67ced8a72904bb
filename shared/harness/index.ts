export { startOtlpReceiver, SpanKind, StatusCode } from './otlp-receiver.ts';
export type { OtlpReceiver, ReceivedSpan, ReceivedMetric, ReceivedLog, Attributes, AttributeValue } from './otlp-receiver.ts';
export { serverPids, startStage, REPO_ROOT } from './stage-runner.ts';
export type { RunningStage, StageExit, StageOptions, StageResponse } from './stage-runner.ts';
export { itMatchesTelemetrySnapshot, renderSpanTrees, renderTelemetry, SNAPSHOT_PATHS } from './telemetry-snapshot.ts';
export { listStages } from '../tools/stages.ts';
export { describeEnvironmentConventions } from './conventions.ts';
export { runStage } from './run.ts';
export type { RunOptions, StageRequest, StageRun } from './run.ts';
