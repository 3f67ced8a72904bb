// What the gateway does for the browser: it bundles the page's scripts, serves the page and them,
// and takes the page's spans at POST /v1/traces, on its own origin, to forward to the collector.
//
// Why a route of the gateway's own, and not the collector's OTLP/HTTP receiver with CORS opened to
// the page's origin: whatever the browser posts is user input. Anyone can post anything to that
// endpoint, with curl as well as from the page. Here the post meets code that can refuse it, bound
// it and rewrite it before anything of it is stored:
// - it is same-origin: no CORS, no preflight, and the page never learns where the collector is
//   (which stays on 127.0.0.1, for the servers only);
// - a post from another origin is refused (403), and so is one without an Origin header;
// - a body over 64 KiB is refused (413), as is more than a post a second from one client (429);
// - every span is rebuilt from the fields OTLP defines, with the servers' limits, and its resource
//   says step-21-browser whatever the page claimed: a page cannot pass for a server;
// - the query secrets the servers mask are masked here too.
import rateLimit from '@fastify/rate-limit';
import { context, propagation } from '@opentelemetry/api';
import { parseKeyPairsIntoRecord, suppressTracing } from '@opentelemetry/core';
import { build, stop } from 'esbuild';
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { readFileSync } from 'node:fs';
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
    entryPoints: { telemetry: new URL('./browser/telemetry.ts', import.meta.url).pathname, app: new URL('./browser/app.ts', import.meta.url).pathname },
    bundle: true,
    write: false,
    outdir: '/',
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
      onRequest: async (request) => sameOrigin(request),
      errorHandler: (error: FastifyError, request, reply) => {
        const status = error.statusCode && error.statusCode >= 400 ? error.statusCode : 500;
        request.log.warn(`browser spans refused (${status}): ${error.message}`);
        return reply.code(status).send({ error: error.message });
      },
    },
    async function browserTraces(request, reply) {
      if (!tracing) return reply.code(503).send({ error: 'the gateway exports no traces (OTEL_SDK_DISABLED or OTEL_TRACES_EXPORTER), so it forwards none' });
      const { body, spans, claimed } = rebuilt(request.body);
      if (claimed.length > 0) request.log.warn(`a page sent spans as service.name ${claimed.map((c) => JSON.stringify(c.slice(0, 64))).join(', ')}: forwarded as ${BROWSER_SERVICE}`);
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

/** Refuses a post that does not come from a page of this origin. A browser always says where a POST comes from. */
function sameOrigin(request: FastifyRequest): void {
  const own = `${request.protocol}://${request.host}`;
  const origin = request.headers.origin;
  if (origin !== own) throw Object.assign(new Error(`POST /v1/traces takes spans from this app's own pages only (Origin ${own}), not from ${origin ? `Origin ${origin.slice(0, 100)}` : 'a request without an Origin header'}`), { statusCode: 403 });
}

type Json = Record<string, unknown>;
type KeyValue = { key: string; value: Json };

const refuse = (why: string): never => {
  throw Object.assign(new Error(`not OTLP/JSON spans: ${why}`), { statusCode: 400 });
};
const list = (value: unknown, what: string): unknown[] => (value === undefined ? [] : Array.isArray(value) ? value : refuse(`${what} is not a list`));
const object = (value: unknown, what: string): Json => (value && typeof value === 'object' && !Array.isArray(value) ? (value as Json) : refuse(`${what} is not an object`));
const text = (value: unknown, max: number): string => (typeof value === 'string' ? value.slice(0, max) : '');
const hex = (value: unknown, digits: number, what: string): string =>
  typeof value === 'string' && new RegExp(`^[0-9a-f]{${digits}}$`).test(value) && !/^0+$/.test(value) ? value : refuse(`${what} is not ${digits} hex digits`);
const nanos = (value: unknown, what: string): string => (/^\d{1,20}$/.test(String(value)) ? String(value) : refuse(`${what} is not a time in nanoseconds`));

/** An attribute's value, if OTLP defines it and it is small: strings cut to the servers' 1 KiB, lists to 64 items. */
function valueOf(value: unknown, depth = 0): Json | undefined {
  if (!value || typeof value !== 'object') return undefined;
  const v = value as Json;
  if (typeof v.stringValue === 'string') return { stringValue: v.stringValue.slice(0, LIMITS.valueLength) };
  if (typeof v.boolValue === 'boolean') return { boolValue: v.boolValue };
  if (/^-?\d{1,19}$/.test(String(v.intValue))) return { intValue: v.intValue };
  if (typeof v.doubleValue === 'number') return { doubleValue: v.doubleValue };
  if (depth === 0 && v.arrayValue && typeof v.arrayValue === 'object') {
    const values = list((v.arrayValue as Json).values, 'an array value').slice(0, LIMITS.arrayItems).map((item) => valueOf(item, 1)).filter(Boolean);
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
  const kind = Number(span.kind ?? 0);
  const status = object(span.status ?? {}, 'status');
  const events = list(span.events, 'events');
  const links = list(span.links, 'links');
  return {
    traceId: hex(span.traceId, 32, 'traceId'),
    spanId: hex(span.spanId, 16, 'spanId'),
    parentSpanId: span.parentSpanId ? hex(span.parentSpanId, 16, 'parentSpanId') : '',
    name: text(span.name, LIMITS.nameLength),
    kind: Number.isInteger(kind) && kind >= 0 && kind <= 5 ? kind : refuse('kind is not 0 to 5'),
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
    status: { code: [0, 1, 2].includes(Number(status.code ?? 0)) ? Number(status.code ?? 0) : 0, message: text(status.message, LIMITS.valueLength) },
  };
}
