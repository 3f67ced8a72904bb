// Runs what the chapters tell a learner to run, where no stack is needed: every stage's start
// command and the curl commands next to it, the diffs, and the console output a chapter shows.
// What needs the collector and backends runs in shared/e2e/docs.e2e.test.ts.
import { execFile, execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { alongside, startOtlpReceiver, startStage, type OtlpReceiver, type RunningStage } from '../harness/index.ts';
import { REPO_ROOT } from '../repo.ts';
import { STACK_PORTS } from '../stack/urls.ts';
import { chapterFiles, loadWorkspace } from './check-chapters.ts';
import { normalizeConsole, onPort, parseChapter, runnerOf, STAGE_PORT, type Snippet } from './runnable.ts';

const workspace = loadWorkspace(REPO_ROOT);
const files = chapterFiles(workspace);
const parsed = files.map((f) => parseChapter(f));
const shell = parsed.flatMap((p) => p.shell);
const where = (s: Snippet): string => `${s.file}:${s.line}: ${s.text}`;

function allScripts(): string[] {
  const packages = ['package.json', ...[...workspace.stages.keys()].map((name) => `steps/${name}/package.json`)];
  return packages.flatMap((p) => Object.values((JSON.parse(readFileSync(join(REPO_ROOT, p), 'utf8')) as { scripts: Record<string, string> }).scripts));
}

/** A stage command must name a stage and one of its scripts (the fenced ones are also run below). */
function expectStageScript(runner: ReturnType<typeof runnerOf>): void {
  if (runner.kind !== 'stage') return;
  expect([...workspace.stages.keys()], `no stage named ${runner.stage}`).toContain(runner.stage);
  expect([...workspace.stages.get(runner.stage)!.scripts], `${runner.stage} has no script ${runner.script}`).toContain(runner.script);
}

/** Runs `command` in a shell, without blocking: the chapters' stages and other commands run meanwhile. */
function sh(command: string): Promise<{ status: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) =>
    execFile('sh', ['-c', command], { cwd: REPO_ROOT, encoding: 'utf8', timeout: 30_000 }, (err, stdout, stderr) =>
      resolve({ status: err ? (typeof err.code === 'number' ? err.code : null) : 0, stdout, stderr }),
    ),
  );
}

/** `lines` appear in `output` in this order, other lines in between allowed. */
function inOrder(lines: string[], output: string[]): string | undefined {
  let at = 0;
  for (const line of lines) {
    const found = output.indexOf(line, at);
    if (found < 0) return line;
    at = found + 1;
  }
  return undefined;
}

