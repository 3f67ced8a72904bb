// Step 21's page clicked in Chromium, for a test or a check that may run where no Chromium is:
// there it says so instead of failing, and the promise that needed it is left unchecked.
import { existsSync } from 'node:fs';
// Nothing of playwright loads until a browser is there to drive.
import { CHROMIUM, clickThePage, launchChromium, type Clicked, type ClickOptions } from './browser-page.ts';

/** Clicks both buttons of the page at `baseUrl` (opened as `options.path`), or says why it could not. */
export async function clickInChromium(baseUrl: string, options: ClickOptions = {}): Promise<Clicked | { unchecked: string }> {
  if (!existsSync(CHROMIUM)) return { unchecked: `not checked here: no Chromium at ${CHROMIUM} (install Debian's chromium, or set CHROMIUM_PATH)` };
  const browser = await launchChromium();
  try {
    return await clickThePage(browser, baseUrl, options);
  } finally {
    await browser.close();
  }
}
