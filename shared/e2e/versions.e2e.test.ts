// The stack that answers runs the versions collector/ pins: natively what shared/stack/build.ts
// built from them, in compose the images' own builds. Each backend is asked for its version the way
// it reports it on both stacks (Jaeger's UI page carries its build, VictoriaLogs its metrics).
import { describe, expect, it } from 'vitest';
import { URLS } from '../stack/urls.ts';
import { readVersions } from '../stack/versions.ts';

const versions = readVersions();

describe('the running stack is at the pinned versions', () => {
  it(`Jaeger reports v${versions.images.jaeger}, the Go module ${versions.jaeger?.module}'s release, on the page its UI serves`, async () => {
    // The query service writes its build into the UI's index.html (JAEGER_VERSION); natively the
    // page is the placeholder the Go module ships instead of the UI, with the same line.
    const page = await (await fetch(`${URLS.jaeger}/`)).text();
    const build = /JAEGER_VERSION = (\{[^}]*\})/.exec(page)?.[1];
    expect(build, page.slice(0, 400)).toBeDefined();
    expect((JSON.parse(build!) as { gitVersion: string }).gitVersion).toBe(`v${versions.images.jaeger}`);
    // The UI's settings are served with it: the link from a trace to its logs.
    expect(page).toContain('Logs of this trace (VictoriaLogs)');
  });

  it(`VictoriaLogs reports ${versions.victorialogs} in its metrics`, async () => {
    const metrics = await (await fetch(`${URLS.victorialogs}/metrics`)).text();
    expect(/^vm_app_version\{[^}]*short_version="([^"]+)"/m.exec(metrics)?.[1]).toBe(versions.victorialogs);
  });
});
