// shared/stack/zipkin-bridge.ts hands the native collector's traces to Zipkin. The end-to-end tests
// see its output in a real Zipkin; here what it posts and how it fails are pinned down, with the
// SDK's own OTLP serializer as input and a local HTTP server standing in for Zipkin.
import { once } from 'node:events';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { context, SpanKind, SpanStatusCode, trace } from '@opentelemetry/api';
import { ProtobufTraceSerializer } from '@opentelemetry/otlp-transformer';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { InMemorySpanExporter, SimpleSpanProcessor, TracerProvider } from '@opentelemetry/sdk-trace';
import { expect, it } from 'vitest';
import { startZipkinBridge, type ZipkinSpan } from './zipkin-bridge.ts';

function otlpProtobuf(): Uint8Array {
  const exporter = new InMemorySpanExporter();
  const provider = new TracerProvider({
    resource: resourceFromAttributes({ 'service.name': 'bridge-test', 'host.name': 'h1' }),
    spanProcessors: [new SimpleSpanProcessor({ exporter })],
  });
  const tracer = provider.getTracer('bridge-scope', '0.1.0');
  const server = tracer.startSpan('GET /error', { kind: SpanKind.SERVER, attributes: { 'http.route': '/error', 'http.response.status_code': 500 } });
  const child = tracer.startSpan('handler', {}, trace.setSpan(context.active(), server));
  child.recordException(Object.assign(new Error('boom'), { stack: 'Error: boom\n    at handler (app.ts:1:1)' }));
  child.addEvent('cache.miss');
  child.end();
  server.setStatus({ code: SpanStatusCode.ERROR, message: 'failed' });
  server.end();
  return ProtobufTraceSerializer.serializeRequest(exporter.getFinishedSpans())!;
}

async function fakeZipkin(status: number): Promise<{ url: string; received: ZipkinSpan[]; close(): void }> {
  const received: ZipkinSpan[] = [];
  const server = createServer(async (req, res) => {
    let body = '';
    for await (const chunk of req) body += chunk;
    if (req.url === '/api/v2/spans' && status < 300) received.push(...(JSON.parse(body) as ZipkinSpan[]));
    res.writeHead(status).end();
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, received, close: () => server.close() };
}

async function withBridge(zipkinUrl: string, test: (post: () => Promise<number>, log: string[]) => Promise<void>): Promise<void> {
  const log: string[] = [];
  const bridge = await startZipkinBridge({ host: '127.0.0.1', port: 0, zipkinUrl, log: (line) => log.push(line) });
  const post = async (): Promise<number> =>
    (await fetch(`${bridge.url}/v1/traces`, { method: 'POST', body: Buffer.from(otlpProtobuf()), headers: { 'content-type': 'application/x-protobuf' } })).status;
  try {
    await test(post, log);
  } finally {
    await bridge.close();
  }
}

it('posts the spans to Zipkin with ids, parent, kind, service, times, tags, error and annotations', async () => {
  const zipkin = await fakeZipkin(202);
  await withBridge(zipkin.url, async (post) => {
    expect(await post()).toBe(200);
    const server = zipkin.received.find((s) => s.name === 'GET /error')!;
    const child = zipkin.received.find((s) => s.name === 'handler')!;
    expect(server).toMatchObject({ kind: 'SERVER', localEndpoint: { serviceName: 'bridge-test' } });
    expect(server.traceId).toMatch(/^[0-9a-f]{32}$/);
    expect(server.parentId).toBeUndefined();
    expect(child).toMatchObject({ traceId: server.traceId, parentId: server.id });
    // An event keeps its attributes, as the collector's Zipkin exporter writes them: the exception's
    // type, message and stack show in Zipkin's UI; an event without attributes is its name alone.
    expect(child.annotations!.map((a) => a.value)).toEqual([
      'exception|{"exception.message":"boom","exception.stacktrace":"Error: boom\\n    at handler (app.ts:1:1)","exception.type":"Error"}|0',
      'cache.miss',
    ]);
    expect(child.kind).toBeUndefined();
    expect(server.timestamp).toBeGreaterThan(1_600_000_000_000_000);
    expect(server.timestamp).toBeLessThan(10_000_000_000_000_000);
    expect(server.tags).toMatchObject({ 'http.route': '/error', 'http.response.status_code': '500', 'host.name': 'h1', 'otel.status_code': 'ERROR', error: 'failed' });
    expect(child.tags?.error).toBeUndefined();
  });
  zipkin.close();
});

it('answers 503 while Zipkin fails or is down, so the collector retries, and says so', async () => {
  const zipkin = await fakeZipkin(500);
  await withBridge(zipkin.url, async (post, log) => {
    expect(await post()).toBe(503);
    zipkin.close();
    expect(await post()).toBe(503);
    expect(log).toHaveLength(2);
    expect(log[0]).toMatch(/^zipkin-bridge: Zipkin did not take 2 spans: /);
  });
});
