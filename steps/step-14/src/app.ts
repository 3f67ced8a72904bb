import Fastify, { type FastifyError, type FastifyInstance, type FastifyRequest } from 'fastify';

// Builds the app without listening: what a stage may change (routes, spans) lives here, and
// server.ts, the same file in every stage, listens and shuts down.
// Handlers are named functions on purpose: instrumentation uses the names in span names.
export function buildApp(): FastifyInstance {
  const app = Fastify({
    logger: {
      // Only warnings and errors: the 500 from /error is logged, routine requests are not.
      level: process.env.LOG_LEVEL ?? 'warn',
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
      hooks: { streamWrite: withoutSecrets },
    },
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

// Query-string parameters whose values are secrets, whatever their case: the ones that carry
// credentials in signed URLs, and the names tokens and passwords usually go by.
const SECRET_PARAMS = new Set(
  ['sig', 'signature', 'awsaccesskeyid', 'x-goog-signature', 'x-amz-signature', 'x-amz-credential', 'x-amz-security-token']
    .concat(['token', 'access_token', 'refresh_token', 'id_token', 'password', 'passwd', 'secret', 'api_key', 'apikey', 'key', 'code', 'auth']),
);

// A query parameter anywhere in a JSON log line: after ? or &, a name, =, and a value that runs to
// the next &, #, space or the end of the JSON string (escaped characters included).
const QUERY_PARAM = /([?&])((?:\\.|[^=&#?\s"\\])+)=(?:\\.|[^&#\s"\\])*/g;

/** The log line with the value of every secret query parameter replaced by REDACTED. */
function withoutSecrets(line: string): string {
  return line.replace(QUERY_PARAM, (param, separator: string, name: string) => (SECRET_PARAMS.has(nameOf(name)) ? `${separator}${name}=REDACTED` : param));
}

/** A parameter's name as the app reads it, whatever its case and encoding: %74oken is token. */
function nameOf(raw: string): string {
  let name = raw;
  try {
    name = JSON.parse(`"${raw}"`) as string;
  } catch {
    // not a valid JSON escape: read it as it is
  }
  return ([...new URLSearchParams(`${name}=`).keys()][0] ?? '').toLowerCase();
}
