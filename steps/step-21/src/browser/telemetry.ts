/// <reference lib="dom" />
// The page's telemetry, set up by hand with the SDK 3 packages, as src/telemetry.ts does for Node.
// The page loads this script before its own (src/browser/index.html): the fetch instrumentation
// can only wrap a fetch that nobody has called yet, as --import runs src/telemetry.ts first.
// The gateway bundles it with esbuild when it starts; nothing built is committed.
import { context, propagation, trace } from '@opentelemetry/api';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { registerInstrumentations } from '@opentelemetry/instrumentation';
import { DocumentLoadInstrumentation } from '@opentelemetry/instrumentation-document-load';
import { FetchInstrumentation } from '@opentelemetry/instrumentation-fetch';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { BatchSpanProcessor, ConsoleSpanExporter, SimpleSpanProcessor, StackContextManager, TracerProvider, type Span } from '@opentelemetry/sdk-trace';
import { ATTR_SERVICE_NAME, ATTR_URL_FULL } from '@opentelemetry/semantic-conventions';

// The gateway's own origin: the page sends its spans there (POST /v1/traces), never to the
// collector itself. The gateway checks them, names their service step-21-browser whatever the
// page says, and forwards them (src/browser.ts explains why).
const exporter = new OTLPTraceExporter({ url: new URL('/v1/traces', location.origin).href, timeoutMillis: 5_000 });

const provider = new TracerProvider({
  // What the page says it is; the gateway writes the same name over whatever arrives.
  resource: resourceFromAttributes({ [ATTR_SERVICE_NAME]: 'step-21-browser' }),
  // The same limits as the servers', and the gateway holds every post to them again.
  spanLimits: { attributeValueLengthLimit: 1024, attributeCountLimit: 64 },
  spanProcessors: [
    // In batches, every second. The browser build of this processor also flushes when the page
    // is hidden (another tab, the window minimised, closed or navigated away): that is the last
    // moment a page can be relied on to run; pagehide, below, covers the browsers that skip it.
    // A batch stays under the 64 KiB a browser lets a page send while it is being closed.
    new BatchSpanProcessor({ exporter, scheduledDelayMillis: 1_000, maxExportBatchSize: 64 }),
    // And each span to the browser's console as it ends (DevTools, Console), as the servers print
    // theirs in the terminal.
    new SimpleSpanProcessor({ exporter: new ConsoleSpanExporter() }),
  ],
});

// SDK 3 has no provider.register(), in the browser either: the globals, one by one.
trace.setGlobalTracerProvider(provider);
// A browser has no AsyncLocalStorage: this context manager keeps the active span for the
// synchronous part of a function only. A span started before the first await is a child; after
// it, it is not (src/browser/app.ts starts its fetch before awaiting anything).
context.setGlobalContextManager(new StackContextManager().enable());
// traceparent on the page's own requests, and read from the page's <meta name="traceparent">.
propagation.setGlobalPropagator(new W3CTraceContextPropagator());

registerInstrumentations({
  tracerProvider: provider,
  instrumentations: [
    // A CLIENT span per fetch, and the traceparent header that makes the gateway's SERVER span its
    // child. Only requests to this page's own origin get the header (the instrumentation's default,
    // kept: an empty list of other origins). A third-party API would learn this app's trace ids,
    // and its CORS rules would refuse a request carrying a header they do not allow.
    new FetchInstrumentation({
      propagateTraceHeaderCorsUrls: [],
      // The exporter's own posts are not traced (it sends them with tracing suppressed); this
      // keeps them out should another exporter not.
      ignoreUrls: [/\/v1\/traces$/],
      applyCustomAttributesOnSpan: (span) => withoutQuerySecrets(span),
    }),
    // The page's load as spans: documentLoad, documentFetch (the HTML) and a resourceFetch per
    // script. The page's <meta name="traceparent"> makes documentLoad a child of the gateway's
    // span for GET /, so a page load is one trace from the server to the browser.
    new DocumentLoadInstrumentation({
      applyCustomAttributesOnSpan: { documentLoad: withoutQuerySecrets, documentFetch: withoutQuerySecrets, resourceFetch: withoutQuerySecrets },
    }),
  ],
});

// A page being closed or navigated away from: send what is still held. The exporter posts with
// fetch's keepalive, which lets the request outlive the page, up to 64 KiB in flight. What is
// still being recorded then (a click's fetch that has not answered) is lost: the chapter says so.
addEventListener('pagehide', () => void provider.forceFlush());

// The query parameters whose values are secrets (the servers' list, src/app.ts): a page opened
// from a link with ?token=... must not put the token in url.full. The gateway masks them again.
const SECRET = new RegExp(
  '^(sig|signature|awsaccesskeyid|x-goog-signature|x-amz-signature|x-amz-credential|x-amz-security-token|token|access_token|refresh_token|id_token' +
    '|password|passwd|secret|api_key|apikey|key|code|auth|access-token|private_token|jwt|session|sessionid|client_secret|pwd|x-api-key|api-key|credentials' +
    '|authorization)$',
  'i',
);

/** As the servers read a name: the part after a `;`, without control characters or `[...]` (token[]); a secret by name or by a word in it. */
function isSecret(name: string): boolean {
  const bare = (name.split(';').pop() ?? '').replace(/[\u0000-\u001f\u007f-\u009f]/g, '').replace(/\[.*$/s, '');
  return SECRET.test(bare) || /token|secret|passw|credential|session|signature|private.?key|access.?key|api.?key/i.test(bare);
}

/**
 * url.full without the secrets: each secret query value masked, and the fragment dropped. A
 * fragment never reaches a server, and it is where OAuth's implicit flow puts its tokens
 * (/#access_token=...&token_type=bearer); the gateway drops fragments again.
 */
function withoutQuerySecrets(span: Span | object): void {
  const s = span as Span;
  const full = s.attributes?.[ATTR_URL_FULL];
  if (typeof full !== 'string' || !URL.canParse(full)) return;
  const url = new URL(full);
  for (const name of [...url.searchParams.keys()]) if (isSecret(name)) url.searchParams.set(name, 'REDACTED');
  url.hash = '';
  s.setAttribute(ATTR_URL_FULL, url.href);
}
