// A tripwire on the collector's default ports (OTLP gRPC 4317, OTLP/HTTP 4318, on 127.0.0.1 and
// [::1], where `localhost` may resolve): every byte that arrives there is telemetry a test let out
// to the default endpoint, which on a learner's machine is their running stack. No test outside
// shared/e2e may send anything there; `OTEL_STEPS_TRIPWIRE=1 pnpm test:stages` proves it, and CI runs the
// suite that way (.ci/run), before any stack is up. Armed only when asked: it takes the stack's
// ports, so it would stop a learner's collector from starting while `pnpm test:stages` runs.
import { createServer, type Server, type Socket } from 'node:net';
import { gunzipSync } from 'node:zlib';
import { decodeOtlpProtobuf, type Signal } from '../otlp/protobuf.ts';

export const STACK_OTLP_PORTS = [4317, 4318];
const HOSTS = ['127.0.0.1', '::1'];
/** How long a connection may keep sending before the wire reads what it has and hangs up. */
const READ_MS = 300;
const MAX_BYTES = 1024 * 1024;

export interface Trip {
  /** Where the bytes arrived, as `127.0.0.1:4318`. */
  address: string;
  bytes: number;
  /** What was sent, as far as it can be read: `POST /v1/logs`, the services named in the export. */
  what: string;
}

export interface Tripwire {
  readonly trips: Trip[];
  /** The addresses it listens on. */
  readonly addresses: string[];
  /** One line a trip, or '' when nothing arrived. */
  report(): string;
  close(): Promise<void>;
}

const SIGNALS: Record<string, Signal> = { '/v1/traces': 'traces', '/v1/metrics': 'metrics', '/v1/logs': 'logs' };

/** The `service.name`s of an OTLP request, protobuf or JSON, gzip or not; [] when it cannot be read. */
function servicesIn(signal: Signal, contentType: string, encoding: string, body: Buffer): string[] {
  try {
    const raw = encoding === 'gzip' ? gunzipSync(body) : body;
    const decoded = contentType.includes('json') ? (JSON.parse(raw.toString('utf8')) as Record<string, unknown>) : decodeOtlpProtobuf(signal, raw);
    const resources = (Object.values(decoded)[0] ?? []) as Array<{ resource?: { attributes?: Array<{ key: string; value?: { stringValue?: string } }> } }>;
    return resources.flatMap((r) => (r.resource?.attributes ?? []).filter((a) => a.key === 'service.name').map((a) => a.value?.stringValue ?? '?'));
  } catch {
    return [];
  }
}

/** The body of a request sent with `Transfer-Encoding: chunked`, as far as it arrived. */
function unchunk(data: Buffer): Buffer {
  const parts: Buffer[] = [];
  for (let at = 0; at < data.length; ) {
    const eol = data.indexOf('\r\n', at);
    const size = eol < 0 ? NaN : parseInt(data.subarray(at, eol).toString('latin1'), 16);
    if (!(size > 0)) break;
    parts.push(data.subarray(eol + 2, eol + 2 + size));
    at = eol + 2 + size + 2;
  }
  return Buffer.concat(parts);
}

/** What `data` is: an OTLP/HTTP request (its path and services), gRPC (HTTP/2), or just bytes. */
export function describeBytes(data: Buffer): string {
  const text = data.toString('latin1');
  if (text.startsWith('PRI * HTTP/2.0')) return 'HTTP/2 (OTLP gRPC, or OTLP/HTTP over h2)';
  const head = /^([A-Z]+) (\S+) HTTP\/1\.[01]\r\n([\s\S]*?)\r\n\r\n/.exec(text);
  if (!head) return `${data.length} bytes that are not an HTTP/1.1 request`;
  const [whole, method, path, headerText] = head;
  const header = (name: string): string => new RegExp(`^${name}:\\s*(.*)$`, 'im').exec(headerText!)?.[1]?.trim() ?? '';
  const signal = SIGNALS[path!.split('?')[0]!];
  const body = data.subarray(Buffer.byteLength(whole, 'latin1'));
  const payload = /chunked/i.test(header('transfer-encoding')) ? unchunk(body) : body;
  const services = signal ? servicesIn(signal, header('content-type'), header('content-encoding'), payload) : [];
  return `${method} ${path}${services.length ? ` from ${[...new Set(services)].join(', ')}` : ''}`;
}

