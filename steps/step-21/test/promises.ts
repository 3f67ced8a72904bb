// What chapter 21 promises its code emits, one line each in the chapter's words: held against the
// reference stage (a copy of it, run as an exercise, by exercises.test) and by `pnpm check 21` against a learner's exercise. The
// gateway's half is checked with plain requests; the page's half needs a browser (Chromium),
// and is left unchecked, and says so, where there is none.
import { clickInChromium, SpanKind, type Lesson, type RunningStage, type StageRun } from '@otel-steps/shared/harness';

const BROWSER = 'step-21-browser';
// The page is opened from a link with a token in its query, and another in its fragment, where
// OAuth's implicit flow puts it: neither may leave the browser.
const PAGE_PATH = '/?token=tok-PAGE-QUERY#access_token=tok-PAGE-FRAGMENT&token_type=bearer';
const PAGE_SECRETS = ['tok-PAGE-QUERY', 'tok-PAGE-FRAGMENT'];
const now = String(BigInt(Date.now()) * 1_000_000n);
/** One span, as a page's exporter posts it, claiming to be the gateway. */
const forged = {
  resourceSpans: [
    {
      resource: { attributes: [{ key: 'service.name', value: { stringValue: 'step-21-gateway' } }] },
      scopeSpans: [{ scope: { name: 'check' }, spans: [{ traceId: 'e'.repeat(32), spanId: 'f'.repeat(16), name: 'posted by pnpm check', kind: 1, startTimeUnixNano: now, endTimeUnixNano: now }] }],
    },
  ],
};

interface Found {
  page: { status: number; type: string; traceparent?: string };
  scripts: Record<string, { status: number; type: string }>;
  own: number;
  other: number;
  clicked?: { greetTraceId: string; posted: string[] } | { unchecked: string } | string;
}

async function during(stage: RunningStage): Promise<Found> {
  const url = (path: string): string => new URL(path, stage.baseUrl).href;
  const page = await fetch(url('/'), { headers: { accept: 'text/html' } });
  const html = await page.text();
  const scripts: Found['scripts'] = {};
  for (const path of ['/telemetry.js', '/app.js']) {
    const res = await fetch(url(path));
    scripts[path] = { status: res.status, type: res.headers.get('content-type') ?? '' };
  }
  const post = (origin: string): Promise<number> =>
    fetch(url('/v1/traces'), { method: 'POST', headers: { 'content-type': 'application/json', origin }, body: JSON.stringify(forged) }).then((r) => r.status);
  const found: Found = {
    page: { status: page.status, type: page.headers.get('content-type') ?? '', traceparent: /<meta name="traceparent" content="00-[0-9a-f]{32}-([0-9a-f]{16})-01">/.exec(html)?.[1] },
    scripts,
    own: await post(new URL(stage.baseUrl).origin),
    other: await post('http://elsewhere.example'),
  };
  // No page, nothing to click: the first promise already says so.
  if (!found.page.type.startsWith('text/html')) return { ...found, clicked: 'no page to click: GET / did not answer a browser with the page' };
  const clicked = await clickInChromium(stage.baseUrl, { path: PAGE_PATH }).catch((err: Error) => `the page failed: ${err.message.split('\n')[0]}`);
  return { ...found, clicked };
}
const found = (run: StageRun): Found => run.during as Found;

export const lesson: Lesson = {
  stage: 'step-21',
  run: { requests: ['/'], during },
  promises: [
    {
      says: 'a browser asking for `/` gets the page, with the gateway\'s span for it in `<meta name="traceparent">`',
      look: 'src/browser.ts and src/app.ts, "What changed since step 20"',
      check: (run) => {
        const { page } = found(run);
        if (page.status !== 200 || !page.type.startsWith('text/html')) return `GET / for a browser answered ${page.status} ${page.type}`;
        return page.traceparent && run.receiver.spans.some((s) => s.spanId === page.traceparent) ? undefined : `the page's traceparent (${page.traceparent ?? 'none'}) is no span that arrived`;
      },
    },
    {
      says: "the page's two scripts are served as JavaScript, bundled from TypeScript: `/telemetry.js` and `/app.js`",
      look: 'src/browser.ts: the esbuild bundle',
      check: (run) => {
        const off = Object.entries(found(run).scripts).filter(([, r]) => r.status !== 200 || !r.type.startsWith('text/javascript'));
        return off.length === 0 ? undefined : off.map(([path, r]) => `${path}: ${r.status} ${r.type}`).join('; ');
      },
    },
    {
      says: `the page's spans, posted to \`/v1/traces\` from its own origin, arrive as \`${BROWSER}\`, whatever \`service.name\` they claim`,
      look: '"Where the page sends its spans, and what a stranger can do with that"',
      check: (run) => {
        const span = run.receiver.spans.find((s) => s.name === 'posted by pnpm check');
        if (found(run).own !== 200) return `the post answered ${found(run).own}`;
        return span?.resource['service.name'] === BROWSER ? undefined : `it arrived as ${span ? String(span.resource['service.name']) : 'nothing'}`;
      },
    },
    {
      says: 'a post from another origin is refused (403)',
      look: '"Where the page sends its spans, and what a stranger can do with that"',
      check: (run) => (found(run).other === 403 ? undefined : `it answered ${found(run).other}`),
    },
    {
      says: 'in Chromium, a click on Greet me is one trace, from the page\'s click span through the gateway to words',
      look: 'src/browser/telemetry.ts and src/browser/app.ts, "Context in a browser"',
      check: (run) => {
        const clicked = found(run).clicked!;
        if (typeof clicked === 'string' || 'unchecked' in clicked) return clicked;
        const trace = run.receiver.spans.filter((s) => s.traceId === clicked.greetTraceId);
        const root = trace.find((s) => s.parentSpanId === '');
        const services = new Set(trace.map((s) => String(s.resource['service.name'])));
        return root && root.resource['service.name'] === BROWSER && services.size === 4 && trace.some((s) => s.kind === SpanKind.CLIENT && s.resource['service.name'] === BROWSER)
          ? undefined
          : `the click's trace has the services ${[...services].join(', ') || '(none)'}`;
      },
    },
    {
      says: 'a page opened as `/?token=...#access_token=...` sends neither token: query secrets masked, the fragment dropped from `url.full`',
      look: 'src/browser/telemetry.ts: withoutQuerySecrets',
      extra: true,
      check: (run) => {
        const clicked = found(run).clicked!;
        if (typeof clicked === 'string' || 'unchecked' in clicked) return clicked;
        const sent = clicked.posted.join('\n');
        if (!sent.includes('documentLoad')) return 'the page posted no documentLoad span';
        const secrets = PAGE_SECRETS.filter((secret) => sent.includes(secret));
        return secrets.length === 0 ? undefined : `the page posted ${secrets.join(' and ')}`;
      },
    },
  ],
};
