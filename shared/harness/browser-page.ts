// Step 21's page, driven in Chromium as a learner uses it: open it, click Greet me, then Fail,
// read what the page shows (the answer and the click's trace id), and close it. The end-to-end
// tests check what arrives from it; `pnpm screenshots` uses it to make the trace it pictures.
import { existsSync } from 'node:fs';
// Types only at the top: playwright itself loads in launchChromium, when there is a browser to drive.
import type { Browser, ConsoleMessage, Page } from 'playwright-core';

/** The Chromium the browser tests drive: Debian's, or the one CHROMIUM_PATH names. */
export const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

/** Debian's Chromium, headless, with nothing that would reach for the network on its own. */
export async function launchChromium(): Promise<Browser> {
  if (!existsSync(CHROMIUM)) {
    throw new Error(`no Chromium at ${CHROMIUM}: install Debian's chromium package (sudo apt-get install chromium), or set CHROMIUM_PATH`);
  }
  const { chromium } = await import('playwright-core');
  const quiet = ['--disable-background-networking', '--disable-component-update', '--disable-sync'];
  return chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', ...quiet] });
}

export interface Clicked {
  /** The trace id the page showed after each click. */
  greetTraceId: string;
  failTraceId: string;
  /** What the page showed as the answer to each click. */
  greetAnswer: string;
  failAnswer: string;
  /** The bodies the page posted to /v1/traces, as they left the browser. */
  posted: string[];
}

export interface ClickOptions {
  /** Opened instead of `/`: a query string, say. */
  path?: string;
  /** Cookies the browser holds for the page's origin, sent with each of its requests. */
  cookies?: Record<string, string>;
  /** A URL of another origin the page fetches between the two clicks. */
  alsoFetch?: string;
  /** Ignore the page's Content-Security-Policy, which lets it reach its own origin only. */
  bypassCsp?: boolean;
}

/** A span as the page's console exporter prints it when the span ends. */
interface PrintedSpan {
  name?: string;
  traceId?: string;
  attributes?: Record<string, unknown>;
}

/**
 * Opens the page at `baseUrl`, clicks both buttons, and closes it as soon as the last span has
 * ended, before the page's next scheduled export: what the last click recorded reaches the gateway
 * only if closing the page sends it.
 */
export async function clickThePage(browser: Browser, baseUrl: string, { path = '/', cookies = {}, alsoFetch, bypassCsp = false }: ClickOptions = {}): Promise<Clicked> {
  const context = await browser.newContext({ bypassCSP: bypassCsp });
  try {
    await context.addCookies(Object.entries(cookies).map(([name, value]) => ({ name, value, url: baseUrl })));
    const page = await context.newPage();
    const failures: string[] = [];
    page.on('pageerror', (err) => failures.push(err.message));
    const posted: string[] = [];
    page.on('request', (request) => {
      if (new URL(request.url()).pathname === '/v1/traces') posted.push(request.postData() ?? '');
    });
    const loaded = ended(page, (span) => span.name === 'documentLoad');
    await page.goto(new URL(path, baseUrl).href, { waitUntil: 'load' });
    await loaded;
    const click = async (button: string, status: string): Promise<[string, string]> => {
      const printed: PrintedSpan[] = [];
      const listen = (message: ConsoleMessage): void => void printedSpan(message).then((span) => span && printed.push(span));
      page.on('console', listen);
      await page.click(`#${button}`);
      await page.waitForFunction((s) => document.querySelector('#answer')?.getAttribute('data-status') === s, status, { timeout: 15_000 });
      const traceId = (await page.textContent('#trace-id')) ?? '';
      // The fetch instrumentation ends its span a moment after the answer, once the browser has
      // the request's timings (up to 300 ms).
      await poll(() => printed.some((span) => span.name === 'GET' && span.traceId === traceId));
      page.off('console', listen);
      return [(await page.textContent('#answer')) ?? '', traceId];
    };
    const [greetAnswer, greetTraceId] = await click('greet', '200');
    if (alsoFetch) {
      const fetched = ended(page, (span) => span.attributes?.['url.full'] === alsoFetch);
      await page.evaluate((url) => fetch(url).then((r) => r.text()), alsoFetch);
      await fetched;
    }
    const [failAnswer, failTraceId] = await click('fail', '500');
    if (failures.length > 0) throw new Error(`the page threw: ${failures.join('; ')}`);
    // Closing it is what sends the last batch: the page's pagehide and visibilitychange handlers.
    await page.close({ runBeforeUnload: true });
    // keepalive lets that post outlive the page, not the browser context: give it a moment.
    await new Promise((r) => setTimeout(r, 500));
    return { greetTraceId, failTraceId, greetAnswer, failAnswer, posted };
  } finally {
    await context.close();
  }
}

/** The span a console message prints, if it is one (the console exporter prints an object with a traceId). */
async function printedSpan(message: ConsoleMessage): Promise<PrintedSpan | undefined> {
  const value = (await message.args()[0]?.jsonValue().catch(() => undefined)) as PrintedSpan | undefined;
  return value && typeof value === 'object' && typeof value.traceId === 'string' ? value : undefined;
}

/** Resolves once the page has printed a span that `matches`. */
function ended(page: Page, matches: (span: PrintedSpan) => boolean, timeoutMs = 15_000): Promise<void> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`the page printed no such span within ${timeoutMs} ms`)), timeoutMs);
    const listen = (message: ConsoleMessage): void =>
      void printedSpan(message).then((span) => {
        if (!span || !matches(span)) return;
        page.off('console', listen);
        clearTimeout(timer);
        resolve();
      });
    page.on('console', listen);
  });
}

async function poll(check: () => boolean, timeoutMs = 10_000): Promise<void> {
  for (const deadline = Date.now() + timeoutMs; !check(); await new Promise((r) => setTimeout(r, 20))) {
    if (Date.now() > deadline) throw new Error(`no fetch span in the trace of the click within ${timeoutMs} ms (is fetch called before the click's first await?)`);
  }
}
