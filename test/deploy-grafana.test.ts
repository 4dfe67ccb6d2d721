/**
 * deploy/grafana/wadm-ts.json and deploy/prometheus/alerts.yml against a real Prometheus (the Debian
 * `prometheus` binary, started here on a free port with its own temp store) scraping 3 real replicas:
 * every target up, every dashboard query valid and over metrics a replica exports, the variables
 * resolve, and every alerting rule evaluates healthy.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { NatsConnection } from '@nats-io/transport-node';
import type { SimulatedLattice } from '@wadm-ts/simulator';
import { freePort } from '@wadm-ts/dev';
import { startNats, type TestNats } from './harness/nats.js';
import { eventually } from './harness/cluster.js';
import { ReplicaFleet, type ReplicaProc } from './harness/procs.js';
import { simLattice } from './harness/lattice.js';
import { PatientApi, appManifest } from './harness/runtime.js';

const DASHBOARD = fileURLToPath(new URL('../../deploy/grafana/wadm-ts.json', import.meta.url));
let nats: TestNats;
let nc: NatsConnection;
let sim: SimulatedLattice;
let fleet: ReplicaFleet;
let replica: ReplicaProc;
let replicas: ReplicaProc[] = [];
let prom: ChildProcess | undefined;
let promUrl = '';
let dir = '';

interface Panel {
  title: string;
  targets?: Array<{ expr: string }>;
}

before(async () => {
  nats = await startNats();
  nc = await nats.connect();
  fleet = new ReplicaFleet({ natsUrl: nats.url, args: ['--stream-persistence', 'memory', '--resync-interval-ms', '1000'] });
  replicas = [fleet.spawn('graf-0'), fleet.spawn('graf-1'), fleet.spawn('graf-2')];
  await fleet.ready(replicas);
  replica = replicas[0]!;
  sim = await simLattice(nats.url, 'graf', 2);
  const api = new PatientApi(nc, 'graf', 2000, 30_000);
  await api.put(appManifest({ name: 'dash', version: 'v1', image: 'reg/dash:1', instances: 2 }));
  await api.deploy('dash');
  dir = mkdtempSync(join(tmpdir(), 'wadm-prom-'));
  const targets = replicas.map((r) => `'${new URL(r.adminUrl()!).host}'`).join(', ');
  const rules = fileURLToPath(new URL('../../deploy/prometheus/alerts.yml', import.meta.url));
  writeFileSync(
    join(dir, 'prometheus.yml'),
    `global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\nrule_files:\n  - '${rules}'\nscrape_configs:\n  - job_name: wadm-ts\n    static_configs:\n      - targets: [${targets}]\n`,
  );
  const port = await freePort();
  promUrl = `http://127.0.0.1:${port}`;
  prom = spawn('prometheus', [`--config.file=${join(dir, 'prometheus.yml')}`, `--storage.tsdb.path=${join(dir, 'data')}`, `--web.listen-address=127.0.0.1:${port}`], { stdio: 'ignore' });
  prom.on('error', (err) => {
    throw new Error(`prometheus could not run (is the prometheus package installed? .ci/run installs it): ${err.message}`);
  });
});

after(async () => {
  prom?.kill('SIGKILL');
  await sim?.close({ graceful: false });
  fleet?.killAll();
  await nats?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

async function query(expr: string): Promise<{ status: string; data?: { result: unknown[] }; error?: string }> {
  const r = await fetch(`${promUrl}/api/v1/query?query=${encodeURIComponent(expr)}`);
  return (await r.json()) as { status: string; data?: { result: unknown[] }; error?: string };
}

test('a real Prometheus scraping 3 replicas: every target up, every dashboard query valid over exported metrics, every rule healthy', async () => {
  const dash = JSON.parse(readFileSync(DASHBOARD, 'utf8')) as { panels: Panel[]; templating: { list: Array<{ name: string; query?: unknown }> } };
  // Prometheus has scraped the replica a few times (rates need two samples).
  await eventually('prometheus scraped the replica', async () => {
    const r = await query('count_over_time(up{job="wadm-ts"}[1m])');
    assert.equal(r.status, 'success');
    assert.ok(Number((r.data?.result[0] as { value?: [number, string] } | undefined)?.value?.[1] ?? 0) >= 3, 'three scrapes');
  }, 60_000);
  const exported = new Set([...(await (await fetch(`${replica.adminUrl()}/metrics`)).text()).matchAll(/^# TYPE (\S+)/gm)].map((m) => m[1]!));
  const exprs = dash.panels.flatMap((p) => (p.targets ?? []).map((t) => ({ panel: p.title, expr: t.expr })));
  assert.ok(exprs.length >= 20, `${exprs.length} queries`);
  let withData = 0;
  for (const { panel, expr } of exprs) {
    const q = expr.replace(/\$__rate_interval/g, '1m').replace(/\$(replica|lattice)/g, '.*');
    const r = await query(q);
    assert.equal(r.status, 'success', `${panel}: ${q}: ${r.error ?? ''}`);
    if ((r.data?.result.length ?? 0) > 0) withData++;
    for (const [, name] of q.matchAll(/\b(wadm_[a-z_]+)/g)) {
      const family = name!.replace(/_(bucket|sum|count)$/, '');
      assert.ok(exported.has(name!) || exported.has(family), `${panel}: ${name} is a metric the replica exports`);
    }
  }
  assert.ok(withData >= exprs.length / 2, `most queries return data from a live replica (${withData} of ${exprs.length})`);
  // Every target up.
  const up = await query('up{job="wadm-ts"}');
  assert.deepEqual((up.data?.result as Array<{ value: [number, string] }>).map((x) => x.value[1]), ['1', '1', '1'], 'the 3 replicas are up');
  // Every alerting rule loaded and evaluated without error.
  await eventually('every rule evaluated', async () => {
    const r = (await (await fetch(`${promUrl}/api/v1/rules`)).json()) as { data: { groups: Array<{ rules: Array<{ name: string; health: string; lastError?: string }> }> } };
    const all = r.data.groups.flatMap((g) => g.rules);
    assert.ok(all.length >= 8, `${all.length} rules`);
    for (const rule of all) assert.equal(rule.health, 'ok', `${rule.name}: ${rule.health} ${rule.lastError ?? ''}`);
  }, 30_000);
  // The variables: label values that exist.
  for (const v of dash.templating.list.filter((x) => x.name === 'lattice' || x.name === 'replica')) {
    const m = /label_values\((\w+), (\w+)\)/.exec(JSON.stringify(v.query));
    assert.ok(m, `variable ${v.name} is a label_values query`);
    const r = (await (await fetch(`${promUrl}/api/v1/label/${m[2]}/values?match[]=${m[1]}`)).json()) as { status: string; data: string[] };
    assert.equal(r.status, 'success');
    assert.ok(r.data.length > 0, `variable ${v.name}: values ${JSON.stringify(r.data)}`);
  }
});
