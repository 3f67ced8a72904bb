// Boots step-11 with its real start script and checks the spans that arrive over OTLP: the suites
// every stage since keeps (shared/harness/suites.ts) are step 11's own.
import { describeEnvironmentConventions, describeHttpSpans, describeStrangerAndHangup, itKeepsItsPromises } from '@otel-steps/shared/harness';
import { lesson } from './promises.ts';

describeHttpSpans('step-11', { service: 'step-11-contrib' });
describeStrangerAndHangup('step-11');
describeEnvironmentConventions('step-11', { span: 'GET /' });

// The chapter's promises, as pnpm check 11 holds a learner's exercise to them.
itKeepsItsPromises(lesson);
