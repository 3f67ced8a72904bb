// Decodes the OTLP protobuf requests the stages send into the OTLP/JSON shape (lowerCamelCase
// fields, int64 as strings, ids as base64 which the receiver turns into hex), so that one
// normalizer reads both encodings. The wire format is protobufjs's job; otlp.proto is the schema.
import { readFileSync } from 'node:fs';
import protobuf from 'protobufjs';

const { root } = protobuf.parse(readFileSync(new URL('./otlp.proto', import.meta.url), 'utf8'), { keepCase: false });
const REQUESTS = {
  traces: root.lookupType('ExportTraceServiceRequest'),
  metrics: root.lookupType('ExportMetricsServiceRequest'),
  logs: root.lookupType('ExportLogsServiceRequest'),
};

export type Signal = keyof typeof REQUESTS;

export function decodeOtlpProtobuf(signal: Signal, body: Uint8Array): Record<string, unknown> {
  const type = REQUESTS[signal];
  return type.toObject(type.decode(body), { longs: String, bytes: String, oneofs: false });
}
