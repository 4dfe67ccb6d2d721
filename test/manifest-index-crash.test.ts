/**
 * Regression for a crash window found by the chaos test (chaos-kill.test.ts): a replica killed between
 * writing a new app's record in `wadm_manifests` and syncing the lattice index (`{lattice}` → names)
 * leaves an app that exists but is listed nowhere. The client's retry of the same put answers "version
 * already exists", later puts and deploys of the app do not change its existence, so nothing ever syncs
 * the index again: the deploy is acknowledged, the record says deployed, and no replica reconciles it
 * (the reconciler, `app list` and status all go through the index).
 *
 * The crash is reproduced deterministically: the app is put normally, then the index is written back
 * without it — exactly what the killed replica leaves behind.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import type { NatsConnection } from '@nats-io/transport-node';
import { jetstream } from '@nats-io/jetstream';
import { Kvm } from '@nats-io/kv';
import type { Replica } from '@wadm-ts/cli';
import type { SimulatedLattice } from '@wadm-ts/simulator';
import { startNats, type TestNats } from './harness/nats.js';
import { startReplicas } from './harness/replicas.js';
import { simLattice } from './harness/lattice.js';
import { eventually } from './harness/cluster.js';
import { PatientApi, appManifest, expectedFootprint, footprint, type AppSpec } from './harness/runtime.js';

const LATTICE = 'idxcrash';
let nats: TestNats;
let nc: NatsConnection;
let replicas: Replica[];
let sim: SimulatedLattice;

before(async () => {
  nats = await startNats();
  nc = await nats.connect();
  replicas = await startReplicas(2, nats.url, { resyncIntervalMs: 1000 });
  sim = await simLattice(nats.url, LATTICE, 2);
});

after(async () => {
  await sim?.close({ graceful: false });
  await Promise.all((replicas ?? []).map((r) => r.stop()));
  await nats?.stop();
});

test('an app whose index entry was lost to a crash between record write and index sync is listed and deployed again', async () => {
  const api = new PatientApi(nc, LATTICE, 5000);
  const v1: AppSpec = { name: 'orphan', version: 'v1', image: 'reg/orphan-web:1', instances: 2 };
  const v2: AppSpec = { ...v1, version: 'v2', image: 'reg/orphan-web:2', instances: 3 };
  await api.put(appManifest({ name: 'bystander', version: 'v1', image: 'reg/bystander:1', instances: 1 }));
  assert.equal((await api.put(appManifest(v1))).reply['result'], 'created');

  // The state a replica killed after `kv.create(record)` and before `syncIndex` leaves: the record, no index entry.
  const kv = await new Kvm(jetstream(nc)).open('wadm_manifests');
  const idx = await kv.get(LATTICE);
  assert.ok(idx && idx.operation === 'PUT');
  const names = idx.json<string[]>();
  assert.ok(names.includes('orphan'), `indexed after a normal put: ${JSON.stringify(names)}`);
  await kv.update(LATTICE, JSON.stringify(names.filter((n) => n !== 'orphan')), idx.revision);

  // What the client does next: retry the put (answered "already exists"), then deploy; later an upgrade.
  const retry = await api.call('put', undefined, appManifest(v1));
  assert.match(String(retry.reply['message']), /already exists/, JSON.stringify(retry.reply));
  assert.equal((await api.deploy('orphan', 'v1')).reply['result'], 'acknowledged');

  await eventually('orphan listed and running v1', async () => {
    const list = await api.list();
    assert.ok(((list['models'] ?? []) as Array<{ name: string }>).some((m) => m.name === 'orphan'), `app list: ${JSON.stringify(list['models'])}`);
    assert.deepEqual(footprint(sim.snapshot(), 'orphan'), expectedFootprint(v1));
  }, 15_000);

  assert.equal((await api.put(appManifest(v2))).reply['result'], 'newversion');
  assert.equal((await api.deploy('orphan', 'v2')).reply['result'], 'acknowledged');
  await eventually('orphan upgraded to v2', () => assert.deepEqual(footprint(sim.snapshot(), 'orphan'), expectedFootprint(v2)), 15_000);
});
