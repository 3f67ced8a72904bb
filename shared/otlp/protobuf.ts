// Decodes the OTLP protobuf requests the stages send into the OTLP/JSON shape (lowerCamelCase
// fields, int64 as strings, ids as base64 which the receiver turns into hex), so that one
// normalizer reads both encodings. The wire format is protobufjs's job; otlp.proto is the schema.
import { readFileSync } from 'node:fs';
import protobuf from 'protobufjs';

/** Every signal nests the same way: the request's resources, their scopes, then the items. */
export const NESTING = {
  traces: { fields: ['resourceSpans', 'scopeSpans', 'spans'], item: 'Span' },
  metrics: { fields: ['resourceMetrics', 'scopeMetrics', 'metrics'], item: 'Metric' },
  logs: { fields: ['resourceLogs', 'scopeLogs', 'logRecords'], item: 'LogRecord' },
} as const;

export type Signal = keyof typeof NESTING;

const { root } = protobuf.parse(readFileSync(new URL('./otlp.proto', import.meta.url), 'utf8'), { keepCase: false });
const REQUESTS = Object.fromEntries(
  Object.entries(NESTING).map(([signal, { fields: [resources, scopes, items], item }]) => {
    const { Field, Type } = protobuf;
    const scope = new Type(`Scope_${signal}`).add(new Field('scope', 1, 'InstrumentationScope')).add(new Field(items, 2, item, 'repeated'));
    const resource = new Type(`Resource_${signal}`).add(new Field('resource', 1, 'Resource')).add(new Field(scopes, 2, scope.name, 'repeated'));
    const request = new Type(`Request_${signal}`).add(new Field(resources, 1, resource.name, 'repeated'));
    root.add(scope).add(resource).add(request);
    return [signal, request];
  }),
) as Record<Signal, protobuf.Type>;

export function decodeOtlpProtobuf(signal: Signal, body: Uint8Array): Record<string, unknown> {
  const type = REQUESTS[signal];
  return type.toObject(type.decode(body), { longs: String, bytes: String, oneofs: false });
}
