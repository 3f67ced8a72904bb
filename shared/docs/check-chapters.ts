// Keeps the chapters honest: every file path, link and span name a README promises must exist,
// and every code excerpt must match the source it claims to come from. (Commands are runnable.ts's.)
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import GithubSlugger from 'github-slugger';
import { readTelemetryText } from '../harness/telemetry-text.ts';

export interface Problem {
  file: string;
  line: number;
  message: string;
}

interface Workspace {
  root: string;
  stages: Map<string, { dir: string; scripts: Set<string>; spans: Set<string> | undefined }>;
}

function readJson(path: string): Record<string, unknown> {
  return JSON.parse(readFileSync(path, 'utf8')) as Record<string, unknown>;
}

function scriptsOf(pkgPath: string): Set<string> {
  return new Set(Object.keys((readJson(pkgPath).scripts as Record<string, string> | undefined) ?? {}));
}

export function loadWorkspace(root: string): Workspace {
  const stages: Workspace['stages'] = new Map();
  const stepsDir = join(root, 'steps');
  for (const entry of readdirSync(stepsDir, { withFileTypes: true })) {
    const dir = join(stepsDir, entry.name);
    if (!entry.isDirectory() || !existsSync(join(dir, 'package.json'))) continue;
    const name = String(readJson(join(dir, 'package.json')).name);
    stages.set(name, { dir, scripts: scriptsOf(join(dir, 'package.json')), spans: readTelemetryText(dir)?.spanNames });
  }
  return { root, stages };
}

