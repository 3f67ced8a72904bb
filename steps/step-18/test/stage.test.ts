// Boots step-18 with its real start script and checks the spans and metrics that arrive over OTLP:
// step 11's suites, kept, and its metrics (shared/harness/suites.ts), which every stage since keeps.
import { describeEnvironmentConventions, describeHttpSpans, describeMetrics, describeStrangerAndHangup, itKeepsItsPromises } from '@otel-steps/shared/harness';
import { lesson } from './promises.ts';

const SERVICE_NAME = 'step-18-metrics';

describeHttpSpans('step-18', { service: SERVICE_NAME });
describeStrangerAndHangup('step-18');
describeMetrics('step-18', { service: SERVICE_NAME });
describeEnvironmentConventions('step-18', { span: 'GET /', metrics: true });

// The chapter's promises, as pnpm check 18 holds a learner's exercise to them.
itKeepsItsPromises(lesson);
