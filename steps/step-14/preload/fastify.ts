// Adds Fastify's own spans to the zero-code set-up without touching the app. Preloaded after
// @opentelemetry/auto-instrumentations-node/register, which has already started the SDK and set
// the global tracer provider that this instrumentation picks up.
import { FastifyOtelInstrumentation } from '@fastify/otel';
import { registerInstrumentations } from '@opentelemetry/instrumentation';

registerInstrumentations({
  // registerOnInitialization adds the plugin to every Fastify instance the app creates; the
  // paths to leave out come from OTEL_FASTIFY_IGNORE_PATHS in otel.env.
  instrumentations: [new FastifyOtelInstrumentation({ registerOnInitialization: true })],
});
