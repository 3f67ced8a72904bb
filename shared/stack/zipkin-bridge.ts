// OTLP -> Zipkin bridge of the native stack (collector/overlays/stack-native.yaml says why there
// is one). The collector sends traces over OTLP/HTTP; the test harness's OTLP receiver decodes
// them, and OpenTelemetry JS's Zipkin exporter maps them (the specification's Zipkin mapping) and
// posts them to Zipkin. When Zipkin does not take them, the bridge answers 503 and the collector
// retries, as it would with Zipkin itself.
import type { HrTime } from '@opentelemetry/api';
import { ExportResultCode } from '@opentelemetry/core';
import { ZipkinExporter } from '@opentelemetry/exporter-zipkin';
import { resourceFromAttributes } from '@opentelemetry/resources';
import type { ReadableSpan } from '@opentelemetry/sdk-trace';
import { startOtlpReceiver, type OtlpReceiver, type ReceivedSpan } from '../otlp/receiver.ts';

/** A span as Zipkin's API (v2) gives it back: what the bridge's tests and the e2e tests read. */
export interface ZipkinSpan {
  traceId: string;
  id: string;
  parentId?: string;
  name: string;
  kind?: string;
  timestamp: number;
  duration: number;
  localEndpoint: { serviceName: string };
  annotations?: { timestamp: number; value: string }[];
  tags?: Record<string, string>;
}

const hrTime = (nanos: bigint): HrTime => [Number(nanos / 1_000_000_000n), Number(nanos % 1_000_000_000n)];

/** A received span in the shape an SDK exporter takes. */
export function readableSpan(span: ReceivedSpan): ReadableSpan {
  const context = (spanId: string) => ({ traceId: span.traceId, spanId, traceFlags: 1 });
  return {
    name: span.name,
    // OTLP numbers kinds from UNSPECIFIED = 0, INTERNAL = 1; the API from INTERNAL = 0.
    kind: Math.max(0, span.kind - 1),
    spanContext: () => context(span.spanId),
    parentSpanContext: span.parentSpanId ? context(span.parentSpanId) : undefined,
    startTime: hrTime(span.startTimeUnixNano),
    endTime: hrTime(span.endTimeUnixNano),
    duration: hrTime(span.endTimeUnixNano - span.startTimeUnixNano),
    attributes: span.attributes as ReadableSpan['attributes'],
    // The exporter keeps only an event's name, so an exception arrives without its type, message
    // and stack; the name carries them instead, as the collector's own Zipkin exporter (compose)
    // writes them: `exception|{"exception.message":...}|0`, attributes sorted, then the dropped count.
    events: span.events.map((event) => ({ name: annotation(event), time: hrTime(event.timeUnixNano), attributes: {} })),
    // Zipkin shows a span as failed only with an `error` tag, which the exporter writes only for a
    // status with a message (HTTP instrumentations set none): an ERROR without one gets "ERROR".
    status: { code: span.status.code, message: span.status.message || (span.status.code === 2 ? 'ERROR' : '') },
    links: [],
    resource: resourceFromAttributes(span.resource as ReadableSpan['attributes']),
    instrumentationScope: span.scope,
    ended: true,
    droppedAttributesCount: 0,
    droppedEventsCount: 0,
    droppedLinksCount: 0,
  };
}

/** A span event as a Zipkin annotation's value: its name, and its attributes when it has any. */
function annotation(event: ReceivedSpan['events'][number]): string {
  const keys = Object.keys(event.attributes).sort();
  if (keys.length === 0) return event.name;
  return `${event.name}|${JSON.stringify(Object.fromEntries(keys.map((key) => [key, event.attributes[key]])))}|0`;
}

/** Listens on host:port for OTLP/HTTP traces and posts them to Zipkin at zipkinUrl. */
export function startZipkinBridge(options: { host: string; port: number; zipkinUrl: string; log: (line: string) => void }): Promise<OtlpReceiver> {
  const exporter = new ZipkinExporter({ url: new URL('/api/v2/spans', options.zipkinUrl).href });
  return startOtlpReceiver({
    host: options.host,
    port: options.port,
    forward: (spans) =>
      new Promise((resolve, reject) =>
        exporter.export(spans.map(readableSpan), ({ code, error }) => {
          if (code === ExportResultCode.SUCCESS) return resolve();
          options.log(`zipkin-bridge: Zipkin did not take ${spans.length} spans: ${error?.message ?? 'no reason given'}`);
          reject(new Error(`Zipkin did not take the spans: ${error?.message ?? 'no reason given'}`));
        }),
      ),
  });
}
