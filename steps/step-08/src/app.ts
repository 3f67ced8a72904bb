import { SpanStatusCode, trace } from '@opentelemetry/api';
import Fastify, { type FastifyInstance } from 'fastify';

// The tracer comes from the provider that telemetry.ts registered before this module loaded.
const tracer = trace.getTracer('step-08-app');

// Builds the app without listening, so tests and server.ts share one definition.
// Handlers are named functions on purpose: instrumentation uses the names in span names.
export function buildApp(): FastifyInstance {
  const app = Fastify({
    // Only warnings and errors: the 500 from /error is logged, routine requests are not.
    logger: { level: process.env.LOG_LEVEL ?? 'warn' },
  });

  app.get('/', async function hello() {
    return tracer.startActiveSpan('hello', (span) => {
      try {
        span.addEvent('greeting.built');
        return 'Hello from the otel-steps Fastify app!\n';
      } finally {
        span.end();
      }
    });
  });

  app.get('/error', async function fail() {
    return tracer.startActiveSpan('fail', (span) => {
      try {
        span.addEvent('failure.requested');
        // The tutorial's deliberate failure: Fastify turns it into a 500 and keeps serving.
        throw new Error('Something went wrong on purpose');
      } catch (err) {
        // The span keeps the exception (type, message, stack) and says the operation failed.
        span.recordException(err as Error);
        span.setStatus({ code: SpanStatusCode.ERROR, message: (err as Error).message });
        throw err;
      } finally {
        span.end();
      }
    });
  });

  // No span: load balancers call this every few seconds, and those traces would bury real traffic.
  app.get('/healthz', async function healthz() {
    return { status: 'ok' };
  });

  return app;
}
