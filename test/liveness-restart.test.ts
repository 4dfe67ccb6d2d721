/**
 * Liveness by arrival (issue 8): every replica is stopped for longer than the cleanup interval while
 * 30 hosts keep heartbeating (a rolling upgrade gone slow, a maintenance window). The replica started
 * afterwards finds hosts whose last stored heartbeat is old, and a backlog of fresher heartbeats in the
 * event stream; its wall clock is also 10 minutes ahead of the server's (liveness must not compare
 * clocks). It must expire no host, and send no scale/start/stop request: nothing changed on the lattice.
 */
import { before, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import assert from 'node:assert/strict';
import type { SimulatedLattice } from '@wadm-ts/simulator';
import { eventually } from './harness/cluster.js';
import { fleetMetric, withFleet } from './harness/procs.js';
import { PatientApi, appManifest, expectedFootprint, footprint, recordCtl, type AppSpec } from './harness/runtime.js';

const LATTICE = 'liveness';
const HOSTS = 30;
const CLEANUP_S = 3;
const fx = withFleet({ args: ['--stream-persistence', 'memory', '--takeover-ms', '1500', '--resync-interval-ms', '1000', '--cleanup-interval', String(CLEANUP_S)] });
let sim: SimulatedLattice;

before(async () => {
  await fx.started;
  // Frequent heartbeats: the restarted replica finds a backlog of them (ingest lags behind).
  sim = await fx.lattice(LATTICE, HOSTS, 100);
});

/** The scenario is defined by time passing (replicas down longer than the cleanup interval). */
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

test('all replicas down longer than the cleanup interval while hosts heartbeat: no host expired, no command after the restart', async () => {
  const api = new PatientApi(fx.nc, LATTICE, 2000, 60_000);
  const first = [fx.fleet.spawn('live-0'), fx.fleet.spawn('live-1')];
  await fx.fleet.ready(first);
  const specs: AppSpec[] = Array.from({ length: 10 }, (_, i) => ({ name: `app${i}`, version: 'v1', image: `reg/app${i}:1`, instances: 3 }));
  for (const s of specs) {
    await api.put(appManifest(s));
    await api.deploy(s.name);
  }
  await eventually('all apps running', () => {
    const snap = sim.snapshot();
    for (const s of specs) assert.deepEqual(footprint(snap, s.name), expectedFootprint(s), s.name);
  }, 30_000);

  await fx.fleet.shutdown();
  await sleep(3 * CLEANUP_S * 1000);

  const ctl = recordCtl(fx.nc, LATTICE);
  const skewed = fileURLToPath(new URL('../fixtures/clock-skew.cjs', import.meta.url));
  const next = fx.fleet.spawn('live-2', [], { NODE_OPTIONS: `--require ${skewed}`, WADM_TEST_CLOCK_SKEW_MS: String(10 * 60_000) });
  await fx.fleet.ready([next]);
  await sleep(30_000);
  ctl.stop();
  const acts = ctl.records.filter((r) => /^(component\.scale|provider\.(start|stop)|host\.stop)$/.test(r.op));
  assert.deepEqual(acts.map((r) => `${r.op} ${JSON.stringify(r.body)}`), [], 'no scale/start/stop request after the restart');
  assert.equal(await fleetMetric([next], 'wadm_hosts_expired_total'), 0, 'no host expired');
  assert.ok((await fleetMetric([next], 'wadm_reconciles_total')) > 5, 'the replica reconciled meanwhile');
  const snap = sim.snapshot();
  for (const s of specs) assert.deepEqual(footprint(snap, s.name), expectedFootprint(s), s.name);
});
