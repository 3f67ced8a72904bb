// The tripwire that `OTEL_STEPS_TRIPWIRE=1 pnpm test:stages` sets on the stack's ports, tried here on
// ports of its own (the stack's are a learner's), and the harness's rule that no stage it starts
// is left to the default endpoint.
import { createServer, connect, type AddressInfo } from 'node:net';
import { describe, expect, it } from 'vitest';
import { armTripwire } from './tripwire.ts';
import { defaultEndpointSignals, startStage } from './stage-runner.ts';

/** Whether this machine has IPv6 on loopback, where `localhost` may resolve. */
async function hasIpv6Loopback(): Promise<boolean> {
  const server = createServer();
  const ok = await new Promise<boolean>((resolve) => server.once('error', () => resolve(false)).listen(0, '::1', () => resolve(true)));
  if (ok) await new Promise((resolve) => server.close(resolve));
  return ok;
}

async function freePort(): Promise<number> {
  const server = createServer().listen(0, '127.0.0.1');
  await new Promise((resolve) => server.once('listening', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

const export_ = (port: number, host = '127.0.0.1', init: RequestInit = {}): Promise<unknown> =>
  fetch(`http://${host.includes(':') ? `[${host}]` : host}:${port}/v1/logs`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ resourceLogs: [{ resource: { attributes: [{ key: 'service.name', value: { stringValue: 'step-20-greeter' } }] } }] }),
    ...init,
  }).catch((err: Error) => err);

describe('the tripwire', () => {
  it('names what arrived, where, from which service: plain or chunked, on 127.0.0.1 and [::1]', async () => {
    const port = await freePort();
    const ipv6 = await hasIpv6Loopback();
    const wire = await armTripwire([port]);
    try {
      expect(wire.addresses).toEqual([`127.0.0.1:${port}`, ...(ipv6 ? [`[::1]:${port}`] : [])]);
      await export_(port);
      if (ipv6) await export_(port, '::1');
      // A body of unknown length, as the OTLP exporters send it.
      const logs = { resourceLogs: [{ resource: { attributes: [{ key: 'service.name', value: { stringValue: 'step-20-words' } }] } }] };
      const body = new ReadableStream({ start: (c) => (c.enqueue(new TextEncoder().encode(JSON.stringify(logs))), c.close()) });
      await export_(port, '127.0.0.1', { body, duplex: 'half' } as RequestInit);
      await expect.poll(() => wire.trips.length).toBe(wire.addresses.length + 1);
      expect(wire.report()).toContain(`to 127.0.0.1:${port}: POST /v1/logs from step-20-greeter`);
      expect(wire.report()).toContain(`to 127.0.0.1:${port}: POST /v1/logs from step-20-words`);
      if (ipv6) expect(wire.report()).toContain(`to [::1]:${port}: POST /v1/logs from step-20-greeter`);
    } finally {
      await wire.close();
    }
  });

  it('trips on any byte, HTTP or not; a connection that sends nothing is not a trip', async () => {
    const port = await freePort();
    const wire = await armTripwire([port]);
    try {
      const silent = connect(port, '127.0.0.1');
      await new Promise((resolve) => silent.once('connect', resolve));
      silent.end();
      const socket = connect(port, '127.0.0.1', () => socket.write('x'));
      socket.on('error', () => {});
      await expect.poll(() => wire.trips).toEqual([{ address: `127.0.0.1:${port}`, bytes: 1, what: '1 bytes that are not an HTTP/1.1 request' }]);
    } finally {
      await wire.close();
    }
  });

  it('refuses to arm, clearly, on a port that is taken, and leaves none of its ports taken', async () => {
    const taken = createServer().listen(0, '127.0.0.1');
    await new Promise((resolve) => taken.once('listening', resolve));
    const { port } = taken.address() as AddressInfo;
    const other = await freePort();
    try {
      await expect(armTripwire([other, port])).rejects.toThrow(`tripwire: 127.0.0.1:${port} is taken (a stack is running?)`);
      // The port it took before the failure is free again.
      const again = await armTripwire([other]);
      await again.close();
    } finally {
      taken.close();
    }
  });
});

describe('a stage the harness starts has an endpoint for every signal', () => {
  it('resolves each signal as the exporters do: its own variable, else the base one; empty is unset', () => {
    expect(defaultEndpointSignals({})).toEqual(['traces', 'metrics', 'logs']);
    expect(defaultEndpointSignals({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://127.0.0.1:9' })).toEqual([]);
    const tracesOnly = { OTEL_EXPORTER_OTLP_ENDPOINT: ' ', OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'http://127.0.0.1:9/v1/traces' };
    expect(defaultEndpointSignals(tracesOnly)).toEqual(['metrics', 'logs']);
  });

  it('refuses to start a stage whose environment leaves a signal to the default endpoint', async () => {
    // A bad batch delay too, which the stage itself refuses before it exports anything: should the
    // harness let the stage start, this test fails without sending anything to a learner's stack.
    const env = { OTEL_EXPORTER_OTLP_ENDPOINT: '', OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'http://127.0.0.1:9/v1/traces', OTEL_BSP_SCHEDULE_DELAY: 'soon' };
    await expect(startStage('step-19', { env, startTimeoutMs: 15_000 })).rejects.toThrow(
      'step-19: the test leaves metrics, logs to the default OTLP endpoint',
    );
  });

  it("refuses to boot a stage in pnpm test's quick tier, whose promise is to stay under a minute", async () => {
    await expect(startStage('step-06', { startTimeoutMs: 15_000 })).rejects.toThrow(
      "step-06: a test in pnpm test's quick tier boots a stage; move its file to the stages tier",
    );
  });
});
