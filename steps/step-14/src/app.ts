import Fastify, { type FastifyInstance } from 'fastify';

// Builds the app without listening, so tests and server.ts share one definition.
// Handlers are named functions on purpose: instrumentation uses the names in span names.
export function buildApp(): FastifyInstance {
  const app = Fastify({
    // Only warnings and errors: the 500 from /error is logged, routine requests are not.
    logger: { level: process.env.LOG_LEVEL ?? 'warn' },
  });

  app.get('/', async function hello() {
    return 'Hello from the otel-steps Fastify app!\n';
  });

  app.get('/error', async function fail() {
    // The tutorial's deliberate failure: Fastify turns it into a 500 and keeps serving.
    throw new Error('Something went wrong on purpose');
  });

  app.get('/healthz', async function healthz() {
    return { status: 'ok' };
  });

  return app;
}
