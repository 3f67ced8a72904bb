// What a stage exports that the OpenTelemetry semantic conventions do not define: attribute keys
// that are not in the registry, and instruments whose type differs from the registry's. The
// registry's attribute keys come from @opentelemetry/semantic-conventions (the incubating entry
// point holds every key, stable ones included); the package does not carry instrument types, so
// those of the metrics the stages export are listed below, as the registry defines them.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import * as registry from '@opentelemetry/semantic-conventions/incubating';
import { expect, it } from 'vitest';
import type { ReceivedMetric, OtlpReceiver } from '../otlp/receiver.ts';
import type { StageRun } from './run.ts';
import { REPO_ROOT } from '../repo.ts';

const KEYS = new Set<string>();
// Template attributes (http.request.header.<key>): the registry gives a function of the key.
const TEMPLATES: string[] = [];
for (const [name, value] of Object.entries(registry)) {
  if (!name.startsWith('ATTR_')) continue;
  if (typeof value === 'string') KEYS.add(value);
  else if (typeof value === 'function') TEMPLATES.push(String((value as (key: string) => string)('')));
}

/** The namespace this tutorial's own attributes live under (src/app.ts, src/telemetry.ts). */
export const APP_NAMESPACE = 'otel_steps.';

/** True when the semantic conventions define `key`, as it is or as a template attribute. */
export function inConventions(key: string): boolean {
  return KEYS.has(key) || TEMPLATES.some((prefix) => key.startsWith(prefix));
}

// Instrument types as semantic-conventions v1.44 defines them (model/http, model/nodejs,
// model/v8js: `instrument:`), for every metric a stage exports. A sum is a counter when it is
// monotonic and an updowncounter when it is not.
const INSTRUMENTS: Record<string, 'counter' | 'updowncounter' | 'gauge' | 'histogram'> = {
  'http.server.request.duration': 'histogram',
  'http.client.request.duration': 'histogram',
  'nodejs.eventloop.delay.min': 'gauge',
  'nodejs.eventloop.delay.max': 'gauge',
  'nodejs.eventloop.delay.mean': 'gauge',
  'nodejs.eventloop.delay.stddev': 'gauge',
  'nodejs.eventloop.delay.p50': 'gauge',
  'nodejs.eventloop.delay.p90': 'gauge',
  'nodejs.eventloop.delay.p99': 'gauge',
  'nodejs.eventloop.utilization': 'gauge',
  'nodejs.eventloop.time': 'counter',
  'v8js.gc.duration': 'histogram',
  'v8js.memory.heap.space.available_size': 'updowncounter',
  'v8js.memory.heap.space.physical_size': 'updowncounter',
  'v8js.memory.heap.space.size': 'updowncounter',
  'v8js.memory.heap.used': 'updowncounter',
  'v8js.resource.active': 'gauge',
};

function instrumentOf(metric: ReceivedMetric): string {
  if (metric.type === 'sum') return metric.monotonic ? 'counter' : 'updowncounter';
  return metric.type;
}

export interface OutsideConventions {
  /** Scope (the package that emitted it) → attribute keys of its spans, span events, log records and metric points that the conventions do not define. */
  attributes: Map<string, Set<string>>;
  /** Scope → `name (exported type, conventions: type)` for each instrument whose type differs. */
  instruments: Map<string, Set<string>>;
}

/**
 * Everything `receiver` holds that the conventions do not define, by the scope that emitted it.
 * Keys under the app's namespace are the app's own, named as the conventions ask of an app, and
 * left out; metric names that are not in the conventions at all (the app's own counter) are too.
 */
export function outsideConventions(receiver: Pick<OtlpReceiver, 'spans' | 'metrics' | 'logs'>): OutsideConventions {
  const attributes = new Map<string, Set<string>>();
  const instruments = new Map<string, Set<string>>();
  const add = (map: Map<string, Set<string>>, scope: string, what: string): void => void (map.get(scope) ?? map.set(scope, new Set()).get(scope)!).add(what);
  const check = (scope: string, keys: string[]): void => {
    for (const key of keys) if (!inConventions(key) && !key.startsWith(APP_NAMESPACE)) add(attributes, scope, key);
  };
  for (const span of receiver.spans) {
    check('the resource', Object.keys(span.resource));
    check(span.scope.name, Object.keys(span.attributes));
    for (const event of span.events) check(span.scope.name, Object.keys(event.attributes));
  }
  for (const log of receiver.logs) check(log.scope.name, Object.keys(log.attributes));
  for (const metric of receiver.metrics) {
    for (const point of metric.dataPoints) check(metric.scope.name, Object.keys(point.attributes));
    const expected = INSTRUMENTS[metric.name];
    const exported = instrumentOf(metric);
    if (expected && expected !== exported) add(instruments, metric.scope.name, `${metric.name} (${exported}, conventions: ${expected})`);
  }
  return { attributes, instruments };
}

/** The chapter's sentence for what `receiver` holds outside the conventions, one clause per package. */
export function describeOutsideConventions(receiver: Pick<OtlpReceiver, 'spans' | 'metrics' | 'logs'>): string {
  const { attributes, instruments } = outsideConventions(receiver);
  const list = (items: Set<string>): string => [...items].sort().map((item) => item.replace(/^([^ ]+)/, '`$1`')).join(', ');
  const clauses: string[] = [];
  for (const scope of [...new Set([...attributes.keys(), ...instruments.keys()])].sort()) {
    if (attributes.has(scope)) clauses.push(`\`${scope}\` sets the attributes ${list(attributes.get(scope)!)}`);
    if (instruments.has(scope)) clauses.push(`\`${scope}\` exports ${list(instruments.get(scope)!)}`);
  }
  if (clauses.length === 0) return 'Outside the semantic conventions: nothing; every attribute and instrument this stage exports is one they define.';
  return `Outside the semantic conventions, upstream: ${clauses.join('; ')}.`;
}

/**
 * The test that keeps a chapter's "outside the semantic conventions" line true: the README must
 * hold the sentence `describeOutsideConventions` renders from what the stage really exported.
 */
export function itNamesWhatIsOutsideConventions(stageName: string, runs: () => StageRun[]): void {
  it('names in its chapter every attribute and instrument it exports that the semantic conventions do not define', () => {
    const chapter = readFileSync(join(REPO_ROOT, 'steps', stageName, 'README.md'), 'utf8').replace(/\s*\n\s*/g, ' ');
    const received = runs().map((run) => run.receiver);
    const all = { spans: received.flatMap((r) => r.spans), metrics: received.flatMap((r) => r.metrics), logs: received.flatMap((r) => r.logs) };
    expect(chapter).toContain(describeOutsideConventions(all));
  });
}
