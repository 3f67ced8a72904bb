// The collector itself: what it printed, and an OTLP/JSON export sent to it as an SDK would.
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { FILES } from '../stack/versions.ts';
import { URLS } from '../stack/urls.ts';

/**
 * What the collector has printed so far (its debug exporter shows everything it sends): the native
 * stack's log file, or, with no file, the compose stack's container log.
 */
export function collectorOutput(logFile?: string): string {
  if (logFile) return readFileSync(logFile, 'utf8');
  const logs = spawnSync('docker', ['compose', '--file', FILES.compose, 'logs', '--no-color', 'otel-collector'], { encoding: 'utf8' });
  return logs.stdout ?? '';
}

/** Sends one OTLP/JSON export request to the collector. */
export async function sendOtlpJson(signal: 'traces' | 'logs', body: unknown): Promise<void> {
  const res = await fetch(`${URLS.otlpHttp}/v1/${signal}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
    signal: AbortSignal.timeout(5000),
  });
  if (!res.ok) throw new Error(`collector refused ${signal}: HTTP ${res.status} ${await res.text()}`);
}
