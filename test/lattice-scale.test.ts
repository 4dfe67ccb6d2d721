/**
 * The runtime's JetStream footprint does not grow with the number of lattices, and lattices that are
 * gone are forgotten.
 *  1. With 20 lattices (each 1 host + 1 deployed app) the consumers on the server are counted: the sum
 *     over every stream of `jsm.consumers.list(stream)`, durable and ephemeral. Grown to 200 lattices,
 *     the count is the same (and so are the durables, by name): consumers are per replica, not per
 *     lattice.
 *  2. All hosts stop and all apps are undeployed; with `--lattice-gc-after 2` every one of the 200
 *     lattices is garbage-collected: no `lat.…` key of its own left in `wadm_state` (not even a
 *     tombstone: the KV stream holds no subject of it), no lease, no subject on `wadm_reconcile` — and
 *     every manifest is still stored.
 */
import { before, test } from 'node:test';
import assert from 'node:assert/strict';
import type { NatsConnection } from '@nats-io/transport-node';
import { jetstreamManager, type JetStreamManager } from '@nats-io/jetstream';
import type { KV } from '@nats-io/kv';
import type { SimulatedLattice } from '@wadm-ts/simulator';
import { reconcileSubject } from '@wadm-ts/protocol';
import { SWEEPS_AT_ONCE } from '@wadm-ts/reconcile';
import { stateKeys } from '@wadm-ts/store';
import { simLattice } from './harness/lattice.js';
import { eventually } from './harness/cluster.js';
import { withFleet } from './harness/procs.js';
import { PatientApi, appManifest, countConsumers, expectedFootprint, footprint, leaseKey, openLeases, readLease, streamSubjects, type AppSpec, type ConsumerCount } from './harness/runtime.js';

const FIRST = 20;
const TOTAL = 200;
const LATTICES = Array.from({ length: TOTAL }, (_, i) => `ls${String(i).padStart(3, '0')}`);
const SIM_CONNS = 4;

const fx = withFleet({ args: ['--stream-persistence', 'memory', '--lattice-gc-after', '2', '--cleanup-interval', '4', '--resync-interval-ms', '5000', '--takeover-ms', '2000'] });
let jsm: JetStreamManager;
let leases: KV;
const simNcs: NatsConnection[] = [];
const sims = new Map<string, SimulatedLattice>();

before(async () => {
  await fx.started;
  jsm = await jetstreamManager(fx.nc);
  for (let i = 0; i < SIM_CONNS; i++) simNcs.push(await fx.nats.connect());
});

const app = (lattice: string): AppSpec => ({ name: 'sapp', version: 'v1', image: `reg/${lattice}-web:1`, instances: 1 });
const apiOf = (lattice: string): PatientApi => new PatientApi(fx.nc, lattice, 5000, 120_000);

/** In batches, so 180 lattices do not all start at once. */
async function inBatches<T>(xs: readonly T[], size: number, f: (x: T) => Promise<void>): Promise<void> {
  for (let i = 0; i < xs.length; i += size) await Promise.all(xs.slice(i, i + size).map(f));
}

async function addLattice(lattice: string, i: number): Promise<void> {
  sims.set(lattice, fx.track(await simLattice(simNcs[i % SIM_CONNS]!, lattice, 1, 1000, () => ({}), { fetchDelayMs: 5, healthCheckIntervalMs: 5000 })));
  const api = apiOf(lattice);
  await api.put(appManifest(app(lattice)));
  await api.deploy('sapp');
}

async function allDeployed(lattices: readonly string[]): Promise<void> {
  await eventually(
    `${lattices.length} lattices deployed and leased`,
    async () => {
      const bad = lattices.filter((l) => JSON.stringify(footprint(sims.get(l)!.snapshot(), 'sapp')) !== JSON.stringify(expectedFootprint(app(l))));
      assert.deepEqual(bad.slice(0, 10), [], 'lattices not converged');
      for (const l of lattices) {
        const lease = await readLease(leases, l);
        assert.ok(lease && lease.owner !== null, `${l} leased: ${JSON.stringify(lease)}`);
      }
    },
    120_000,
  );
}

const summary = (c: ConsumerCount): string => `${c.total} (${c.durable} durable: ${c.durables.join(', ')}; ephemeral by stream ${JSON.stringify(c.ephemeralByStream)})`;

