// The collector version is written once (builder-config.yaml) and every image tag once
// (compose.yaml); this keeps the native build and the compose stack on the same versions.
import { describe, expect, it } from 'vitest';
import { readVersions, versionDrift } from './versions.ts';

describe('stack versions', () => {
  it('builder-config.yaml and compose.yaml agree, and every image tag is exact', () => {
    expect(versionDrift()).toEqual([]);
  });

  it('flags a compose collector image that drifts from the builder manifest', () => {
    const versions = readVersions();
    const drifted = { ...versions, images: { ...versions.images, collector: '0.999.0' } };
    expect(versionDrift(drifted)).toEqual([`compose.yaml: collector image 0.999.0 != builder-config.yaml ${versions.collector}`]);
  });

  it('flags a builder component left behind on another version', () => {
    const versions = readVersions();
    const module = Object.keys(versions.builderModules).find((m) => m.includes('otlpreceiver'))!;
    const drifted = { ...versions, builderModules: { ...versions.builderModules, [module]: 'v0.1.0' } };
    expect(versionDrift(drifted)).toEqual([`builder-config.yaml: ${module} is v0.1.0, dist.version is ${versions.collector}`]);
  });

  it('flags a floating image tag', () => {
    const versions = readVersions();
    expect(versionDrift({ ...versions, images: { ...versions.images, prometheus: 'latest' } })).toEqual(['compose.yaml: prometheus image needs an exact tag']);
  });
});
