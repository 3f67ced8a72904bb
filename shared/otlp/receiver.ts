// An OTLP/HTTP receiver for tests: it accepts what a stage exports (protobuf or JSON, gzip or
// not, traces, metrics and logs) on an ephemeral loopback port and keeps it for assertions.
import { once } from 'node:events';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { gunzipSync } from 'node:zlib';
import { decodeOtlpProtobuf, NESTING, type Signal } from './protobuf.ts';

export type AttributeValue = string | number | boolean | AttributeValue[] | { [key: string]: AttributeValue } | null;
export type Attributes = Record<string, AttributeValue>;

/** OTLP span kinds, by their wire numbers. */
export const SpanKind = { UNSPECIFIED: 0, INTERNAL: 1, SERVER: 2, CLIENT: 3, PRODUCER: 4, CONSUMER: 5 } as const;
/** OTLP status codes, by their wire numbers. */
export const StatusCode = { UNSET: 0, OK: 1, ERROR: 2 } as const;

export interface ReceivedSpan {
  traceId: string;
  spanId: string;
  parentSpanId: string;
  name: string;
  kind: number;
  startTimeUnixNano: bigint;
  endTimeUnixNano: bigint;
  attributes: Attributes;
  events: { name: string; timeUnixNano: bigint; attributes: Attributes }[];
  status: { code: number; message: string };
  resource: Attributes;
  scope: { name: string; version: string };
}

export interface ReceivedMetric {
  name: string;
  unit: string;
  description: string;
  type: 'gauge' | 'sum' | 'histogram' | 'exponentialHistogram' | 'summary' | 'unknown';
  /** For a sum: a counter (only goes up) rather than an updowncounter. */
  monotonic?: boolean;
  dataPoints: { attributes: Attributes; value?: number; count?: number; sum?: number }[];
  resource: Attributes;
  scope: { name: string; version: string };
}

export interface ReceivedLog {
  body: AttributeValue;
  severityText: string;
  severityNumber: number;
  eventName: string;
  traceId: string;
  spanId: string;
  attributes: Attributes;
  resource: Attributes;
  scope: { name: string; version: string };
}

export interface ReceivedRequest {
  signal: Signal;
  contentType: string;
  contentEncoding: string;
  bytes: number;
  /** The request's Authorization header, which an exporter sends from OTEL_EXPORTER_OTLP_HEADERS. */
  authorization?: string;
  /** The ids of the spans it carried, in order: which spans left together, in one export (empty when lazy). */
  spanIds: string[];
}

export interface OtlpReceiver {
  /** Base URL, suitable for OTEL_EXPORTER_OTLP_ENDPOINT. */
  readonly url: string;
  readonly spans: ReceivedSpan[];
  readonly metrics: ReceivedMetric[];
  readonly logs: ReceivedLog[];
  readonly requests: ReceivedRequest[];
  /** false: answer every export with 503, as a collector that is up but cannot take data does. */
  setAvailable(available: boolean): void;
  /** With `lazy`: decodes what arrived so far into spans, metrics and logs. */
  decodePending(): void;
  close(): Promise<void>;
}

const PATHS: Record<string, Signal> = { '/v1/traces': 'traces', '/v1/metrics': 'metrics', '/v1/logs': 'logs' };
const MAX_BODY_BYTES = 16 * 1024 * 1024;

type Json = Record<string, unknown>;
const list = (v: unknown): Json[] => (Array.isArray(v) ? (v as Json[]) : []);
const str = (v: unknown): string => (typeof v === 'string' ? v : '');
const num = (v: unknown): number => (v === undefined || v === null || v === '' ? 0 : Number(v));
const big = (v: unknown): bigint => (v === undefined || v === null || v === '' ? 0n : BigInt(v as string | number));

// OTLP/JSON may carry ids as hex (the spec) or base64 (protobuf's default JSON mapping).
function id(v: unknown): string {
  const s = str(v);
  if (s === '' || /^[0-9a-f]+$/i.test(s)) return s.toLowerCase();
  return Buffer.from(s, 'base64').toString('hex');
}

