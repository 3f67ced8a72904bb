// Monitoring, end to end: step 22 started through its start script against the running stack,
// with a flag file of its own; `pnpm traffic` with every flag off raises no alert; slow-words
// switched on in the file, the same traffic fires ServiceLatencyP95High (collector/alerts.yaml)
// for the services it slows, on Prometheus's Alerts page, pictured in Chromium; switched off, the
// alert resolves. The rules' `for: 30s` and the 5 s evaluation make each step take under a minute.
import { type ChildProcess, spawn } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { getJson, promQuery } from '../backends/index.ts';
import { ALERT_SCREENSHOTS } from '../docs/screenshots.ts';
import { launchChromium } from '../harness/browser-page.ts';
import { startStage, type RunningStage } from '../harness/stage-runner.ts';
import { REPO_ROOT } from '../repo.ts';
import { URLS } from '../stack/urls.ts';

const STAGE_DIR = join(REPO_ROOT, 'steps', 'step-22');
const ALERT = 'ServiceLatencyP95High';
// slow-words is in words; greeter and gateway wait for words, so their requests are slow too.
const SLOWED = ['step-22-gateway', 'step-22-greeter', 'step-22-words'];

type RuleFile = { groups: Array<{ rules: Array<{ alert?: string; for?: string }> }> };
type LoadedRules = { data: { groups: Array<{ rules: Array<{ name: string; duration: number }> }> } };
type AlertState = { service: string; alert: string; state: string };

/** The alerts Prometheus holds for step 22's services now, pending or firing. */
async function step22Alerts(): Promise<AlertState[]> {
  const samples = await promQuery('ALERTS{service_name=~"step-22-.*"}');
  const alerts = samples.map((s) => ({ service: s.metric.service_name!, alert: s.metric.alertname!, state: s.metric.alertstate! }));
  return alerts.sort((a, b) => a.service.localeCompare(b.service));
}

/** Asks `check` every second until it returns a value, for at most `timeoutMs`; returns it and the time it took. */
async function within<T>(what: string, timeoutMs: number, check: () => Promise<T | undefined>): Promise<{ value: T; ms: number }> {
  const start = Date.now();
  for (;;) {
    const value = await check();
    if (value !== undefined) return { value, ms: Date.now() - start };
    if (Date.now() - start > timeoutMs) {
      throw new Error(`not within ${timeoutMs / 1000} s: ${what}; step 22's alerts now: ${JSON.stringify(await step22Alerts())}`);
    }
    await new Promise((r) => setTimeout(r, 1000));
  }
}

describe('alerts: a fault in step 22 fires its alert in Prometheus, and resolves once switched off', () => {
  const dir = mkdtempSync(join(tmpdir(), 'otel-steps-alerts-'));
  const flagsFile = join(dir, 'flags.json');
  // The picture the chapter shows is written here; SCREENSHOTS_OUT=shared/docs/screenshots writes the committed one.
  const shots = process.env.SCREENSHOTS_OUT ?? join(dir, 'screenshots');
  let stage: RunningStage;
  let traffic: ChildProcess | undefined;

  const setFlag = (flag: string, on: boolean): void => {
    const flags = JSON.parse(readFileSync(flagsFile, 'utf8')) as { flags: Record<string, { defaultVariant: string }> };
    flags.flags[flag]!.defaultVariant = on ? 'on' : 'off';
    writeFileSync(flagsFile, JSON.stringify(flags, null, 2));
  };
  /** `pnpm traffic`'s tool against the stage, as the chapter runs it, for `seconds` (its default rate, 10 requests a second). */
  const sendTraffic = (seconds: number): void => {
    traffic?.kill('SIGINT');
    const args = ['shared/tools/traffic.ts', '--target', stage.baseUrl, '--duration', String(seconds), '--count', String(seconds * 10)];
    traffic = spawn(process.execPath, args, { cwd: REPO_ROOT, stdio: 'ignore' });
  };

  beforeAll(async () => {
    copyFileSync(join(STAGE_DIR, 'flags.json'), flagsFile);
    stage = await startStage('step-22', { otlpEndpoint: URLS.otlpHttp, env: { FLAGS_FILE: flagsFile } });
  });

  afterAll(async () => {
    traffic?.kill('SIGINT');
    await stage?.stop('SIGINT');
    rmSync(dir, { recursive: true, force: true });
  });

  it("Prometheus has loaded every alerting rule in collector/alerts.yaml, with the 30 s `for:` the room's alerts use", async () => {
    const file = parse(readFileSync(join(REPO_ROOT, 'collector', 'alerts.yaml'), 'utf8')) as RuleFile;
    const inFile = file.groups.flatMap((g) => g.rules).map((r) => r.alert).filter(Boolean).sort();
    expect(inFile).toEqual(['EventLoopDelayHigh', 'HeapUsedHigh', 'ServiceErrorRatioHigh', 'ServiceLatencyP95High']);
    expect(new Set(file.groups.flatMap((g) => g.rules).map((r) => r.for))).toEqual(new Set(['30s']));
    const loaded = await getJson<LoadedRules>('Prometheus', `${URLS.prometheus}/api/v1/rules?type=alert`);
    const rules = loaded.data.groups.flatMap((g) => g.rules);
    expect(rules.map((r) => r.name).sort()).toEqual(inFile);
    expect(new Set(rules.map((r) => r.duration))).toEqual(new Set([30]));
  });

  it(`with every flag off, traffic raises no alert; slow-words on, ${ALERT} fires for ${SLOWED.join(', ')} within two minutes; off, it resolves`, async () => {
    // Healthy: 40 s of traffic, enough for any alert to pass its 30 s of pending and fire, once
    // the stage is warm: a just-started stage's first requests are slow (on a loaded machine, for
    // long enough to fire the latency alert), and they stay in the rules' one-minute window.
    sendTraffic(160);
    const started = Date.now();
    while (Date.now() - started < 60_000 || (await step22Alerts()).some((a) => a.state === 'firing')) {
      if (Date.now() - started > 120_000) break;
      await new Promise((r) => setTimeout(r, 2000));
    }
    const quietSince = Date.now();
    while (Date.now() - quietSince < 40_000) {
      const firing = (await step22Alerts()).filter((a) => a.state === 'firing');
      expect(firing, 'no alert fires for step 22 with every flag off').toEqual([]);
      await new Promise((r) => setTimeout(r, 2000));
    }

    setFlag('slow-words', true);
    sendTraffic(120);
    const fired = await within(`${ALERT} firing for ${SLOWED.join(', ')}`, 120_000, async () => {
      const firing = (await step22Alerts()).filter((a) => a.alert === ALERT && a.state === 'firing').map((a) => a.service);
      return SLOWED.every((service) => firing.includes(service)) ? firing : undefined;
    });
    expect(fired.value).toEqual(SLOWED);
    console.log(`${ALERT} fired for ${SLOWED.join(', ')} ${Math.round(fired.ms / 1000)} s after slow-words was switched on`);
    // slow-words raises nothing else: no errors, no blocked event loop, no heap.
    expect((await step22Alerts()).filter((a) => a.alert !== ALERT)).toEqual([]);

    // What the learner sees: the Alerts page, the alert open, its three services firing.
    const page = await alertsPage(shots);
    for (const service of SLOWED) expect(page.firing.filter((row) => row.includes(`service_name="${service}"`)), service).toHaveLength(1);
    expect(page.text).toMatch(/step-22-words: p95 latency \d+ ms \(over 500 ms for 30 s\)/);

    // Fixed: the flag off, the traffic still on; the slow requests leave the one-minute window.
    setFlag('slow-words', false);
    const resolved = await within(`${ALERT} resolved for step 22`, 120_000, async () => ((await step22Alerts()).length === 0 ? true : undefined));
    console.log(`and resolved ${Math.round(resolved.ms / 1000)} s after it was switched off`);
  }, 330_000);

  it('wrote the picture of the Alerts page the chapter shows: a PNG under 150 KB', () => {
    const file = join(shots, ALERT_SCREENSHOTS.prometheusAlerts);
    expect(readFileSync(file).subarray(1, 4).toString()).toBe('PNG');
    expect(statSync(file).size).toBeLessThan(150 * 1024);
  });
});

