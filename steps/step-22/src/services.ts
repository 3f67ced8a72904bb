// Starts the three services of this stage, each its own Node.js process with its own telemetry
// (the same preload as every stage) and its own service.name: gateway on PORT (3030 by default),
// greeter and words on the next two ports, or on free ones when those are taken or PORT=0.
// concurrently runs them: it prefixes each line with the service's name, passes Ctrl+C (and
// SIGTERM, SIGHUP) to all three so each flushes its telemetry, and stops the others when one fails.
import concurrently from 'concurrently';
import getPort from 'get-port';

const SERVICES = ['words', 'greeter', 'gateway'] as const;

const requested = Number(process.env.PORT || 3030);
if (!Number.isInteger(requested) || requested < 0 || requested > 65535) {
  console.error(`PORT must be an integer between 0 and 65535, got "${process.env.PORT}".`);
  process.exit(1);
}
// The gateway gets PORT itself (server.ts says so if it is taken); the other two only need to be
// free, since the gateway is told where they are. With PORT=0, free ones at random below the
// ephemeral range (32768 and up on Linux, 49152 on macOS and Windows): a port the system hands
// out there could go to another program's outgoing connection before the service listens on it.
const spare = (): number[] => Array.from({ length: 20 }, () => 20000 + Math.floor(Math.random() * 12000));
const ports = {
  gateway: requested,
  greeter: await getPort({ port: requested === 0 ? spare() : [requested + 1], host: '127.0.0.1' }),
  words: await getPort({ port: requested === 0 ? spare() : [requested + 2], host: '127.0.0.1' }),
};
const url = (service: keyof typeof ports): string => `http://127.0.0.1:${ports[service]}`;

const { result, commands } = concurrently(
  SERVICES.map((name) => ({
    name,
    command: 'node --import ./src/environment.ts --import ./src/telemetry.ts src/server.ts',
    env: { SERVICE: name, PORT: String(ports[name]), GREETER_URL: url('greeter'), WORDS_URL: url('words') },
  })),
  { prefix: '[{name}]', killOthersOn: ['failure'] },
);

// One line once all three listen, with the gateway's address first: the one to curl.
const listening = new Map<string, string>();
for (const command of commands) {
  command.stdout.subscribe((chunk) => {
    const address = /^listening on (\S+)/m.exec(chunk.toString())?.[1];
    if (!address) return;
    listening.set(command.name, address);
    if (listening.size === SERVICES.length) {
      console.log(`listening on ${listening.get('gateway')} (gateway; greeter on ${listening.get('greeter')}, words on ${listening.get('words')})`);
    }
  });
}

try {
  await result;
} catch (events) {
  const failed = (events as Array<{ command: { name: string }; exitCode: number | string }>).find((e) => e.exitCode !== 0 && e.exitCode !== 'SIGINT');
  if (failed) console.error(`step-22: ${failed.command.name} stopped (exit code ${failed.exitCode}), so the other services were stopped too`);
  process.exitCode = 1;
}