function anyValue(v: unknown): AttributeValue {
  const value = (v ?? {}) as Json;
  if ('stringValue' in value) return str(value.stringValue);
  if ('boolValue' in value) return Boolean(value.boolValue);
  if ('intValue' in value) return num(value.intValue);
  if ('doubleValue' in value) return num(value.doubleValue);
  if ('arrayValue' in value) return list((value.arrayValue as Json).values).map(anyValue);
  if ('kvlistValue' in value) return attributes((value.kvlistValue as Json).values);
  if ('bytesValue' in value) return str(value.bytesValue);
  return null;
}

function attributes(v: unknown): Attributes {
  const out: Attributes = {};
  for (const kv of list(v)) out[str(kv.key)] = anyValue(kv.value);
  return out;
}

function scopeOf(v: unknown): { name: string; version: string } {
  const s = (v ?? {}) as Json;
  return { name: str(s.name), version: str(s.version) };
}

function* items(signal: Signal, body: Json): Generator<[Json, { resource: Attributes; scope: { name: string; version: string } }]> {
  const [resources, scopes, leaves] = NESTING[signal].fields;
  for (const r of list(body[resources])) {
    const resource = attributes((r.resource as Json | undefined)?.attributes);
    for (const s of list(r[scopes])) for (const item of list(s[leaves])) yield [item, { resource, scope: scopeOf(s.scope) }];
  }
}

function normalize(signal: Signal, body: Json, receiver: { spans: ReceivedSpan[]; metrics: ReceivedMetric[]; logs: ReceivedLog[] }): void {
  for (const [item, origin] of items(signal, body)) {
    if (signal === 'traces') {
      const status = (item.status ?? {}) as Json;
      receiver.spans.push({
        traceId: id(item.traceId),
        spanId: id(item.spanId),
        parentSpanId: id(item.parentSpanId),
        name: str(item.name),
        kind: num(item.kind),
        startTimeUnixNano: big(item.startTimeUnixNano),
        endTimeUnixNano: big(item.endTimeUnixNano),
        attributes: attributes(item.attributes),
        events: list(item.events).map((e) => ({ name: str(e.name), timeUnixNano: big(e.timeUnixNano), attributes: attributes(e.attributes) })),
        status: { code: num(status.code), message: str(status.message) },
        ...origin,
      });
    } else if (signal === 'metrics') {
      const type = (['gauge', 'sum', 'histogram', 'exponentialHistogram', 'summary'] as const).find((t) => t in item) ?? 'unknown';
      const points = type === 'unknown' ? [] : list((item[type] as Json).dataPoints);
      receiver.metrics.push({
        name: str(item.name),
        unit: str(item.unit),
        description: str(item.description),
        type,
        ...(type === 'sum' ? { monotonic: (item.sum as Json).isMonotonic === true } : {}),
        dataPoints: points.map((p) => ({
          attributes: attributes(p.attributes),
          ...('asDouble' in p || 'asInt' in p ? { value: num(p.asDouble ?? p.asInt) } : {}),
          ...('count' in p ? { count: num(p.count), sum: num(p.sum) } : {}),
        })),
        ...origin,
      });
    } else {
      receiver.logs.push({
        body: anyValue(item.body),
        severityText: str(item.severityText),
        severityNumber: num(item.severityNumber),
        eventName: str(item.eventName),
        traceId: id(item.traceId),
        spanId: id(item.spanId),
        attributes: attributes(item.attributes),
        ...origin,
      });
    }
  }
}

async function readBody(req: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > MAX_BODY_BYTES) throw new Error(`body larger than ${MAX_BODY_BYTES} bytes`);
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks);
}

export interface ReceiverOptions {
  /** Loopback and a free port unless given. */
  host?: string;
  port?: number;
  /**
   * Hands each request's spans on instead of keeping them; a rejection answers 503, which tells
   * the sender to retry. The Zipkin bridge of the native stack is such a receiver.
   */
  forward?: (spans: ReceivedSpan[]) => Promise<void>;
  /**
   * Keeps each request's bytes and decodes them only when decodePending() is called, so that a
   * benchmark's receiver takes next to no CPU from the load it measures.
   */
  lazy?: boolean;
}

