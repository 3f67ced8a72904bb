// The faults of this stage, as feature flags: each one switched on or off in a flag file, while the
// services run. The code asks OpenFeature (the vendor-neutral feature-flag API) for a flag's value;
// the provider behind it is flagd's evaluation engine (@openfeature/flagd-core), run in this
// process on the file itself, with no flagd server. flagd's own provider has this mode too
// (offlineFlagSourcePath), but it polls the file every 5 s; the provider below polls every 100 ms,
// so that a change takes effect well within a second, and keeps the last good flags when a change
// is not a valid flag file.
import { closeSync, constants, copyFileSync, existsSync, fstatSync, linkSync, openSync, readSync, rmSync, unwatchFile, watchFile } from 'node:fs';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { format } from 'node:util';
import { FlagdCore } from '@openfeature/flagd-core';
import { SpanEventHook } from '@openfeature/open-telemetry-hooks';
import {
  OpenFeature,
  OpenFeatureEventEmitter,
  ProviderEvents,
  TelemetryAttribute,
  type EvaluationContext,
  type JsonValue,
  type Logger,
  type Provider,
  type ResolutionDetails,
} from '@openfeature/server-sdk';

/** The flags this stage knows, one per fault; flags.json holds each of them, off. */
export const FLAGS = ['slow-words', 'tier-errors', 'lost-context', 'blocked-loop', 'leaky-cache', 'retry-storm', 'silent-fallback'] as const;
export type Flag = (typeof FLAGS)[number];

// FLAGS_FILE, relative to the stage's folder (where pnpm runs its start script), or flags.local.json
// next to flags.json: a copy of it, made on the first start and ignored by git, which you and
// `pnpm incident` change while flags.json stays as committed, every fault off.
const FLAGS_FILE = process.env.FLAGS_FILE ? resolve(process.env.FLAGS_FILE) : localCopy();
const POLL_MS = 100;
const MAX_BYTES = 1_000_000;

// json-logic's operators that loop over an array: nested in each other over arrays of the rule's
// own, a rule of a few lines runs for minutes, and every request of the service waits behind it.
// No fault needs one; a rule with one is refused, as is one too deep or too large to be a rule.
const LOOPS = new Set(['map', 'filter', 'reduce', 'all', 'some', 'none']);
const MAX_DEPTH = 32;
const MAX_NODES = 10_000;

/**
 * `text` with its control characters (C0, DEL and C1) written as \u001b and so on: what the file
 * holds reaches the console through flagd's messages (a flag's key, a variant's name), and must not
 * move the cursor, clear the screen or start a line of its own.
 */
