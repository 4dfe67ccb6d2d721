/**
 * Auto-revert across a change of owner: the deadline is counted from the deploy time stored in the app
 * record, so the replica that takes the lattice over reverts when the deadline of the deploy expires, not
 * a full deadline after it took over.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import type { NatsConnection } from '@nats-io/transport-node';
import type { Replica } from '@wadm-ts/cli';
import type { SimulatedLattice } from '@wadm-ts/simulator';
import { startNats, waitFor, type TestNats } from './harness/nats.js';
import { startReplicas } from './harness/replicas.js';
import { RawApi } from './harness/api.js';
import { simLattice } from './harness/lattice.js';
import { eventually, metricSum } from './harness/cluster.js';
import { appManifest } from './harness/runtime.js';

const LATTICE = 'takeover';
const DEADLINE_S = 6;
let nats: TestNats;
let nc: NatsConnection;
let replicas: Replica[] = [];
let sim: SimulatedLattice;

before(async () => {
  nats = await startNats();
  nc = await nats.connect();
  replicas = await startReplicas(2, nats.url, { cleanupIntervalS: 5, resyncIntervalMs: 1000, signalIntervalMs: 50, takeoverMs: 2000, updateTimeoutMs: 2000 });
  sim = await simLattice(nats.url, LATTICE, 2, 500);
  sim.failStarts(/broken/, 'simulated pull failure');
});

after(async () => {
  await sim?.close({ graceful: false });
  await Promise.all(replicas.map((r) => r.stop()));
  await nats?.stop();
});

async function record(app: string): Promise<Record<string, any>> {
  const { Kvm } = await import('@nats-io/kv');
  const kv = await new Kvm(nc).open('wadm_manifests');
  return JSON.parse((await kv.get(`${LATTICE}-${app}`))!.string()) as Record<string, any>;
}

function running(app: string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const h of sim.snapshot().hosts) for (const c of h.components) if (c.annotations['wasmcloud.dev/appspec'] === app) out[c.imageRef] = (out[c.imageRef] ?? 0) + c.count;
  return out;
}

const owner = (): Replica | undefined => replicas.find((r) => r.owners.owned().some((o) => o.lattice === LATTICE));

test('the new owner reverts at the stored deadline', async () => {
  const api = new RawApi(nc, LATTICE);
  await api.put(appManifest({ name: 'shop', version: 'v1', image: 'reg/good:1', instances: 3 }), 'application/json');
  await api.deploy('shop', 'v1');
  await eventually('v1 deployed and on record', async () => {
    assert.deepEqual(running('shop'), { 'reg/good:1': 3 });
    assert.deepEqual((await record('shop'))['rollout']?.['healthy_versions'], ['v1']);
  }, 20_000);

  const v2 = JSON.parse(appManifest({ name: 'shop', version: 'v2', image: 'reg/broken:2', instances: 3 })) as Record<string, any>;
  v2['spec']['policies'] = [{ name: 'rollout', type: 'rollout', properties: { autoRevert: 'true', healthyDeadline: String(DEADLINE_S) } }];
  await api.put(JSON.stringify(v2), 'application/json');
  assert.equal((await api.deploy('shop', 'v2'))['result'], 'acknowledged');
  const deployedAt = (await record('shop'))['rollout']['deployed'] as { version: string; at_ms: number };
  assert.equal(deployedAt.version, 'v2');

  // The first owner goes away a third of the way into the deadline; the other one takes over.
  const first = await waitFor(owner, 10_000, 'an owner of the lattice');
  await waitFor(() => Date.now() >= deployedAt.at_ms + 2_000, 5_000, 'two seconds into the deadline');
  assert.equal((await record('shop'))['deployed_version'], 'v2', 'not reverted before the deadline');
  await first.stop();
  replicas = replicas.filter((r) => r !== first);
  const second = await waitFor(owner, 10_000, 'the other replica to take the lattice');
  assert.notEqual(second, first);

  await eventually('v1 runs again', async () => {
    assert.deepEqual(running('shop'), { 'reg/good:1': 3 });
    assert.equal((await record('shop'))['deployed_version'], 'v1');
  }, DEADLINE_S * 1000 + 15_000);
  const reverted = (await record('shop'))['rollout']['reverted'] as { from: string; to: string; at_ms: number };
  assert.deepEqual([reverted.from, reverted.to], ['v2', 'v1']);
  const after = reverted.at_ms - deployedAt.at_ms;
  // Counting from the takeover (≥ 2 s in) would put it at ≥ 8 s.
  assert.ok(after >= DEADLINE_S * 1000 && after < DEADLINE_S * 1000 + 1_800, `reverted ${after} ms after the deploy`);
  assert.equal(await metricSum([second], 'wadm_rollouts_reverted_total', { lattice: LATTICE }), 1);
});
