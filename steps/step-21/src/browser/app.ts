/// <reference lib="dom" />
// The page's own script: two buttons that call the gateway's API with fetch, and show what it
// answered. Its one piece of tracing is the span for the click, which src/browser/telemetry.ts
// (loaded first) exports; the fetch inside it is traced by the fetch instrumentation, and the
// traceparent header it adds carries the trace on to the gateway, greeter and words.
import { SpanStatusCode, trace } from '@opentelemetry/api';

// A tracer per app or library, like the servers' (its name is the scope of the spans).
const tracer = trace.getTracer('otel-steps-page');
const answer = document.querySelector<HTMLOutputElement>('#answer')!;
const traceId = document.querySelector<HTMLElement>('#trace-id')!;

/**
 * What one button does: a span named after the click, the root of the trace, with the fetch's
 * CLIENT span as its child. fetch() is called before anything is awaited: in a browser the active
 * span lasts for the synchronous part of the callback only (the StackContextManager), and the
 * fetch instrumentation starts its span, and writes traceparent, as fetch is called.
 */
function onClick(button: string, path: string): void {
  document.querySelector(`#${button}`)!.addEventListener('click', () => {
    tracer.startActiveSpan(`click ${button}`, (span) => {
      answer.value = '…';
      // The click's trace id, to paste into Zipkin's or Jaeger's search.
      traceId.textContent = span.spanContext().traceId;
      fetch(path)
        .then(async (response) => {
          const text = await response.text();
          answer.value = response.ok ? text : `${response.status}: ${text}`;
          answer.dataset.status = String(response.status);
          if (!response.ok) span.setStatus({ code: SpanStatusCode.ERROR, message: `the gateway answered ${response.status}` });
        })
        .catch((err: Error) => {
          // No answer at all (the gateway stopped, the network gone): the page says so.
          answer.value = `no answer: ${err.message}`;
          answer.dataset.status = 'failed';
          span.recordException(err);
          span.setStatus({ code: SpanStatusCode.ERROR, message: err.message });
        })
        .finally(() => span.end());
    });
  });
}

onClick('greet', '/');
onClick('fail', '/error');