const printable = (text: string): string =>
  text.replace(/[\u0000-\u001f\u007f-\u009f]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
const say = (...said: unknown[]): void => console.error(printable(format('flags:', ...said)));
const QUIET: Logger = { error: () => {}, warn: () => {}, info: () => {}, debug: () => {} };

/** flags.local.json, copied from flags.json when there is none; the three services start at once, so it is linked into place whole, once. */
function localCopy(): string {
  const file = fileURLToPath(new URL('../flags.local.json', import.meta.url));
  if (existsSync(file)) return file;
  const partial = `${file}.${process.pid}.tmp`;
  copyFileSync(fileURLToPath(new URL('../flags.json', import.meta.url)), partial);
  try {
    linkSync(partial, file);
  } catch (err) {
    // Another service made it first.
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
  } finally {
    rmSync(partial, { force: true });
  }
  return file;
}

/** flagd's evaluation engine on a file: what the file says, re-read whenever it changes. */
class FlagFileProvider implements Provider {
  readonly metadata = { name: 'flagd' };
  readonly runsOn = 'server';
  readonly events = new OpenFeatureEventEmitter();
  // flagd's warnings (a targeting rule it cannot parse) under this file's prefix; its debug lines are dropped.
  private readonly core = new FlagdCore(undefined, { ...QUIET, warn: (...said) => say(...said), error: (...said) => say(...said) });
  private text: string | undefined;
  private good = false;
  /** The last refusal said, until a good file is read. */
  private refused: string | undefined;
  private readonly file: string;
  /** Flags whose targeting could not be evaluated since the file was last read: said once each. */
  private readonly unevaluable = new Set<string>();

  constructor(file: string) {
    this.file = file;
  }

  async initialize(): Promise<void> {
    this.load();
    // Polled, like flagd's own file sync: it sees a file replaced by a rename (as editors save) and
    // one that does not exist yet. unref'd: it must not keep a stopping service alive.
    watchFile(this.file, { interval: POLL_MS, persistent: false }, () => this.load());
  }

  async onClose(): Promise<void> {
    unwatchFile(this.file);
  }

  /**
   * Reads the file; a change that is not a valid flag file is said once, and the last good flags
   * stay. A file being written (emptied, then filled) is read again 50 ms later before it is refused.
   */
  private load(again = false): void {
    let text: string;
    try {
      // Opened once, then checked and read through the same descriptor: a file renamed over it in
      // between (a huge one) is not the one read. O_NONBLOCK: opening a FIFO would wait for a writer.
      const fd = openSync(this.file, constants.O_RDONLY | constants.O_NONBLOCK);
      try {
        // A flag file is a few kilobytes: a huge one would stall every service while it is parsed.
        const stat = fstatSync(fd);
        // Only a file: a FIFO would block every service's event loop on the read, and a device
        // (/dev/zero) says size 0 and never ends.
        if (!stat.isFile()) return this.refuse('is not a regular file', '(not a file)');
        // At most one byte more than allowed is read: a file that grows while it is read is refused too.
        const bytes = Buffer.alloc(MAX_BYTES + 1);
        let size = 0;
        for (let n = 1; n > 0 && size < bytes.length; size += n) n = readSync(fd, bytes, size, bytes.length - size, null);
        if (size > MAX_BYTES) return this.refuse(`is more than ${MAX_BYTES} bytes, more than a flag file needs`, `(size over ${MAX_BYTES})`);
        text = bytes.toString('utf8', 0, size);
      } finally {
        closeSync(fd);
      }
    } catch (err) {
      return this.refuse(`cannot be read (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`, `(unreadable: ${String(err)})`);
    }
    if (text === this.text) return;
    let changed: string[];
    try {
      // Where the JSON breaks first (a missing brace, say): flagd's message says only that the file is invalid.
      const parsed = parseOrSayWhere(text) as { flags?: Record<string, { variants?: Record<string, unknown> } | null> };
      // Every fault is on or off: a variant that is not true or false would switch it off unseen.
      const wrong = Object.entries(parsed.flags ?? {}).filter(([, flag]) => Object.values(flag?.variants ?? {}).some((v) => typeof v !== 'boolean'));
      if (wrong.length > 0) throw new Error(`the variants of ${wrong.map(([key]) => key).join(', ')} must be true or false`);
      // Before flagd compiles a rule: one that loops would block this process when it is evaluated.
      costly(parsed);
      // Tried on an engine of its own first: the live one keeps the last good flags if this fails.
      const trial = new FlagdCore(undefined, QUIET);
      trial.setConfigurations(text);
      // A file that parses but holds no flags is a mistake too (a wrong top-level key, say).
      if (trial.getFlags().size === 0) throw new Error('it holds no flags');
      changed = this.core.setConfigurations(text);
    } catch (err) {
      if (!again) return void setTimeout(() => this.load(true), 50).unref();
      return this.refuse(`is not a valid flag file (${oneLine(err)})`, text);
    }
    this.text = text;
    this.refused = undefined;
    this.unevaluable.clear();
    if (!this.good) console.log(printable(`flags: ${this.core.getFlags().size} flags from ${this.file}; a change to the file takes effect within a second`));
    else if (changed.length > 0) console.log(printable(`flags: ${this.file} changed, flags reloaded`));
    this.good = true;
    if (changed.length > 0) this.events.emit(ProviderEvents.ConfigurationChanged, { flagsChanged: changed });
  }

  private refuse(why: string, text: string): void {
    if (text === this.text) return;
    this.text = text;
    // Said once until a good file is read: a file rewritten again and again with the same fault
    // (the same line) must not flood the console.
    const line = `flags: ${this.file} ${why}`;
    if (line === this.refused) return;
    this.refused = line;
    say(`${this.file} ${why}: ${this.good ? 'keeping the last good flags' : 'every fault stays off'} until it is fixed`);
  }

  async resolveBooleanEvaluation(key: string, byDefault: boolean, context: EvaluationContext): Promise<ResolutionDetails<boolean>> {
    const result = this.core.resolveBooleanEvaluation(key, byDefault, context);
    // A targeting rule that cannot be evaluated (an unknown operator, a variant that does not
    // exist) gives the default value, off: a fault switched off without a word, unless said here.
    // A flag the file does not hold is off on purpose, and says nothing.
    if (result.reason === 'ERROR' && result.errorCode !== 'FLAG_NOT_FOUND' && !this.unevaluable.has(key)) {
      this.unevaluable.add(key);
      say(`${key} in ${this.file} cannot be evaluated (${result.errorMessage ?? result.errorCode}): it counts as off until the file is fixed`);
    }
    return result;
  }
  async resolveStringEvaluation(key: string, byDefault: string, context: EvaluationContext): Promise<ResolutionDetails<string>> {
    return this.core.resolveStringEvaluation(key, byDefault, context);
  }
  async resolveNumberEvaluation(key: string, byDefault: number, context: EvaluationContext): Promise<ResolutionDetails<number>> {
    return this.core.resolveNumberEvaluation(key, byDefault, context);
  }
  async resolveObjectEvaluation<T extends JsonValue>(key: string, byDefault: T, context: EvaluationContext): Promise<ResolutionDetails<T>> {
    return this.core.resolveObjectEvaluation(key, byDefault, context);
  }
}

/**
 * JSON.parse, with an error that says where the text stops being JSON and never what it holds there:
 * FLAGS_FILE may name any file, and JSON.parse's own message quotes its first characters.
 */
function parseOrSayWhere(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    // The longest prefix that is JSON so far (it parses, or fails only for ending there); the text is at most 1 MB.
    const sound = (length: number): boolean => {
      try {
        JSON.parse(text.slice(0, length));
        return true;
      } catch (err) {
        const message = (err as Error).message;
        return message.startsWith('Unexpected end of JSON input') || message.includes(`at position ${length} `) || message.endsWith(`at position ${length}`);
      }
    };
    let [low, high] = [0, text.length];
    while (low < high) {
      const middle = Math.ceil((low + high) / 2);
      if (sound(middle)) low = middle;
      else high = middle - 1;
    }
    if (low >= text.length) throw new Error('the JSON ends before it is complete');
    const before = text.slice(0, low);
    throw new Error(`not JSON from line ${before.split('\n').length}, column ${low - before.lastIndexOf('\n')} on`);
  }
}

