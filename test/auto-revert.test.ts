/**
 * Auto-revert (issue 10): a version with `autoRevert: true` that does not become `deployed` within its
 * `healthyDeadline` is replaced by the previously deployed version; status and a `rollout_reverted`
 * CloudEvent say so. One replica, simulated hosts, ground truth from the simulator.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import type { NatsConnection, Subscription } from '@nats-io/transport-node';
import type { Replica } from '@wadm-ts/cli';
import type { SimulatedLattice } from '@wadm-ts/simulator';
import { startNats, waitFor, type TestNats } from './harness/nats.js';
import { startReplicas } from './harness/replicas.js';
import { RawApi } from './harness/api.js';
import { simLattice } from './harness/lattice.js';
import { eventually, metricSum, settle } from './harness/cluster.js';

let nats: TestNats;
let nc: NatsConnection;
let replicas: Replica[];
const sims: SimulatedLattice[] = [];
const subs: Subscription[] = [];

before(async () => {
  nats = await startNats();
  nc = await nats.connect();
  // A short update timeout: an in-place update of a broken image (which a host only logs) is given up on
  // after 2 s and that host's instance replaced by stop and start, whose failure the host reports.
  replicas = await startReplicas(1, nats.url, { cleanupIntervalS: 5, resyncIntervalMs: 1000, signalIntervalMs: 50, updateTimeoutMs: 2000 });
});

after(async () => {
  for (const s of subs) s.unsubscribe();
  for (const s of sims) await s.close({ graceful: false });
  await Promise.all((replicas ?? []).map((r) => r.stop()));
  await nats?.stop();
});

const N = 4;

function manifest(name: string, version: string, image: string, rollout?: { autoRevert: boolean; healthyDeadline: number }): string {
  return JSON.stringify({
    apiVersion: 'core.oam.dev/v1beta1',
    kind: 'Application',
    metadata: { name, annotations: { version } },
    spec: {
      components: [{ name: 'web', type: 'component', properties: { image }, traits: [{ type: 'spreadscaler', properties: { instances: N } }] }],
      ...(rollout ? { policies: [{ name: 'rollout', type: 'rollout', properties: rollout }] } : {}),
    },
  });
}

interface Setup {
  api: RawApi;
  sim: SimulatedLattice;
  events: Array<Record<string, any>>;
}

async function setup(lattice: string): Promise<Setup> {
  // One instance per host: the rollout budget (maxUnavailable 1 of 4) has room to stop one host.
  const sim = await simLattice(nats.url, lattice, N, 500);
  sims.push(sim);
  sim.failStarts(/broken/, 'simulated pull failure: manifest unknown');
  const events: Array<Record<string, any>> = [];
  subs.push(nc.subscribe(`wadm.evt.${lattice}.rollout_reverted`, { callback: (_e, m) => void events.push(m.json()) }));
  await nc.flush();
  return { api: new RawApi(nc, lattice), sim, events };
}

/** What the simulated hosts run of `app`: image → total instances. */
function running(sim: SimulatedLattice, app: string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const h of sim.snapshot().hosts) {
    for (const c of h.components) if (c.annotations['wasmcloud.dev/appspec'] === app) out[c.imageRef] = (out[c.imageRef] ?? 0) + c.count;
  }
  return out;
}

async function status(api: RawApi, name: string): Promise<{ type: string; message?: string }> {
  return (await api.status(name))['status']['status'];
}

async function deployedVersion(api: RawApi, name: string): Promise<string | undefined> {
  const vs = (await api.versions(name))['versions'] as Array<{ version: string; deployed: boolean }>;
  return vs.find((v) => v.deployed)?.version;
}

/** Deploy v1 (no policy) and wait for it to run with exact counts. */
async function v1Running(s: Setup, app: string): Promise<void> {
  assert.equal((await s.api.put(manifest(app, 'v1', 'reg/good:1'), 'application/json'))['result'], 'created');
  assert.equal((await s.api.deploy(app, 'v1'))['result'], 'acknowledged');
  await eventually('v1 deployed', async () => {
    assert.deepEqual(running(s.sim, app), { 'reg/good:1': N });
    assert.equal((await status(s.api, app)).type, 'deployed');
  }, 20_000);
  // The owner records that v1 reached `deployed`: it is what a later revert or rollback goes back to.
  await eventually('v1 on record as having reached deployed', async () => {
    assert.deepEqual((await record(s.api.lattice, app))['rollout']?.['healthy_versions'], ['v1']);
  });
}

/** The stored app record, as JSON. */
async function record(lattice: string, app: string): Promise<Record<string, any>> {
  const { Kvm } = await import('@nats-io/kv');
  const kv = await new Kvm(nc).open('wadm_manifests');
  return JSON.parse((await kv.get(`${lattice}-${app}`))!.string()) as Record<string, any>;
}