function listen(server: Server, port: number, host: string): Promise<'listening' | 'no such address'> {
  return new Promise((resolve, reject) => {
    server.once('error', (err: NodeJS.ErrnoException) => {
      // A machine without IPv6 on loopback has no [::1] to send to either.
      if (host === '::1' && (err.code === 'EADDRNOTAVAIL' || err.code === 'EAFNOSUPPORT')) resolve('no such address');
      else if (err.code === 'EADDRINUSE') {
        reject(new Error(`tripwire: ${host}:${port} is taken (a stack is running?): stop it first, the tripwire needs the stack's ports to itself`));
      }
      else reject(err);
    });
    server.listen({ port, host, exclusive: true }, () => resolve('listening'));
  });
}

/** Listens on `ports` of 127.0.0.1 and [::1]; each connection that sends bytes is a trip. */
export async function armTripwire(ports: number[] = STACK_OTLP_PORTS, onTrip?: (trip: Trip) => void): Promise<Tripwire> {
  const trips: Trip[] = [];
  const servers: Server[] = [];
  const sockets = new Set<Socket>();
  const addresses: string[] = [];
  const close = (): Promise<void> => {
    for (const socket of sockets) socket.destroy();
    return Promise.all(servers.map((s) => new Promise<void>((resolve) => s.close(() => resolve())))).then(() => undefined);
  };
  try {
    for (const port of ports) {
      for (const host of HOSTS) {
        const address = host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
        const server = createServer((socket) => {
          sockets.add(socket);
          const chunks: Buffer[] = [];
          let received = 0;
          let timer: NodeJS.Timeout | undefined;
          let tripped = false;
          const trip = (): void => {
            clearTimeout(timer);
            if (received === 0 || tripped) return;
            tripped = true;
            const data = Buffer.concat(chunks);
            chunks.length = 0;
            const found = { address, bytes: received, what: describeBytes(data) };
            trips.push(found);
            onTrip?.(found);
            socket.destroy();
          };
          socket.on('data', (chunk: Buffer) => {
            received += chunk.length;
            if (received <= MAX_BYTES) chunks.push(chunk);
            timer ??= setTimeout(trip, READ_MS);
            if (received > MAX_BYTES) trip();
          });
          socket.on('error', () => {});
          socket.on('close', () => {
            sockets.delete(socket);
            trip();
          });
        });
        servers.push(server);
        if ((await listen(server, port, host)) === 'listening') addresses.push(address);
        else servers.pop();
      }
    }
  } catch (err) {
    await close();
    throw err;
  }
  return {
    trips,
    addresses,
    report: () => trips.map((t) => `${t.bytes} bytes to ${t.address}: ${t.what}`).join('\n'),
    close,
  };
}

/**
 * vitest globalSetup (vitest.config.ts): with OTEL_STEPS_TRIPWIRE=1, the whole run is watched, and
 * fails at its end if any test sent anything to the stack's ports; a port it cannot take fails
 * the run at its start, never a run that silently watches nothing.
 */
export default async function setup(): Promise<(() => Promise<void>) | undefined> {
  if (!process.env.OTEL_STEPS_TRIPWIRE) return undefined;
  const wire = await armTripwire(STACK_OTLP_PORTS, (trip) => console.error(`tripwire: ${trip.bytes} bytes to ${trip.address}: ${trip.what}`));
  console.log(`tripwire: watching ${wire.addresses.join(', ')}: any byte sent there fails this run`);
  return async () => {
    await wire.close();
    if (wire.trips.length) {
      throw new Error(`tripwire: tests sent telemetry to the stack's default endpoint, where a learner's collector listens:\n${wire.report()}`);
    }
    console.log(`tripwire: nothing arrived on ${wire.addresses.join(', ')}`);
  };
}
