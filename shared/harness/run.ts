// One stage run, the way most stage tests want it: start the stage through its real start script
// with an OTLP receiver as its collector, send the requests in order, stop it with a signal (Ctrl+C
// by default), and keep what it exported and printed for the test to read.
import { startOtlpReceiver, type OtlpReceiver, type ReceivedSpan } from '../otlp/receiver.ts';
import { startStage, type RunningStage, type StageExit, type StageOptions } from './stage-runner.ts';

export interface StageRequest {
  path: string;
  headers?: Record<string, string>;
}

export interface RunOptions extends Omit<StageOptions, 'otlpEndpoint'> {
  /** Sent one after the other: a path, or a path with headers. */
  requests: Array<string | StageRequest>;
  /** How the run ends: SIGINT is Ctrl+C. */
  signal?: NodeJS.Signals;
  /** Run after the requests, before the stop (a browser, a POST); what it resolves with is the run's `during`. */
  during?: (stage: RunningStage) => Promise<unknown>;
}

export interface StageRun {
  receiver: OtlpReceiver;
  exit: StageExit;
  /** The path of each request, in order. */
  paths: string[];
  /** The HTTP status of each request, in order. */
  statuses: number[];
  /** When each request was sent, in Unix nanoseconds: the spans started from one to the next are its own. */
  sentAt: bigint[];
  /** What `during` resolved with. */
  during?: unknown;
  /** How many exports had arrived when runStage sent the stop signal: receiver.requests from this index on came after it. */
  exportsBeforeStop?: number;
  /** The spans whose parent is `parent`. */
  children(parent: ReceivedSpan): ReceivedSpan[];
  /** Which of `secrets` appear anywhere: in any exported signal or in the console output, as text or as bytes. */
  leaked(secrets: string[]): string[];
  close(): Promise<void>;
}

export async function runStage(stageName: string, { requests, signal = 'SIGINT', during, ...options }: RunOptions): Promise<StageRun> {
  const receiver = await startOtlpReceiver();
  try {
    const stage = await startStage(stageName, { ...options, otlpEndpoint: receiver.url });
    const statuses: number[] = [];
    const sentAt: bigint[] = [];
    for (const request of requests) {
      const { path, headers } = typeof request === 'string' ? { path: request, headers: {} } : request;
      sentAt.push(BigInt(Date.now()) * 1_000_000n);
      statuses.push((await stage.get(path, headers)).status);
      // Keeps each request's spans apart in time from the next request's.
      await new Promise((r) => setTimeout(r, 20));
    }
    let found: unknown;
    try {
      found = await during?.(stage);
    } catch (err) {
      await stage.stop(signal);
      throw err;
    }
    const exportsBeforeStop = receiver.requests.length;
    const exit = await stage.stop(signal);
    return {
      during: found,
      exportsBeforeStop,
      receiver,
      exit,
      paths: requests.map((request) => (typeof request === 'string' ? request : request.path)),
      statuses,
      sentAt,
      children: (parent) => receiver.spans.filter((s) => s.parentSpanId === parent.spanId),
      leaked: (secrets) => leaked(secrets, receiver, exit.output),
      close: () => receiver.close(),
    };
  } catch (err) {
    await receiver.close();
    throw err;
  }
}

/** Which of `secrets` appear in `texts`: as they are, or as the list of their bytes that pino prints for a Buffer (`"data":[115,51,...]`). */
export function foundIn(secrets: string[], ...texts: string[]): string[] {
  return secrets.filter((secret) => [secret, [...Buffer.from(secret)].join(',')].some((form) => texts.some((text) => text.includes(form))));
}

/** Which of `secrets` appear in anything `receiver` holds, or in `output`. */
export function leaked(secrets: string[], receiver: OtlpReceiver, output: string): string[] {
  return foundIn(secrets, exportedText(receiver.spans, receiver.metrics, receiver.logs), output);
}

/** Exported telemetry as one searchable text. */
export function exportedText(...signals: unknown[]): string {
  return JSON.stringify(signals, (_key, value: unknown) => (typeof value === 'bigint' ? value.toString() : value));
}