/**
 * Throws when a targeting rule of the flag file `parsed` could block the process: an operator that
 * loops, or a rule nested deeper than MAX_DEPTH or larger than MAX_NODES, once flagd has put each
 * shared rule of `$evaluators` in place of its `$ref`, as it does (and refused before it is done
 * when that would make the rules larger than a flag file may be).
 */
function costly(parsed: { flags?: Record<string, unknown>; $evaluators?: unknown }): void {
  let flags = parsed.flags ?? {};
  const evaluators = parsed.$evaluators;
  if (evaluators && typeof evaluators === 'object') {
    // flagd's own replacement, text for text, sized before each step.
    let text = JSON.stringify(parsed);
    for (const [key, rule] of Object.entries(evaluators)) {
      const [ref, by] = [`{"$ref":"${key}"}`, JSON.stringify(rule) ?? 'null'];
      const count = text.split(ref).length - 1;
      if (text.length + count * (by.length - ref.length) > MAX_BYTES) throw new Error(`its $evaluators, each $ref replaced, are over ${MAX_BYTES} bytes`);
      text = text.replaceAll(ref, by);
    }
    flags = (JSON.parse(text) as typeof parsed).flags ?? {};
  }
  let nodes = 0;
  const walk = (flag: string, node: unknown, depth: number): void => {
    if (++nodes > MAX_NODES) throw new Error(`its targeting rules are over ${MAX_NODES} values, more than a flag file needs`);
    if (depth > MAX_DEPTH) throw new Error(`the targeting of ${flag} is nested over ${MAX_DEPTH} deep, more than a flag file needs`);
    if (node === null || typeof node !== 'object') return;
    for (const [key, value] of Object.entries(node)) {
      if (!Array.isArray(node) && LOOPS.has(key)) {
        throw new Error(`the targeting of ${flag} uses "${key}", which loops over an array: map, filter, reduce, all, some and none are not taken`);
      }
      walk(flag, value, depth + 1);
    }
  };
  for (const [key, flag] of Object.entries(flags)) walk(key, (flag as { targeting?: unknown } | null)?.targeting, 0);
}

const oneLine = (err: unknown): string => String((err as Error).message ?? err).split('\n')[0]!;

// Every evaluation becomes a `feature_flag.evaluation` event on the active span, with the semantic
// conventions' feature_flag.* attributes: the flag's key, the provider's name, the reason. Not its
// result (feature_flag.result.variant and .value): every request evaluates the same flags whether
// a fault is on or off, so the events say which flags the code consulted and give no scenario away.
// The chapter says why the OpenTelemetry demo records the result, and this stage does not.
OpenFeature.addHooks(new SpanEventHook({ excludeAttributes: [TelemetryAttribute.VARIANT, TelemetryAttribute.VALUE] }));
await OpenFeature.setProviderAndWait(new FlagFileProvider(FLAGS_FILE));
const client = OpenFeature.getClient();

/** Whether the fault `flag` is switched on now; off when the file says nothing about it. */
export function on(flag: Flag): Promise<boolean> {
  return client.getBooleanValue(flag, false);
}
