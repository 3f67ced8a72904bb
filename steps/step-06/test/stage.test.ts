// Boots step-06 with its real start script and checks what the chapter promises:
// the app serves, survives its own error, and sends no telemetry anywhere.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import {
  describeLogSecrets,
  itMatchesTelemetrySnapshot,
  listStages,
  REPO_ROOT,
  runStage,
  startStage,
  type OtlpReceiver,
  type RunningStage,
  type StageExit,
  type StageRun,
} from '@otel-steps/shared/harness';

describe('step-06: the base case', () => {
  let run: StageRun;
  let receiver: OtlpReceiver;
  let statuses: number[];
  let exit: StageExit;

  beforeAll(async () => {
    // Pointed at a live receiver, so that any telemetry the stage sent would be caught.
    run = await runStage('step-06', { requests: ['/', '/error', '/nope', '/'] });
    ({ receiver, statuses, exit } = run);
  });

  afterAll(async () => {
    await run?.close();
  });

  it('answers 200, then 500 on /error and 404 on an unknown path, then 200 again: the server is still up after the error', () => {
    expect(statuses).toEqual([200, 500, 404, 200]);
  });

  it('prints the error to its log, as the chapter says', () => {
    expect(exit.output).toContain('Something went wrong on purpose');
  });

  it('shuts down cleanly on Ctrl+C (SIGINT)', () => {
    expect(exit.output).toContain('SIGINT received, closing the server');
    expect(exit.code).toBe(0);
  });

  it('exports nothing: no traces, metrics or logs reach the OTLP receiver', () => {
    expect(receiver.requests).toEqual([]);
  });

  itMatchesTelemetrySnapshot('step-06', () => run);
});

describe('step-06: responses', () => {
  let stage: RunningStage;

  beforeAll(async () => {
    stage = await startStage('step-06');
  });

  afterAll(async () => {
    await stage?.stop();
  });

  it('greets on /', async () => {
    const res = await stage.get('/');
    expect(res.status).toBe(200);
    expect(res.body).toBe('Hello from the otel-steps Fastify app!\n');
  });

  it('returns a clear JSON error on /error', async () => {
    const res = await stage.get('/error');
    expect(res.status).toBe(500);
    expect(JSON.parse(res.body)).toEqual({ statusCode: 500, error: 'Internal Server Error', message: 'Something went wrong on purpose' });
  });

  it('masks secret query values in its error log line, and keeps the rest', async () => {
    const before = stage.output().length;
    expect((await stage.get('/error?password=hunter2&Token=t0k3n&lang=en')).status).toBe(500);
    await expect.poll(() => stage.output().slice(before)).toContain('"url":"/error?password=REDACTED&Token=REDACTED&lang=en"');
    expect(stage.output()).not.toMatch(/hunter2|t0k3n/);
  });

  it('reports health on /healthz', async () => {
    const res = await stage.get('/healthz');
    expect(res.status).toBe(200);
    expect(JSON.parse(res.body)).toEqual({ status: 'ok' });
  });

  it('answers 404 for an unknown path, prints nothing about it, and keeps serving', async () => {
    const before = stage.output();
    expect((await stage.get('/nope')).status).toBe(404);
    expect((await stage.get('/')).status).toBe(200);
    expect(stage.output()).toBe(before);
  });
});

describe('step-06: bad configuration', () => {
  it('refuses a PORT that is not a number, with a clear message', async () => {
    await expect(startStage('step-06', { env: { PORT: 'abc' }, startTimeoutMs: 15_000 })).rejects.toThrow(/PORT must be an integer between 0 and 65535, got "abc"/);
  });

  it('names the busy port and the PORT variable when another process holds the port', async () => {
    const holder = createServer();
    await new Promise<void>((resolve) => holder.listen(0, '127.0.0.1', resolve));
    const port = String((holder.address() as { port: number }).port);
    try {
      const started = startStage('step-06', { env: { PORT: port }, startTimeoutMs: 15_000 });
      await expect(started).rejects.toThrow(new RegExp(`could not listen on 127\\.0\\.0\\.1:${port}: port ${port} is already in use .*PORT=3031`));
      await expect(started).rejects.not.toThrow(/EADDRINUSE/);
    } finally {
      holder.close();
    }
  });
});

describe('step-06: where it listens', () => {
  it('prints the address it is really bound to, not always 127.0.0.1', async () => {
    const stage = await startStage('step-06', { env: { HOST: '::1' } });
    try {
      expect(stage.baseUrl).toMatch(/^http:\/\/\[::1\]:\d+$/);
      expect((await stage.get('/')).status).toBe(200);
    } finally {
      await stage.stop();
    }
  });
});

describe('src/server.ts', () => {
  it('is the same file, byte for byte, in every stage, as this chapter says', () => {
    const servers = listStages().map((stage) => readFileSync(join(REPO_ROOT, 'steps', stage.name, 'src', 'server.ts'), 'utf8'));
    expect(servers.length).toBeGreaterThan(1);
    for (const server of servers) expect(server).toBe(servers[0]);
  });
});

describeLogSecrets('step-06');
