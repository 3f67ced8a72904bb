// Boots step-18 with its real start script and checks the spans and metrics that arrive over OTLP:
// step 11's suites, kept, and its metrics (shared/harness/suites.ts), which every stage since keeps.
import { describeEnvironmentConventions, describeHttpSpans, describeMetrics, describeStrangerAndHangup } from '@otel-steps/shared/harness';

const SERVICE_NAME = 'step-18-metrics';

describeHttpSpans('step-18', { service: SERVICE_NAME });
describeStrangerAndHangup('step-18');
describeMetrics('step-18', { service: SERVICE_NAME });
describeEnvironmentConventions('step-18', { span: 'GET /', metrics: true });

// The chapter's promises (test/promises.ts) are held by shared/tools/exercises.test.ts, against a copy
// of this stage run as a learner's finished exercise is.
