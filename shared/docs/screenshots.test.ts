// The pictures in the chapters: each one exists, is a small PNG, and is one that `pnpm screenshots`
// writes (the end-to-end test runs that walk-through and checks it writes them all).
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { REPO_ROOT } from '../repo.ts';
import { chapterFiles, loadWorkspace } from './check-chapters.ts';
import { describe, expect, it } from 'vitest';
import { chapterScreenshots, SCREENSHOT_DIR, SCREENSHOTS } from './screenshots.ts';

/** Each chapter's "look at it" section: from its heading to the next heading of the same level. */
function lookAtItSections(): Array<[string, string]> {
  return chapterFiles(loadWorkspace(REPO_ROOT)).flatMap((file): Array<[string, string]> => {
    const match = /^## (?:Step \d+: )?look at it\n([\s\S]*?)(?=^## |(?![\s\S]))/im.exec(readFileSync(file, 'utf8'));
    return match ? [[relative(REPO_ROOT, file), match[1]!]] : [];
  });
}

const PNG = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

describe('screenshots in the chapters', () => {
  const shown = chapterScreenshots();

  it('the chapters show every picture the walk-through writes', () => {
    expect(new Set(shown.map((s) => s.image))).toEqual(new Set(Object.values(SCREENSHOTS)));
  });

  it.each(shown.map((s) => [s.chapter, s.image]))('%s shows %s: committed, a PNG, under 150 KB, one the walk-through writes', (_chapter, image) => {
    expect(Object.values(SCREENSHOTS)).toContain(image);
    const file = join(SCREENSHOT_DIR, image);
    expect(readFileSync(file).subarray(0, 8).equals(PNG), `${image} is a PNG`).toBe(true);
    expect(statSync(file).size).toBeLessThan(150 * 1024);
  });

  // A "look at it" section is where a learner compares the screen with the chapter.
  it.each(lookAtItSections())('%s: its "look at it" section shows a picture', (_chapter, section) => {
    expect(section).toMatch(/!\[[^\]]+\]\([^)]*shared\/docs\/screenshots\/[^)]+\.png\)/);
  });

  it('keeps no picture that no chapter shows', () => {
    expect(readdirSync(SCREENSHOT_DIR).sort()).toEqual([...new Set(shown.map((s) => s.image))].sort());
  });
});
