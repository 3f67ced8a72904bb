// A small decoder for the OTLP protobuf messages the stages send (traces, metrics, logs).
// The test receiver needs to read what real exporters put on the wire; the field numbers
// below come from opentelemetry-proto (collector/*/v1 and */v1/*.proto). Decoding produces
// the same shape as OTLP/JSON, so one normalizer serves both encodings.

type Scalar = 'string' | 'bytes' | 'varint' | 'bool' | 'fixed64' | 'sfixed64' | 'fixed32' | 'double' | 'packedFixed64' | 'packedDouble';
type FieldSpec = readonly [name: string, type: Scalar | Message, repeated?: 'repeated'];
interface Message {
  readonly fields: Record<number, FieldSpec>;
}

function message(fields: Record<number, FieldSpec>): Message {
  return { fields };
}

// Built lazily so that recursive messages (AnyValue <-> ArrayValue/KeyValueList) can refer to each other.
const keyValue: Message = message({});
const anyValue: Message = message({});
const arrayValue = message({ 1: ['values', anyValue, 'repeated'] });
const keyValueList = message({ 1: ['values', keyValue, 'repeated'] });
Object.assign(keyValue.fields, { 1: ['key', 'string'], 2: ['value', anyValue] });
Object.assign(anyValue.fields, {
  1: ['stringValue', 'string'],
  2: ['boolValue', 'bool'],
  3: ['intValue', 'varint'],
  4: ['doubleValue', 'double'],
  5: ['arrayValue', arrayValue],
  6: ['kvlistValue', keyValueList],
  7: ['bytesValue', 'bytes'],
});

const attributes: FieldSpec = ['attributes', keyValue, 'repeated'];
const resource = message({ 1: attributes, 2: ['droppedAttributesCount', 'varint'] });
const scope = message({ 1: ['name', 'string'], 2: ['version', 'string'], 3: attributes });

const event = message({ 1: ['timeUnixNano', 'fixed64'], 2: ['name', 'string'], 3: attributes });
const link = message({ 1: ['traceId', 'bytes'], 2: ['spanId', 'bytes'], 3: ['traceState', 'string'], 4: attributes });
const status = message({ 2: ['message', 'string'], 3: ['code', 'varint'] });
const span = message({
  1: ['traceId', 'bytes'],
  2: ['spanId', 'bytes'],
  3: ['traceState', 'string'],
  4: ['parentSpanId', 'bytes'],
  5: ['name', 'string'],
  6: ['kind', 'varint'],
  7: ['startTimeUnixNano', 'fixed64'],
  8: ['endTimeUnixNano', 'fixed64'],
  9: attributes,
  11: ['events', event, 'repeated'],
  13: ['links', link, 'repeated'],
  15: ['status', status],
  16: ['flags', 'fixed32'],
});
const scopeSpans = message({ 1: ['scope', scope], 2: ['spans', span, 'repeated'], 3: ['schemaUrl', 'string'] });
const resourceSpans = message({ 1: ['resource', resource], 2: ['scopeSpans', scopeSpans, 'repeated'], 3: ['schemaUrl', 'string'] });

const numberDataPoint = message({
  7: attributes,
  2: ['startTimeUnixNano', 'fixed64'],
  3: ['timeUnixNano', 'fixed64'],
  4: ['asDouble', 'double'],
  6: ['asInt', 'sfixed64'],
});
const histogramDataPoint = message({
  9: attributes,
  2: ['startTimeUnixNano', 'fixed64'],
  3: ['timeUnixNano', 'fixed64'],
  4: ['count', 'fixed64'],
  5: ['sum', 'double'],
  6: ['bucketCounts', 'packedFixed64'],
  7: ['explicitBounds', 'packedDouble'],
  11: ['min', 'double'],
  12: ['max', 'double'],
});
const gauge = message({ 1: ['dataPoints', numberDataPoint, 'repeated'] });
const sum = message({ 1: ['dataPoints', numberDataPoint, 'repeated'], 2: ['aggregationTemporality', 'varint'], 3: ['isMonotonic', 'bool'] });
const histogram = message({ 1: ['dataPoints', histogramDataPoint, 'repeated'], 2: ['aggregationTemporality', 'varint'] });
const metric = message({
  1: ['name', 'string'],
  2: ['description', 'string'],
  3: ['unit', 'string'],
  5: ['gauge', gauge],
  7: ['sum', sum],
  9: ['histogram', histogram],
  // Exponential histograms and summaries are recognised by name only; their points are not needed.
  10: ['exponentialHistogram', message({})],
  11: ['summary', message({})],
});
const scopeMetrics = message({ 1: ['scope', scope], 2: ['metrics', metric, 'repeated'], 3: ['schemaUrl', 'string'] });
const resourceMetrics = message({ 1: ['resource', resource], 2: ['scopeMetrics', scopeMetrics, 'repeated'], 3: ['schemaUrl', 'string'] });

