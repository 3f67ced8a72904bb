// OTLP -> Zipkin bridge.
//
// Receives traces as OTLP/HTTP JSON (POST /v1/traces, what the collector's
// `otlp_http` exporter sends with `encoding: json`), converts each span to
// Zipkin's JSON v2 model and posts the result to Zipkin's /api/v2/spans.
//
// Why it exists: the collector's Zipkin exporter cannot be built from the
// registries this project uses, Zipkin exporters are deprecated by the
// OpenTelemetry specification, and Zipkin's OTLP ingestion module is not
// published to Maven Central. This file is the smallest honest replacement:
// Node built-ins only, run the same way natively (`pnpm stack:native` starts it
// in-process) and in compose (a node image runs this file).
//
// Run on its own with Node >= 23.6 (type stripping):
//   node shared/stack/zipkin-bridge.ts
// Environment: ZIPKIN_BRIDGE_BIND (127.0.0.1), ZIPKIN_BRIDGE_PORT (9412),
//              ZIPKIN_URL (http://127.0.0.1:9411).
// GET /health answers 200 while the bridge runs.
//
// Mapping follows the (now deprecated) OpenTelemetry "Zipkin exporter" spec:
// ids as hex, times in microseconds, span kind, service name from the
// resource, attributes as string tags, status as otel.status_code / error,
// events as annotations, scope as otel.scope.name / otel.scope.version.

import { createServer } from 'node:http';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { gunzipSync } from 'node:zlib';
import { fileURLToPath } from 'node:url';
import { resolve } from 'node:path';

type AnyValue = {
  stringValue?: string;
  boolValue?: boolean;
  intValue?: string | number;
  doubleValue?: number;
  bytesValue?: string;
  arrayValue?: { values?: AnyValue[] };
  kvlistValue?: { values?: KeyValue[] };
};
type KeyValue = { key: string; value?: AnyValue };
type OtlpEvent = { timeUnixNano?: string | number; name?: string; attributes?: KeyValue[] };
type OtlpSpan = {
  traceId?: string;
  spanId?: string;
  parentSpanId?: string;
  name?: string;
  kind?: number | string;
  startTimeUnixNano?: string | number;
  endTimeUnixNano?: string | number;
  attributes?: KeyValue[];
  events?: OtlpEvent[];
  status?: { code?: number | string; message?: string };
};
type OtlpTraces = {
  resourceSpans?: Array<{
    resource?: { attributes?: KeyValue[] };
    scopeSpans?: Array<{ scope?: { name?: string; version?: string }; spans?: OtlpSpan[] }>;
  }>;
};

export type ZipkinEndpoint = { serviceName?: string; port?: number };
export type ZipkinSpan = {
  traceId: string;
  id: string;
  parentId?: string;
  name: string;
  kind?: 'CLIENT' | 'SERVER' | 'PRODUCER' | 'CONSUMER';
  timestamp: number;
  duration: number;
  localEndpoint: ZipkinEndpoint;
  remoteEndpoint?: ZipkinEndpoint;
  annotations?: Array<{ timestamp: number; value: string }>;
  tags: Record<string, string>;
};

function plain(value: AnyValue | undefined): unknown {
  if (value === undefined || value === null) return null;
  if (value.stringValue !== undefined) return value.stringValue;
  if (value.boolValue !== undefined) return value.boolValue;
  if (value.intValue !== undefined) return Number(value.intValue);
  if (value.doubleValue !== undefined) return value.doubleValue;
  if (value.bytesValue !== undefined) return value.bytesValue;
  if (value.arrayValue !== undefined) return (value.arrayValue.values ?? []).map(plain);
  if (value.kvlistValue !== undefined) return attributeMap(value.kvlistValue.values);
  return null;
}

function attributeMap(attributes: KeyValue[] | undefined): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const kv of attributes ?? []) out[kv.key] = plain(kv.value);
  return out;
}