export async function startOtlpReceiver({ host = '127.0.0.1', port = 0, forward, lazy = false }: ReceiverOptions = {}): Promise<OtlpReceiver> {
  const spans: ReceivedSpan[] = [];
  const metrics: ReceivedMetric[] = [];
  const logs: ReceivedLog[] = [];
  const requests: ReceivedRequest[] = [];
  const pending: Array<{ signal: Signal; contentType: string; raw: Buffer }> = [];

  let unavailable = false;

  function decode(signal: Signal, contentType: string, raw: Buffer): { spans: ReceivedSpan[]; metrics: ReceivedMetric[]; logs: ReceivedLog[] } {
    let body: Json;
    if (contentType === 'application/x-protobuf') body = decodeOtlpProtobuf(signal, raw);
    else if (contentType === 'application/json') body = JSON.parse(raw.toString('utf8')) as Json;
    else throw new Error(`unsupported content-type "${contentType}"`);
    const received = { spans: [] as ReceivedSpan[], metrics: [] as ReceivedMetric[], logs: [] as ReceivedLog[] };
    normalize(signal, body, received);
    return received;
  }
  function keep(received: ReturnType<typeof decode>): void {
    spans.push(...received.spans);
    metrics.push(...received.metrics);
    logs.push(...received.logs);
  }

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    if (unavailable) {
      // What a collector that is up but cannot take data answers: retryable, nothing accepted.
      res.writeHead(503, { 'content-type': 'text/plain' }).end('OTLP receiver: unavailable on purpose\n');
      return;
    }
    const signal = PATHS[(req.url ?? '').split('?')[0] ?? ''];
    if (req.method !== 'POST' || !signal) {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('OTLP receiver: POST /v1/traces, /v1/metrics or /v1/logs\n');
      return;
    }
    const contentType = (req.headers['content-type'] ?? '').split(';')[0]!.trim();
    const contentEncoding = req.headers['content-encoding'] ?? '';
    try {
      let raw = await readBody(req);
      if (contentEncoding === 'gzip') raw = gunzipSync(raw);
      else if (contentEncoding !== '' && contentEncoding !== 'identity') throw new Error(`unsupported content-encoding ${contentEncoding}`);
      if (lazy) {
        pending.push({ signal, contentType, raw });
        requests.push({ signal, contentType, contentEncoding, bytes: raw.length, authorization: req.headers.authorization, spanIds: [] });
        res.writeHead(200).end();
        return;
      }
      const received = decode(signal, contentType, raw);
      if (forward) {
        try {
          await forward(received.spans);
        } catch (err) {
          res.writeHead(503, { 'content-type': 'text/plain' }).end(`${(err as Error).message}\n`);
          return;
        }
      } else {
        keep(received);
        const spanIds = received.spans.map((span) => span.spanId);
        requests.push({ signal, contentType, contentEncoding, bytes: raw.length, authorization: req.headers.authorization, spanIds });
      }
      // An empty Export*ServiceResponse means "all accepted" in both encodings.
      if (contentType === 'application/json') res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
      else res.writeHead(200, { 'content-type': 'application/x-protobuf' }).end();
    } catch (err) {
      res.writeHead(400, { 'content-type': 'text/plain' }).end(`OTLP receiver could not read the request: ${(err as Error).message}\n`);
    }
  }

  const server = createServer((req, res) => void handle(req, res));
  server.listen(port, host);
  await Promise.race([once(server, 'listening'), once(server, 'error').then(([err]) => Promise.reject(err as Error))]);

  return {
    url: `http://${host}:${(server.address() as AddressInfo).port}`,
    spans,
    metrics,
    logs,
    requests,
    setAvailable(available: boolean): void {
      unavailable = !available;
    },
    decodePending(): void {
      for (const { signal, contentType, raw } of pending.splice(0)) keep(decode(signal, contentType, raw));
    },
    async close(): Promise<void> {
      server.closeAllConnections();
      server.close();
      await once(server, 'close');
    },
  };
}
