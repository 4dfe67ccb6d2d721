/**
 * Lattice leases: lattices spread over the live replicas (each a fair share), a joining replica takes
 * some over, a replica that stops hands its leases back at once, every change of owner raises the
 * epoch, and a command from an older epoch is dropped by the workers.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import type { NatsConnection } from '@nats-io/transport-node';
import { jetstream } from '@nats-io/jetstream';
import { Kvm } from '@nats-io/kv';
import type { Replica } from '@wadm-ts/cli';
import { LEASE_BUCKET } from '@wadm-ts/protocol';
import { leaseKey, publishCommand, type LeaseValue } from '@wadm-ts/reconcile';
import { jetStreamContext } from '@wadm-ts/store';
import { startNats, waitFor, type TestNats } from './harness/nats.js';
import { startReplicas } from './harness/replicas.js';
import { metricSum } from './harness/cluster.js';
import { simLattice } from './harness/lattice.js';

let nats: TestNats;
let nc: NatsConnection;
let replicas: Replica[] = [];
const LATTICES = Array.from({ length: 12 }, (_, i) => `lease${i}`);

before(async () => {
  nats = await startNats();
  nc = await nats.connect();
});

after(async () => {
  await Promise.all(replicas.map((r) => r.stop()));
  await nats.stop();
});

const counts = (rs: readonly Replica[]): number[] => rs.map((r) => r.owners.owned().filter((o) => LATTICES.includes(o.lattice)).length);

async function leaseOf(lattice: string): Promise<LeaseValue | undefined> {
  const kv = await new Kvm(nc).open(LEASE_BUCKET);
  const e = await kv.get(leaseKey({ lattice }));
  return e && e.operation === 'PUT' ? e.json<LeaseValue>() : undefined;
}

test('leases: fair share, a joining replica takes some over, a stopping one hands them back, epochs rise', async () => {
  replicas = await startReplicas(2, nats.url, { takeoverMs: 1500, resyncIntervalMs: 1000, signalIntervalMs: 50 });
  const js = jetstream(nc);
  for (const l of LATTICES) await js.publish(`wadm.reconcile._.${l}`, JSON.stringify({ lattice: l, reasons: ['test'] }));
  await waitFor(() => counts(replicas).reduce((a, b) => a + b, 0) === LATTICES.length, 15_000, 'every lattice owned');
  await waitFor(() => counts(replicas).every((n) => n === 6), 15_000, `6 + 6 (now ${counts(replicas).join(' + ')})`);
  const epochs = new Map<string, number>();
  for (const l of LATTICES) epochs.set(l, (await leaseOf(l))!.epoch);

  // A third replica joins: the others give leases back until each owns 4.
  const [third] = await startReplicas(1, nats.url, { replicaId: 'test-replica-joining', takeoverMs: 1500, resyncIntervalMs: 1000, signalIntervalMs: 50 });
  replicas.push(third!);
  await waitFor(() => counts(replicas).every((n) => n === 4), 20_000, `4 + 4 + 4 (now ${counts(replicas).join(' + ')})`);
  let moved = 0;
  for (const l of LATTICES) {
    const v = (await leaseOf(l))!;
    if (v.owner === third!.id) {
      moved++;
      assert.ok(v.epoch > epochs.get(l)!, `${l}: the epoch rose at the change of owner (${epochs.get(l)} → ${v.epoch})`);
    }
    epochs.set(l, v.epoch);
  }
  assert.equal(moved, 4);

  // A replica stops cleanly: its leases are released at once, and taken by the others well within the lease time.
  const leaving = replicas.shift()!;
  const t0 = Date.now();
  await leaving.stop();
  await waitFor(() => counts(replicas).reduce((a, b) => a + b, 0) === LATTICES.length, 10_000, 'every lattice owned again');
  const took = Date.now() - t0;
  assert.ok(took < 1500 + 1000, `handed over in ${took} ms`);
  await waitFor(() => counts(replicas).every((n) => n === 6), 20_000, `6 + 6 (now ${counts(replicas).join(' + ')})`);
});

test('a command from an older lease epoch is dropped by the workers', async () => {
  const sim = await simLattice(nats.url, 'fenced', 1);
  try {
    const js = jetstream(nc);
    await js.publish('wadm.reconcile._.fenced', JSON.stringify({ lattice: 'fenced', reasons: ['test'] }));
    const lease = await waitFor(async () => (await leaseOf('fenced'))?.owner ? await leaseOf('fenced') : undefined, 15_000, 'the lattice owned');
    const [host] = sim.hostIds() as [string];
    const seen: string[] = [];
    const sub = nc.subscribe('wasmbus.ctl.v1.fenced.component.scale.>', { callback: (_e, m) => void seen.push(m.string()) });
    const ctx = await jetStreamContext(nc);
    const cmd = (id: string) => ({ kind: 'ScaleComponent' as const, component_id: id, host_id: host, count: 1, reference: 'reg/x:1', model_name: 'nobody', annotations: {}, config: [] });
    const dropped = await metricSum(replicas, 'wadm_commands_total', { result: 'stale' });
    await publishCommand(ctx, { lattice: 'fenced' }, cmd('stale'), 'stale-1', { epoch: lease.epoch - 1 });
    await waitFor(async () => (await metricSum(replicas, 'wadm_commands_total', { result: 'stale' })) === dropped + 1, 10_000, 'the stale command dropped');
    assert.deepEqual(seen, [], 'no control request reached the lattice');
    sub.unsubscribe();
  } finally {
    await sim.close({ graceful: false });
  }
});

test('a command whose in-flight entry expired is dropped by the workers (the owner plans again without it)', async () => {
  const sim = await simLattice(nats.url, 'expired', 1);
  try {
    const js = jetstream(nc);
    await js.publish('wadm.reconcile._.expired', JSON.stringify({ lattice: 'expired', reasons: ['test'] }));
    const lease = await waitFor(async () => (await leaseOf('expired'))?.owner ? await leaseOf('expired') : undefined, 15_000, 'the lattice owned');
    const [host] = sim.hostIds() as [string];
    const seen: string[] = [];
    const sub = nc.subscribe('wasmbus.ctl.v1.expired.provider.>', { callback: (_e, m) => void seen.push(m.string()) });
    const ctx = await jetStreamContext(nc);
    const stop = { kind: 'StopProvider' as const, provider_id: 'gone', host_id: host, model_name: 'nobody' };
    const dropped = await metricSum(replicas, 'wadm_commands_total', { result: 'expired' });
    // Current epoch, but its in-flight entry expired (a redelivery after the owner gave up on it).
    await publishCommand(ctx, { lattice: 'expired' }, [stop], 'expired-1', { epoch: lease.epoch, expiresAt: [Date.now() - 1] });
    await waitFor(async () => (await metricSum(replicas, 'wadm_commands_total', { result: 'expired' })) === dropped + 1, 10_000, 'the expired command dropped');
    assert.deepEqual(seen, [], 'no control request reached the lattice');
    // The same command within its entry's life is sent.
    await publishCommand(ctx, { lattice: 'expired' }, [stop], 'expired-2', { epoch: lease.epoch, expiresAt: [Date.now() + 60_000] });
    await waitFor(() => seen.length === 1, 10_000, 'the live command sent');
    sub.unsubscribe();
  } finally {
    await sim.close({ graceful: false });
  }
});
