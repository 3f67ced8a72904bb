// The README checks run twice: on the real chapters, which must be clean, and on broken
// chapters written here, which must be caught, so the check itself is known to be able to fail.
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../repo.ts';
import { chapterFiles, checkChapter, loadWorkspace } from './check-chapters.ts';

const ws = loadWorkspace(REPO_ROOT);

describe('chapters cannot drift', () => {
  it('finds the chapters: root and the pages beside it, collector and one per stage', () => {
    const files = chapterFiles(ws).map((file) => file.slice(REPO_ROOT.length + 1));
    expect(files.slice(0, 4)).toEqual(['README.md', 'INSTRUCTORS.md', 'TELEMETRY-COSTS.md', 'collector/README.md']);
    expect(files.length).toBe(4 + ws.stages.size);
  });

  for (const file of chapterFiles(ws)) {
    it(`${file.slice(REPO_ROOT.length + 1)} names only paths, links and spans that exist`, () => {
      expect(checkChapter(ws, file)).toEqual([]);
    });
  }
});

describe('the chapter check catches', () => {
  // A fake README placed in step-08's folder, so it is checked as step-08's chapter.
  const check = (markdown: string): string[] =>
    checkChapter(ws, join(ws.stages.get('step-08')!.dir, 'README.md'), markdown).map((p) => p.message);

  it("an anchor GitHub does not give: repeated headings get -1, -2, ...", () => {
    expect(check('## Look at it\n## Look at it\n[ok](#look-at-it-1) [not](#look-at-it-2)')).toEqual([
      'link to #look-at-it-2 in steps/step-08/README.md, which has no such heading',
    ]);
  });

  it('a code span that runs across lines', () => {
    expect(check('Run `pnpm\nstages` now.')).toEqual(['a code span runs across lines: keep it on one line', 'a code span runs across lines: keep it on one line']);
  });

  it('a file path that does not exist', () => {
    expect(check('See `src/tracing.ts`.')).toEqual(['path `src/tracing.ts` does not exist']);
  });

  it('a link or an anchor that does not exist', () => {
    expect(check('[x](../step-09/README.md) [y](../step-06/README.md#step-99)')).toEqual([
      'link to ../step-09/README.md, which does not exist',
      'link to #step-99 in ../step-06/README.md, which has no such heading',
    ]);
  });

  it('a span the stage does not export', () => {
    expect(check('| request | span |\n| --- | --- |\n| `GET /` | `hello` |\n| `GET /x` | `goodbye` |')).toEqual([
      "span `goodbye` is not in step-08's telemetry.txt",
    ]);
  });

  it('an excerpt that no longer matches its source', () => {
    expect(check('<!-- excerpt: src/app.ts -->\n```ts\nspan.addEvent(\'greeting.sent\');\n```')).toEqual([
      'the excerpt from src/app.ts (line 2) no longer matches the file',
    ]);
  });

  it('a telemetry block that differs from telemetry.txt', () => {
    expect(check('<!-- telemetry.txt -->\n```text\nhello [internal]\n```')).toEqual([
      "the telemetry block (line 2) differs from telemetry.txt: run pnpm docs:sync",
    ]);
  });

  it('nothing in a chapter that only names real things', () => {
    const dir = mkdtempSync(join(tmpdir(), 'chapters-'));
    writeFileSync(join(dir, 'note.md'), '# Note\n');
    expect(check('```sh\npnpm --filter step-08 start\npnpm install\n```\nSee `src/app.ts` and [step 6](../step-06/README.md#step-7-test-it).')).toEqual([]);
  });
});

describe('a picture per chapter', () => {
  // GitHub renders ```mermaid blocks with Mermaid itself; parsing them here with the same library
  // catches a diagram that would show up as an error box instead of a picture.
  async function parseMermaid(source: string): Promise<void> {
    const { JSDOM } = await import('jsdom');
    const { window } = new JSDOM('<!doctype html><html><body></body></html>');
    Object.assign(globalThis, { window, document: window.document });
    const mermaid = (await import('mermaid')).default;
    mermaid.initialize({ startOnLoad: false });
    await mermaid.parse(source);
  }
  const diagrams = (file: string): string[] => [...readFileSync(file, 'utf8').matchAll(/^```mermaid\n([\s\S]*?)^```/gm)].map((m) => m[1]!);

  // The root README's pages (INSTRUCTORS.md, ...) continue its text and draw no pipeline of their own.
  for (const file of chapterFiles(ws).filter((f) => f.endsWith('/README.md') && f !== join(REPO_ROOT, 'collector', 'README.md'))) {
    it(`${file.slice(REPO_ROOT.length + 1)} has a flow diagram that renders`, async () => {
      const found = diagrams(file);
      expect(found.length).toBeGreaterThan(0);
      for (const diagram of found) await parseMermaid(diagram);
    });
  }

  it('and a broken diagram is caught', async () => {
    await expect(parseMermaid('flowchart LR\n  a -->|x|\n  b[[[\n')).rejects.toThrow(/Parse error/);
  });
});
