// One coherent version line: every OpenTelemetry package exists once in the lockfile, and each
// OpenTelemetry and Fastify package the catalog pins is installed at exactly that version,
// whoever asked for it (tools such as @types/node may bring a second copy of their own).
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { REPO_ROOT } from '../repo.ts';

const lock = parse(readFileSync(join(REPO_ROOT, 'pnpm-lock.yaml'), 'utf8')) as { packages: Record<string, unknown>; snapshots: Record<string, { dependencies?: Record<string, string> }> };
const catalog = (parse(readFileSync(join(REPO_ROOT, 'pnpm-workspace.yaml'), 'utf8')) as { catalog: Record<string, string> }).catalog;

/** name -> every version of it in the lockfile. */
const installed = new Map<string, Set<string>>();
for (const key of Object.keys(lock.packages)) {
  const at = key.lastIndexOf('@');
  const [name, version] = [key.slice(0, at), key.slice(at + 1)];
  installed.set(name, (installed.get(name) ?? new Set()).add(version));
}

describe('one version line', () => {
  it('has every OpenTelemetry package once', () => {
    const otel = [...installed].filter(([name]) => name.startsWith('@opentelemetry/'));
    expect(otel.length).toBeGreaterThan(20);
    expect(otel.filter(([, versions]) => versions.size > 1).map(([name, versions]) => `${name}: ${[...versions].join(', ')}`)).toEqual([]);
  });

  it('installs every OpenTelemetry and Fastify package the catalog pins at exactly that version', () => {
    const off = Object.entries(catalog)
      .filter(([name]) => /^@opentelemetry\/|^@fastify\/|^fastify$/.test(name))
      .filter(([name, version]) => installed.has(name) && ![...installed.get(name)!].every((v) => v === String(version)))
      .map(([name, version]) => `${name}: catalog ${version}, lockfile ${[...installed.get(name)!].join(', ')}`);
    expect(off).toEqual([]);
  });

  it('keeps the SDK 3 line: experimental packages at the catalog exporter version, but for the one without a release there', () => {
    const line = catalog['@opentelemetry/exporter-trace-otlp-http'];
    const core = ['sdk-node', 'configuration', 'otlp-grpc-exporter-base', 'exporter-trace-otlp-proto', 'exporter-metrics-otlp-http', 'exporter-logs-otlp-http', 'instrumentation-http'];
    for (const name of core) expect([...installed.get(`@opentelemetry/${name}`)!], name).toEqual([line]);
    expect([...installed.get('@opentelemetry/instrumentation-grpc')!]).toEqual(['0.300.0']);
  });

  it("puts step 21's browser packages, which pin the 3.0.0 SDK, on the catalog's line", () => {
    // Each browser package's own dependencies, as the lockfile resolved them (overrides applied).
    const resolved = (name: string): Record<string, string> => {
      const key = Object.keys(lock.snapshots).find((k) => k.startsWith(`${name}@`));
      expect(key, name).toBeDefined();
      return lock.snapshots[key!]!.dependencies ?? {};
    };
    for (const name of ['@opentelemetry/instrumentation-fetch', '@opentelemetry/instrumentation-document-load', '@opentelemetry/web-common']) {
      const deps = resolved(name);
      expect(deps['@opentelemetry/core']?.split('(')[0], name).toBe(catalog['@opentelemetry/core']);
      if (deps['@opentelemetry/instrumentation']) expect(deps['@opentelemetry/instrumentation'].split('(')[0], name).toBe(catalog['@opentelemetry/instrumentation']);
      if (deps['@opentelemetry/sdk-trace']) expect(deps['@opentelemetry/sdk-trace'].split('(')[0], name).toBe(catalog['@opentelemetry/sdk-trace']);
    }
  });
});
