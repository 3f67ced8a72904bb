// What the gateway does for the browser: it bundles the page's scripts, serves the page and them,
// and takes the page's spans at POST /v1/traces, on its own origin, to forward to the collector.
//
// Why a route of the gateway's own, and not the collector's OTLP/HTTP receiver with CORS opened to
// the page's origin: whatever the browser posts is user input. Anyone can post anything to that
// endpoint, with curl as well as from the page. Here the post meets code that can refuse it, bound
// it and rewrite it before anything of it is stored:
// - it is same-origin: no CORS, no preflight, and the page never learns where the collector is
//   (which stays on 127.0.0.1, for the servers only);
// - a post for a Host the gateway does not serve is refused (421): a name an attacker's DNS points
//   at 127.0.0.1 (DNS rebinding) makes the attacker's page same-origin with this one in the browser;
// - a post from an origin the gateway does not serve is refused (403), and so is one without an Origin header;
// - a body over 64 KiB is refused (413), as is more than a post a second from one client (429);
// - every span is rebuilt from the fields OTLP defines, with the servers' limits, and its resource
//   says step-21-browser whatever the page claimed: a page cannot pass for a server; what is not
//   OTLP (an integer outside int64, a time outside uint64, a value of the wrong type) is refused (400);
// - the query secrets the servers mask are masked here too, and URL fragments dropped.
import rateLimit from '@fastify/rate-limit';
import { context, propagation } from '@opentelemetry/api';
import { parseKeyPairsIntoRecord, suppressTracing } from '@opentelemetry/core';
import { build, stop } from 'esbuild';
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { readFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { networkInterfaces } from 'node:os';
import { fileURLToPath } from 'node:url';
import { env } from './environment.ts';

// The service name the page's spans carry, whatever the page says.
export const BROWSER_SERVICE = 'step-21-browser';
// The most a browser lets a page send as it is closed (fetch keepalive), and the page's batches stay under it.
const BODY_LIMIT = 64 * 1024;
// The servers' span limits (src/telemetry.ts), and bounds on what a span may hold.
const LIMITS = { spans: 512, attributes: 64, valueLength: 1024, nameLength: 256, events: 64, links: 8, arrayItems: 64 };
// The resource attributes a page may set, besides the service.name written over its own.
const RESOURCE_KEYS = new Set(['telemetry.sdk.name', 'telemetry.sdk.language', 'telemetry.sdk.version']);

const PAGE = readFileSync(new URL('./browser/index.html', import.meta.url), 'utf8');
// Where the gateway's own spans go, the page's are forwarded to, with what the gateway's own
// exporter sends along: OTEL_EXPORTER_OTLP_HEADERS (or its TRACES_ form), and the user:password of
// an endpoint given with one, as Basic auth, which fetch does not take inside a URL.
const FORWARD = forwardTarget(env.tracesUrl);
const tracing = !env.disabled && env.exporters.includes('otlp');
// The stage's folder: the scripts are bundled from it, and their source maps name files from it.
const STAGE_DIR = fileURLToPath(new URL('..', import.meta.url));

/** Whether the request is a browser asking for a page: GET / then answers with the page, not the greeting. */
export function asksForThePage(request: FastifyRequest): boolean {
  return /\btext\/html\b/.test(request.headers.accept ?? '');
}

/**
 * The page, with the traceparent of the span this request is in: the page's document-load spans
 * become its children. Never cached: each load is a trace of its own.
 */
export function thePage(reply: FastifyReply): string {
  const carrier: Record<string, string> = {};
  propagation.inject(context.active(), carrier);
  reply
    .type('text/html; charset=utf-8')
    .header('cache-control', 'no-store')
    // The page runs its own two scripts and talks to its own origin, nothing else.
    .header('content-security-policy', "default-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; base-uri 'none'; form-action 'none'");
  const page = PAGE.replace('{{traceparent}}', carrier.traceparent ?? '');
  // With no trace exported from the gateway (OTEL_SDK_DISABLED, OTEL_TRACES_EXPORTER), the page has no telemetry either.
  return tracing ? page : page.replace(/ *<script type="module" src="\/telemetry.js"><\/script>\n/, '');
}

/**
 * The page's two scripts, bundled in memory by esbuild: TypeScript to one file per script, with the
 * npm packages it imports, and a source map each for DevTools. Nothing built is committed or
 * written to disk. Resolves with each file's text by its path.
 */
async function bundled(): Promise<Map<string, string>> {
  const started = performance.now();
  const { outputFiles } = await build({
    // Paths from the stage's folder: a source map names each file relative to where the bundle
    // would be (src/browser/app.ts, ../../node_modules/...), never the checkout's absolute path.
    absWorkingDir: STAGE_DIR,
    entryPoints: { telemetry: 'src/browser/telemetry.ts', app: 'src/browser/app.ts' },
    bundle: true,
    write: false,
    outdir: STAGE_DIR,
    format: 'esm',
    platform: 'browser',
    target: 'es2022',
    minify: true,
    sourcemap: 'linked',
    logLevel: 'silent',
  });
  // esbuild builds in a process of its own, which would otherwise stay for the gateway's lifetime.
  await stop();
  const files = new Map(outputFiles.map((file) => [file.path.replace(/^.*\//, '/'), file.text]));
  const size = (name: string): string => `${(Buffer.byteLength(files.get(name)!) / 1024).toFixed(0)} KiB`;
  // On the terminal, like "listening on": a start-up figure for the learner, not a log record.
  console.log(`page scripts bundled by esbuild in ${(performance.now() - started).toFixed(0)} ms: telemetry.js ${size('/telemetry.js')}, app.js ${size('/app.js')}`);
  return files;
}

/** The gateway's routes for the browser: the two scripts and their maps, and POST /v1/traces. */
export async function forTheBrowser(app: FastifyInstance, { withoutSecrets }: { withoutSecrets: (text: string) => string }): Promise<void> {
  const allowed = allowedOrigins(process.env.ALLOWED_ORIGINS);
  // Built while the gateway starts listening, not before: the API answers at once, and a script
  // asked for in the meantime waits for the bundle. A build that fails is a 500 for the scripts,
  // with esbuild's message; the API keeps serving.
  const scripts = bundled();
  scripts.catch((err: Error) =>
    // Ctrl+C reaches esbuild's process too, which then says it "was stopped": not a failure.
    console.error(/service was stopped/.test(err.message) ? "stopped before the page's scripts were bundled" : `could not bundle the page's scripts: ${err.message}`),
  );
  for (const path of ['/telemetry.js', '/app.js', '/telemetry.js.map', '/app.js.map']) {
    // Not logged one by one, as they are not traced (src/telemetry.ts).
    app.get(path, { logLevel: 'warn' }, async function script(_request, reply) {
      const text = (await scripts).get(path)!;
      return reply.type(path.endsWith('.map') ? 'application/json' : 'text/javascript; charset=utf-8').header('cache-control', 'no-cache').send(text);
    });
  }

  await app.register(rateLimit, { global: false });
  let failing = false;
  app.post(
    '/v1/traces',
    {
      bodyLimit: BODY_LIMIT,
      // Sixty posts a minute from one address: the page sends one a second at most.
      config: { rateLimit: { max: 60, timeWindow: 60_000 } },
      // Its posts are not logged one by one; the refusals are, below.
      logLevel: 'warn',
      onRequest: async (request) => sameOrigin(request, served(app, allowed)),
      errorHandler: (error: FastifyError, request, reply) => {
        const status = error.statusCode && error.statusCode >= 400 ? error.statusCode : 500;
        request.log.warn(`browser spans refused (${status}): ${error.message}`);
        return reply.code(status).send({ error: error.message });
      },
    },
    async function browserTraces(request, reply) {
      if (!tracing) return reply.code(503).send({ error: 'the gateway exports no traces (OTEL_SDK_DISABLED or OTEL_TRACES_EXPORTER), so it forwards none' });
      const { body, spans, claimed } = rebuilt(request.body);
      const names = claimed.map((c) => quoted(c.slice(0, 64))).join(', ');
      if (claimed.length > 0) request.log.warn(`a page sent spans as service.name ${names}: forwarded as ${BROWSER_SERVICE}`);
      // Not traced: the gateway forwarding telemetry is not a request of the app's.
      const answer = await context
        .with(suppressTracing(context.active()), () =>
          fetch(FORWARD.url, { method: 'POST', headers: FORWARD.headers, body: withoutSecrets(JSON.stringify(body)), signal: AbortSignal.timeout(5_000) }),
        )
        .then((res) => (res.ok ? undefined : `${res.status} ${res.statusText}`))
        .catch((err: Error) => String(err.cause ?? err.message));
      // Said once when forwarding stops working and once when it works again, as the exporters do.
      if (answer && !failing) request.log.warn(`telemetry: cannot forward the page's spans to ${env.endpoints.traces} (${answer}); they are dropped until it answers`);
      if (!answer && failing) request.log.warn(`telemetry: forwarding the page's spans to ${env.endpoints.traces} again`);
      failing = Boolean(answer);
      // 503 lets the page's exporter retry later.
      return answer ? reply.code(503).send({ error: 'the collector did not take the spans' }) : reply.send({ partialSuccess: {}, spans });
    },
  );
}

/** `text` as a JSON string, with DEL and the C1 control characters escaped as well as the C0 ones: a name a page claimed, for a log line. */
function quoted(text: string): string {
  return JSON.stringify(text).replace(/[\u007f-\u009f]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

function forwardTarget(endpoint: string): { url: string; headers: Record<string, string> } {
  const url = new URL(endpoint);
  const headers: Record<string, string> = {
    'content-type': 'application/json',
    ...parseKeyPairsIntoRecord(process.env.OTEL_EXPORTER_OTLP_HEADERS),
    ...parseKeyPairsIntoRecord(process.env.OTEL_EXPORTER_OTLP_TRACES_HEADERS),
  };
  if (url.username) {
    headers.authorization = `Basic ${Buffer.from(`${decodeURIComponent(url.username)}:${decodeURIComponent(url.password)}`).toString('base64')}`;
    url.username = url.password = '';
  }
  return { url: url.href, headers };
}

/**
 * ALLOWED_ORIGINS: the origins, besides the gateway's own address, that the page is opened at
 * (a proxy's https://app.example.com), comma-separated. Anything else there stops the start.
 */
function allowedOrigins(raw: string | undefined): string[] {
  const origins = (raw ?? '').split(',').map((o) => o.trim()).filter(Boolean);
  for (const origin of origins) {
    const url = URL.canParse(origin) ? new URL(origin) : undefined;
    if (!url || !['http:', 'https:'].includes(url.protocol) || url.origin !== origin.replace(/\/$/, '')) {
      const why = 'is not an origin such as https://app.example.com (a scheme, a host and a port if any; no path)';
      throw new Error(`ALLOWED_ORIGINS=${JSON.stringify(raw)}: ${JSON.stringify(origin)} ${why}`);
    }
  }
  return origins.map((o) => new URL(o).origin);
}

/**
 * The hosts (as a Host header names them) and origins this gateway serves: the address it listens
 * on, localhost too when that is a loopback or every interface, and ALLOWED_ORIGINS.
 */
function served(app: FastifyInstance, allowed: string[]): { hosts: Set<string>; origins: Set<string> } {
  const bound = app.server.address() as AddressInfo;
  const everywhere = bound.address === '0.0.0.0' || bound.address === '::';
  const addresses = everywhere
    ? Object.values(networkInterfaces())
        .flat()
        .filter((i) => i && (bound.address === '::' || i.family === 'IPv4'))
        .map((i) => i!.address)
    : [bound.address];
  const loopback = everywhere || addresses.some((a) => a.startsWith('127.') || a === '::1');
  const names = [...(loopback ? ['localhost'] : []), ...addresses.map((a) => (a.includes(':') ? `[${a}]` : a))];
  const hosts = names.flatMap((name) => (bound.port === 80 ? [`${name}:80`, name] : [`${name}:${bound.port}`]));
  return {
    hosts: new Set([...hosts, ...allowed.map((o) => new URL(o).host)]),
    origins: new Set([...names.map((name) => `http://${name}${bound.port === 80 ? '' : `:${bound.port}`}`), ...allowed]),
  };
}

/**
 * Refuses a post that does not come from a page this gateway serves. The Host must be one of its
 * own: a page of attacker.example, whose DNS answers 127.0.0.1 once the page is loaded (DNS
 * rebinding), is same-origin with itself, posts with Host and Origin attacker.example, and would
 * pass a check of the one against the other. And a browser always says where a POST comes from.
 */
function sameOrigin(request: FastifyRequest, { hosts, origins }: { hosts: Set<string>; origins: Set<string> }): void {
  const host = request.headers.host ?? '';
  const shown = (list: Set<string>): string => [...list].slice(0, 4).join(', ') + (list.size > 4 ? ', ...' : '');
  if (!hosts.has(host.toLowerCase())) {
    const named = host.slice(0, 100) || '(none)';
    const why = `POST /v1/traces takes spans for this gateway's own address only (Host ${shown(hosts)}; more with ALLOWED_ORIGINS), not for Host ${named}`;
    throw Object.assign(new Error(why), { statusCode: 421 });
  }
  const origin = request.headers.origin;
  if (!origin || !origins.has(origin)) {
    const from = origin ? `Origin ${origin.slice(0, 100)}` : 'a request without an Origin header';
    const why = `POST /v1/traces takes spans from this app's own pages only (Origin ${shown(origins)}), not from ${from}`;
    throw Object.assign(new Error(why), { statusCode: 403 });
  }
}

type Json = Record<string, unknown>;
type KeyValue = { key: string; value: Json };

const refuse = (why: string): never => {
  throw Object.assign(new Error(`not OTLP/JSON spans: ${why}`), { statusCode: 400 });
};
const list = (value: unknown, what: string): unknown[] => (value === undefined ? [] : Array.isArray(value) ? value : refuse(`${what} is not a list`));
const object = (value: unknown, what: string): Json => (value && typeof value === 'object' && !Array.isArray(value) ? (value as Json) : refuse(`${what} is not an object`));
const text = (value: unknown, max: number): string => (typeof value === 'string' ? withoutFragments(value).slice(0, max) : '');
const hex = (value: unknown, digits: number, what: string): string =>
  typeof value === 'string' && new RegExp(`^[0-9a-f]{${digits}}$`).test(value) && !/^0+$/.test(value) ? value : refuse(`${what} is not ${digits} hex digits`);
/** A whole number, as OTLP/JSON writes a 64-bit one: a JSON number or a string of digits; anything else (a list, say) is not. */
function whole(value: unknown, [min, max]: [bigint, bigint], what: string, range: string): string {
  const digits =
    typeof value === 'number' && Number.isInteger(value) ? BigInt(value).toString() : typeof value === 'string' && /^-?\d{1,20}$/.test(value) ? value : undefined;
  return digits !== undefined && BigInt(digits) >= min && BigInt(digits) <= max ? digits : refuse(`${what} is not ${range}`);
}
const nanos = (value: unknown, what: string): string => whole(value, [0n, 2n ** 64n - 1n], what, 'a time in nanoseconds (a whole number from 0 to 2^64 - 1)');
const int64 = (value: unknown): string => whole(value, [-(2n ** 63n), 2n ** 63n - 1n], 'an intValue', 'a 64-bit integer (-2^63 to 2^63 - 1)');
/** One of `allowed`, as a JSON number: OTLP's enums (a span's kind, a status code). */
const oneOf = (value: unknown, allowed: number[], what: string): number =>
  typeof value === 'number' && allowed.includes(value) ? value : refuse(`${what} is not one of ${allowed.join(', ')}`);

// An absolute URL's fragment, to the end of the URL: what follows # never reaches a server, and it is
// where OAuth's implicit flow puts its tokens (/#access_token=...&token_type=bearer).
const FRAGMENT = /\b([a-z][a-z\d+.-]*:\/\/[^\s#"'<>]*)#[^\s"'<>]*/gi;
/** `value` with the fragment of every absolute URL in it dropped. */
const withoutFragments = (value: string): string => value.replace(FRAGMENT, '$1');

/**
 * An attribute's value, if OTLP defines it and it is small: strings cut to the servers' 1 KiB, lists
 * to 64 items. Maps, bytes and lists in lists are dropped; a value OTLP does not define is refused.
 */
function valueOf(value: unknown, depth = 0): Json | undefined {
  if (value === undefined) return undefined;
  const v = object(value, 'an attribute value');
  if ('stringValue' in v) {
    return typeof v.stringValue === 'string' ? { stringValue: text(v.stringValue, LIMITS.valueLength) } : refuse('a stringValue is not a string');
  }
  if ('boolValue' in v) return typeof v.boolValue === 'boolean' ? { boolValue: v.boolValue } : refuse('a boolValue is not true or false');
  if ('intValue' in v) return { intValue: int64(v.intValue) };
  if ('doubleValue' in v) {
    // A number, or one of the three names OTLP/JSON writes for the doubles JSON has no number for.
    const double = v.doubleValue;
    const defined = typeof double === 'number' || (typeof double === 'string' && ['NaN', 'Infinity', '-Infinity'].includes(double));
    return defined ? { doubleValue: double } : refuse('a doubleValue is not a number');
  }
  if (depth === 0 && 'arrayValue' in v) {
    const items = list(object(v.arrayValue, 'an arrayValue').values, 'an array value').slice(0, LIMITS.arrayItems);
    const values = items.map((item) => valueOf(item, 1)).filter(Boolean);
    return { arrayValue: { values } };
  }
  return undefined;
}

/** At most 64 attributes, each with a key and a value OTLP defines. */
function attributesOf(value: unknown, what: string): { attributes: KeyValue[]; droppedAttributesCount: number } {
  const all = list(value, what);
  const attributes = all
    .map((a) => object(a, what))
    .map((a) => ({ key: text(a.key, LIMITS.nameLength), value: valueOf(a.value) }))
    .filter((a): a is KeyValue => a.key !== '' && a.value !== undefined)
    .slice(0, LIMITS.attributes);
  return { attributes, droppedAttributesCount: all.length - attributes.length };
}

/**
 * The page's post, rebuilt field by field from what OTLP defines, within the limits: what arrives
 * beyond them is cut or dropped, what is not OTLP is refused (400). Every resource becomes the
 * browser's; a service.name the page claimed is returned, for the log line.
 */
function rebuilt(posted: unknown): { body: Json; spans: number; claimed: string[] } {
  const claimed: string[] = [];
  let spans = 0;
  const resourceSpans = list(object(posted, 'the body').resourceSpans, 'resourceSpans').map((r, i) => {
    const resource = object(r, `resourceSpans[${i}]`);
    const own = attributesOf(object(resource.resource ?? {}, 'resource').attributes, 'resource attributes').attributes;
    const name = own.find((a) => a.key === 'service.name')?.value.stringValue;
    if (name !== undefined && name !== BROWSER_SERVICE) claimed.push(String(name));
    const attributes = [{ key: 'service.name', value: { stringValue: BROWSER_SERVICE } }, ...own.filter((a) => RESOURCE_KEYS.has(a.key))];
    const scopeSpans = list(resource.scopeSpans, 'scopeSpans').map((s) => {
      const scope = object(s, 'scopeSpans[]');
      const info = object(scope.scope ?? {}, 'scope');
      return {
        scope: { name: text(info.name, LIMITS.nameLength), version: text(info.version, LIMITS.nameLength) },
        spans: list(scope.spans, 'spans').map((raw) => {
          if (++spans > LIMITS.spans) refuse(`more than ${LIMITS.spans} spans in one post`);
          return spanOf(object(raw, 'a span'));
        }),
      };
    });
    return { resource: { attributes }, scopeSpans };
  });
  return { body: { resourceSpans }, spans, claimed };
}

function spanOf(span: Json): Json {
  const status = object(span.status ?? {}, 'status');
  const events = list(span.events, 'events');
  const links = list(span.links, 'links');
  return {
    traceId: hex(span.traceId, 32, 'traceId'),
    spanId: hex(span.spanId, 16, 'spanId'),
    parentSpanId: span.parentSpanId ? hex(span.parentSpanId, 16, 'parentSpanId') : '',
    name: text(span.name, LIMITS.nameLength),
    kind: oneOf(span.kind ?? 0, [0, 1, 2, 3, 4, 5], 'kind'),
    startTimeUnixNano: nanos(span.startTimeUnixNano, 'startTimeUnixNano'),
    endTimeUnixNano: nanos(span.endTimeUnixNano, 'endTimeUnixNano'),
    ...attributesOf(span.attributes, 'span attributes'),
    events: events.slice(0, LIMITS.events).map((e) => {
      const event = object(e, 'an event');
      return { timeUnixNano: nanos(event.timeUnixNano, 'an event time'), name: text(event.name, LIMITS.nameLength), ...attributesOf(event.attributes, 'event attributes') };
    }),
    droppedEventsCount: Math.max(0, events.length - LIMITS.events),
    links: links.slice(0, LIMITS.links).map((l) => {
      const link = object(l, 'a link');
      return { traceId: hex(link.traceId, 32, 'a link traceId'), spanId: hex(link.spanId, 16, 'a link spanId'), ...attributesOf(link.attributes, 'link attributes') };
    }),
    droppedLinksCount: Math.max(0, links.length - LIMITS.links),
    status: { code: oneOf(status.code ?? 0, [0, 1, 2], 'status.code'), message: text(status.message, LIMITS.valueLength) },
  };
}
