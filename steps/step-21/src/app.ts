import { context, metrics, propagation, trace } from '@opentelemetry/api';
import Fastify, { type FastifyError, type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import { asksForThePage, forTheBrowser, thePage } from './browser.ts';

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

// How long a client has to send its whole request, body included, before Node answers 408 and
// closes the connection: 10 s, room for the slowest network, where a request is a few hundred
// bytes, or the page's batch of spans (64 KiB at most, src/browser.ts). Fastify's default, 0, is
// no limit: a POST whose body never ends holds its connection for good, and a few hundred of
// those leave none for anyone else.
// REQUEST_TIMEOUT_MS changes it (the tests use 5 s, rather than wait 10).
const REQUEST_TIMEOUT_MS = Number(process.env.REQUEST_TIMEOUT_MS || 10_000);
if (!Number.isSafeInteger(REQUEST_TIMEOUT_MS) || REQUEST_TIMEOUT_MS < 1) {
  throw new Error(`REQUEST_TIMEOUT_MS must be a whole number of milliseconds, got "${process.env.REQUEST_TIMEOUT_MS}"`);
}

// Builds the app without listening: what a stage may change (routes, spans) lives here, and
// server.ts, the same file in every stage, listens and shuts down.
// Handlers are named functions on purpose: instrumentation uses the names in span names.
export function buildApp(): FastifyInstance {
  const app = Fastify({
    // The headers get half of that. Both limits are set, the headers' the shorter: Node swaps them
    // otherwise, and its default for the headers, 60 s, would become the whole request's. Node
    // looks for late requests every tenth of the limit (by default, every 30 s).
    requestTimeout: REQUEST_TIMEOUT_MS,
    http: { headersTimeout: Math.ceil(REQUEST_TIMEOUT_MS / 2), connectionsCheckingInterval: Math.ceil(REQUEST_TIMEOUT_MS / 10) },
    // An idle connection between two requests is closed after as long as the headers get: 5 s,
    // Node's own default. Fastify's, 72 s, outlasts a cloud load balancer's idle timeout (60 s),
    // which these stages never sit behind; meanwhile every idle client held a connection open.
    keepAliveTimeout: Math.ceil(REQUEST_TIMEOUT_MS / 2),
    logger: {
      // Every request: Fastify logs each one as it arrives and as it completes, and the errors.
      // Each line carries the trace and span ids of the request it belongs to.
      level: process.env.LOG_LEVEL ?? 'info',
      // Fastify's own request fields, and an error's own: what a reader needs and nothing more.
      // Pino would print every field of an error, and Node attaches the raw bytes of a request it
      // refuses (431, 400) to its error as rawPacket: its headers, cookies and all.
      serializers: {
        req: (request: FastifyRequest) => ({
          method: request.method,
          url: request.url,
          host: request.host,
          remoteAddress: request.ip,
          remotePort: request.socket?.remotePort,
        }),
        err: (err: FastifyError) => ({ type: err.name, message: err.message, stack: err.stack ?? '', code: err.code, statusCode: err.statusCode }),
      },
      // Every line passes through here on its way out, whoever wrote it: Fastify's own messages
      // carry the raw URL too ("Route GET:/x?token=... not found"), and an error's may. A log is
      // read by more people than the ones who may see a password or a token.
      // It also writes DEL and the C1 control characters (U+0080 to U+009F) as \u escapes, as JSON
      // does the C0 ones: U+009B is a terminal's escape sequence introducer, and a header or a page may carry it.
      hooks: { streamWrite: (line) => withoutControls(withoutSecrets(line)) },
    },
  });

  if (SERVICE === 'gateway') {
    // The page, its scripts, and the route its spans arrive by (src/browser.ts).
    app.register(forTheBrowser, { withoutSecrets });
    app.get('/', async function hello(request, reply) {
      // A browser asking for a page gets the page, whose buttons call this same route.
      if (asksForThePage(request)) return thePage(reply);
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
    .concat(['token', 'access_token', 'refresh_token', 'id_token', 'password', 'passwd', 'secret', 'api_key', 'apikey', 'key', 'code', 'auth'])
    .concat(['access-token', 'private_token', 'jwt', 'session', 'sessionid', 'client_secret', 'pwd', 'x-api-key', 'api-key', 'credentials', 'authorization']),
);
// And every name with one of these in it (auth_token, session_id, private_key...): no list of
// whole names is ever complete.
const SECRET_WORDS = /token|secret|passw|credential|session|signature|private.?key|access.?key|api.?key/;
const isSecret = (name: string): boolean => SECRET_PARAMS.has(name) || SECRET_WORDS.test(name);

// A query parameter anywhere in a JSON log line: after ?, &, ; (which some servers split on too)
// or a # a client sent raw, a name, =, and a value that runs to the next of those, a space or the
// end of the JSON string (escaped characters included).
const QUERY_PARAM = /([?&;#])((?:\\.|[^=&;#?\s"\\])+)=(?:\\.|[^&;#\s"\\])*/g;

/** The log line with the value of every secret query parameter replaced by REDACTED. */
function withoutSecrets(line: string): string {
  return line.replace(QUERY_PARAM, (param, separator: string, name: string) => (isSecret(nameOf(name)) ? `${separator}${name}=REDACTED` : param));
}

/** `line` with DEL and each C1 control character written as a JSON \u escape: the same string, once the line is parsed. */
function withoutControls(line: string): string {
  return line.replace(/[\u007f-\u009f]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

/**
 * A parameter's name as the app reads it, whatever its case and encoding: %74oken is token, and so
 * are token[] (an array, as qs reads it) and token%00 (control characters dropped: a parser may stop at one).
 */
function nameOf(raw: string): string {
  let name = raw;
  try {
    name = JSON.parse(`"${raw}"`) as string;
  } catch {
    // not a valid JSON escape: read it as it is
  }
  const decoded = ([...new URLSearchParams(`${name}=`).keys()][0] ?? '').replace(/[\u0000-\u001f\u007f-\u009f]/g, '');
  // An encoded ; (a%3Btoken) is a ; once decoded: the name is what follows it, as the spans read it.
  return decoded.split(/[;#]/).pop()!.toLowerCase().replace(/\[.*$/s, '');
}
