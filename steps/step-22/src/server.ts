import type { AddressInfo } from 'node:net';
import { buildApp } from './app.ts';

// 3030 rather than 5000 (taken by the macOS AirPlay receiver) or 8080 (taken by half of all dev tools).
const DEFAULT_PORT = 3030;
const SHUTDOWN_DEADLINE_MS = 10_000;

function readPort(raw: string | undefined): number {
  if (raw === undefined || raw === '') return DEFAULT_PORT;
  const port = Number(raw);
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    console.error(`PORT must be an integer between 0 and 65535, got "${raw}".`);
    process.exit(1);
  }
  return port;
}

const port = readPort(process.env.PORT);
// Loopback by default: a tutorial app has no business listening on every interface.
const host = process.env.HOST || '127.0.0.1';

const app = buildApp();

let closing = false;
async function shutdown(signal: NodeJS.Signals): Promise<void> {
  if (closing) return;
  closing = true;
  console.log(`${signal} received, closing the server`);
  // A stuck connection must not hang the terminal; unref'd so it never delays a clean exit.
  setTimeout(() => {
    console.error(`still closing after ${SHUTDOWN_DEADLINE_MS} ms, exiting`);
    process.exit(1);
  }, SHUTDOWN_DEADLINE_MS).unref();
  await app.close();
  // No process.exit() here: the process ends once the event loop is empty, which lets
  // anything preloaded before the app (telemetry, from step 08 on) finish its own work first.
}
// on, not once: a second signal while closing must not cut the flush short (Ctrl+C reaches every
// process of a stage of several services, and their launcher passes it on as well); the deadline
// above still ends a close that hangs.
process.on('SIGINT', shutdown);
process.on('SIGTERM', shutdown);
// Closing the terminal window: without a handler, Node exits at once and loses what is pending.
process.on('SIGHUP', shutdown);

try {
  await app.listen({ port, host });
  // What the socket is really bound to: with HOST=0.0.0.0 that is every interface, not 127.0.0.1.
  const bound = app.server.address() as AddressInfo;
  const everywhere = bound.address === '0.0.0.0' || bound.address === '::';
  const shown = bound.family === 'IPv6' ? `[${bound.address}]` : bound.address;
  console.log(`listening on http://${shown}:${bound.port}${everywhere ? ' (every network interface: other machines can reach it)' : ''}`);
} catch (err) {
  const reason =
    (err as NodeJS.ErrnoException).code === 'EADDRINUSE'
      ? `port ${port} is already in use (another stage still running?); stop it, or choose another port with the PORT variable, e.g. PORT=3031`
      : (err as Error).message;
  console.error(`could not listen on ${host}:${port}: ${reason}`);
  process.exit(1);
}
