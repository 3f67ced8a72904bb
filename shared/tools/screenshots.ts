// `pnpm screenshots`: writes the pictures the chapters' "look at it" sections show
// (shared/docs/screenshots/), with the same browser walk-through the end-to-end test checks.
// It needs a stack running in another terminal (`pnpm stack:native` or `pnpm stack:up`), and
// Debian's Chromium (`sudo apt-get install chromium`; CHROMIUM_PATH names another one).
import { parseArgs } from 'node:util';
import { relative } from 'node:path';
import { REPO_ROOT } from '../repo.ts';
import { waitForStack } from '../stack/learner-stack.ts';
import { SCREENSHOT_DIR, SCREENSHOTS } from '../docs/screenshots.ts';
import { lookAtIt, lookAtTheBrowserTrace, lookAtTheStages, stagesTraffic, step19Traffic, step21Traffic } from '../docs/look-at-it.ts';
import { fail, parseOrFail } from '../cli.ts';

const TOOL = 'screenshots';
const { values } = parseOrFail(TOOL, () => parseArgs({ options: { out: { type: 'string' }, help: { type: 'boolean', short: 'h' } } }));
if (values.help) {
  console.log(`usage: pnpm screenshots [--out DIR]   (default ${relative(REPO_ROOT, SCREENSHOT_DIR)}; needs a running stack)`);
  process.exit(0);
}
const out = values.out ?? SCREENSHOT_DIR;
try {
  await waitForStack({ timeout: 3_000 });
} catch {
  fail(TOOL, 'no stack answers on 127.0.0.1: start one in another terminal (pnpm stack:native, or pnpm stack:up) and run this again', 1);
}
try {
  const traceId = await step19Traffic();
  await lookAtIt(traceId, out);
  const clicked = await step21Traffic();
  await lookAtTheBrowserTrace(clicked, out);
  await lookAtTheStages(await stagesTraffic(), out);
  console.log(`wrote ${Object.values(SCREENSHOTS).join(', ')} to ${relative(process.cwd(), out) || '.'} (step 19's GET /error, trace ${traceId}; step 21's Greet me, trace ${clicked})`);
} catch (err) {
  fail(TOOL, (err as Error).message, 1);
}
