/**
 * `wadm app rollback <name> [version]` as a user runs it (a separate process): it deploys the previous
 * deployed version through the ordinary deploy, or the version given, and says clearly when there is no
 * previous version.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import type { NatsConnection } from '@nats-io/transport-node';
import type { Replica } from '@wadm-ts/cli';
import type { SimulatedLattice } from '@wadm-ts/simulator';
import { startNats, type TestNats } from './harness/nats.js';
import { startReplicas } from './harness/replicas.js';
import { simLattice } from './harness/lattice.js';
import { RawApi } from './harness/api.js';
import { runWadm } from './harness/cli.js';
import { eventually } from './harness/cluster.js';
import { appManifest } from './harness/runtime.js';

const LATTICE = 'rollback';
let nats: TestNats;
let nc: NatsConnection;
let replicas: Replica[] = [];
let sim: SimulatedLattice;
let api: RawApi;

before(async () => {
  nats = await startNats();
  nc = await nats.connect();
  replicas = await startReplicas(1, nats.url, { resyncIntervalMs: 1000, signalIntervalMs: 50 });
  sim = await simLattice(nats.url, LATTICE, 2);
  api = new RawApi(nc, LATTICE);
});

after(async () => {
  await sim?.close({ graceful: false });
  await Promise.all(replicas.map((r) => r.stop()));
  await nats?.stop();
});


/** `wadm` against this file's lattice and server. */
const wadm = (args: string[]): ReturnType<typeof runWadm> => runWadm([...args, '--lattice', LATTICE, '-s', nats.url]);

function images(app: string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const h of sim.snapshot().hosts) for (const c of h.components) if (c.annotations['wasmcloud.dev/appspec'] === app) out[c.imageRef] = (out[c.imageRef] ?? 0) + c.count;
  return out;
}

async function deployAndWait(app: string, version: string, image: string): Promise<void> {
  assert.equal((await api.deploy(app, version))['result'], 'acknowledged');
  await eventually(`${app} ${version} deployed`, async () => {
    assert.deepEqual(images(app), { [image]: 3 });
    assert.equal((await api.status(app))['status']['status']['type'], 'deployed');
  }, 20_000);
}

test('rollback deploys the previous deployed version, or the given one; no previous version is a clear error', async () => {
  for (const v of ['v1', 'v2', 'v3']) await api.put(appManifest({ name: 'cart', version: v, image: `reg/cart:${v}`, instances: 3 }), 'application/json');

  // Nothing has been deployed yet: no previous version.
  let r = await wadm(['app', 'rollback', 'cart', '--no-wait']);
  assert.equal(r.code, 1, r.stdout + r.stderr);
  assert.match(r.stderr, /Application cart has no previous deployed version to roll back to .*rollback cart <version>/);

  await deployAndWait('cart', 'v1', 'reg/cart:v1');
  r = await wadm(['app', 'rollback', 'cart', '--no-wait']);
  assert.equal(r.code, 1, 'v1 is the only version that ever ran');
  assert.match(r.stderr, /no previous deployed version/);

  // v1 → v2 → v3, each reaching deployed.
  await deployAndWait('cart', 'v2', 'reg/cart:v2');
  await eventually('v2 on record', async () => assert.equal((await api.versions('cart'))['previous_version'], 'v1'));
  await deployAndWait('cart', 'v3', 'reg/cart:v3');
  await eventually('v3 on record', async () => assert.equal((await api.versions('cart'))['previous_version'], 'v2'));

  r = await wadm(['app', 'rollback', 'cart', '--wait', '--wait-timeout-ms', '20000']);
  assert.equal(r.code, 0, r.stdout + r.stderr);
  assert.match(r.stdout, /Deployed application "cart", version "v2"/);
  assert.match(r.stdout, /cart - deployed/);
  assert.deepEqual(images('cart'), { 'reg/cart:v2': 3 });

  // Rolling back again goes to the version before v2 that ran most recently: v3.
  await eventually('v2 on record again', async () => assert.equal((await api.versions('cart'))['previous_version'], 'v3'));

  // An explicit version, JSON output for scripts.
  r = await wadm(['app', 'rollback', 'cart', 'v1', '--no-wait', '-o', 'json']);
  assert.equal(r.code, 0, r.stdout + r.stderr);
  assert.deepEqual(JSON.parse(r.stdout.trim()), { result: 'acknowledged', message: 'Successfully deployed application cart v1', name: 'cart', version: 'v1' });
  await eventually('v1 runs again', () => assert.deepEqual(images('cart'), { 'reg/cart:v1': 3 }), 20_000);

  // Unknown apps and versions are errors from the deploy API.
  r = await wadm(['app', 'rollback', 'nosuch', '--no-wait']);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /not found/);
  r = await wadm(['app', 'rollback', 'cart', 'v9', '--no-wait']);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /does not have a version 'v9'/);
});
