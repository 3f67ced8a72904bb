// shared/stack/zipkin-bridge.ts hands the collector's traces to Zipkin. The end-to-end tests see
// its output in a real Zipkin; here its mapping and its failure modes are pinned down, with the
// SDK's own OTLP/JSON serializer as input and a local HTTP server standing in for Zipkin.
import { once } from 'node:events';
import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { context, SpanKind, SpanStatusCode, trace } from '@opentelemetry/api';
import { JsonTraceSerializer } from '@opentelemetry/otlp-transformer';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { InMemorySpanExporter, SimpleSpanProcessor, TracerProvider } from '@opentelemetry/sdk-trace';
import { describe, expect, it } from 'vitest';
import { otlpToZipkin, startZipkinBridge, type ZipkinSpan } from './zipkin-bridge.ts';

function otlpJson(): Uint8Array {
  const exporter = new InMemorySpanExporter();
  const provider = new TracerProvider({
    resource: resourceFromAttributes({ 'service.name': 'bridge-test', 'host.name': 'h1' }),
    spanProcessors: [new SimpleSpanProcessor({ exporter })],
  });
  const tracer = provider.getTracer('bridge-scope', '0.1.0');
  const server = tracer.startSpan('GET /error', { kind: SpanKind.SERVER, attributes: { 'http.route': '/error', 'http.response.status_code': 500 } });
  const client = tracer.startSpan('lookup', { kind: SpanKind.CLIENT, attributes: { 'server.address': 'db', 'server.port': 5432 } }, trace.setSpan(context.active(), server));
  client.addEvent('exception', { 'exception.message': 'boom' });
  client.end();
  server.setStatus({ code: SpanStatusCode.ERROR, message: 'failed' });
  server.end();
  return JsonTraceSerializer.serializeRequest(exporter.getFinishedSpans())!;
}

describe('OTLP to Zipkin mapping', () => {
  const spans = otlpToZipkin(JSON.parse(Buffer.from(otlpJson()).toString('utf8')));
  const byName = (name: string): ZipkinSpan => spans.find((s) => s.name === name)!;

  it('keeps ids, parent, kind and service, with times in microseconds', () => {
    const server = byName('GET /error');
    const client = byName('lookup');
    expect(server).toMatchObject({ kind: 'SERVER', localEndpoint: { serviceName: 'bridge-test' } });
    expect(server.traceId).toMatch(/^[0-9a-f]{32}$/);
    expect(server.parentId).toBeUndefined();
    expect(client).toMatchObject({ kind: 'CLIENT', traceId: server.traceId, parentId: server.id, remoteEndpoint: { serviceName: 'db', port: 5432 } });
    expect(server.timestamp).toBeGreaterThan(1_600_000_000_000_000);
    expect(server.timestamp).toBeLessThan(10_000_000_000_000_000);
    expect(server.duration).toBeGreaterThanOrEqual(1);
  });

  it('turns attributes, resource and scope into string tags, and an ERROR status into the error tag', () => {
    expect(byName('GET /error').tags).toMatchObject({
      'http.route': '/error',
      'http.response.status_code': '500',
      'host.name': 'h1',
      'otel.scope.name': 'bridge-scope',
      'otel.scope.version': '0.1.0',
      'otel.status_code': 'ERROR',
      error: 'failed',
    });
    expect(byName('lookup').tags.error).toBeUndefined();
  });

  it('turns events into annotations', () => {
    expect(byName('lookup').annotations).toEqual([{ timestamp: expect.any(Number), value: '{"exception":{"exception.message":"boom"}}' }]);
  });
});

describe('OTLP to Zipkin bridge over HTTP', () => {
  async function fakeZipkin(status: number): Promise<{ url: string; received: ZipkinSpan[][]; close(): void }> {
    const received: ZipkinSpan[][] = [];
    const server = createServer(async (req: IncomingMessage, res) => {
      let body = '';
      for await (const chunk of req) body += chunk;
      if (req.url === '/api/v2/spans') received.push(JSON.parse(body) as ZipkinSpan[]);
      res.writeHead(status).end();
    });
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, received, close: () => server.close() };
  }
  const post = (url: string, body: Uint8Array, type = 'application/json'): Promise<Response> =>
    fetch(`${url}/v1/traces`, { method: 'POST', body: Buffer.from(body), headers: { 'content-type': type } });

  it('posts the converted spans to Zipkin and answers 200', async () => {
    const zipkin = await fakeZipkin(202);
    const bridge = await startZipkinBridge({ port: 0, zipkinUrl: zipkin.url, log: () => {} });
    try {
      expect((await post(bridge.url, otlpJson())).status).toBe(200);
      expect(zipkin.received.flat().map((s) => s.name).sort()).toEqual(['GET /error', 'lookup']);
    } finally {
      await bridge.close();
      zipkin.close();
    }
  });

  it('answers 503 while Zipkin fails or is down, so the collector retries', async () => {
    const zipkin = await fakeZipkin(500);
    const bridge = await startZipkinBridge({ port: 0, zipkinUrl: zipkin.url, log: () => {} });
    try {
      expect((await post(bridge.url, otlpJson())).status).toBe(503);
      zipkin.close();
      expect((await post(bridge.url, otlpJson())).status).toBe(503);
    } finally {
      await bridge.close();
    }
  });

  it('refuses protobuf with 415 and bad JSON with 400', async () => {
    const bridge = await startZipkinBridge({ port: 0, zipkinUrl: 'http://127.0.0.1:9', log: () => {} });
    try {
      expect((await post(bridge.url, new Uint8Array([1]), 'application/x-protobuf')).status).toBe(415);
      expect((await post(bridge.url, new TextEncoder().encode('{nope'))).status).toBe(400);
    } finally {
      await bridge.close();
    }
  });
});
