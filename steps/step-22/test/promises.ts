// What chapter 22 promises its code emits, one line each in the chapter's words: held by this
// stage's test against the reference, and by `pnpm check 22` against a learner's code. The run
// reads a flag file of its own, every fault off, and switches tier-errors on in it while the
// stage runs (`during`).
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SpanKind, StatusCode, type Lesson, type ReceivedSpan, type RunningStage, type StageRun } from '@otel-steps/shared/harness';

const SHIPPED = readFileSync(new URL('../flags.json', import.meta.url), 'utf8');
const FLAGS_FILE = join(tmpdir(), `step-22-promises-${process.pid}.json`);
writeFileSync(FLAGS_FILE, SHIPPED);
const GOLD = { 'x-user-tier': 'gold' };

const service = (span: ReceivedSpan): string => String(span.resource['service.name']);
const events = (run: StageRun): Array<Record<string, unknown>> =>
  run.receiver.spans.flatMap((s) => s.events.filter((e) => e.name === 'feature_flag.evaluation').map((e) => ({ service: service(s), ...e.attributes })));

/** Switches tier-errors on in the run's flag file, then asks as gold until the answer is a 500: the milliseconds it took, or -1 after 3 s. */
async function switchOn(stage: RunningStage): Promise<number> {
  const flags = JSON.parse(SHIPPED) as { flags: Record<string, { defaultVariant: string }> };
  flags.flags['tier-errors']!.defaultVariant = 'on';
  writeFileSync(FLAGS_FILE, JSON.stringify(flags));
  const written = Date.now();
  try {
    while (Date.now() - written < 3_000) {
      if ((await stage.get('/', GOLD)).status === 500) return Date.now() - written;
      await new Promise((r) => setTimeout(r, 50));
    }
    return -1;
  } finally {
    rmSync(FLAGS_FILE, { force: true });
  }
}

export const lesson: Lesson = {
  stage: 'step-22',
  run: { env: { FLAGS_FILE, OTEL_BSP_SCHEDULE_DELAY: '60000' }, requests: [{ path: '/', headers: GOLD }], during: switchOn },
  setup: 'src/telemetry.ts of each service: the provider, its exporter and the flush on exit',
  promises: [
    {
      says: 'with every flag off, `GET /` is one trace across the three services, as in step 20, whatever the tier',
      look: 'src/app.ts: each fault only when its flag is on',
      check: (run) => {
        const servers = run.receiver.spans.filter((s) => s.kind === SpanKind.SERVER && s.startTimeUnixNano >= run.sentAt[0]!);
        const first = servers.sort((a, b) => Number(a.startTimeUnixNano - b.startTimeUnixNano))[0];
        const found = [...new Set(run.receiver.spans.filter((s) => s.traceId === first?.traceId).map(service))];
        if (run.statuses[0] === 200 && found.length === 3) return undefined;
        return `GET / as gold answered ${run.statuses[0]}, its spans came from ${found.join(', ') || 'no service'}`;
      },
    },
    {
      says: 'a flag switched on in the flag file takes effect within a second, with no restart: `tier-errors` fails the `gold` tier in greeter',
      look: 'src/flags.ts: the file polled, and the provider told of each change',
      check: (run) => {
        const ms = run.during as number;
        if (ms < 0 || ms > 1_000) return ms < 0 ? 'the gold tier was still served 3 s after tier-errors was switched on' : `it took ${ms} ms`;
        const failed = run.receiver.spans.filter((s) => s.kind === SpanKind.SERVER && s.status.code === StatusCode.ERROR).map(service);
        return failed.includes('step-22-greeter') ? undefined : `server spans in ERROR: ${failed.join(', ') || 'none'}`;
      },
    },
    {
      says: 'each evaluation is a `feature_flag.evaluation` event on the active span, with `feature_flag.key` and `.provider.name`, not its result',
      look: 'src/flags.ts: SpanEventHook, with excludeAttributes',
      check: (run) => {
        const all = events(run);
        if (all.length === 0) return 'no feature_flag.evaluation event arrived';
        const told = all.filter((e) => 'feature_flag.result.variant' in e || 'feature_flag.result.value' in e);
        if (told.length > 0) return `${told.length} event(s) carry the result, which names the fault`;
        return all.every((e) => e['feature_flag.key'] && e['feature_flag.provider.name'] === 'flagd') ? undefined : 'an event without its key or provider';
      },
    },
  ],
};
