// The pictures the chapters show (shared/docs/screenshots/): the names `pnpm screenshots` writes
// (shared/docs/look-at-it.ts), and where each chapter shows one.
import { readFileSync } from 'node:fs';
import { basename, join, relative } from 'node:path';
import { REPO_ROOT } from '../repo.ts';
import { chapterFiles, loadWorkspace } from './check-chapters.ts';

export const SCREENSHOT_DIR = join(REPO_ROOT, 'shared', 'docs', 'screenshots');
export const SCREENSHOTS = {
  zipkinSearch: 'zipkin-search.png',
  zipkinTrace: 'zipkin-trace.png',
  logsOfTrace: 'logs-of-trace.png',
  logsByService: 'logs-by-service.png',
  prometheusGraph: 'prometheus-graph.png',
  zipkinBrowserTrace: 'zipkin-browser-trace.png',
  zipkinManualTrace: 'zipkin-manual-trace.png',
  zipkinContribTrace: 'zipkin-contrib-trace.png',
  zipkinZeroCodeSearch: 'zipkin-zero-code-search.png',
  zipkinDependencies: 'zipkin-dependencies.png',
} as const;

/** Every image a chapter shows from shared/docs/screenshots/: the chapter (relative to the repository) and the file name. */
export function chapterScreenshots(): Array<{ chapter: string; image: string }> {
  const found: Array<{ chapter: string; image: string }> = [];
  for (const file of chapterFiles(loadWorkspace(REPO_ROOT))) {
    for (const match of readFileSync(file, 'utf8').matchAll(/!\[[^\]]*\]\(([^)\s]+)\)/g)) {
      const target = match[1]!;
      if (target.includes('shared/docs/screenshots/')) found.push({ chapter: relative(REPO_ROOT, file), image: basename(target) });
    }
  }
  return found;
}
