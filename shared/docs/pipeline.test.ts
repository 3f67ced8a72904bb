// The pipeline drawings in the chapters are the config's: generated from it by `pnpm docs:sync`,
// and checked here, so that a component added to or removed from the config changes them.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { PIPELINE_BLOCKS, pipelineMermaid, pipelineText, withBlock } from './pipeline.ts';

describe('pipeline drawings', () => {
  it.each(PIPELINE_BLOCKS.map((b) => [b.marker, b] as const))('the block after %s is the config, drawn', (_marker, { file, marker, fence, body }) => {
    const chapter = readFileSync(file, 'utf8');
    expect(chapter, `${file} has ${marker}`).toContain(`${marker}\n\`\`\`${fence}\n`);
    expect(withBlock(chapter, marker, fence, body()), 'run pnpm docs:sync').toBe(chapter);
  });

  it('names every processor and backend exporter the config runs, and no batch processor, which it does not', () => {
    for (const name of ['memory_limiter', 'filter/health', 'redaction/credentials', 'transform/query-secrets', 'otlp_http/victorialogs', 'prometheus_remote_write', 'otlp_http/prometheus']) {
      expect(pipelineText()).toContain(name);
    }
    expect(pipelineMermaid()).toContain('VictoriaLogs');
    expect(`${pipelineText()}\n${pipelineMermaid()}`).not.toMatch(/\bbatch\b|[Ll]oki/);
  });
});
