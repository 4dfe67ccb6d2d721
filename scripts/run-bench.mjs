#!/usr/bin/env node
// Runs the benchmarks (test/dist/bench/*.bench.js whose source test/bench/*.bench.ts exists), one at a
// time, keeps their results in test/bench/results/last.json and writes docs/benchmarks.md: the numbers,
// the command that produced them, the date, the machine and the versions, with a "before" column when a
// baseline run is kept in test/bench/results/baseline.json.
//
//   node scripts/run-bench.mjs [name …]          run all benchmarks, or those whose file name contains a name
//                                                 (the others keep their last results, dated as such)
//   node scripts/run-bench.mjs --render           only re-render docs/benchmarks.md from the kept results
//   node scripts/run-bench.mjs --save-baseline L  keep the last results as the baseline, labelled L
//   --baseline FILE / --no-baseline               compare with another run / with none
// test/bench/NOTES.md, if present, is rendered after the goals table (notes written by hand about the runs).
//   --wait-idle S                                 before each benchmark, wait up to S seconds for the 1-minute
//                                                 load average to fall below 1 (other work on the machine)
import { readdirSync, readFileSync, writeFileSync, mkdirSync, existsSync, copyFileSync } from 'node:fs';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { cpus, totalmem, loadavg, release } from 'node:os';

const root = new URL('..', import.meta.url).pathname;
const srcDir = join(root, 'test', 'bench');
const distDir = join(root, 'test', 'dist', 'bench');
const resultsDir = join(srcDir, 'results');
const lastFile = join(resultsDir, 'last.json');
const ORDER = ['deploy', 'rest', 'recovery', 'ingest'];

const args = process.argv.slice(2);
const flag = (name) => {
  const i = args.indexOf(name);
  if (i < 0) return undefined;
  args.splice(i, 1);
  return true;
};
const option = (name) => {
  const i = args.indexOf(name);
  if (i < 0) return undefined;
  const v = args[i + 1];
  args.splice(i, 2);
  return v;
};
const renderOnly = flag('--render');
const saveBaseline = option('--save-baseline');
const noBaseline = flag('--no-baseline');
const baselineFile = option('--baseline') ?? join(resultsDir, 'baseline.json');
const waitIdleS = Number(option('--wait-idle') ?? 0);
const only = args;

const readJson = (f) => JSON.parse(readFileSync(f, 'utf8'));
const sh = (cmd, a) => spawnSync(cmd, a, { encoding: 'utf8', cwd: root }).stdout?.trim() ?? '';

if (saveBaseline !== undefined) {
  if (!existsSync(lastFile)) throw new Error('no results to keep: run the benchmarks first');
  const last = readJson(lastFile);
  writeFileSync(join(resultsDir, 'baseline.json'), `${JSON.stringify({ ...last, label: saveBaseline }, null, 1)}\n`);
  console.error(`kept ${lastFile} as the baseline "${saveBaseline}"`);
  process.exit(0);
}

const machine = () => ({
  cpus: `${cpus().length} × ${cpus()[0]?.model?.trim() ?? 'cpu'}`,
  memGiB: Math.round(totalmem() / 2 ** 30),
  kernel: `Linux ${release()}`,
  node: process.version,
  nats: sh('nats-server', ['--version']),
});

