import { metrics } from '@opentelemetry/api';
import Fastify, { type FastifyInstance, type FastifyRequest } from 'fastify';

// A meter per app or library, like a tracer: its name is the scope of what it records.
const meter = metrics.getMeter('otel-steps-app');
// A number the business cares about, counted where it happens. No attributes: each distinct set
// of attribute values is a time series of its own, and this count needs none.
const greetings = meter.createCounter('app.greetings', { description: 'Greetings served by GET /', unit: '{greeting}' });

// Builds the app without listening: what a stage may change (routes, spans) lives here, and
// server.ts, the same file in every stage, listens and shuts down.
// Handlers are named functions on purpose: instrumentation uses the names in span names.
export function buildApp(): FastifyInstance {
  const app = Fastify({
    logger: {
      // Every request: Fastify logs each one as it arrives and as it completes, and the errors.
      // Each line carries the trace and span ids of the request it belongs to.
      level: process.env.LOG_LEVEL ?? 'info',
      // Fastify's own request fields, with the URL's secrets masked: a log is read by more people
      // than the ones who may see a password or a token.
      serializers: {
        req: (request: FastifyRequest) => ({
          method: request.method,
          url: withoutSecrets(request.url),
          host: request.host,
          remoteAddress: request.ip,
          remotePort: request.socket?.remotePort,
        }),
      },
    },
  });

  app.get('/', async function hello() {
    greetings.add(1);
    return 'Hello from the otel-steps Fastify app!\n';
  });

  app.get('/error', async function fail() {
    // The tutorial's deliberate failure: Fastify turns it into a 500 and keeps serving.
    throw new Error('Something went wrong on purpose');
  });

  // Health checks arrive every few seconds; their log lines would bury the real traffic.
  app.get('/healthz', { logLevel: 'silent' }, async function healthz() {
    return { status: 'ok' };
  });

  return app;
}

// Query-string parameters whose values are secrets, whatever their case: the ones that carry
// credentials in signed URLs, and the names tokens and passwords usually go by.
const SECRET_PARAMS = new Set(
  ['sig', 'signature', 'awsaccesskeyid', 'x-goog-signature', 'x-amz-signature', 'x-amz-credential', 'x-amz-security-token']
    .concat(['token', 'access_token', 'refresh_token', 'id_token', 'password', 'passwd', 'secret', 'api_key', 'apikey', 'key', 'code', 'auth']),
);

/** The URL with the value of every secret parameter replaced by REDACTED. */
function withoutSecrets(url: string): string {
  const at = url.indexOf('?');
  if (at < 0) return url;
  const params = new URLSearchParams(url.slice(at + 1));
  for (const name of new Set(params.keys())) if (SECRET_PARAMS.has(name.toLowerCase())) params.set(name, 'REDACTED');
  return `${url.slice(0, at)}?${params}`;
}
