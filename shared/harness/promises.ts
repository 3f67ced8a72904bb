// What a chapter promises its code emits, written once per stage (steps/step-NN/test/promises.ts)
// and held by `pnpm check NN` against the learner's exercise; the reference stage is held to them
// by shared/tools/exercises.test.ts (a copy of it, run as an exercise), or, for a stage with no
// exercise, by its own test (itKeepsItsPromises). Each promise is one line in the chapter's words; checked, it is
// kept (✓) or broken (✗), with what arrived instead and where to look.
import { describe, expect, it } from 'vitest';
import { runStage, type RunOptions, type StageRun } from './run.ts';
import { SpanKind, type ReceivedSpan } from '../otlp/receiver.ts';

export interface Promised {
  /** The chapter's words: "a span named `hello` for `GET /`". */
  says: string;
  /** Where to look when it is broken: the file to write it in, and the part of the chapter. */
  look: string;
  /**
   * Hardening of the reference stage beyond what the chapter asks a learner to write (refusing a
   * bad OTEL_* value, a loss warning, span limits): shown to the learner, never failing the check.
   */
  extra?: boolean;
  /**
   * Nothing when the run keeps the promise; otherwise what arrived instead, in a few words; or,
   * where it cannot be checked here (no browser), why not.
   */
  check(run: StageRun): string | { unchecked: string } | undefined;
}

export interface Lesson {
  /** The stage whose chapter makes these promises (`step-08`). */
  stage: string;
  /** How the check runs the code: the requests, in order, and the environment. */
  run: Omit<RunOptions, 'script'>;
  /**
   * Where the telemetry is set up (provider, exporter, flush on exit): where every broken promise
   * points when nothing at all arrived over OTLP, since then no line of the app could have been
   * seen, whatever it does.
   */
  setup?: string;
  promises: Promised[];
}

export interface Verdict {
  promise: Promised;
  /** Where to look: the promise's own place, or the set-up's when nothing arrived at all. */
  look: string;
  /** Undefined when kept. */
  broken?: string;
  /** Why it could not be checked here: neither kept nor broken. */
  unchecked?: string;
}

/**
 * Each promise of `lesson`, checked against `run`. A check that throws is a broken promise, with its
 * message. When nothing at all arrived over OTLP, what is broken is the set-up before the app:
 * each broken promise says so and points at `lesson.setup`.
 */
export function verdicts(lesson: Lesson, run: StageRun): Verdict[] {
  const silent = run.receiver.requests.length === 0 && lesson.setup !== undefined;
  return lesson.promises.map((promise) => {
    let result: ReturnType<Promised['check']>;
    try {
      result = promise.check(run);
    } catch (err) {
      result = (err as Error).message;
    }
    if (typeof result === 'object') return { promise, look: promise.look, unchecked: result.unchecked };
    if (result === undefined) return { promise, look: promise.look };
    if (!silent) return { promise, look: promise.look, broken: result };
    return { promise, look: lesson.setup!, broken: `${result}: ${NOTHING_SENT}` };
  });
}

/** Why nothing arrived, when nothing did. */
export const NOTHING_SENT =
  'not one export reached the check, so the set-up never sent: a provider with an OTLP exporter, registered before the app loads, and flushed on the way out';

/** The run a lesson's promises are checked against: `stage` (a stage, or an exercise's folder) started as the lesson says. */
export function runLesson(lesson: Lesson, stage: string, dir?: string): Promise<StageRun> {
  return runStage(stage, { ...lesson.run, ...(dir ? { dir } : {}) });
}

/**
 * The stage test's half: the reference stage keeps every promise of its chapter, the extra ones
 * included, in a run of its own made the way `pnpm check` makes it.
 */
export function itKeepsItsPromises(lesson: Lesson): void {
  describe(`${lesson.stage}: the chapter's promises, as pnpm check ${lesson.stage.slice(5)} holds an exercise to them`, () => {
    let run: StageRun;
    it.for(lesson.promises.map((p) => [p.extra ? `(extra) ${p.says}` : p.says, p] as const))('%s', async ([, promise], { skip }) => {
      run ??= await runLesson(lesson, lesson.stage);
      const [verdict] = verdicts({ ...lesson, promises: [promise] }, run);
      if (verdict!.unchecked) skip(verdict!.unchecked);
      expect(verdict!.broken, promise.look).toBeUndefined();
    });
  });
}

// Small readers for promises: what arrived, said briefly when it is not what the chapter says.

/** The spans of `run` named `name`. */
export const named = (run: StageRun, name: string): ReceivedSpan[] => run.receiver.spans.filter((s) => s.name === name);

/** What arrived, in a few words: the span names (kind) that did, or that none did. */
export function arrived(run: StageRun): string {
  const spans = run.receiver.spans;
  if (spans.length === 0) return run.receiver.requests.length === 0 ? 'nothing arrived over OTLP' : 'no spans arrived (other signals did)';
  const kinds = Object.fromEntries(Object.entries(SpanKind).map(([k, v]) => [v, k.toLowerCase()]));
  const names = [...new Set(spans.map((s) => `${s.name} [${kinds[s.kind]}]`))];
  return `spans arrived: ${names.slice(0, 6).join(', ')}${names.length > 6 ? `, and ${names.length - 6} more` : ''}`;
}

/** The spans started while `run`'s request number `index` was being answered. */
export function spansOfRequest(run: StageRun, index: number): ReceivedSpan[] {
  const from = run.sentAt[index]!;
  const to = run.sentAt[index + 1] ?? BigInt(Number.MAX_SAFE_INTEGER) * 1_000_000n;
  return run.receiver.spans.filter((s) => s.startTimeUnixNano >= from && s.startTimeUnixNano < to);
}