const logRecord = message({
  1: ['timeUnixNano', 'fixed64'],
  11: ['observedTimeUnixNano', 'fixed64'],
  2: ['severityNumber', 'varint'],
  3: ['severityText', 'string'],
  5: ['body', anyValue],
  6: attributes,
  8: ['flags', 'fixed32'],
  9: ['traceId', 'bytes'],
  10: ['spanId', 'bytes'],
  12: ['eventName', 'string'],
});
const scopeLogs = message({ 1: ['scope', scope], 2: ['logRecords', logRecord, 'repeated'], 3: ['schemaUrl', 'string'] });
const resourceLogs = message({ 1: ['resource', resource], 2: ['scopeLogs', scopeLogs, 'repeated'], 3: ['schemaUrl', 'string'] });

export const OTLP_REQUESTS = {
  traces: message({ 1: ['resourceSpans', resourceSpans, 'repeated'] }),
  metrics: message({ 1: ['resourceMetrics', resourceMetrics, 'repeated'] }),
  logs: message({ 1: ['resourceLogs', resourceLogs, 'repeated'] }),
} as const;

export type Signal = keyof typeof OTLP_REQUESTS;

class Reader {
  private pos = 0;
  private readonly buf: Uint8Array;
  constructor(buf: Uint8Array) {
    this.buf = buf;
  }
  get done(): boolean {
    return this.pos >= this.buf.length;
  }
  varint(): bigint {
    let result = 0n;
    let shift = 0n;
    for (;;) {
      if (this.pos >= this.buf.length) throw new Error('truncated varint');
      const byte = this.buf[this.pos++]!;
      result |= BigInt(byte & 0x7f) << shift;
      if ((byte & 0x80) === 0) return result;
      shift += 7n;
      if (shift > 70n) throw new Error('varint too long');
    }
  }
  take(n: number): Uint8Array {
    if (n < 0 || this.pos + n > this.buf.length) throw new Error('truncated field');
    const out = this.buf.subarray(this.pos, this.pos + n);
    this.pos += n;
    return out;
  }
  skip(wireType: number): void {
    if (wireType === 0) this.varint();
    else if (wireType === 1) this.take(8);
    else if (wireType === 2) this.take(Number(this.varint()));
    else if (wireType === 5) this.take(4);
    else throw new Error(`unsupported wire type ${wireType}`);
  }
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

function hex(bytes: Uint8Array): string {
  return Buffer.from(bytes).toString('hex');
}

function view(bytes: Uint8Array): DataView {
  return new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

function readScalar(reader: Reader, wireType: number, type: Scalar): unknown {
  switch (type) {
    case 'string':
      return utf8.decode(reader.take(Number(reader.varint())));
    case 'bytes':
      // Ids are bytes on the wire and hex strings in OTLP/JSON: normalise to hex.
      return hex(reader.take(Number(reader.varint())));
    case 'varint':
      return BigInt.asIntN(64, reader.varint()).toString();
    case 'bool':
      return reader.varint() !== 0n;
    case 'fixed64':
      return view(reader.take(8)).getBigUint64(0, true).toString();
    case 'sfixed64':
      return view(reader.take(8)).getBigInt64(0, true).toString();
    case 'fixed32':
      return view(reader.take(4)).getUint32(0, true);
    case 'double':
      return view(reader.take(8)).getFloat64(0, true);
    case 'packedFixed64':
    case 'packedDouble': {
      if (wireType !== 2) {
        const single = view(reader.take(8));
        return [type === 'packedDouble' ? single.getFloat64(0, true) : single.getBigUint64(0, true).toString()];
      }
      const bytes = reader.take(Number(reader.varint()));
      const values: unknown[] = [];
      for (let i = 0; i + 8 <= bytes.length; i += 8) {
        const v = view(bytes.subarray(i, i + 8));
        values.push(type === 'packedDouble' ? v.getFloat64(0, true) : v.getBigUint64(0, true).toString());
      }
      return values;
    }
  }
}

function decodeMessage(bytes: Uint8Array, spec: Message): Record<string, unknown> {
  const reader = new Reader(bytes);
  const out: Record<string, unknown> = {};
  while (!reader.done) {
    const key = Number(reader.varint());
    const fieldNumber = key >>> 3;
    const wireType = key & 7;
    const field = spec.fields[fieldNumber];
    if (!field) {
      reader.skip(wireType);
      continue;
    }
    const [name, type, repeated] = field;
    const value =
      typeof type === 'string' ? readScalar(reader, wireType, type) : decodeMessage(reader.take(Number(reader.varint())), type);
    if (repeated) {
      const list = (out[name] as unknown[] | undefined) ?? [];
      list.push(value);
      out[name] = list;
    } else if (Array.isArray(value) && Array.isArray(out[name])) {
      (out[name] as unknown[]).push(...value);
    } else {
      out[name] = value;
    }
  }
  return out;
}

/** Decodes an OTLP Export*ServiceRequest into the OTLP/JSON shape (lowerCamelCase, hex ids). */
export function decodeOtlpProtobuf(signal: Signal, body: Uint8Array): Record<string, unknown> {
  return decodeMessage(body, OTLP_REQUESTS[signal]);
}