test('consumers are constant in the number of lattices (20 → 200), and 200 dead lattices are garbage-collected, manifests kept', async () => {
  const t0 = Date.now();
  const reps = ['scale-a', 'scale-b'].map((id) => fx.fleet.spawn(id));
  await fx.fleet.ready(reps);
  leases = await openLeases(fx.nc);

  await inBatches(LATTICES.slice(0, FIRST), 20, (l) => addLattice(l, LATTICES.indexOf(l)));
  await allDeployed(LATTICES.slice(0, FIRST));
  // Counted at rest: an owner's one-shot status sweep after it takes a lattice holds a consumer of
  // `wadm_status` for a moment (a few at a time per replica, SWEEPS_AT_ONCE).
  let at20!: ConsumerCount;
  await eventually(
    `the consumers at rest with ${FIRST} lattices`,
    async () => {
      at20 = await countConsumers(jsm);
      assert.ok((at20.ephemeralByStream['wadm_status'] ?? 0) <= reps.length * SWEEPS_AT_ONCE, `at most ${SWEEPS_AT_ONCE} status sweeps per replica: ${summary(at20)}`);
      assert.equal(at20.ephemeralByStream['wadm_status'] ?? 0, 0, `no status sweep under way: ${summary(at20)}`);
    },
    30_000,
  );

  await inBatches(LATTICES.slice(FIRST), 20, (l) => addLattice(l, LATTICES.indexOf(l)));
  await allDeployed(LATTICES);
  const grownAt = Date.now();
  let at200: ConsumerCount | undefined;
  await eventually(
    'the same consumers with 200 lattices as with 20',
    async () => {
      at200 = await countConsumers(jsm);
      assert.equal(at200.total, at20.total, `consumers with ${TOTAL} lattices: ${summary(at200)}; with ${FIRST}: ${summary(at20)}`);
      assert.deepEqual(at200.durables, at20.durables, 'the same durable consumers');
    },
    30_000,
  );
  process.stderr.write(`# lattice scale: ${FIRST} lattices → ${summary(at20)}; ${TOTAL} lattices → ${summary(at200!)} (grown in ${grownAt - t0} ms)\n`);

  // Everything dies: every host stops cleanly, every app is undeployed.
  const stopAt = Date.now();
  for (const sim of sims.values()) for (const h of sim.hostIds()) await sim.stopHost(h);
  await inBatches(LATTICES, 25, async (l) => void (await apiOf(l).undeploy('sapp')));

  const remaining = async (): Promise<string[]> => {
    const left: string[] = [];
    const state = await streamSubjects(jsm, 'KV_wadm_state', '$KV.wadm_state.lat.>');
    const signals = await streamSubjects(jsm, 'wadm_reconcile', 'wadm.reconcile.>');
    const leaseSubjects = await streamSubjects(jsm, 'KV_wadm_leases', '$KV.wadm_leases.>');
    const stateSubjects = Object.keys(state);
    for (const l of LATTICES) {
      const prefix = `$KV.wadm_state.${stateKeys.all({ lattice: l }).slice(0, -1)}`;
      const keys = stateSubjects.filter((s) => s.startsWith(prefix));
      if (keys.length > 0) left.push(`${l}: state ${keys.slice(0, 3).join(', ')}${keys.length > 3 ? ` … (${keys.length})` : ''}`);
      if (`$KV.wadm_leases.${leaseKey(l)}` in leaseSubjects && (await readLease(leases, l)) !== undefined) left.push(`${l}: lease ${JSON.stringify(await readLease(leases, l))}`);
      if (reconcileSubject({ lattice: l }) in signals) left.push(`${l}: reconcile subject`);
    }
    return left;
  };
  let gcAfter = 0;
  await eventually(
    'all 200 lattices garbage-collected',
    async () => {
      const left = await remaining();
      const kinds = ['state', 'lease', 'reconcile subject'].map((k) => `${left.filter((x) => x.includes(`: ${k}`)).length} ${k}`).join(', ');
      assert.deepEqual(left.slice(0, 10), [], `${left.length} leftovers (${kinds}) of ${new Set(left.map((x) => x.split(':')[0])).size} lattices`);
      gcAfter = Date.now() - stopAt;
    },
    90_000,
  );

  // Manifests are never removed.
  await inBatches(LATTICES, 25, async (l) => {
    const got = await apiOf(l).get('sapp');
    assert.equal(got['result'], 'success', `${l}: manifest kept: ${JSON.stringify(got)}`);
    assert.equal(got['manifest']?.metadata?.annotations?.version, 'v1', `${l}: the stored version`);
  });
  process.stderr.write(`# lattice gc: ${TOTAL} lattices forgotten ${gcAfter} ms after their hosts stopped (gc after 2 s)\n`);

  const codes = await fx.fleet.shutdown();
  for (const [id, code] of Object.entries(codes)) assert.equal(code, 0, `${id} drains and exits 0`);
});