/**
 * Prometheus's Alerts page in Chromium, as a learner opens it: firing and pending alerts only,
 * with their annotations, and ServiceLatencyP95High open. Writes its picture into `outDir`;
 * returns the page's text. Debian's Prometheus 2.42 (the native stack) serves the classic UI at
 * /classic/alerts; Prometheus 3 (compose) serves its own at /alerts.
 */
async function alertsPage(outDir: string): Promise<{ text: string; firing: string[] }> {
  mkdirSync(outDir, { recursive: true });
  // The classic page is rendered on the server: its text is in the answer (Prometheus 3 answers its own app, or 404).
  const classic = (await (await fetch(`${URLS.prometheus}/classic/alerts`)).text()).includes('Show annotations');
  const browser = await launchChromium();
  try {
    const page = await (await browser.newContext({ viewport: { width: 1200, height: 1000 } })).newPage();
    if (classic) {
      await page.goto(`${URLS.prometheus}/classic/alerts`);
      await page.getByText('Inactive (', { exact: false }).click();
      await page.getByText('Show annotations').click();
      await page.locator('b', { hasText: ALERT }).first().click();
      // Each group is headed by its file's absolute path: the picture says collector/alerts.yaml, not
      // where this machine keeps the repository (or the native stack's run directory).
      await page.evaluate(() => {
        for (const cell of document.querySelectorAll('td, th, h2')) {
          if (cell.children.length === 0) cell.textContent = (cell.textContent ?? '').replace(/^\s*\S*\/(alerts[^/\s]*\.yaml) >/, 'collector/$1 >');
        }
      });
      const row = page.locator('tr', { hasText: 'service_name="step-22-words"' }).first();
      await row.waitFor({ timeout: 10_000 });
      // The rule's name near the top, its firing services below it (other rules firing above it are scrolled past).
      await page.locator('b', { hasText: ALERT }).first().evaluate((el) => el.getBoundingClientRect().top > 300 && el.scrollIntoView({ block: 'start' }));
    } else {
      await page.goto(`${URLS.prometheus}/alerts`);
      await page.getByText(ALERT).first().click();
      await page.getByText('step-22-words').first().waitFor({ timeout: 10_000 });
    }
    await page.waitForTimeout(300);
    await page.screenshot({ path: join(outDir, ALERT_SCREENSHOTS.prometheusAlerts) });
    const rows = await page.locator('tr').allInnerTexts();
    // One row per alert, its labels first (the rule's own row holds them all, in a table of its own).
    const firing = rows.filter((row) => /^\s*alertname=/.test(row) && /firing/i.test(row) && row.includes(ALERT));
    return { text: await page.locator('body').innerText(), firing };
  } finally {
    await browser.close();
  }
}