let results = existsSync(lastFile) ? readJson(lastFile) : { sections: [] };
if (!renderOnly) {
  const names = readdirSync(srcDir)
    .filter((f) => f.endsWith('.bench.ts'))
    .map((f) => f.slice(0, -'.bench.ts'.length))
    .filter((n) => only.length === 0 || only.some((o) => n.includes(o)))
    .sort((a, b) => (ORDER.indexOf(a) + 1 || 99) - (ORDER.indexOf(b) + 1 || 99) || a.localeCompare(b));
  if (names.length === 0) {
    console.error(`no benchmark matches ${only.join(' ')}`);
    process.exit(1);
  }
  // The benchmarks' own outputs do not make the tree dirty.
  const dirty = sh('git', ['status', '--porcelain', '--untracked-files=no', '--', '.', ':!docs/benchmarks.md', ':!test/bench/results']) !== '';
  const commit = `${sh('git', ['rev-parse', '--short', 'HEAD'])}${dirty ? ' (with uncommitted changes)' : ''}`;
  const subject = sh('git', ['log', '-1', '--format=%s']);
  const fresh = [];
  for (const name of names) {
    const file = join(distDir, `${name}.bench.js`);
    if (!existsSync(file)) {
      console.error(`${file} is missing (did the build run?)`);
      process.exit(1);
    }
    if (waitIdleS > 0) {
      const until = Date.now() + waitIdleS * 1000;
      while (loadavg()[0] >= 1 && Date.now() < until) {
        console.error(`bench: load average ${loadavg()[0].toFixed(2)}, waiting for the machine to be idle`);
        await new Promise((r) => setTimeout(r, 15_000));
      }
    }
    console.error(`bench: ${name}`);
    const started = Date.now();
    const load = loadavg().map((x) => Number(x.toFixed(2)));
    const r = spawnSync(process.execPath, [file], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'], maxBuffer: 64 * 1024 * 1024 });
    if (r.status !== 0) {
      console.error(`bench ${name} failed with ${r.status ?? r.signal}`);
      process.exit(1);
    }
    const command = process.env['npm_lifecycle_event'] === 'bench' && only.length === 0 ? 'npm run bench' : `node scripts/run-bench.mjs${only.length ? ` ${only.join(' ')}` : ''}`;
    const run = { command, date: new Date(started).toISOString().slice(0, 16).replace('T', ' ') + ' UTC', commit, subject, seconds: Math.round((Date.now() - started) / 1000), loadavgAtStart: load };
    for (const line of r.stdout.split('\n').filter((l) => l.startsWith('{'))) {
      const s = JSON.parse(line);
      console.log(line);
      fresh.push({ ...s, run });
    }
    console.error(`bench: ${name} took ${run.seconds} s`);
  }
  const ran = new Set(names);
  const kept = results.sections.filter((s) => !ran.has(s.bench));
  const sections = [...kept, ...fresh].sort((a, b) => (ORDER.indexOf(a.bench) + 1 || 99) - (ORDER.indexOf(b.bench) + 1 || 99));
  results = { machine: machine(), sections };
  mkdirSync(resultsDir, { recursive: true });
  writeFileSync(lastFile, `${JSON.stringify(results, null, 1)}\n`);
}

// ---------- rendering ----------

const baseline = !noBaseline && existsSync(baselineFile) ? readJson(baselineFile) : undefined;
// Rows of the baseline by section and key; a section is compared only when it ran with the same sizes.
const baseSections = new Map((baseline?.sections ?? []).map((s) => [s.id, s]));
const baseRowsOf = (s) => {
  const b = baseSections.get(s.id);
  if (!b || JSON.stringify(b.params ?? {}) !== JSON.stringify(s.params ?? {})) return new Map();
  return new Map(b.rows.map((r) => [r.key, r]));
};

const group = (v, d = 0) => v.toLocaleString('en-US', { minimumFractionDigits: d, maximumFractionDigits: d });
function format(r) {
  const v = r.value;
  if (v === null || v === undefined || Number.isNaN(v)) return 'n/a';
  switch (r.unit) {
    case 's':
      return `${v.toFixed(2)} s`;
    case 'ms':
      return `${v >= 100 ? group(v) : v.toFixed(1)} ms`;
    case 'x':
      return `${v.toFixed(1)}×`;
    case 'MB':
      return `${v.toFixed(0)} MB`;
    case '%':
      return `${v.toFixed(2)} %`;
    case 'count':
      return group(v);
    case 'instances':
      return Number.isInteger(v) ? group(v) : v.toFixed(1);
    default:
      return `${group(v, v >= 100 ? 0 : 1)} ${r.unit}`;
  }
}
const shown = (r) => r.display ?? format(r);
const unitOf = (r, n) => format({ ...r, value: n });
function goal(r) {
  if (!r.goal) return '';
  const text = `${r.goal.strict ? '<' : '≤'} ${unitOf(r, r.goal.max)}${r.goal.ideal !== undefined ? ` (ideally ${unitOf(r, r.goal.ideal)})` : ''}`;
  if (r.value === null || r.value === undefined || Number.isNaN(r.value)) return text;
  const met = r.goal.strict ? r.value < r.goal.max : r.value <= r.goal.max;
  const ideal = r.goal.ideal !== undefined && r.value <= r.goal.ideal;
  return `${text}: **${met ? (ideal ? 'met, ideal too' : 'met') : 'not met'}**`;
}
const cell = (s) => String(s).replace(/\|/g, '\\|').replace(/\n/g, ' ');
const label = (what) => (what.startsWith('  ') ? `└ ${what.trim()}` : what);

const m = results.machine ?? machine();
const cmds = [...new Set(results.sections.map((s) => s.run?.command))].map((c) => `\`${c}\``).join(', ');
const dates = [...new Set(results.sections.map((s) => s.run?.date.slice(0, 10)))].join(', ');
const commits = [...new Set(results.sections.map((s) => s.run?.commit))].join(', ');
const total = results.sections.reduce((n, s, i, all) => (all.findIndex((x) => x.bench === s.bench) === i ? n + (s.run?.seconds ?? 0) : n), 0);
let md = `# Benchmarks

Produced with ${cmds} on ${dates} at commit ${commits} (\`npm run bench\` is \`tsc -b\` followed by \`node scripts/run-bench.mjs\`);
the benchmarks, run one at a time, took ${Math.round(total / 60)} min.
Machine: ${m.cpus}, ${m.memGiB} GiB, ${m.kernel}; Node ${m.node}; nats-server ${m.nats.replace(/^nats-server:\s*/, '')}.

\`node scripts/run-bench.mjs deploy\` runs one benchmark (the others keep their last results, dated as such),
\`node scripts/run-bench.mjs --render\` re-renders this file from \`test/bench/results/last.json\`, and the
\`BENCH_*\` variables named in the sections change the sizes.

Each scenario starts its own nats-server (JetStream, file storage in a temp dir) on loopback; replicas are
separate \`wadm serve\` processes; the simulated hosts run in the benchmark's own process. Everything shares
the machine's ${cpus().length} cores, so with 3 replicas the processes compete for them. Numbers vary from run to run by
about 10–20 % on an idle machine, and much more when other work shares it: each section says when it ran
and the load average (2 cores: anything above 2 means processes waited for a core). "└" rows detail the row above them. Goals are the targets of the scaling work.
`;
if (baseline) {
  const bd = [...new Set(baseline.sections.map((s) => s.run?.date.slice(0, 10)))].join(', ');
  const bc = [...new Set(baseline.sections.map((s) => s.run?.commit))].join(', ');
  md += `\nThe **before** column is ${baseline.label ?? 'the baseline'}: the same benchmarks run on ${bd} at commit ${bc} (kept in \`test/bench/results/baseline.json\`).\n`;
}
// The rows with a goal, in one table first.
const goalRows = results.sections.flatMap((s) => s.rows.filter((r) => r.goal).map((r) => ({ s, r, b: baseRowsOf(s).get(r.key) })));
if (goalRows.length > 0) {
  const withBefore = goalRows.some((x) => x.b);
  const cols = ['goal', withBefore ? 'now' : 'result', ...(withBefore ? ['before'] : []), 'target', 'section'];
  md += `\n## Against the goals\n\nEvery row with a goal, from the sections below (where each is explained).\n\n| ${cols.join(' | ')} |\n|${cols.map(() => '---').join('|')}|\n`;
  for (const { s, r, b } of goalRows) {
    const cells = [label(r.what).replace(/^└ /, ''), shown(r), ...(withBefore ? [b ? shown(b) : '—'] : []), goal(r), s.title];
    md += `| ${cells.map(cell).join(' | ')} |\n`;
  }
}
// Notes written by hand about the last runs (what the numbers do not say by themselves).
const notesFile = join(srcDir, 'NOTES.md');
if (existsSync(notesFile)) md += `\n${readFileSync(notesFile, 'utf8').trim()}\n`;
for (const s of results.sections) {
  const baseRows = baseRowsOf(s);
  const withBefore = s.rows.some((r) => baseRows.has(r.key));
  const withGoal = s.rows.some((r) => r.goal);
  const cols = ['measurement', withBefore ? 'now' : 'result', ...(withBefore ? ['before'] : []), ...(withGoal ? ['goal'] : []), 'what it means'];
  const rows = s.rows.map((r) => {
    const b = baseRows.get(r.key);
    const cells = [label(r.what), shown(r), ...(withBefore ? [b ? shown(b) : '—'] : []), ...(withGoal ? [goal(r)] : []), r.means];
    return `| ${cells.map(cell).join(' | ')} |`;
  });
  const run = s.run ? `_Ran with \`${s.run.command}\` on ${s.run.date} at commit ${s.run.commit} ("${s.run.subject}"); the whole benchmark took ${s.run.seconds} s; load average (1, 5, 15 min) ${s.run.loadavgAtStart.join(' ')} at its start${s.loadavg ? `, ${s.loadavg.join(' ')} when this section was written` : ''}._` : '';
  md += `\n## ${s.title}\n\n${s.note}\n\n${run}\n\n| ${cols.join(' | ')} |\n|${cols.map(() => '---').join('|')}|\n${rows.join('\n')}\n`;
}
mkdirSync(join(root, 'docs'), { recursive: true });
writeFileSync(join(root, 'docs', 'benchmarks.md'), md);
console.error('wrote docs/benchmarks.md');
