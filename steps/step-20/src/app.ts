import { context, metrics, propagation, trace } from '@opentelemetry/api';
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';

// Which of the three services this process is: src/services.ts starts one of each, and tells
// each where the others listen. gateway calls greeter, greeter calls words.
const SERVICE = process.env.SERVICE ?? 'gateway';
if (!['gateway', 'greeter', 'words'].includes(SERVICE)) throw new Error(`SERVICE must be gateway, greeter or words, got "${SERVICE}"`);
const GREETER_URL = process.env.GREETER_URL ?? 'http://127.0.0.1:3031';
const WORDS_URL = process.env.WORDS_URL ?? 'http://127.0.0.1:3032';
// The tiers a caller may claim. Baggage is bounded like a metric attribute: a header copied into
// it as it came would travel to every service downstream, whatever a stranger put there.
const TIERS = new Set(['free', 'pro']);

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

  if (SERVICE === 'gateway') {
    app.get('/', async function hello(request, reply) {
      const claimed = String(request.headers['x-user-tier'] ?? '');
      const greeting = await fromTheEdge(`${GREETER_URL}/greeting`, { 'user.tier': { value: TIERS.has(claimed) ? claimed : 'free' } });
      if (greeting.ok) greetings.add(1);
      return relay(greeting, reply);
    });
    app.get('/error', async function fail(_request, reply) {
      return relay(await fromTheEdge(`${GREETER_URL}/error`), reply);
    });
  }

  if (SERVICE === 'greeter') {
    app.get('/greeting', async function greeting(_request, reply) {
      const word = await fetch(`${WORDS_URL}/word`);
      if (!word.ok) return relay(word, reply);
      return `${await word.text()} from the otel-steps Fastify app!\n`;
    });
    app.get('/error', async function fail(_request, reply) {
      return relay(await fetch(`${WORDS_URL}/error`), reply);
    });
  }

  if (SERVICE === 'words') {
    app.get('/word', async function word() {
      recordTier();
      return 'Hello';
    });
    app.get('/error', async function fail() {
      recordTier();
      // The tutorial's deliberate failure, in the deepest service: a 500 that every hop passes on.
      throw new Error('Something went wrong on purpose');
    });
  }

  // Health checks arrive every few seconds; their log lines would bury the real traffic.
  app.get('/healthz', { logLevel: 'silent' }, async function healthz() {
    return { status: 'ok' };
  });

  return app;
}

/**
 * The gateway's calls downstream, with the baggage it sets and nothing else. Baggage is a set of
 * key-value pairs that travels with the trace context, in the `baggage` header, to every service
 * the request reaches, however deep; the one a caller sent is dropped here, at the edge.
 */
function fromTheEdge(url: string, entries: Record<string, { value: string }> = {}): Promise<Response> {
  return context.with(propagation.setBaggage(context.active(), propagation.createBaggage(entries)), () => fetch(url));
}

/** The tier the gateway put in the baggage, two services up, recorded on the span where it is used. */
function recordTier(): void {
  const tier = propagation.getActiveBaggage()?.getEntry('user.tier')?.value;
  if (tier) trace.getActiveSpan()?.setAttribute('user.tier', tier);
}

/** Answers with what the service downstream answered: its status, type and body. */
async function relay(answer: Response, reply: FastifyReply): Promise<string> {
  reply.code(answer.status).type(answer.headers.get('content-type') ?? 'text/plain');
  return answer.text();
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
