/**
 * deploy/prometheus: the scrape config and the alerting rules pass `promtool check config|rules`, the
 * rule unit tests (alerts.test.yml) show every alert firing, a live replica's /metrics passes
 * `promtool check metrics`, and every metric the rules use is one a replica exports.
 */
import { before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { eventually } from './harness/cluster.js';
import { withFleet, type ReplicaProc } from './harness/procs.js';
import { simLattice } from './harness/lattice.js';
import { PatientApi, appManifest } from './harness/runtime.js';

const DIR = fileURLToPath(new URL('../../deploy/prometheus/', import.meta.url));
const fx = withFleet({ args: ['--stream-persistence', 'memory', '--resync-interval-ms', '1000'] });
let replica: ReplicaProc;

function promtool(args: string[], input?: string): { code: number | null; out: string } {
  const r = spawnSync('promtool', args, { cwd: DIR, encoding: 'utf8', ...(input !== undefined ? { input } : {}) });
  if (r.error) throw new Error(`promtool could not run (is the prometheus package installed? .ci/run installs it): ${r.error.message}`);
  return { code: r.status, out: `${r.stdout}${r.stderr}` };
}

before(async () => {
  await fx.started;
  replica = fx.fleet.spawn('prom-0');
  await fx.fleet.ready([replica]);
  fx.track(await simLattice(fx.nats.url, 'prom', 2));
});

test('promtool: the scrape config and the rules check, and every alert fires in its unit test', () => {
  for (const args of [['check', 'config', 'prometheus.yml'], ['check', 'rules', 'alerts.yml'], ['test', 'rules', 'alerts.test.yml']]) {
    const r = promtool(args);
    assert.equal(r.code, 0, `promtool ${args.join(' ')}:\n${r.out}`);
  }
  // Every alert of alerts.yml has a unit test that expects it to fire.
  const alerts = [...readFileSync(`${DIR}alerts.yml`, 'utf8').matchAll(/- alert: (\w+)/g)].map((m) => m[1]!);
  const tests = readFileSync(`${DIR}alerts.test.yml`, 'utf8');
  for (const a of alerts) assert.match(tests, new RegExp(`alertname: ${a}\\n\\s+exp_alerts:\\n\\s+- exp_labels`), `a unit test in which ${a} fires`);
  assert.ok(alerts.length >= 8, `${alerts.length} alerts`);
});

test("a replica's /metrics lints clean, and exports every metric the rules use", async () => {
  const api = new PatientApi(fx.nc, 'prom', 2000, 30_000);
  await api.put(appManifest({ name: 'lint', version: 'v1', image: 'reg/lint:1', instances: 2 }));
  await api.deploy('lint');
  const url = `${replica.adminUrl()}/metrics`;
  let text = '';
  await eventually('the deploy reconciled', async () => {
    text = await (await fetch(url)).text();
    assert.match(text, /wadm_commands_total\{[^}]*result="ok"/);
  }, 30_000);
  const r = promtool(['check', 'metrics'], text);
  assert.equal(r.code, 0, `promtool check metrics:\n${r.out}`);
  assert.equal(r.out.trim(), '', `no lint findings:\n${r.out}`);
  const exported = new Set([...text.matchAll(/^# TYPE (\S+)/gm)].map((m) => m[1]!));
  const exprs = [...readFileSync(`${DIR}alerts.yml`, 'utf8').matchAll(/^\s*expr: (.+)$/gm)].map((m) => m[1]!).join('\n');
  const used = new Set([...exprs.matchAll(/\b(wadm_[a-z_]+)/g)].map((m) => m[1]!));
  assert.ok(used.size >= 6, `metrics used: ${[...used].join(', ')}`);
  for (const m of used) assert.ok(exported.has(m), `${m} (used by alerts.yml) is exported`);
});