describe('every command in a chapter is run by some test', () => {
  it.each(shell.map((s) => [where(s), s] as const))('%s', (_name, snippet) => {
    const runner = runnerOf(snippet.text);
    expect(runner.kind, 'no test knows how to run this command: teach shared/docs/runnable.ts').not.toBe('unknown');
    if (runner.kind === 'ci') expect(readFileSync(join(REPO_ROOT, runner.where), 'utf8')).toContain(snippet.text);
    expectStageScript(runner);
  });

  // Commands named in running text: the same rules, and a start script named in full or in part
  // must be (part of) a real package.json script.
  const inline = parsed.flatMap((p) => p.inline).filter((s, i, all) => all.findIndex((o) => o.text === s.text) === i);
  it.each(inline.map((s) => [`named in text: ${where(s)}`, s] as const))('%s', (_name, snippet) => {
    const runner = runnerOf(snippet.text);
    expect(runner.kind, 'no test knows how to run this command: teach shared/docs/runnable.ts').not.toBe('unknown');
    if (runner.kind === 'ci') expect(readFileSync(join(REPO_ROOT, runner.where), 'utf8')).toContain(snippet.text.replace(/ <service>$/, ''));
    if (runner.kind === 'script') expect(allScripts().some((script) => script.includes(snippet.text))).toBe(true);
    expectStageScript(runner);
  });

  it.each([
    ['pnpm stack:sideways', 'unknown'],
    ['pnpm --filter step-08 start:turbo', 'stage'],
  ])('a command no test knows (%s) is caught, and so is a stage script that does not exist', (command, kind) => {
    expect(runnerOf(command).kind).toBe(kind);
    if (kind === 'stage') expect(() => expectStageScript(runnerOf(command))).toThrow('step-08 has no script start:turbo');
  });

  it('the chapters give commands of every kind (so the list above is not empty by mistake)', () => {
    const kinds = new Set(shell.map((s) => runnerOf(s.text).kind));
    expect([...kinds].sort()).toEqual(expect.arrayContaining(['ci', 'offline', 'script', 'stage', 'stage-curl']));
  });

  it('every stage URL uses the port the stages really default to', () => {
    const server = readFileSync(join(REPO_ROOT, 'steps', 'step-06', 'src', 'server.ts'), 'utf8');
    expect(/const DEFAULT_PORT = (\d+);/.exec(server)?.[1]).toBe(STAGE_PORT);
    for (const url of parsed.flatMap((p) => p.urls)) {
      if (/127\.0\.0\.1:(3\d{3})\b/.test(url.text) && !Object.keys(STACK_PORTS).some((port) => url.text.includes(`127.0.0.1:${port}`))) expect(url.text, `${url.file}:${url.line}`).toContain(`127.0.0.1:${STAGE_PORT}`);
    }
  });
});

describe('offline commands run and print what their comment says', () => {
  // Each distinct command once, under the first place a chapter gives it.
  const offline = shell.filter((s, i) => runnerOf(s.text).kind === 'offline' && shell.findIndex((o) => o.text === s.text) === i);
  // Side by side: each waits on a process of its own.
  it.concurrent.each(offline.map((s) => [where(s), s] as const))('%s', async (_name, snippet) => {
    const run = await sh(snippet.text);
    expect(run.status, run.stderr).toBe(0);
    if (/prints nothing/.test(snippet.comment)) expect(run.stdout).toBe('');
    else expect(run.stdout.trim()).not.toBe('');
  });

  it.each(shell.filter((s) => runnerOf(s.text).kind === 'script').map((s) => [where(s), s] as const))('%s is the stage script, word for word', (_name, snippet) => {
    const stage = /^steps\/([^/]+)\//.exec(snippet.file)?.[1];
    const scripts = JSON.parse(readFileSync(join(REPO_ROOT, 'steps', stage ?? '', 'package.json'), 'utf8')) as { scripts: Record<string, string> };
    expect(Object.values(scripts.scripts)).toContain(snippet.text);
  });
});

