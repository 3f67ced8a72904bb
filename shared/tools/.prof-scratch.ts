import autocannon from 'autocannon';
import { readdirSync, readFileSync, rmSync, mkdirSync, statSync } from 'node:fs';
import { startOtlpReceiver } from '../harness/otlp-receiver.ts';
import { startStage } from '../harness/stage-runner.ts';
const stage = process.argv[2]!;
const dir = `/tmp/prof/${stage}`;
rmSync(dir, { recursive: true, force: true }); mkdirSync(dir, { recursive: true });
const receiver = await startOtlpReceiver({ lazy: true });
const running = await startStage(stage, { otlpEndpoint: receiver.url, env: { OTEL_TRACES_EXPORTER: 'otlp', NODE_OPTIONS: `--cpu-prof --cpu-prof-dir=${dir}`, ...(process.argv[3] ? JSON.parse(process.argv[3]) : {}) } });
await autocannon({ url: running.baseUrl, connections: 8, duration: 1 });
const r = await autocannon({ url: running.baseUrl, connections: 8, duration: 5 });
console.log(stage, 'req/s', r.requests.average);
await running.stop('SIGINT');
await receiver.close();
const files = readdirSync(dir).map((f) => `${dir}/${f}`).sort((a, b) => statSync(b).size - statSync(a).size);
const prof = JSON.parse(readFileSync(files[0]!, 'utf8')) as { nodes: Array<{ id: number; callFrame: { functionName: string; url: string; lineNumber: number }; hitCount: number; children?: number[] }>; samples: number[]; timeDeltas: number[] };
const self = new Map<string, number>();
const byId = new Map(prof.nodes.map((n) => [n.id, n]));
let total = 0;
for (const n of prof.nodes) { total += n.hitCount; }
const short = (u: string) => u.replace(/^.*node_modules\/\.pnpm\/([^/]+)\/node_modules\//, '$1: ').replace(/^file:\/\/\/work\/main\//, '');
for (const n of prof.nodes) {
  const key = `${n.callFrame.functionName || '(anon)'} ${short(n.callFrame.url)}:${n.callFrame.lineNumber}`;
  self.set(key, (self.get(key) ?? 0) + n.hitCount);
}
// by package
const pkg = new Map<string, number>();
for (const n of prof.nodes) {
  const u = n.callFrame.url;
  const m = /node_modules\/\.pnpm\/([^/]+)\//.exec(u);
  const k = m ? m[1]!.replace(/@\d.*$/, '') : u.startsWith('node:') ? 'node:' + u.slice(5).split('/')[0] : u ? 'app ' + short(u) : n.callFrame.functionName || '(native)';
  pkg.set(k, (pkg.get(k) ?? 0) + n.hitCount);
}
console.log('--- self by package');
for (const [k, v] of [...pkg].sort((a, b) => b[1] - a[1]).slice(0, 25)) console.log((100 * v / total).toFixed(1).padStart(5), k);
console.log('--- self by function');
for (const [k, v] of [...self].sort((a, b) => b[1] - a[1]).slice(0, 30)) console.log((100 * v / total).toFixed(1).padStart(5), k);
