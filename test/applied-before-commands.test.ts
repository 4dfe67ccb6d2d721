/**
 * Found by the chaos test: an owner killed right after its commands went out, before it wrote the
 * app's applied record, left a link nobody knew was the app's (links carry no ownership annotation;
 * only the applied record says whose a link is). When the app was undeployed before the next owner's
 * first pass, that owner deleted the app's instances and provider, and left the link forever.
 *
 * Now the applied record is written before the commands that create what it lists. Here the owner is
 * SIGKILLed the moment the host receives the link put, the app is undeployed, and the replica that
 * takes over must delete the link. Repeated over several apps, since the old order lost this race only
 * some of the time.
 */
import { before, test } from 'node:test';
import assert from 'node:assert/strict';
import type { SimulatedLattice } from '@wadm-ts/simulator';
import { eventually } from './harness/cluster.js';
import { withFleet, type ReplicaProc } from './harness/procs.js';
import { PatientApi, appManifest, footprint, type AppSpec } from './harness/runtime.js';

const LATTICE = 'applied1st';
const ROUNDS = 4;
const fx = withFleet({ args: ['--stream-persistence', 'memory', '--takeover-ms', '1500', '--resync-interval-ms', '1000', '--ingest-ack-wait-ms', '8000'] });
let sim: SimulatedLattice;

before(async () => {
  await fx.started;
  sim = await fx.lattice(LATTICE, 2, 1000);
});

test('an owner killed as its link put reaches the host: the next owner still deletes the link after an undeploy', async () => {
  const api = new PatientApi(fx.nc, LATTICE, 2000, 60_000);
  let current: ReplicaProc = fx.fleet.spawn('first-0');
  await fx.fleet.ready([current]);
  for (let round = 0; round < ROUNDS; round++) {
    const spec: AppSpec = { name: `app${round}`, version: 'v1', image: `reg/app${round}-web:1`, instances: 1, provider: { image: `reg/app${round}-cap:1`, instances: 1 } };
    // The only replica owns the lattice and runs the command workers: kill it when the link put lands.
    const owner = current;
    let killed: Promise<void> | undefined;
    const sub = fx.nc.subscribe(`wasmbus.ctl.v1.${LATTICE}.link.put`, {
      callback: (_e, m) => {
        if (!killed && m.string().includes(`"${spec.name}-cap"`)) killed = fx.fleet.sigkill(owner);
      },
    });
    await api.put(appManifest(spec));
    await api.deploy(spec.name);
    await eventually('the link put reached the host and its sender was killed', () => assert.ok(killed), 30_000);
    await killed;
    sub.unsubscribe();
    await eventually('the host holds the link', () => assert.equal(footprint(sim.snapshot(), spec.name).links, 1), 10_000);
    // The next replica answers the undeploy and takes the lattice over once the lease expires.
    current = fx.fleet.spawn(`next-${round}`);
    await fx.fleet.ready([current]);
    await api.undeploy(spec.name);
    await eventually(
      `${spec.name}: everything removed, the link included`,
      () => assert.deepEqual(footprint(sim.snapshot(), spec.name), { instances: 0, images: [], providers: 0, providerImages: [], links: 0 }),
      30_000,
    );
  }
});
