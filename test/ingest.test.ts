/**
 * Event ingest against real nats-server and simulated hosts: per-entity KV state equals the simulator's
 * ground truth; garbage is acknowledged and counted; failing events are parked; reconcile signals are
 * coalesced; a silent host is expired exactly once across replicas; a 10,000-event storm ingested by
 * 3 replicas at once leaves KV exactly equal to the truth.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import { Kvm } from '@nats-io/kv';
import type { SimulatedLattice } from '@wadm-ts/simulator';
import { createLogger, Metrics } from '@wadm-ts/obs';
import { RECONCILE_STREAM, reconcileSubject } from '@wadm-ts/protocol';
import { LatticeStateStore, jetStreamContext, stateKeys, type KeyDecision, type StoredValue } from '@wadm-ts/store';
import { ReconcileSignaler } from '@wadm-ts/reconcile';
import { IngestWorker } from '@wadm-ts/ingest';
import { waitFor } from './harness/nats.js';
import { silent, withReplicas } from './harness/replicas.js';
import { Storm, countEvents, ctl, waitConverged } from './harness/lattice.js';
import { metricSum as metricSumOf } from './harness/cluster.js';
import type { HostEntity } from '@wadm-ts/entities';

const fx = withReplicas(3, { cleanupIntervalS: 1.5, signalIntervalMs: 50 });

const lattice = (name: string, hosts: number, heartbeatIntervalMs = 500): Promise<SimulatedLattice> => fx.lattice(name, hosts, heartbeatIntervalMs);

const metricSum = (name: string, labels: Record<string, string> = {}): Promise<number> => metricSumOf(fx.replicas, name, labels);

const converged = (sim: SimulatedLattice, lat: string, timeoutMs = 30_000): Promise<void> => waitConverged(fx.replicas[0]!.state, sim, lat, timeoutMs);

describe('ingest', () => {
  test('every kind of event lands in per-entity keys equal to the simulator', async () => {
    const sim = await lattice('basic', 2);
    const [h1, h2] = sim.hostIds() as [string, string];
    const ok = async (suffix: string, body: unknown = ''): Promise<void> => {
      const r = await ctl(fx.nc, 'basic', suffix, body);
      assert.ok(r.success, `${suffix}: ${r.message}`);
    };
    await ok(`component.scale.${h1}`, { component_ref: 'ghcr.io/x/echo:1', component_id: 'echo', count: 2, host_id: h1, annotations: { 'wasmcloud.dev/appspec': 'a' } });
    await ok(`component.scale.${h2}`, { component_ref: 'ghcr.io/x/echo:1', component_id: 'echo', count: 1, host_id: h2 });
    await ok(`provider.start.${h1}`, { provider_id: 'http', provider_ref: 'ghcr.io/x/http:1', host_id: h1 });
    await ok('config.put.cfg1', { a: 'b' });
    await ok('link.put', { source_id: 'echo', target: 'http', name: 'default', wit_namespace: 'wasi', wit_package: 'http', interfaces: ['outgoing-handler'], source_config: ['cfg1'] });
    await ok(`label.put.${h2}`, { key: 'tier', value: 'gold' });
    await converged(sim, 'basic');
    const state = fx.replicas[1]!.state;
    const host = await state.read<HostEntity>(stateKeys.host({ lattice: 'basic' }, h2));
    assert.equal(host?.value.labels['tier'], 'gold');
    assert.ok((await state.keys('lat._.basic.>')).length >= 7, 'one key per entity');

    await ok(`component.scale.${h2}`, { component_ref: 'ghcr.io/x/echo:1', component_id: 'echo', count: 0, host_id: h2 });
    await ok('link.del', { source_id: 'echo', name: 'default', wit_namespace: 'wasi', wit_package: 'http' });
    await ok('config.del.cfg1');
    await ok(`provider.stop.${h1}`, { host_id: h1, provider_id: 'http' });
    await ok(`label.del.${h2}`, { key: 'tier' });
    await converged(sim, 'basic');
    await sim.stopHost(h1);
    await converged(sim, 'basic');
    const meta = await state.read(stateKeys.meta({ lattice: 'basic' }));
    assert.ok(meta, 'the lattice is known from its events');
  });

  test('garbage is acknowledged and counted, and ingest keeps going', async () => {
    const before = await metricSum('wadm_ingest_events_total', { result: 'ignored' });
    const garbage: Array<[string, string | Uint8Array]> = [
      ['wasmbus.evt.garbage.host_heartbeat', 'not json at all'],
      ['wasmbus.evt.garbage.host_heartbeat', new Uint8Array([0xff, 0x00, 0xfe])],
      ['wasmbus.evt.garbage.component_scaled', JSON.stringify({ specversion: '1.0', id: 'x', type: 'com.wasmcloud.lattice.component_scaled', source: 'N1', data: { component_id: 5 } })],
      ['wasmbus.evt.garbage.frobnicated', JSON.stringify({ specversion: '1.0', id: 'x', type: 'com.wasmcloud.lattice.frobnicated', source: 'N1', data: {} })],
      ['wasmbus.evt.garbage.actor_started', JSON.stringify([1, 2, 3])],
      ['wasmbus.evt.garbage.x.y.z', '{}'],
    ];
    for (const [s, b] of garbage) fx.nc.publish(s, b);
    await waitFor(async () => (await metricSum('wadm_ingest_events_total', { result: 'ignored' })) >= before + garbage.length, 10_000, 'garbage counted');
    const sim = await lattice('aftergarbage', 1);
    await converged(sim, 'aftergarbage');
    const info = await (await jetstreamManager(fx.nc)).consumers.info('wasmbus_events', 'wadm_ingest');
    await waitFor(async () => (await (await jetstreamManager(fx.nc)).consumers.info('wasmbus_events', 'wadm_ingest')).num_ack_pending === 0, 10_000, 'nothing left unacknowledged');
    assert.ok(info);
  });

  test('an event that keeps failing is parked on wadm.dlq.ingest with its error, never dropped', async () => {
    // A worker whose state store fails for one host: a stand-in for a persistent storage fault.
    const ctx = await jetStreamContext(fx.nc);
    const kv = await new Kvm(ctx.js).open('wadm_state');
    class Failing extends LatticeStateStore {
      override async update<T extends StoredValue>(key: string, decide: (c: T | undefined) => KeyDecision<T>): Promise<{ written?: T; previous?: T }> {
        if (key.includes('NPOISON')) throw new Error('simulated storage fault');
        return super.update(key, decide);
      }
    }
    const metrics = new Metrics();
    const logger = createLogger({ replica: 'failing', level: 'silent', destination: silent });
    const worker = new IngestWorker({
      ctx,
      store: new Failing(kv, ctx.jsm, 'wadm_state'),
      signaler: new ReconcileSignaler(ctx.js, logger, metrics),
      logger,
      metrics,
      multitenant: false,
      maxAttempts: 3,
    });
    const dlq = fx.nc.subscribe('wadm.dlq.ingest.>', { max: 1 });
    // Stop the normal replicas' ingest so that the failing worker is the only consumer for a while.
    await Promise.all(fx.replicas.map((r) => r.ingest.stop()));
    await worker.start();
    try {
      fx.nc.publish(
        'wasmbus.evt.poison.config_set',
        JSON.stringify({ specversion: '1.0', id: 'p', type: 'com.wasmcloud.lattice.labels_changed', source: 'NPOISON', data: { host_id: 'NPOISON', labels: {} } }),
      );
      const parked = await (async () => {
        for await (const m of dlq) return m;
        return undefined;
      })();
      assert.ok(parked);
      assert.equal(parked.headers?.get('Wadm-Error'), 'simulated storage fault');
      assert.equal(parked.headers?.get('Wadm-Original-Subject'), 'wasmbus.evt.poison.config_set');
      assert.equal(parked.headers?.get('Wadm-Deliveries'), '3');
      const js = jetstream(fx.nc);
      const stored = await (await jetstreamManager(fx.nc)).streams.getMessage('wadm_dead_letters', { last_by_subj: 'wadm.dlq.ingest.poison' });
      assert.ok(stored, 'kept in the wadm_dead_letters stream for operators');
      const poisonSeq = Number(parked.headers?.get('Wadm-Original-Sequence'));
      const jsm = await jetstreamManager(fx.nc);
      await waitFor(async () => (await jsm.consumers.info('wasmbus_events', 'wadm_ingest')).ack_floor.stream_seq >= poisonSeq, 10_000, 'the parked event terminated, not redelivered');
      void js;
    } finally {
      await worker.stop();
      await Promise.all(fx.replicas.map((r) => r.ingest.start()));
    }
  });

  test('reconcile signals are coalesced: a storm of changes is a handful of signals; no change, no signal', async () => {
    const sim = await lattice('signals', 1, 60_000);
    const [h] = sim.hostIds() as [string];
    await converged(sim, 'signals');
    const jsm = await jetstreamManager(fx.nc);
    const subject = reconcileSubject({ lattice: 'signals' });
    const before = await metricSum('wadm_reconcile_signals_total');
    const seen: number[] = [];
    // Periodic resync signals (reason `resync`) are the reconciler's own timer, not ingest's.
    const sub = fx.nc.subscribe(subject, {
      callback: (_e, m) => {
        if (!(JSON.parse(m.string()) as { reasons: string[] }).reasons.includes('resync')) seen.push(Date.now());
      },
    });
    const t0 = Date.now();
    for (let i = 1; i <= 200; i++) {
      await ctl(fx.nc, 'signals', `component.scale.${h}`, { component_ref: 'img:1', component_id: 'c', count: i, host_id: h });
    }
    await converged(sim, 'signals');
    await waitFor(() => seen.length > 0, 5000, 'a signal');
    const elapsed = Date.now() - t0;
    const published = (await metricSum('wadm_reconcile_signals_total')) - before;
    // At most one signal per replica per coalescing interval (50 ms here), however slow the machine makes
    // the storm, and always fewer than the changes.
    const bound = fx.replicas.length * (Math.ceil(elapsed / 50) + 2);
    assert.ok(published >= 1 && published < 200 && published <= bound, `200 changes in ${elapsed} ms became ${published} signals (bound ${bound})`);
    const last = await jsm.streams.getMessage(RECONCILE_STREAM, { last_by_subj: subject });
    assert.ok(last, 'the latest signal is kept in the stream');
    // Quiesce: every event acknowledged (a worker marks before it acks), every signaler flushed.
    const settle = async (): Promise<void> => {
      const last = (await jsm.streams.info('wasmbus_events')).state.last_seq;
      await waitFor(async () => (await jsm.consumers.info('wasmbus_events', 'wadm_ingest')).ack_floor.stream_seq >= last, 10_000, 'every event so far acknowledged').catch(async (err: Error) => {
        const i = await jsm.consumers.info('wasmbus_events', 'wadm_ingest');
        throw new Error(`${err.message}: last=${last} ack_floor=${JSON.stringify(i.ack_floor)} delivered=${JSON.stringify(i.delivered)} pending=${i.num_pending} ack_pending=${i.num_ack_pending} redelivered=${i.num_redelivered}`);
      });
      await Promise.all(fx.replicas.map((rep) => rep.signaler.flush()));
      await fx.nc.flush();
    };
    await settle();
    const quiet = seen.length;
    // Unchanged state (the same count again): the event is ingested, but signals nothing.
    const unchanged = await metricSum('wadm_ingest_events_total', { type: 'component_scaled', result: 'unchanged' });
    await ctl(fx.nc, 'signals', `component.scale.${h}`, { component_ref: 'img:1', component_id: 'c', count: 200, host_id: h });
    await waitFor(async () => (await metricSum('wadm_ingest_events_total', { type: 'component_scaled', result: 'unchanged' })) > unchanged, 10_000, 'the unchanged event ingested');
    await settle();
    assert.equal(seen.length, quiet, 'no signal without a change');
    sub.unsubscribe();
  });

  test('a silent host is expired exactly once across 3 replicas, with a reconcile signal', async () => {
    const sim = await lattice('expiry', 2);
    const [dead, alive] = sim.hostIds() as [string, string];
    await ctl(fx.nc, 'expiry', `component.scale.${dead}`, { component_ref: 'img:1', component_id: 'c', count: 1, host_id: dead });
    await converged(sim, 'expiry');
    const before = await metricSum('wadm_hosts_expired_total', { lattice: 'expiry' });
    const signals: string[] = [];
    const sub = fx.nc.subscribe(reconcileSubject({ lattice: 'expiry' }), { callback: (_e, m) => void signals.push(m.string()) });
    sim.killHost(dead);
    await waitFor(async () => (await metricSum('wadm_hosts_expired_total', { lattice: 'expiry' })) > before, 15_000, 'expiry');
    await converged(sim, 'expiry');
    // Let every replica's reaper run several more passes: still exactly one expiry.
    await waitFor(async () => (await fx.replicas[2]!.reaper.sweep()).length === 0, 5000, 'a quiet reaper pass');
    await fx.replicas[0]!.reaper.sweep();
    assert.equal((await metricSum('wadm_hosts_expired_total', { lattice: 'expiry' })) - before, 1);
    const tomb = await fx.replicas[0]!.state.read<HostEntity>(stateKeys.host({ lattice: 'expiry' }, dead));
    assert.equal(tomb?.value.expired, true);
    assert.equal((await fx.replicas[0]!.state.read<HostEntity>(stateKeys.host({ lattice: 'expiry' }, alive)))?.value.deleted, undefined);
    await waitFor(() => signals.some((s) => (JSON.parse(s) as { reasons: string[] }).reasons.includes('host_expired')), 5000, 'host_expired signal');
    sub.unsubscribe();

    // Tombstones outlive the event stream's retention, then are collected (compare-and-set).
    const state = fx.replicas[0]!.state;
    assert.equal(await fx.replicas[0]!.reaper.collectTombstones({ lattice: 'expiry' }, Date.now()), 0, 'young tombstones are kept');
    const collected = await fx.replicas[0]!.reaper.collectTombstones({ lattice: 'expiry' }, Date.now() + 3 * 3_600_000);
    assert.ok(collected >= 2, `the expired host and its component were collected (${collected})`);
    assert.equal(await state.read(stateKeys.host({ lattice: 'expiry' }, dead)), null);
    assert.ok(await state.read(stateKeys.host({ lattice: 'expiry' }, alive)), 'live entities stay');
    await converged(sim, 'expiry');
  });

  test('storm: 10,000+ events from 50 hosts in 5 lattices, 3 replicas at once, KV equals ground truth', async () => {
    const names = ['storm0', 'storm1', 'storm2', 'storm3', 'storm4'];
    const storm = await Promise.all(names.map((n) => lattice(n, 10, 1000)));
    const counter = countEvents(fx.nc, names);
    const driver = new Storm(fx.nc, names.map((name, i) => ({ name, sim: storm[i]! })), 7);
    const started = Date.now();
    await driver.run(() => counter.count() >= 10_000);
    counter.stop();
    const events = counter.count();
    assert.ok(events >= 10_000, `${events} events`);
    for (const [i, n] of names.entries()) await converged(storm[i]!, n, 120_000);
    const served = await Promise.all(fx.replicas.map((rep) => rep.metrics.registry.getSingleMetric('wadm_ingest_events_total')!.get()));
    const perReplica = served.map((m) => m.values.reduce((s, v) => s + v.value, 0));
    assert.ok(perReplica.filter((n) => n > 0).length === 3, `all 3 replicas ingested: ${perReplica.join(', ')}`);
    process.stderr.write(`# storm: ${events} events in ${Date.now() - started} ms (${driver.failures} failed requests); per replica ${perReplica.join(', ')}\n`);
  });
});
