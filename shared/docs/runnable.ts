// Docs that run: every shell command, PromQL query and URL a chapter gives a learner, found and
// sorted by where a test runs it. `pnpm test:stages` runs what needs no stack (runnable.test.ts), the e2e
// suite runs the rest against the real backends (docs.e2e.test.ts), and a command no test can run
// is an error, so a chapter cannot promise something nobody checks.
import { readFileSync } from 'node:fs';
import { relative } from 'node:path';
import { REPO_ROOT } from '../repo.ts';
import { STACK_PORTS } from '../stack/urls.ts';

export interface Snippet {
  /** Path relative to the repository root. */
  file: string;
  line: number;
  text: string;
  /** The `# ...` comment after a shell command, which may say what it prints. */
  comment: string;
}

/** Where a command is run: by `pnpm test:stages` with no stack, by `pnpm test:e2e`, or by a CI step. */
export type Runner =
  | { kind: 'set-up' }
  | { kind: 'stage'; stage: string; script: string }
  | { kind: 'stage-curl' }
  | { kind: 'script' }
  | { kind: 'offline' }
  | { kind: 'stack' }
  | { kind: 'ci'; where: string }
  | { kind: 'exercise' }
  | { kind: 'unknown' };

// The port a stage listens on; the stack's are in stack/urls.ts.
export const STAGE_PORT = '3030';

// Commands that start or test the whole stack, run by the CI files named here (each of which the
// test checks really contains the command).
export const CI_COMMANDS: Record<string, string> = {
  'pnpm stack:native': 'shared/e2e/global-setup.ts',
  'pnpm stack:native --build-only': '.ci/run',
  'pnpm stack:up': '.github/workflows/ci.yml',
  'pnpm stack:down': '.github/workflows/ci.yml',
  'pnpm test:e2e': '.ci/run',
  'pnpm test': '.ci/run',
  'pnpm test:stages': '.ci/run',
  'pnpm docs:sync': 'shared/docs/runnable.test.ts',
  'pnpm install': 'README.md',
  'pnpm stages': 'shared/tools/setup.test.ts',
  'pnpm traffic': 'shared/tools/traffic.test.ts',
  'pnpm bench': 'shared/e2e/bench.e2e.test.ts',
  // The collector chapter's sampling commands, each run as written by the test that proves it.
  'COLLECTOR_OVERLAY=overlays/tail-sampling.yaml pnpm stack:native': 'shared/e2e/own-stack/tail-sampling.e2e.test.ts',
  'OTEL_TRACES_SAMPLER=parentbased_traceidratio OTEL_TRACES_SAMPLER_ARG=0.25 pnpm --filter step-14 start': 'steps/step-14/test/stage.test.ts',
};

export interface ConsoleBlock {
  file: string;
  line: number;
  /** The request whose console output the block shows, e.g. `GET /error`. */
  request: string;
  lines: string[];
}

interface Parsed {
  shell: Snippet[];
  /** Commands named in running text (`pnpm bench`), outside code blocks. */
  inline: Snippet[];
  promql: Snippet[];
  /** LogsQL queries (```logsql blocks), run against VictoriaLogs by the e2e suite. */
  logsql: Snippet[];
  urls: Snippet[];
  setup: Snippet[];
  consoleBlocks: ConsoleBlock[];
}

export function parseChapter(path: string, markdown = readFileSync(path, 'utf8')): Parsed {
  const file = relative(REPO_ROOT, path);
  const parsed: Parsed = { shell: [], inline: [], promql: [], logsql: [], urls: [], setup: [], consoleBlocks: [] };
  let fence: string | undefined;
  let setupNext = false;
  let inSetup = false;
  let consoleNext: string | undefined;
  let consoleBlock: ConsoleBlock | undefined;
  markdown.split('\n').forEach((raw, index) => {
    const line = index + 1;
    const mark = /^\s*```(\w*)/.exec(raw);
    if (mark) {
      if (fence === undefined) {
        fence = mark[1] ?? '';
        inSetup = setupNext;
        setupNext = false;
        if (consoleNext) parsed.consoleBlocks.push((consoleBlock = { file, line, request: consoleNext, lines: [] }));
        consoleNext = undefined;
      } else fence = consoleBlock = undefined;
      return;
    }
    if (consoleBlock) return void consoleBlock.lines.push(raw);
    if (fence === undefined) {
      if (/<!--\s*set-up\s*-->/.test(raw)) setupNext = true;
      const consoleMark = /<!--\s*console:\s*(GET \S+)\s*-->/.exec(raw);
      if (consoleMark) consoleNext = consoleMark[1];
      for (const [, url] of raw.matchAll(/<(https?:\/\/[^>\s]+)>/g)) parsed.urls.push({ file, line, text: url!, comment: '' });
      for (const [, code] of raw.matchAll(/`((?:pnpm|node|npm|curl|git) [^`]+)`/g)) parsed.inline.push({ file, line, text: code!, comment: '' });
      return;
    }
    const text = raw.replace(/\s+#\s.*$/, '').trim();
    const comment = /\s#\s(.*)$/.exec(raw)?.[1]?.trim() ?? '';
    if (text === '' || text.startsWith('#')) return;
    if (['sh', 'bash', 'shell'].includes(fence)) (inSetup ? parsed.setup : parsed.shell).push({ file, line, text, comment });
    else if (fence === 'promql') parsed.promql.push({ file, line, text, comment });
    else if (fence === 'logsql') parsed.logsql.push({ file, line, text, comment });
  });
  return parsed;
}