function tagString(value: unknown): string {
  return typeof value === 'string' ? value : JSON.stringify(value);
}

// OTLP JSON times are nanoseconds as decimal strings; Zipkin wants microseconds.
function micros(nanos: string | number | undefined): number {
  if (nanos === undefined) return 0;
  return Number(BigInt(String(nanos)) / 1000n);
}

const KINDS: Record<string, ZipkinSpan['kind']> = {
  '2': 'SERVER',
  '3': 'CLIENT',
  '4': 'PRODUCER',
  '5': 'CONSUMER',
  SPAN_KIND_SERVER: 'SERVER',
  SPAN_KIND_CLIENT: 'CLIENT',
  SPAN_KIND_PRODUCER: 'PRODUCER',
  SPAN_KIND_CONSUMER: 'CONSUMER',
};

function statusCode(code: number | string | undefined): 'OK' | 'ERROR' | undefined {
  if (code === 1 || code === 'STATUS_CODE_OK') return 'OK';
  if (code === 2 || code === 'STATUS_CODE_ERROR') return 'ERROR';
  return undefined;
}

function remoteEndpoint(attrs: Record<string, unknown>): ZipkinEndpoint | undefined {
  const name = attrs['peer.service'] ?? attrs['server.address'] ?? attrs['net.peer.name'];
  if (typeof name !== 'string' || name === '') return undefined;
  const port = Number(attrs['server.port'] ?? attrs['net.peer.port']);
  return Number.isInteger(port) && port > 0 ? { serviceName: name, port } : { serviceName: name };
}

/** Converts an OTLP/JSON ExportTraceServiceRequest to Zipkin v2 spans. */
export function otlpToZipkin(request: OtlpTraces): ZipkinSpan[] {
  const out: ZipkinSpan[] = [];
  for (const rs of request.resourceSpans ?? []) {
    const resource = attributeMap(rs.resource?.attributes);
    const serviceName = tagString(resource['service.name'] ?? 'unknown_service');
    for (const ss of rs.scopeSpans ?? []) {
      for (const span of ss.spans ?? []) {
        if (!span.traceId || !span.spanId) continue;
        const attrs = attributeMap(span.attributes);
        const tags: Record<string, string> = {};
        for (const [key, value] of Object.entries(resource)) {
          if (key !== 'service.name') tags[key] = tagString(value);
        }
        for (const [key, value] of Object.entries(attrs)) tags[key] = tagString(value);
        if (ss.scope?.name) tags['otel.scope.name'] = ss.scope.name;
        if (ss.scope?.version) tags['otel.scope.version'] = ss.scope.version;
        const status = statusCode(span.status?.code);
        if (status) tags['otel.status_code'] = status;
        if (status === 'ERROR') tags.error = span.status?.message ?? '';

        const start = micros(span.startTimeUnixNano);
        const zipkin: ZipkinSpan = {
          traceId: span.traceId.toLowerCase(),
          id: span.spanId.toLowerCase(),
          name: span.name ?? '',
          timestamp: start,
          duration: Math.max(1, micros(span.endTimeUnixNano) - start),
          localEndpoint: { serviceName },
          tags,
        };
        if (span.parentSpanId) zipkin.parentId = span.parentSpanId.toLowerCase();
        const kind = KINDS[String(span.kind ?? '')];
        if (kind) zipkin.kind = kind;
        if (kind === 'CLIENT' || kind === 'PRODUCER') {
          const remote = remoteEndpoint(attrs);
          if (remote) zipkin.remoteEndpoint = remote;
        }
        if (span.events?.length) {
          zipkin.annotations = span.events.map((event) => {
            const eventAttrs = attributeMap(event.attributes);
            const name = event.name ?? '';
            const value = Object.keys(eventAttrs).length ? JSON.stringify({ [name]: eventAttrs }) : name;
            return { timestamp: micros(event.timeUnixNano), value };
          });
        }
        out.push(zipkin);
      }
    }
  }
  return out;
}

