// The receiver is what every stage test trusts, so it is tested against the real OTLP
// serializers of the SDK: protobuf and JSON, gzip, traces, metrics and logs, and bad input.
import { gzipSync } from 'node:zlib';
import { context, SeverityNumber, SpanStatusCode, trace } from '@opentelemetry/api';
import {
  JsonLogsSerializer,
  JsonMetricsSerializer,
  JsonTraceSerializer,
  ProtobufLogsSerializer,
  ProtobufMetricsSerializer,
  ProtobufTraceSerializer,
} from '@opentelemetry/otlp-transformer';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { InMemoryLogRecordExporter, LoggerProvider, SimpleLogRecordProcessor } from '@opentelemetry/sdk-logs';
import { MeterProvider, MetricReader } from '@opentelemetry/sdk-metrics';
import { InMemorySpanExporter, SimpleSpanProcessor, TracerProvider } from '@opentelemetry/sdk-trace';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { SpanKind, startOtlpReceiver, StatusCode, type OtlpReceiver } from './receiver.ts';

const resource = resourceFromAttributes({ 'service.name': 'receiver-test', 'deployment.tier': 3 });

function makeSpans() {
  const exporter = new InMemorySpanExporter();
  const provider = new TracerProvider({ resource, spanProcessors: [new SimpleSpanProcessor({ exporter })] });
  const tracer = provider.getTracer('receiver-test-scope', '1.2.3');
  const parent = tracer.startSpan('parent', { kind: 1 /* SERVER */ });
  parent.setAttributes({ 'http.route': '/x', 'http.response.status_code': 500, ratio: 0.5, ok: false, tags: ['a', 'b'] });
  // No context manager in this test: the parent is passed explicitly.
  const child = tracer.startSpan('child', {}, trace.setSpan(context.active(), parent));
  child.addEvent('something', { 'exception.message': 'boom' });
  child.end();
  parent.setStatus({ code: SpanStatusCode.ERROR, message: 'failed' });
  parent.end();
  return exporter.getFinishedSpans();
}

class CollectOnce extends MetricReader {
  protected async onForceFlush(): Promise<void> {}
  protected async onShutdown(): Promise<void> {}
}

async function makeMetrics() {
  const reader = new CollectOnce();
  const provider = new MeterProvider({ resource, readers: [reader] });
  const meter = provider.getMeter('receiver-test-meter');
  meter.createCounter('requests', { unit: '{request}' }).add(3, { route: '/' });
  meter.createHistogram('duration', { unit: 'ms' }).record(12.5);
  meter.createGauge('temperature').record(-4);
  const { resourceMetrics } = await reader.collect();
  return resourceMetrics;
}

function makeLogs() {
  const exporter = new InMemoryLogRecordExporter();
  const provider = new LoggerProvider({ resource, processors: [new SimpleLogRecordProcessor({ exporter })] });
  provider.getLogger('receiver-test-logger').emit({ severityNumber: SeverityNumber.WARN, severityText: 'WARN', body: 'disk almost full', attributes: { free: 12 } });
  return exporter.getFinishedLogRecords();
}

async function post(receiver: OtlpReceiver, path: string, body: Uint8Array | string, headers: Record<string, string>): Promise<{ status: number; text: string }> {
  const res = await fetch(`${receiver.url}${path}`, { method: 'POST', body: typeof body === 'string' ? body : Buffer.from(body), headers });
  return { status: res.status, text: await res.text() };
}

const encodings = [
  { name: 'protobuf', type: 'application/x-protobuf', traces: ProtobufTraceSerializer, metrics: ProtobufMetricsSerializer, logs: ProtobufLogsSerializer },
  { name: 'JSON', type: 'application/json', traces: JsonTraceSerializer, metrics: JsonMetricsSerializer, logs: JsonLogsSerializer },
];

