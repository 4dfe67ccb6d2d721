#!/usr/bin/env node
// Runs every compiled benchmark (test/dist/bench/*.bench.js), one at a time, and writes
// docs/benchmarks.md with the numbers, the command that produced them and the machine they ran on.
import { readdirSync, writeFileSync, mkdirSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { cpus, totalmem } from 'node:os';

const root = new URL('..', import.meta.url).pathname;
const dir = join(root, 'test', 'dist', 'bench');
const only = process.argv[2];
const files = existsSync(dir) ? readdirSync(dir).filter((f) => f.endsWith('.bench.js') && (!only || f.includes(only))).sort() : [];
if (files.length === 0) {
  console.error('no benchmarks found (did the build run?)');
  process.exit(1);
}
const natsVersion = spawnSync('nats-server', ['--version'], { encoding: 'utf8' }).stdout.trim();
const sections = [];
for (const f of files) {
  console.error(`bench: ${f}`);
  const r = spawnSync(process.execPath, [join(dir, f)], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'], maxBuffer: 64 * 1024 * 1024 });
  if (r.status !== 0) {
    console.error(`bench ${f} failed with ${r.status}`);
    process.exit(1);
  }
  for (const line of r.stdout.split('\n').filter((l) => l.startsWith('{'))) {
    const res = JSON.parse(line);
    console.log(line);
    const rate = (x) => (x.unit === 's' ? '—' : `${(x.rate >= 100 ? Math.round(x.rate) : Number(x.rate.toFixed(1))).toLocaleString('en-US')} ${x.unit}`);
    const rows = res.rows.map((x) => `| ${x.what} | ${rate(x)} |${x.seconds !== undefined ? ` ${x.seconds.toFixed(2)} s |` : ' |'}`);
    sections.push(`## ${res.bench}\n\n${res.note ?? ''}\n\n| measurement | rate | time |\n|---|---|---|\n${rows.join('\n')}\n`);
  }
}
const header = `# Benchmarks

Produced by \`npm run bench\` (which builds, then runs \`node scripts/run-bench.mjs\`) on ${new Date().toISOString().slice(0, 10)}:
${cpus().length} × ${cpus()[0]?.model ?? 'cpu'}, ${(totalmem() / 2 ** 30).toFixed(0)} GiB, Node ${process.version}, ${natsVersion}.
Each benchmark starts its own nats-server (JetStream, file storage in a temp dir) on loopback; replicas
are separate \`wadm serve\` processes. Numbers vary from run to run by about 10–20 % on this machine.
`;
mkdirSync(join(root, 'docs'), { recursive: true });
writeFileSync(join(root, 'docs', 'benchmarks.md'), `${header}\n${sections.join('\n')}`);
console.error('wrote docs/benchmarks.md');
