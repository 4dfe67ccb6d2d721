/**
 * The reconciler cluster end to end, 3 replicas against simulated hosts: deploy to `deployed`, zero
 * commands at rest, undeploy cleans everything the app owns exactly once, and lattices spread over
 * replicas with one reconciler per lattice at a time.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { NatsConnection } from '@nats-io/transport-node';
import type { Replica } from '@wadm-ts/cli';
import type { SimulatedLattice } from '@wadm-ts/simulator';
import { startNats, waitFor, type TestNats } from './harness/nats.js';
import { startReplicas } from './harness/replicas.js';
import { RawApi, example } from './harness/api.js';
import { simLattice } from './harness/lattice.js';

let nats: TestNats;
let nc: NatsConnection;
let replicas: Replica[];
const sims: SimulatedLattice[] = [];

before(async () => {
  nats = await startNats();
  nc = await nats.connect();
  replicas = await startReplicas(3, nats.url, { cleanupIntervalS: 2, resyncIntervalMs: 1000, signalIntervalMs: 50, takeoverMs: 2000 });
});

after(async () => {
  await Promise.all(sims.map((s) => s.close({ graceful: false })));
  await Promise.all(replicas.map((r) => r.stop()));
  await nats.stop();
});

async function lattice(name: string, hosts: number): Promise<SimulatedLattice> {
  const sim = await simLattice(nats.url, name, hosts, 500);
  sims.push(sim);
  return sim;
}

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
    const api = new RawApi(nc, 'rc1');
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
    const resyncs = async (): Promise<number> => {
      let n = 0;
      for (const r of replicas) for (const v of (await r.metrics.registry.getSingleMetric('wadm_reconciles_total')!.get()).values) n += v.value;
      return n;
    };
    const before = await resyncs();
    await waitFor(async () => (await resyncs()) >= before + 4, 20_000, 'four more reconciles at rest');
    const counts = sim.commandsReceived();
    assert.equal(counts.total, 0, `control requests at rest: ${JSON.stringify(counts)}`);

    assert.equal((await api.undeploy('hello-world'))['result'], 'acknowledged');
    await waitFor(async () => {
      const x = owned(sim, 'hello-world');
      return x.count === 0 && x.provs.length === 0 && x.links.length === 0 && !('hello_world-default_http' in x.configs);
    }, 30_000, 'everything the app owned is gone');
    await waitFor(async () => (await statusOf(api, 'hello-world')) === 'undeployed', 10_000, 'undeployed');
  });
});