describe.each(encodings)('OTLP receiver, $name', (encoding) => {
  let receiver: OtlpReceiver;
  beforeEach(async () => {
    receiver = await startOtlpReceiver();
  });
  afterEach(async () => {
    await receiver.close();
  });

  it('decodes traces: ids, names, kinds, parent/child, attributes, events, status, resource, scope', async () => {
    const spans = makeSpans();
    const res = await post(receiver, '/v1/traces', encoding.traces.serializeRequest(spans)!, { 'content-type': encoding.type });
    expect(res.status).toBe(200);
    const parent = receiver.spans.find((s) => s.name === 'parent')!;
    const child = receiver.spans.find((s) => s.name === 'child')!;
    expect(parent.spanId).toBe(spans.find((s) => s.name === 'parent')!.spanContext().spanId);
    expect(child).toMatchObject({ traceId: parent.traceId, parentSpanId: parent.spanId, kind: SpanKind.INTERNAL });
    expect(parent).toMatchObject({
      kind: SpanKind.SERVER,
      attributes: { 'http.route': '/x', 'http.response.status_code': 500, ratio: 0.5, ok: false, tags: ['a', 'b'] },
      status: { code: StatusCode.ERROR, message: 'failed' },
      resource: { 'service.name': 'receiver-test', 'deployment.tier': 3 },
      scope: { name: 'receiver-test-scope', version: '1.2.3' },
    });
    expect(child.events).toMatchObject([{ name: 'something', attributes: { 'exception.message': 'boom' } }]);
    expect(parent.endTimeUnixNano).toBeGreaterThanOrEqual(parent.startTimeUnixNano);
    expect(parent.startTimeUnixNano).toBeGreaterThan(1_600_000_000_000_000_000n);
  });

  it('decodes metrics: sums, histograms and gauges with their points', async () => {
    const res = await post(receiver, '/v1/metrics', encoding.metrics.serializeRequest(await makeMetrics())!, { 'content-type': encoding.type });
    expect(res.status).toBe(200);
    const byName = Object.fromEntries(receiver.metrics.map((m) => [m.name, m]));
    expect(byName.requests).toMatchObject({ type: 'sum', unit: '{request}', dataPoints: [{ value: 3, attributes: { route: '/' } }] });
    expect(byName.duration).toMatchObject({ type: 'histogram', unit: 'ms', dataPoints: [{ count: 1, sum: 12.5 }] });
    expect(byName.temperature).toMatchObject({ type: 'gauge', dataPoints: [{ value: -4 }] });
    expect(byName.requests!.resource['service.name']).toBe('receiver-test');
  });

  it('decodes logs: body, severity and attributes', async () => {
    const res = await post(receiver, '/v1/logs', encoding.logs.serializeRequest(makeLogs())!, { 'content-type': encoding.type });
    expect(res.status).toBe(200);
    expect(receiver.logs).toMatchObject([{ body: 'disk almost full', severityText: 'WARN', severityNumber: SeverityNumber.WARN, attributes: { free: 12 } }]);
  });

  it('accepts gzip-compressed bodies', async () => {
    const body = gzipSync(encoding.traces.serializeRequest(makeSpans())!);
    expect((await post(receiver, '/v1/traces', body, { 'content-type': encoding.type, 'content-encoding': 'gzip' })).status).toBe(200);
    expect(receiver.spans.map((s) => s.name).sort()).toEqual(['child', 'parent']);
  });
});

describe('OTLP receiver, bad input', () => {
  it('answers 400 with a reason, keeps nothing, and keeps serving', async () => {
    const receiver = await startOtlpReceiver();
    try {
      const garbage = await post(receiver, '/v1/traces', new Uint8Array([0x0a, 0xff, 0xff, 0xff]), { 'content-type': 'application/x-protobuf' });
      expect(garbage.status).toBe(400);
      expect(garbage.text).toMatch(/could not read the request: index out of range/);
      expect((await post(receiver, '/v1/traces', '{not json', { 'content-type': 'application/json' })).status).toBe(400);
      expect((await post(receiver, '/v1/traces', 'x', { 'content-type': 'text/plain' })).text).toMatch(/unsupported content-type "text\/plain"/);
      expect((await post(receiver, '/v1/nope', 'x', { 'content-type': 'application/json' })).status).toBe(404);
      expect(receiver.requests).toEqual([]);
      const ok = await post(receiver, '/v1/traces', ProtobufTraceSerializer.serializeRequest(makeSpans())!, { 'content-type': 'application/x-protobuf' });
      expect(ok.status).toBe(200);
    } finally {
      await receiver.close();
    }
  });
});
