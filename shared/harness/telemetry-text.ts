// Reads a stage's telemetry.txt (written and checked by `pnpm test:stages`): the services, and the spans
// each request makes. The chapter checks and the e2e tests hold the backends to it.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

export interface ExpectedTrace {
  /** Span names, in the order telemetry.txt lists them (tree order). */
  spans: string[];
  /** Names of the spans whose status is ERROR. */
  errors: string[];
}

export interface TelemetryText {
  /** Every service of the stage, the one a request enters by first. */
  services: string[];
  /** Each `## <section>` heading's span trees. */
  sections: Map<string, ExpectedTrace>;
  /** Every span name, in any section. */
  spanNames: Set<string>;
}

const SPAN_LINE = /^(?:\s*└── )?(\S.*?) {2}\[(?:internal|server|client|producer|consumer|unspecified)\](.*)$/;

export function parseTelemetryText(text: string): TelemetryText {
  const services = (/^service\.name: (.+)$/m.exec(text)?.[1] ?? '').split(', ').filter(Boolean);
  const sections = new Map<string, ExpectedTrace>();
  const spanNames = new Set<string>();
  let current: ExpectedTrace | undefined;
  for (const line of text.split('\n')) {
    const heading = /^## (.+)$/.exec(line);
    if (heading) sections.set(heading[1]!, (current = { spans: [], errors: [] }));
    const span = SPAN_LINE.exec(line);
    if (!span) continue;
    spanNames.add(span[1]!);
    if (!current) continue;
    current.spans.push(span[1]!);
    if (/ status=ERROR/.test(span[2]!)) current.errors.push(span[1]!);
  }
  return { services, sections, spanNames };
}

/** A stage folder's telemetry.txt, parsed; undefined when it has none. */
export function readTelemetryText(stageDir: string): TelemetryText | undefined {
  const file = join(stageDir, 'telemetry.txt');
  return existsSync(file) ? parseTelemetryText(readFileSync(file, 'utf8')) : undefined;
}

export interface StageExpectations {
  /** The service a request enters by (the first listed), whose queries find the whole trace. */
  service: string;
  /** Every service of the stage: one, or three for a stage of several services. */
  services: string[];
  /** The span trees of each `GET <path>` section. */
  byRequest: Record<string, ExpectedTrace>;
}

/** What a stage's telemetry.txt says each request produces. */
export function expectationsFromSnapshot(stageDir: string): StageExpectations {
  const parsed = readTelemetryText(stageDir);
  if (!parsed) throw new Error(`${stageDir} has no telemetry.txt: run pnpm test:stages to write it`);
  const byRequest = Object.fromEntries([...parsed.sections].filter(([title]) => /^GET \S+$/.test(title)));
  return { service: parsed.services[0]!, services: parsed.services, byRequest };
}