test('a version that cannot become deployed is reverted to the previous one within its deadline', async () => {
  const s = await setup('revert');
  await v1Running(s, 'shop');
  assert.equal((await s.api.put(manifest('shop', 'v2', 'reg/broken:2', { autoRevert: true, healthyDeadline: 3 }), 'application/json'))['result'], 'newversion');
  const deployedAt = Date.now();
  assert.equal((await s.api.deploy('shop', 'v2'))['result'], 'acknowledged');
  assert.equal((await s.api.versions('shop'))['previous_version'], 'v1');

  await eventually('v1 runs again with exact counts', async () => {
    assert.deepEqual(running(s.sim, 'shop'), { 'reg/good:1': N });
    assert.equal(await deployedVersion(s.api, 'shop'), 'v1');
    const st = await status(s.api, 'shop');
    assert.equal(st.type, 'deployed');
    assert.match(String(st.message), /^reverted from v2 to v1: v2 did not become deployed within 3s: .*simulated pull failure/);
  }, 3_000 + 12_000);
  const elapsed = Date.now() - deployedAt;
  assert.ok(elapsed >= 3_000, `reverted after ${elapsed} ms, before the deadline`);

  await waitFor(() => s.events.length >= 1, 5_000, 'the rollout_reverted event');
  assert.equal(s.events.length, 1, 'exactly one revert');
  const ev = s.events[0]!;
  assert.equal(ev['type'], 'com.wadm.rollout_reverted');
  assert.equal(ev['specversion'], '1.0');
  assert.equal(ev['source'], 'wadm');
  assert.deepEqual({ ...ev['data'], reason: undefined }, { name: 'shop', from: 'v2', to: 'v1', reason: undefined });
  assert.match(String(ev['data']['reason']), /^v2 did not become deployed within 3s: .*simulated pull failure/);
  assert.equal(await metricSum(replicas, 'wadm_rollouts_reverted_total', { lattice: 'revert' }), 1);

  // The record keeps the Rust layout first; the history is one extra key.
  const rec = await record('revert', 'shop');
  assert.deepEqual(Object.keys(rec), ['manifests', 'deployed_version', 'rollout']);
  assert.equal(rec['deployed_version'], 'v1');
  assert.deepEqual(rec['rollout']['reverted'] && [rec['rollout']['reverted']['from'], rec['rollout']['reverted']['to']], ['v2', 'v1']);

  // It stays reverted (no loop) and the note stays on the status while v1 runs.
  await settle(replicas, 4);
  assert.equal(await deployedVersion(s.api, 'shop'), 'v1');
  assert.equal(s.events.length, 1);
  assert.match(String((await status(s.api, 'shop')).message), /^reverted from v2 to v1/);
  assert.deepEqual(running(s.sim, 'shop'), { 'reg/good:1': N });

  // The next deploy ends the note.
  assert.equal((await s.api.put(manifest('shop', 'v3', 'reg/good:3'), 'application/json'))['result'], 'newversion');
  assert.equal((await s.api.deploy('shop', 'v3'))['result'], 'acknowledged');
  await eventually('v3 deployed without the note', async () => {
    assert.deepEqual(running(s.sim, 'shop'), { 'reg/good:3': N });
    const st = await status(s.api, 'shop');
    assert.equal(st.type, 'deployed');
    assert.doesNotMatch(String(st.message ?? ''), /reverted/);
  }, 20_000);
});

test('a version that becomes deployed within its deadline is not reverted', async () => {
  const s = await setup('healthy');
  await v1Running(s, 'blog');
  await s.api.put(manifest('blog', 'v2', 'reg/good:2', { autoRevert: true, healthyDeadline: 2 }), 'application/json');
  const deployedAt = Date.now();
  await s.api.deploy('blog', 'v2');
  await eventually('v2 deployed', async () => {
    assert.deepEqual(running(s.sim, 'blog'), { 'reg/good:2': N });
    assert.equal((await status(s.api, 'blog')).type, 'deployed');
  }, 20_000);
  // Past the deadline, and some passes after it.
  await waitFor(() => Date.now() >= deployedAt + 2_500, 10_000, 'the deadline to pass');
  await settle(replicas, 3);
  assert.equal(await deployedVersion(s.api, 'blog'), 'v2');
  assert.deepEqual(running(s.sim, 'blog'), { 'reg/good:2': N });
  assert.equal(s.events.length, 0);
  assert.doesNotMatch(String((await status(s.api, 'blog')).message ?? ''), /reverted/);
  assert.equal((await s.api.versions('blog'))['previous_version'], 'v1');
});

test('without autoRevert a failing version stays deployed and failing', async () => {
  const s = await setup('norevert');
  await v1Running(s, 'wiki');
  await s.api.put(manifest('wiki', 'v2', 'reg/broken:2', { autoRevert: false, healthyDeadline: 2 }), 'application/json');
  const deployedAt = Date.now();
  await s.api.deploy('wiki', 'v2');
  await waitFor(async () => (await status(s.api, 'wiki')).type === 'failed', 20_000, 'v2 failed');
  await waitFor(() => Date.now() >= deployedAt + 2_500, 10_000, 'the deadline to pass');
  await settle(replicas, 3);
  assert.equal(await deployedVersion(s.api, 'wiki'), 'v2');
  const st = await status(s.api, 'wiki');
  assert.equal(st.type, 'failed');
  assert.match(String(st.message), /simulated pull failure/);
  assert.equal(s.events.length, 0);
  assert.equal(running(s.sim, 'wiki')['reg/broken:2'] ?? 0, 0);
});
