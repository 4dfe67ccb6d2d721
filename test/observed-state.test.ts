/**
 * Observed state that is true (issue 8): wadm-ts asks the hosts (host.ping, host.get, link.get,
 * config.get) instead of only listening to their events, so
 *  - a config that existed before wadm-ts ever started lets the apps that reference it deploy;
 *  - a managed config changed behind wadm's back (its event lost) is put back within a resync;
 *  - a link deleted without its event is put back within a resync;
 *  - after `wadm_state` is deleted (a cold start), nothing that already runs is started again, every
 *    app is `deployed` again, and nothing is sent at rest.
 * Events are lost on purpose with the simulator's `dropEvents` fault (a host that is faithful on the
 * wire otherwise).
 */
import { before, test } from 'node:test';
import assert from 'node:assert/strict';
import { jetstreamManager } from '@nats-io/jetstream';
import type { SimulatedLattice } from '@wadm-ts/simulator';
import { eventually } from './harness/cluster.js';
import { fleetMetric, withFleet, type ReplicaProc } from './harness/procs.js';
import { PatientApi, recordCtl } from './harness/runtime.js';

const LATTICE = 'observed';
const fx = withFleet({ args: ['--stream-persistence', 'memory', '--takeover-ms', '1500', '--resync-interval-ms', '1000'] });
let sim: SimulatedLattice;
let replicas: ReplicaProc[] = [];

async function ctl(suffix: string, body: unknown): Promise<Record<string, unknown>> {
  const m = await fx.nc.request(`wasmbus.ctl.v1.${LATTICE}.${suffix}`, body === undefined ? '' : JSON.stringify(body), { timeout: 5000 });
  return JSON.parse(m.string()) as Record<string, unknown>;
}

const app = (name: string, configs: unknown[], link = false): string =>
  JSON.stringify({
    apiVersion: 'core.oam.dev/v1beta1',
    kind: 'Application',
    metadata: { name, annotations: { version: 'v1' } },
    spec: {
      components: [
        {
          name: 'web',
          type: 'component',
          properties: { image: `reg/${name}-web:1`, config: configs },
          traits: [{ type: 'spreadscaler', properties: { instances: 2 } }],
        },
        ...(link
          ? [
              {
                name: 'cap',
                type: 'capability',
                properties: { image: `reg/${name}-cap:1` },
                traits: [
                  { type: 'spreadscaler', properties: { instances: 1 } },
                  { type: 'link', properties: { target: { name: 'web' }, namespace: 'wasi', package: 'http', interfaces: ['incoming-handler'] } },
                ],
              },
            ]
          : []),
      ],
    },
  });

before(async () => {
  await fx.started;
  sim = await fx.lattice(LATTICE, 10, 1000);
  // Before wadm-ts ever ran (no stream yet to keep its config_set event): a config someone else put.
  assert.equal((await ctl('config.put.preexisting', { greeting: 'hello' }))['success'], true);
  replicas = [fx.fleet.spawn('obs-0'), fx.fleet.spawn('obs-1')];
  await fx.fleet.ready(replicas);
});

const statusOf = async (api: PatientApi, name: string): Promise<string | undefined> =>
  ((await api.call('status', name)).reply['status'] as { status?: { type?: string } } | undefined)?.status?.type;

test('a config created before wadm-ts ever started: the app referencing it deploys', async () => {
  const api = new PatientApi(fx.nc, LATTICE, 2000, 60_000);
  await api.put(app('uses-old', [{ name: 'preexisting' }]));
  await api.deploy('uses-old');
  await eventually('uses-old deployed', async () => assert.equal(await statusOf(api, 'uses-old'), 'deployed'), 30_000);
});

