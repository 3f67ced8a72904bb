// Boots step-11 with its real start script and checks the spans that arrive over OTLP: the suites
// every stage since keeps (shared/harness/suites.ts) are step 11's own.
import { describeEnvironmentConventions, describeHttpSpans, describeStrangerAndHangup } from '@otel-steps/shared/harness';

describeHttpSpans('step-11', { service: 'step-11-contrib' });
describeStrangerAndHangup('step-11');
describeEnvironmentConventions('step-11', { span: 'GET /' });

// The chapter's promises (test/promises.ts) are held by shared/tools/exercises.test.ts, against a copy
// of this stage run as a learner's finished exercise is.
