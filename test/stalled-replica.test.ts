/**
 * A stalled replica (SIGSTOP: alive to TCP, dead to work) must not hold its lattices hostage. Three
 * replicas share 12 lattices; the one owning the most leases is frozen for the rest of the test. Then a
 * fresh app is deployed in each of the 12 lattices: every one of them gets its first control request
 * within WADM_TAKEOVER_MS + 1 s of the deploy being acknowledged (the lease of the frozen replica runs
 * out within WADM_TAKEOVER_MS, and nothing else it held — ingest events, commands, reconcile work —
 * may delay the lattices further), and all of them converge.
 *
 * The frozen replica is still a member of the API queue group, so API requests that land on it time
 * out and are sent again (PatientApi); the deploy counts as acknowledged when its reply arrives.
 */
import { before, test } from 'node:test';
import assert from 'node:assert/strict';
import type { NatsConnection } from '@nats-io/transport-node';
import type { KV } from '@nats-io/kv';
import type { SimulatedLattice } from '@wadm-ts/simulator';
import { simLattice } from './harness/lattice.js';
import { eventually } from './harness/cluster.js';
import { withFleet } from './harness/procs.js';
import { PatientApi, appManifest, appOf, appOfGeneratedId, expectedFootprint, footprint, isMutation, openLeases, readLease, recordCtl, type AppSpec } from './harness/runtime.js';

const LATTICES = Array.from({ length: 12 }, (_, i) => `stall${String(i).padStart(2, '0')}`);
const HOSTS_PER_LATTICE = 2;
const TAKEOVER_MS = 2000;
const BOUND_MS = TAKEOVER_MS + 1000;

const fx = withFleet({ args: ['--stream-persistence', 'memory', '--takeover-ms', String(TAKEOVER_MS), '--resync-interval-ms', '1000', '--cleanup-interval', '30', '--ingest-ack-wait-ms', '2000'] });
let simNc: NatsConnection;
let leases: KV;
const sims: SimulatedLattice[] = [];

before(async () => {
  await fx.started;
  simNc = await fx.nats.connect();
});

const seed = (lattice: string): AppSpec => ({ name: 'seed', version: 'v1', image: `reg/${lattice}-seed:1`, instances: 2 });
const fresh = (lattice: string): AppSpec => ({ name: 'fresh', version: 'v1', image: `reg/${lattice}-fresh:1`, instances: 3, provider: { image: `reg/${lattice}-cap:1`, instances: 1 } });

test('a SIGSTOPped replica delays none of its lattices beyond the takeover bound: first control request within WADM_TAKEOVER_MS + 1 s of each deploy, all converge', async () => {
  const reps = ['stall-a', 'stall-b', 'stall-c'].map((id) => fx.fleet.spawn(id));
  await fx.fleet.ready(reps);
  leases = await openLeases(fx.nc);
  for (const lattice of LATTICES) {
    sims.push(fx.track(await simLattice(simNc, lattice, HOSTS_PER_LATTICE, 1000, () => ({}), { fetchDelayMs: 5 })));
  }
  const apis = new Map(LATTICES.map((l) => [l, new PatientApi(fx.nc, l, 1000)]));
  const ctl = recordCtl(fx.nc);
  try {
    // Every lattice gets work (a seed app), so every lattice is leased; the fresh app is stored, not deployed.
    await Promise.all(LATTICES.map(async (l) => {
      const api = apis.get(l)!;
      await api.put(appManifest(seed(l)));
      await api.deploy('seed');
      await api.put(appManifest(fresh(l)));
    }));
    await eventually(
      'the seed apps deployed',
      () => {
        for (const [i, l] of LATTICES.entries()) assert.deepEqual(footprint(sims[i]!.snapshot(), 'seed'), expectedFootprint(seed(l)), l);
      },
      60_000,
    );
    const owners = new Map<string, string>();
    await eventually('every lattice leased by a live replica', async () => {
      for (const l of LATTICES) {
        const lease = await readLease(leases, l);
        assert.ok(lease && reps.some((r) => r.id === lease.owner), `${l}: ${JSON.stringify(lease)}`);
        owners.set(l, lease.owner!);
      }
    });
    const perReplica = reps.map((r) => ({ r, owns: LATTICES.filter((l) => owners.get(l) === r.id) })).sort((a, b) => b.owns.length - a.owns.length);
    const victim = perReplica[0]!;
    assert.ok(victim.owns.length > 0, 'some replica owns lattices');

    fx.fleet.sigstop(victim.r);
    const stalledAt = Date.now();

    // A fresh deploy in each of the 12 lattices, all at once.
    const ackAt = new Map<string, number>();
    await Promise.all(LATTICES.map(async (l) => ackAt.set(l, (await apis.get(l)!.deploy('fresh')).at)));

    await eventually(
      'the fresh apps deployed (and the seed apps still running) in every lattice',
      () => {
        for (const [i, l] of LATTICES.entries()) {
          const s = sims[i]!.snapshot();
          assert.deepEqual(footprint(s, 'fresh'), expectedFootprint(fresh(l)), `${l} fresh`);
          assert.deepEqual(footprint(s, 'seed'), expectedFootprint(seed(l)), `${l} seed`);
        }
      },
      60_000,
    );
    const latency = new Map<string, number>();
    for (const l of LATTICES) {
      const first = ctl.records.find((r) => r.lattice === l && isMutation(r) && appOf(r, appOfGeneratedId) === 'fresh');
      assert.ok(first, `${l}: a control request for the fresh app`);
      latency.set(l, first.at - ackAt.get(l)!);
    }
    const row = (l: string): string => `${l}${victim.owns.includes(l) ? '*' : ''}=${latency.get(l)}ms(ack +${ackAt.get(l)! - stalledAt}ms)`;
    process.stderr.write(
      `# stalled replica: ${victim.r.id} frozen owning ${victim.owns.length} of ${LATTICES.length} lattices (spread ${perReplica.map((p) => `${p.r.id}:${p.owns.length}`).join(' ')}); ` +
        `first control request after the deploy ack (* = the frozen replica's): ${LATTICES.map(row).join(' ')}\n`,
    );
    const late = LATTICES.filter((l) => latency.get(l)! > BOUND_MS).map(row);
    assert.deepEqual(late, [], `every lattice's first control request within ${BOUND_MS} ms of its deploy ack`);
    for (const l of victim.owns) {
      const lease = await readLease(leases, l);
      assert.ok(lease && lease.owner !== victim.r.id && lease.owner !== null, `${l} was taken over from the frozen replica: ${JSON.stringify(lease)}`);
    }
  } finally {
    ctl.stop();
  }
  // The frozen replica stays frozen to the end (killed in after()); the others drain cleanly.
  const live = reps.filter((r) => !r.stopped);
  await Promise.all(live.map(async (r) => {
    r.p.kill('SIGTERM');
    const [code] = await r.exited;
    assert.equal(code, 0, `${r.id} drains and exits 0`);
  }));
});