test('a managed config changed behind wadm (its event lost) is put back; a link deleted without its event too', async () => {
  const api = new PatientApi(fx.nc, LATTICE, 2000, 60_000);
  await api.put(app('drifty', [{ name: 'settings', properties: { mode: 'safe' } }], true));
  await api.deploy('drifty');
  await eventually('drifty deployed', async () => assert.equal(await statusOf(api, 'drifty'), 'deployed'), 30_000);
  const cfg = 'drifty-settings';
  assert.deepEqual(sim.snapshot().configs[cfg], { mode: 'safe' });
  const before = await fleetMetric(replicas, 'wadm_drift_corrections_total', { kind: 'config' });

  sim.dropEvents((e) => e.type === 'config_set');
  assert.equal((await ctl(`config.put.${cfg}`, { mode: 'reckless' }))['success'], true);
  sim.clearFaults();
  assert.deepEqual(sim.snapshot().configs[cfg], { mode: 'reckless' }, 'changed on the hosts, nothing told wadm');
  await eventually('the managed config restored', () => assert.deepEqual(sim.snapshot().configs[cfg], { mode: 'safe' }), 15_000);
  assert.ok((await fleetMetric(replicas, 'wadm_drift_corrections_total', { kind: 'config' })) > before, 'counted as a drift correction');

  const links = (): number => sim.snapshot().links.filter((l) => l.source_id === 'drifty-cap').length;
  assert.equal(links(), 1);
  sim.dropEvents((e) => e.type === 'linkdef_deleted');
  assert.equal((await ctl('link.del', { source_id: 'drifty-cap', name: 'default', wit_namespace: 'wasi', wit_package: 'http' }))['success'], true);
  sim.clearFaults();
  assert.equal(links(), 0, 'deleted on the hosts, nothing told wadm');
  await eventually('the link restored', () => assert.equal(links(), 1), 15_000);
  assert.ok((await fleetMetric(replicas, 'wadm_drift_corrections_total', { kind: 'link' })) >= 1, 'counted as a drift correction');
});

test('wadm_state deleted while 10 hosts run 30 apps: nothing started again, all deployed again, nothing at rest', async () => {
  const api = new PatientApi(fx.nc, LATTICE, 2000, 60_000);
  const names = Array.from({ length: 30 }, (_, i) => `cold${String(i).padStart(2, '0')}`);
  for (const n of names) {
    await api.put(app(n, [], n.endsWith('0')));
    await api.deploy(n);
  }
  await eventually('30 apps deployed', async () => {
    for (const n of names) assert.equal(await statusOf(api, n), 'deployed', n);
  }, 60_000);
  const running = JSON.stringify(sim.snapshot().hosts.map((h) => [h.id, h.components.map((c) => [c.id, c.count]), h.providers.map((p) => p.id)]));

  await fx.fleet.shutdown();
  const jsm = await jetstreamManager(fx.nc);
  await jsm.streams.delete('KV_wadm_state');
  const ctlLog = recordCtl(fx.nc, LATTICE);
  replicas = [fx.fleet.spawn('obs-2')];
  await fx.fleet.ready(replicas);
  await eventually('every app deployed again', async () => {
    for (const n of names) assert.equal(await statusOf(api, n), 'deployed', n);
  }, 60_000);
  const starts = ctlLog.records.filter((r) => (r.op === 'component.scale' && Number(r.body?.['count'] ?? 0) > 0) || r.op === 'provider.start');
  assert.deepEqual(starts.map((r) => `${r.op} ${JSON.stringify(r.body)}`), [], 'no scale-up or start of what already runs');
  // At rest: several resyncs with queries, and no request that changes anything.
  const mark = ctlLog.records.length;
  await eventually('a few resyncs at rest', async () => assert.ok((await fleetMetric(replicas, 'wadm_host_queries_total')) > 20), 30_000);
  const acts = ctlLog.records.slice(mark).filter((r) => !['host.ping', 'host.get', 'link.get', 'config.get', 'claims.get'].includes(r.op));
  ctlLog.stop();
  assert.deepEqual(acts.map((r) => r.op), [], 'nothing sent at rest but queries');
  assert.equal(JSON.stringify(sim.snapshot().hosts.map((h) => [h.id, h.components.map((c) => [c.id, c.count]), h.providers.map((p) => p.id)])), running, 'the lattice runs what it ran');
});