const MAX_BODY = 16 * 1024 * 1024;

function readBody(req: IncomingMessage): Promise<Buffer> {
  return new Promise((resolveBody, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > MAX_BODY) {
        reject(new Error('request body too large'));
        req.destroy();
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => resolveBody(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

function reply(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify(body));
}

export type ZipkinBridgeOptions = {
  host?: string;
  port?: number;
  /** Zipkin base URL, e.g. http://127.0.0.1:9411 */
  zipkinUrl?: string;
  log?: (line: string) => void;
};

export type ZipkinBridge = { url: string; close(): Promise<void> };

async function handleTraces(req: IncomingMessage, res: ServerResponse, spansUrl: string): Promise<void> {
  const type = String(req.headers['content-type'] ?? '');
  if (!type.includes('json')) {
    reply(res, 415, { message: 'send OTLP/HTTP JSON (otlp_http exporter with encoding: json)' });
    return;
  }
  let body = await readBody(req);
  if (String(req.headers['content-encoding'] ?? '').includes('gzip')) body = gunzipSync(body);
  const spans = otlpToZipkin(JSON.parse(body.toString('utf8')) as OtlpTraces);
  if (spans.length > 0) {
    const upstream = await fetch(spansUrl, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(spans),
    });
    if (!upstream.ok) {
      // 503 makes the collector retry later.
      reply(res, 503, { message: `zipkin answered ${upstream.status}` });
      return;
    }
  }
  reply(res, 200, {});
}

/** Starts the bridge; resolves once it listens. */
export function startZipkinBridge(options: ZipkinBridgeOptions = {}): Promise<ZipkinBridge> {
  const host = options.host ?? '127.0.0.1';
  const port = options.port ?? 9412;
  const spansUrl = new URL('/api/v2/spans', options.zipkinUrl ?? 'http://127.0.0.1:9411').href;
  const log = options.log ?? ((line: string) => console.error(line));
  const server: Server = createServer((req, res) => {
    const path = (req.url ?? '').split('?')[0];
    if (req.method === 'GET' && path === '/health') {
      reply(res, 200, { status: 'UP', zipkin: spansUrl });
      return;
    }
    if (req.method !== 'POST' || path !== '/v1/traces') {
      reply(res, 404, { message: 'POST /v1/traces or GET /health' });
      return;
    }
    handleTraces(req, res, spansUrl).catch((error: unknown) => {
      // fetch() throws a TypeError when Zipkin is unreachable: 503, so the
      // collector retries. Anything else (bad JSON...) is the sender's fault.
      const unreachable = error instanceof TypeError;
      const message = `${unreachable ? `Zipkin unreachable at ${spansUrl}: ` : ''}${error instanceof Error ? error.message : String(error)}`;
      log(`zipkin-bridge: ${message}`);
      if (!res.headersSent) reply(res, unreachable ? 503 : 400, { message });
    });
  });
  return new Promise((resolveStart, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      // The port actually bound: port 0 picks a free one.
      const url = `http://${host}:${(server.address() as AddressInfo).port}`;
      log(`zipkin-bridge: listening on ${url}/v1/traces, forwarding to ${spansUrl}`);
      resolveStart({
        url,
        close: () => new Promise<void>((done) => server.close(() => done())),
      });
    });
  });
}

const isMain = process.argv[1] !== undefined && resolve(process.argv[1]) === fileURLToPath(import.meta.url);
if (isMain) {
  const bridge = await startZipkinBridge({
    host: process.env.ZIPKIN_BRIDGE_BIND ?? '127.0.0.1',
    port: Number(process.env.ZIPKIN_BRIDGE_PORT ?? 9412),
    zipkinUrl: process.env.ZIPKIN_URL ?? 'http://127.0.0.1:9411',
    log: (line) => console.log(line),
  });
  const stop = (): void => {
    bridge.close().then(() => process.exit(0));
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
}
