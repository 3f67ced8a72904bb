// Adds Fastify's own spans to the zero-code set-up without touching the app. Preloaded after
// @opentelemetry/auto-instrumentations-node/register, which has already started the SDK and set
// the global tracer provider that this instrumentation picks up.
import { FastifyOtelInstrumentation } from '@fastify/otel';
import { registerInstrumentations } from '@opentelemetry/instrumentation';
import { ATTR_URL_PATH } from '@opentelemetry/semantic-conventions';

registerInstrumentations({
  // registerOnInitialization adds the plugin to every Fastify instance the app creates; the
  // paths to leave out come from OTEL_FASTIFY_IGNORE_PATHS in otel.env.
  instrumentations: [
    new FastifyOtelInstrumentation({
      registerOnInitialization: true,
      // It records the raw request URL, query string and all, as url.path: keep the path only.
      requestHook: (span, request) => span.setAttribute(ATTR_URL_PATH, request.url.split('?')[0]!),
    }),
  ],
});