// Each stage chapter: its start commands run as written, then its curl commands against it.
for (const chapter of parsed.filter((p) => p.shell.some((s) => runnerOf(s.text).kind === 'stage'))) {
  const starts = chapter.shell.map((s) => ({ s, r: runnerOf(s.text) })).filter((x) => x.r.kind === 'stage');
  const curls = chapter.shell.filter((s) => runnerOf(s.text).kind === 'stage-curl');
  const file = starts[0]!.s.file;

  // Alongside the other chapters' stages: each suite mostly waits on the stage it booted.
  alongside(`${file}: run it, test it`, () => {
    let receiver: OtlpReceiver;
    let stage: RunningStage;
    let port: string;

    beforeAll(async () => {
      receiver = await startOtlpReceiver();
      const first = starts[0]!.r as { stage: string; script: string };
      stage = await startStage(first.stage, { script: first.script, otlpEndpoint: receiver.url });
      port = new URL(stage.baseUrl).port;
    });

    afterAll(async () => {
      await stage?.stop();
      await receiver?.close();
    });

    it.each(curls.map((s) => [where(s), s] as const))('%s', async (_name, snippet) => {
      const run = await sh(onPort(snippet.text, port));
      expect(run.status, run.stderr).toBe(0);
      expect(run.stdout).not.toBe('');
    });

    // "`/error` answers `500` with `{...}`": the status and body a chapter promises.
    const markdown = readFileSync(join(REPO_ROOT, file), 'utf8');
    const claims = [...markdown.matchAll(/`(\/[^`\s]*)` answers `(\d{3})`(?: with `([^`]+)`)?/g)];
    it.each(claims.map((m) => [m[0], m] as const))('%s', async (_name, match) => {
      const res = await stage.get(match[1]!);
      expect(res.status).toBe(Number(match[2]));
      if (match[3]) expect(res.body).toContain(match[3]);
    });

    // The block after <!-- console: GET /error --> must be what the terminal really shows.
    it.each(chapter.consoleBlocks.map((b) => [`${b.file}:${b.line} console output of ${b.request}`, b] as const))('%s', async (_name, block) => {
      const before = stage.output().length;
      await stage.get(block.request.slice(4));
      const expected = normalizeConsole(block.lines.join('\n'));
      // The console exporter prints as the span ends; the pipe may deliver it a moment later.
      let missing: string | undefined = expected[0];
      for (let tries = 0; tries < 40 && missing !== undefined; tries++) {
        await new Promise((r) => setTimeout(r, 50));
        missing = inOrder(expected, normalizeConsole(stage.output().slice(before)));
      }
      expect(missing, `this line of the chapter's console block is not in what the stage printed:\n${stage.output().slice(before)}`).toBeUndefined();
    });

    it.each(starts.slice(1).map((x) => [where(x.s), x.r] as const))('%s starts too', async (_name, runner) => {
      const { stage: name, script } = runner as { stage: string; script: string };
      const other = await startStage(name, { script, otlpEndpoint: receiver.url });
      expect((await other.get('/')).status).toBe(200);
      expect((await other.stop()).code).toBe(0);
    });
  });
}

describe('every "look at it" section works with the stack the learner has', () => {
  const sections = files
    .filter((f) => f.includes(`${join('steps', '')}`))
    .map((f) => [f.slice(REPO_ROOT.length + 1), /^## (?:Step \d+: l|L)ook at it\n([\s\S]*?)(?=^## |(?![\s\S]))/m.exec(readFileSync(f, 'utf8'))?.[1]] as const)
    .filter(([, section]) => section !== undefined);
  it('the instrumented stages have one', () => expect(sections.map(([f]) => f)).toEqual(['steps/step-08/README.md', 'steps/step-11/README.md', 'steps/step-14/README.md', 'steps/step-18/README.md', 'steps/step-19/README.md', 'steps/step-20/README.md', 'steps/step-21/README.md', 'steps/step-22/README.md']));
  it.each(sections)('%s: native and compose, Zipkin and Prometheus UIs, Jaeger by its API and (compose) its UI', (_file, section) => {
    for (const needed of ['pnpm stack:native', 'pnpm stack:up', 'http://127.0.0.1:9411/zipkin/', 'http://127.0.0.1:9090', 'http://127.0.0.1:16686', '```promql']) expect(section).toContain(needed);
    expect(section).toMatch(/^ *pnpm traces \S+( --errors)?$/m);
    // The Jaeger UI is offered with the compose stack only: the native build has none.
    expect(section).toMatch(/compose stack,\s+Jaeger's UI/);
  });
});

describe('console output a chapter shows', () => {
  it('is checked somewhere: the chapters have at least one such block', () => {
    expect(parsed.flatMap((p) => p.consoleBlocks).length).toBeGreaterThan(0);
  });
});

describe('docs:sync', () => {
  it('would change nothing: every telemetry block already equals its telemetry.txt', () => {
    // check-chapters reports any difference with "run pnpm docs:sync"; here the tool itself runs
    // on a copy and must leave it as it is.
    const out = execFileSync(process.execPath, ['shared/docs/sync-chapters.ts', '--check'], { cwd: REPO_ROOT, encoding: 'utf8' });
    expect(out).toBe('');
  });
});