export function runnerOf(command: string): Runner {
  const words = command.split(/\s+/);
  if (CI_COMMANDS[command]) return { kind: 'ci', where: CI_COMMANDS[command]! };
  // A chapter's exercise: shared/tools/exercises.test.ts runs these for every stage after 06, and
  // checks that each chapter names its own.
  if (/^pnpm exercise \d\d( --reset)?$|^pnpm check \d\d$|^pnpm check --all$|^pnpm --filter exercise-\d\d start$|^pnpm diff exercise-\d\d \d\d$/.test(command)) return { kind: 'exercise' };
  const filter = /^pnpm --filter (\S+) (start\S*)$/.exec(command);
  if (filter) return { kind: 'stage', stage: filter[1]!, script: filter[2]! };
  if (words[0] === 'curl') {
    const url = words.find((w) => /^'?https?:/.test(w)) ?? '';
    if (url.includes(`127.0.0.1:${STAGE_PORT}`)) return { kind: 'stage-curl' };
    if (Object.keys(STACK_PORTS).some((port) => url.includes(`127.0.0.1:${port}`))) return { kind: 'stack' };
  }
  if (/^pnpm (traces|logs) [\w.-]+( --errors)?$/.test(command)) return { kind: 'stack' };
  // One request's trace and logs, by the trace id a chapter cannot know: the browser test runs it
  // with the id of the trace it looked at.
  if (/^pnpm (traces|logs) --trace <trace id>$/.test(command)) return { kind: 'ci', where: 'shared/e2e/look-at-it.e2e.test.ts' };
  // Step 22's incidents: the e2e test runs every scenario through these, ids filled in.
  const answer = 'answer( --help| --service (\\w+|<service>) --cause ([\\w-]+|<cause>)( --trace <trace id> --span <span id>| --metric <metric>)?)';
  if (new RegExp(`^pnpm incident( (list|stop|reveal|start( [\\w-]+| --random( --seed \\d+)?)?|${answer}))?$`).test(command)) {
    return { kind: 'ci', where: 'shared/e2e/incidents.e2e.test.ts' };
  }
  if (/^pnpm screenshots$/.test(command)) return { kind: 'ci', where: 'shared/e2e/look-at-it.e2e.test.ts' };
  // The tool named in running text, with a placeholder: run for real by the e2e tests above.
  if (/^pnpm (traces|logs)( <service>)?$/.test(command)) return { kind: 'ci', where: 'shared/e2e/docs.e2e.test.ts' };
  if (command === 'node --version') return { kind: 'ci', where: 'shared/tools/runtime.ts' };
  // A start script shown in full: the test checks it is the stage's package.json script, word for word.
  if (words[0] === 'node') return { kind: 'script' };
  if (/^pnpm diff( |$)/.test(command) || command === 'pnpm stages' || command.startsWith('git diff --no-index ')) return { kind: 'offline' };
  return { kind: 'unknown' };
}

/** A command from a chapter, made to run in a test: the stage's real port instead of 3030. */
export function onPort(command: string, port: string | number): string {
  return command.replaceAll(`127.0.0.1:${STAGE_PORT}`, `127.0.0.1:${port}`);
}

/** Lines that vary from run to run in the console exporter's output: ids, times, stacks, paths. */
export function normalizeConsole(text: string): string[] {
  return text
    .split('\n')
    .map((l) =>
      l
        .replace(/'[0-9a-f]{16}'|'[0-9a-f]{32}'/g, "'<id>'")
        .replace(/(timestamp|duration): [\d.]+/g, '$1: <n>')
        .replace(/time: \[ \d+, \d+ \]/g, 'time: [ <n> ]')
        .replace(/'network\.peer\.port': \d+|'server\.port': \d+/g, (m) => m.replace(/\d+$/, '<n>'))
        .trimEnd(),
    )
    .filter((l) => l.trim() !== '' && !l.includes('…'));
}