/** The anchors GitHub gives a document's headings, a repeated heading getting -1, -2, ... */
function anchorsOf(markdown: string): Set<string> {
  const anchors = new Set<string>();
  const slugger = new GithubSlugger();
  let inFence = false;
  for (const line of markdown.split('\n')) {
    if (/^\s*```/.test(line)) inFence = !inFence;
    const heading = !inFence && /^#{1,6}\s+(.*)$/.exec(line);
    if (heading) anchors.add(slugger.slug(heading[1]!));
  }
  return anchors;
}

/** The stage a README belongs to, if it sits in a stage folder. */
function stageOf(ws: Workspace, file: string): string | undefined {
  for (const [name, stage] of ws.stages) if (dirname(file) === stage.dir) return name;
  return undefined;
}

const PATH_LIKE = /^(?:\.{1,2}\/)?[\w@.-]+(?:\/[\w@.-]+)*\/?$/;
const FILE_EXTENSIONS = /\.(ts|js|json|ya?ml|md|txt|env)$/;

// Where the repository keeps files: a token starting with one of these is a path, whatever it ends with.
const KNOWN_DIRS = /^(\.{1,2}\/|steps\/|shared\/|collector\/|src\/|test\/|preload\/|\.ci\/)/;

function looksLikePath(token: string): boolean {
  if (!PATH_LIKE.test(token) || token.startsWith('@') || /^\d/.test(token)) return false;
  // A bare file name is a path too (server.ts, otel.env); other slashed tokens (http/protobuf) are not.
  return KNOWN_DIRS.test(token) || FILE_EXTENSIONS.test(token);
}

function pathExists(ws: Workspace, file: string, token: string): boolean {
  const clean = token.replace(/\/$/, '');
  return [dirname(file), ws.root].some((base) => existsSync(resolve(base, clean)));
}

/** Checks one README; returns what it promises that does not exist. */
export function checkChapter(ws: Workspace, file: string, markdown: string = readFileSync(file, 'utf8')): Problem[] {
  const problems: Problem[] = [];
  const rel = relative(ws.root, file);
  const lines = markdown.split('\n');
  const stageName = stageOf(ws, file);
  const stage = stageName ? ws.stages.get(stageName) : undefined;
  const anchors = anchorsOf(markdown);
  let fence: { lang: string; start: number; body: string[]; excerpt?: string; snapshot?: boolean } | undefined;
  let pendingExcerpt: string | undefined;
  let pendingSnapshot = false;
  let spanColumn = -1;

  lines.forEach((line, index) => {
    const report = (message: string): void => void problems.push({ file: rel, line: index + 1, message });

    const fenceMark = /^\s*```(\w*)/.exec(line);
    if (fenceMark && !fence) {
      fence = { lang: fenceMark[1] ?? '', start: index + 1, body: [], excerpt: pendingExcerpt, snapshot: pendingSnapshot };
      pendingExcerpt = undefined;
      pendingSnapshot = false;
      return;
    }
    if (fenceMark && fence) {
      const body = fence.body.join('\n');
      if (fence.excerpt) {
        const source = resolve(dirname(file), fence.excerpt);
        if (!existsSync(source)) report(`excerpt source ${fence.excerpt} does not exist`);
        else if (!readFileSync(source, 'utf8').includes(body)) report(`the excerpt from ${fence.excerpt} (line ${fence.start}) no longer matches the file`);
      }
      if (fence.snapshot) {
        const snapshot = stage ? join(stage.dir, 'telemetry.txt') : undefined;
        if (!snapshot || !existsSync(snapshot)) report('telemetry block, but the stage has no telemetry.txt');
        else if (readFileSync(snapshot, 'utf8').trimEnd() !== body.trimEnd()) report(`the telemetry block (line ${fence.start}) differs from telemetry.txt: run pnpm docs:sync`);
      }
      fence = undefined;
      return;
    }
    if (fence) return void fence.body.push(line);

    const marker = /<!--\s*(excerpt:\s*(\S+)|telemetry\.txt)\s*-->/.exec(line);
    if (marker) {
      if (marker[2]) pendingExcerpt = marker[2];
      else pendingSnapshot = true;
    }

    // Tables with a "span" (or "emits") column: each backticked name there must be a span the
    // stage really exports, the stage being the README's own or the one named in the first cell.
    if (/^\|/.test(line)) {
      const cells = line.split('|').slice(1, -1).map((c) => c.trim());
      const header = cells.findIndex((c) => /^span$|emits/i.test(c));
      if (header >= 0) spanColumn = header;
      else if (spanColumn >= 0 && !/^[-: ]+$/.test(cells.join(''))) {
        const rowStageName = /^`([^`]+)`$/.exec(cells[0] ?? '')?.[1];
        const rowStage = (rowStageName && ws.stages.get(rowStageName)) || stage;
        const owner = rowStage === stage ? stageName : rowStageName;
        for (const [, name] of (cells[spanColumn] ?? '').matchAll(/`([^`]+)`/g)) {
          if (!rowStage) report(`span \`${name}\` in a table that names no stage`);
          else if (!rowStage.spans) report(`span \`${name}\`: ${owner} has no telemetry.txt`);
          else if (!rowStage.spans.has(name!)) report(`span \`${name}\` is not in ${owner}'s telemetry.txt`);
        }
      }
    } else spanColumn = -1;

    // A code span that runs onto the next line renders, but hides its command from every check here.
    if ((line.match(/`/g) ?? []).length % 2 === 1) report('a code span runs across lines: keep it on one line');
    for (const [, code] of line.matchAll(/`([^`]+)`/g)) {
      if (!code!.startsWith('pnpm ') && looksLikePath(code!) && !pathExists(ws, file, code!)) report(`path \`${code}\` does not exist`);
    }
    // Relative links and their anchors only, by hand: link-checking libraries also fetch every
    // external URL, and a chapter check must not depend on someone else's server being up.
    for (const [, target] of line.matchAll(/\]\(([^)\s]+)\)/g)) {
      if (/^[a-z]+:/.test(target!)) continue;
      const [path, anchor] = target!.split('#');
      const targetFile = path ? resolve(dirname(file), path) : file;
      if (path && !existsSync(targetFile)) report(`link to ${path}, which does not exist`);
      else if (anchor) {
        const targetAnchors = path ? (targetFile.endsWith('.md') ? anchorsOf(readFileSync(targetFile, 'utf8')) : undefined) : anchors;
        if (targetAnchors && !targetAnchors.has(anchor)) report(`link to #${anchor} in ${path || rel}, which has no such heading`);
      }
    }
  });
  return problems;
}

/** The root README and the pages beside it (every root *.md), the collector's README and every stage's. */
export function chapterFiles(ws: Workspace): string[] {
  const pages = readdirSync(ws.root).filter((name) => name.endsWith('.md') && name !== 'README.md').sort();
  const files = [join(ws.root, 'README.md'), ...pages.map((name) => join(ws.root, name)), join(ws.root, 'collector', 'README.md')];
  for (const stage of ws.stages.values()) files.push(join(stage.dir, 'README.md'));
  return files.filter((f) => existsSync(f));
}
