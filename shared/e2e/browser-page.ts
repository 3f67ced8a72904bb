// Step 21's page, driven in Chromium as a learner uses it: open it, click Greet me, then Fail,
// read what the page shows (the answer and the click's trace id), and close it. The end-to-end
// tests check what arrives from it; `pnpm screenshots` uses it to make the trace it pictures.
import type { Browser } from 'playwright-core';

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
  /** Run in the page after the clicks, before it closes. */
  inPage?: string;
  /** Ignore the page's Content-Security-Policy, which lets it reach its own origin only. */
  bypassCsp?: boolean;
}

/** Opens the page at `baseUrl`, clicks both buttons, and closes it (which flushes its spans). */
export async function clickThePage(browser: Browser, baseUrl: string, { path = '/', cookies = {}, inPage, bypassCsp = false }: ClickOptions = {}): Promise<Clicked> {
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
    await page.goto(new URL(path, baseUrl).href, { waitUntil: 'load' });
    const click = async (button: string, status: string): Promise<[string, string]> => {
      await page.click(`#${button}`);
      await page.waitForFunction((s) => document.querySelector('#answer')?.getAttribute('data-status') === s, status, { timeout: 15_000 });
      return [(await page.textContent('#answer')) ?? '', (await page.textContent('#trace-id')) ?? ''];
    };
    const [greetAnswer, greetTraceId] = await click('greet', '200');
    const [failAnswer, failTraceId] = await click('fail', '500');
    if (inPage) await page.evaluate(inPage);
    // The fetch instrumentation ends its span a moment after the answer, once the browser has the
    // request's timings (up to 300 ms): a page closed before that loses the span, as the chapter says.
    await page.waitForTimeout(1_000);
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
