/**
 * The reconciler cluster end to end, 3 replicas against simulated hosts: deploy to `deployed`, zero
 * commands at rest, undeploy cleans everything the app owns exactly once, and lattices spread over
 * replicas with one reconciler per lattice at a time.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { SimulatedLattice } from '@wadm-ts/simulator';
import { waitFor } from './harness/nats.js';
import { withReplicas } from './harness/replicas.js';
import { RawApi, example } from './harness/api.js';
import { metricSum } from './harness/cluster.js';
import { RECONCILE_STREAM, WORK_CONSUMER } from '@wadm-ts/protocol';

const fx = withReplicas(3, { cleanupIntervalS: 2, resyncIntervalMs: 1000, signalIntervalMs: 50, takeoverMs: 2000 });

const lattice = (name: string, hosts: number): Promise<SimulatedLattice> => fx.lattice(name, hosts, 500);

const owned = (sim: SimulatedLattice, app: string) => {
  const s = sim.snapshot();
  const comps = s.hosts.flatMap((h) => h.components.filter((c) => c.annotations['wasmcloud.dev/appspec'] === app).map((c) => ({ host: h.id, ...c })));
  const provs = s.hosts.flatMap((h) => h.providers.filter((p) => p.annotations['wasmcloud.dev/appspec'] === app).map((p) => ({ host: h.id, ...p })));
  return { comps, provs, links: s.links, configs: s.configs, count: comps.reduce((n, c) => n + c.count, 0) };
};

async function statusOf(api: RawApi, name: string): Promise<string> {
  return (await api.status(name))['status'].status.type as string;
}

describe('reconcile', () => {
  test('hello-world: deploy → deployed, nothing at rest, undeploy cleans up once', async () => {
    const sim = await lattice('rc1', 3);
    const api = new RawApi(fx.nc, 'rc1');
    assert.equal((await api.put(example('oam/hello.yaml')))['result'], 'created');
    assert.equal((await api.deploy('hello-world'))['result'], 'acknowledged');
    await waitFor(async () => (await statusOf(api, 'hello-world')) === 'deployed', 30_000, 'deployed');
    const o = owned(sim, 'hello-world');
    assert.equal(o.count, 1, 'spreadscaler instances: 1');
    assert.equal(o.provs.length, 1, 'implicit provider spread of 1');
    assert.ok(o.links.some((l) => l.source_id === 'hello_world-httpserver' && l.target === 'hello_world-http_component' && l.wit_namespace === 'wasi' && l.wit_package === 'http'));
    assert.deepEqual(o.configs['hello_world-default_http'], { ADDRESS: '127.0.0.1:8080' });

    // At rest: several resync periods and heartbeats go by, and the hosts receive no command.
    sim.resetCommandCounts();
    const resyncs = (): Promise<number> => metricSum(fx.replicas, 'wadm_reconciles_total');
    const before = await resyncs();
    await waitFor(async () => (await resyncs()) >= before + 4, 20_000, 'four more reconciles at rest');
    // Queries (host.get, link.get, config.get at every resync) only read: nothing is changed at rest.
    const counts = sim.commandsReceived();
    assert.equal(counts.actions, 0, `control requests at rest: ${JSON.stringify(counts)}`);

    assert.equal((await api.undeploy('hello-world'))['result'], 'acknowledged');
    await waitFor(async () => {
      const x = owned(sim, 'hello-world');
      return x.count === 0 && x.provs.length === 0 && x.links.length === 0 && !('hello_world-default_http' in x.configs);
    }, 30_000, 'everything the app owned is gone');
    await waitFor(async () => (await statusOf(api, 'hello-world')) === 'undeployed', 10_000, 'undeployed');
  });

  test('one reconciler per lattice at any moment, and lattices spread over the replicas', async () => {
    const names = ['ex0', 'ex1', 'ex2', 'ex3', 'ex4', 'ex5'];
    for (const n of names) await lattice(n, 1);
    const running = new Map<string, number>();
    const byReplica = new Map<string, Set<string>>();
    let maxSame = 0;
    let maxTotal = 0;
    const originals = fx.replicas.map((r) => r.reconciler.reconcile.bind(r.reconciler));
    fx.replicas.forEach((r, i) => {
      r.reconciler.reconcile = async (owned) => {
        const ref = owned.held.ref;
        if (!names.includes(ref.lattice)) return originals[i]!(owned);
        running.set(ref.lattice, (running.get(ref.lattice) ?? 0) + 1);
        maxSame = Math.max(maxSame, running.get(ref.lattice)!);
        maxTotal = Math.max(maxTotal, [...running.values()].reduce((a, b) => a + b, 0));
        (byReplica.get(r.id) ?? byReplica.set(r.id, new Set()).get(r.id)!).add(ref.lattice);
        try {
          // A slow reconcile widens every window in which a second replica could wrongly join in.
          await new Promise((res) => setTimeout(res, 20));
          return await originals[i]!(owned);
        } finally {
          running.set(ref.lattice, running.get(ref.lattice)! - 1);
        }
      };
    });
    try {
      const { jetstream } = await import('@nats-io/jetstream');
      const js = jetstream(fx.nc);
      const handled = (): Promise<number> => metricSum(fx.replicas, 'wadm_reconcile_signals_handled_total');
      // Every lattice has an owner before the burst.
      await Promise.all(names.map((n) => js.publish(`wadm.reconcile._.${n}`, JSON.stringify({ lattice: n, reasons: ['test'] }))));
      await waitFor(() => names.every((n) => fx.replicas.some((r) => r.owners.owned().some((o) => o.lattice === n))), 15_000, 'every lattice owned');
      const before = await handled();
      // A burst of signals for every lattice, published from outside.
      for (let round = 0; round < 40; round++) {
        await Promise.all(names.map((n) => js.publish(`wadm.reconcile._.${n}`, JSON.stringify({ lattice: n, reasons: ['test'] }))));
      }
      // The stream keeps one signal per lattice (a newer one replaces an undelivered older one), so what
      // counts is that the shared work consumer has nothing left to deliver or acknowledge, and handled some.
      const jsm = await (await import('@nats-io/jetstream')).jetstreamManager(fx.nc);
      await waitFor(
        async () => {
          const info = await jsm.consumers.info(RECONCILE_STREAM, WORK_CONSUMER);
          return info.num_pending === 0 && info.num_ack_pending === 0 && (await handled()) >= before + names.length;
        },
        60_000,
        'every signal handled',
      );
      // Fresh lattices are cold: their first pass waits for a round of host queries.
      await waitFor(() => names.every((n) => [...byReplica.values()].some((set) => set.has(n))), 15_000, 'every lattice reconciled');
      assert.equal(maxSame, 1, 'never two reconciles of one lattice at once');
      assert.ok(maxTotal >= 2, `different lattices were reconciled in parallel (max ${maxTotal})`);
      const spread = [...byReplica.values()].filter((s) => s.size > 0).length;
      assert.ok(spread >= 2, `lattices were reconciled by ${spread} replica(s)`);
    } finally {
      fx.replicas.forEach((r, i) => (r.reconciler.reconcile = originals[i]!));
    }
  });

  test('100 apps: each needed command issued once, then 0 commands at rest for 30 s', async () => {
    const sim = await lattice('many', 5);
    const api = new RawApi(fx.nc, 'many');
    const app = (i: number): string =>
      JSON.stringify({
        apiVersion: 'core.oam.dev/v1beta1',
        kind: 'Application',
        metadata: { name: `app${i}`, annotations: { version: 'v1' } },
        spec: { components: [{ name: 'c', type: 'component', properties: { image: `reg/app${i}:1` }, traits: [{ type: 'spreadscaler', properties: { instances: 2 } }] }] },
      });
    sim.resetCommandCounts();
    const inBatches = async (f: (i: number) => Promise<void>): Promise<void> => {
      for (let b = 0; b < 100; b += 10) await Promise.all(Array.from({ length: 10 }, (_, k) => f(b + k)));
    };
    await inBatches(async (i) => {
      const r = await api.put(app(i), 'application/json');
      assert.equal(r['result'], 'created', JSON.stringify(r));
    });
    await inBatches(async (i) => {
      const r = await api.deploy(`app${i}`);
      assert.equal(r['result'], 'acknowledged', JSON.stringify(r));
    });
    await waitFor(
      async () => {
        const types = await Promise.all(Array.from({ length: 100 }, async (_, i) => (await api.status(`app${i}`))['status'].status.type as string));
        return types.every((t) => t === 'deployed');
      },
      120_000,
      'all 100 apps deployed',
    );
    const snap = sim.snapshot();
    const instances = snap.hosts.flatMap((h) => h.components);
    assert.equal(instances.reduce((n, c) => n + c.count, 0), 200, 'exactly 2 instances per app');
    const scales = sim.commandsReceived()['component.scale'];
    assert.equal(scales, instances.length, `one scale command per placed instance (${scales} commands for ${instances.length} placements)`);

    sim.resetCommandCounts();
    const reconciles = (): Promise<number> => metricSum(fx.replicas, 'wadm_reconciles_total');
    const started = Date.now();
    const base = await reconciles();
    // 30 s at rest (heartbeats every 0.5 s, a resync every second): wait for the reconciles that period brings.
    await waitFor(async () => (await reconciles()) >= base + 25 && Date.now() - started >= 30_000, 60_000, '30 s of resyncs at rest');
    assert.equal(sim.commandsReceived().actions, 0, `control requests at rest: ${JSON.stringify(sim.commandsReceived())}`);
  });

  test('a failing start shows `failed` with the host error, backs off, and recovers once the fault clears', async () => {
    const sim = await lattice('faulty', 2);
    const api = new RawApi(fx.nc, 'faulty');
    sim.failStarts(/broken/, 'simulated pull failure');
    const manifest = JSON.stringify({
      apiVersion: 'core.oam.dev/v1beta1',
      kind: 'Application',
      metadata: { name: 'flaky', annotations: { version: 'v1' } },
      spec: { components: [{ name: 'c', type: 'component', properties: { image: 'reg/broken:1' }, traits: [{ type: 'spreadscaler', properties: { instances: 2 } }] }] },
    });
    await api.put(manifest, 'application/json');
    await api.deploy('flaky');
    const failed = await waitFor(
      async () => {
        const st = (await api.status('flaky'))['status'];
        return st.status.type === 'failed' ? st : undefined;
      },
      20_000,
      'failed status',
    );
    assert.match(String(failed.status.message), /simulated pull failure/);
    // Backoff: while failed, the scaler does not hammer the hosts with the same start.
    const scalesDuringBackoff = sim.commandsReceived()['component.scale'];
    assert.ok(scalesDuringBackoff <= 4, `scale attempts while backing off: ${scalesDuringBackoff}`);
    sim.clearFaults();
    await waitFor(async () => (await api.status('flaky'))['status'].status.type === 'deployed', 30_000, 'deployed after the fault cleared');
  });

  test('an unhealthy provider makes the app `unhealthy`', async () => {
    const sim = await lattice('sick', 1);
    const api = new RawApi(fx.nc, 'sick');
    await api.put(
      JSON.stringify({
        apiVersion: 'core.oam.dev/v1beta1',
        kind: 'Application',
        metadata: { name: 'sick', annotations: { version: 'v1' } },
        spec: { components: [{ name: 'p', type: 'capability', properties: { image: 'reg/sickly:1' } }] },
      }),
      'application/json',
    );
    await api.deploy('sick');
    await waitFor(async () => (await api.status('sick'))['status'].status.type === 'deployed', 20_000, 'deployed');
    // A host reports health_check_failed on the transition from healthy to unhealthy.
    await waitFor(() => sim.snapshot().hosts[0]!.providers[0]?.healthy === true, 10_000, 'a healthy probe first');
    sim.failHealthChecks(/sickly/);
    await waitFor(async () => (await api.status('sick'))['status'].status.type === 'unhealthy', 20_000, 'unhealthy status');
    sim.failHealthChecks(null);
    await waitFor(async () => (await api.status('sick'))['status'].status.type === 'deployed', 20_000, 'healthy again');
  });
});

