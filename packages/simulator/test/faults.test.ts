import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Metrics } from '@wadm-ts/obs';
import { startNats } from './nats.js';
import { Wire, envelopeRe, newLattice, quietLogger, uniqueLattice } from './helpers.js';
import { generatePublicKey, parseSimulatorConfig, startSimulator, SimulatorConfigError } from '../src/index.js';

let nats: { url: string; stop(): Promise<void> };
before(async () => {
  nats = await startNats();
});
after(async () => {
  await nats.stop();
});

describe('fault injection', () => {
  test('failStarts: component and provider starts fail like a failed fetch', async () => {
    const lattice = uniqueLattice();
    const wire = await Wire.open(nats.url, lattice);
    const sim = newLattice(nats.url, { lattice });
    try {
      const { id } = await sim.addHost();
      sim.failStarts(/broken/);
      let from = wire.mark();
      const r = await wire.request(
        `component.scale.${id}`,
        JSON.stringify({ component_ref: 'ghcr.io/x/broken:1', component_id: 'c', annotations: { a: 'b' }, count: 2, host_id: id }),
      );
      assert.equal(r.raw, '{"success":true,"message":""}');
      const failed = await wire.waitEvent('component_scale_failed', from);
      assert.ok(failed.seq > r.seq);
      assert.equal(
        envelopeRe('component_scale_failed', id).exec(failed.raw)?.[2],
        `{"annotations":{"a":"b"},"component_id":"c","error":"failed to fetch component: failed to pull image ghcr.io/x/broken:1: simulated fetch failure","host_id":"${id}","image_ref":"ghcr.io/x/broken:1","max_instances":2}`,
      );
      from = wire.mark();
      const p = await wire.request(
        `provider.start.${id}`,
        JSON.stringify({ provider_id: 'p', provider_ref: 'ghcr.io/x/broken-provider:1', host_id: id }),
      );
      assert.equal(p.raw, '{"success":true,"message":"successfully started provider"}');
      const pf = await wire.waitEvent('provider_start_failed', from);
      assert.equal(
        pf.rawData,
        `{"error":"failed to fetch provider: failed to pull image ghcr.io/x/broken-provider:1: simulated fetch failure","host_id":"${id}","link_name":"default","provider_id":"p","provider_ref":"ghcr.io/x/broken-provider:1"}`,
      );
      // Non-matching refs still work, and clearing the fault restores starts.
      from = wire.mark();
      await wire.request(`component.scale.${id}`, JSON.stringify({ component_ref: 'ok:1', component_id: 'fine', count: 1, host_id: id }));
      await wire.waitEvents('component_scaled', 2, from);
      sim.failStarts(null);
      from = wire.mark();
      await wire.request(`component.scale.${id}`, JSON.stringify({ component_ref: 'ghcr.io/x/broken:1', component_id: 'c', count: 1, host_id: id }));
      await wire.waitEvents('component_scaled', 2, from);
      assert.deepEqual(
        sim.snapshot().hosts[0]?.components.map((c) => c.id),
        ['c', 'fine'],
      );
    } finally {
      await sim.close();
      await wire.close();
    }
  });

  test('slowReplies delays the reply, not the work', async () => {
    const lattice = uniqueLattice();
    const wire = await Wire.open(nats.url, lattice);
    const sim = newLattice(nats.url, { lattice });
    try {
      const { id } = await sim.addHost();
      sim.slowReplies(300);
      const t0 = Date.now();
      await assert.rejects(wire.request(`host.get.${id}`, '', 100), /timed out/);
      const late = await wire.request(`host.get.${id}`, '', 2_000);
      assert.ok(Date.now() - t0 >= 390, 'reply arrived after the delay');
      assert.equal(late.json?.['success'], true);
      // Events of a scale are not held back by the slow reply.
      const m = wire.mark();
      const scale = wire.request(`component.scale.${id}`, JSON.stringify({ component_ref: 'r:1', component_id: 'c', count: 1, host_id: id }));
      const ev = await wire.waitEvent('component_scaled', m);
      const reply = await scale;
      assert.ok(ev.seq < reply.seq, 'with slow replies the events come first');
      sim.slowReplies(0);
      const quick = await wire.request(`host.get.${id}`, '', 1_000);
      assert.equal(quick.json?.['success'], true);
    } finally {
      await sim.close();
      await wire.close();
    }
  });

  test('dropEvents: rate 1 drops everything, a predicate drops selected events', async () => {
    const lattice = uniqueLattice();
    const wire = await Wire.open(nats.url, lattice);
    const metrics = new Metrics();
    const sim = newLattice(nats.url, { lattice, metrics });
    try {
      const { id } = await sim.addHost();
      await wire.waitEvent('host_started');
      sim.dropEvents(1);
      let from = wire.mark();
      await wire.request('config.put.a', '{"k":"v"}');
      await wire.request(`label.put.${id}`, '{"key":"x","value":"y"}');
      sim.dropEvents((e) => e.type === 'component_scaled' && (e.data as { max_instances?: number }).max_instances === 1);
      await wire.request(`component.scale.${id}`, JSON.stringify({ component_ref: 'r:1', component_id: 'c', count: 1, host_id: id }));
      // Barrier: the same async path, scheduled later, so its (kept) events follow c's (dropped) ones.
      await wire.request(`component.scale.${id}`, JSON.stringify({ component_ref: 'r:1', component_id: 'd', count: 2, host_id: id }));
      await wire.waitEvents('component_scaled', 2, from);
      assert.deepEqual(
        wire.events(undefined, from).map((e) => [e.type, (e.json?.['data'] as { component_id?: string }).component_id]),
        [
          ['component_scaled', 'd'],
          ['component_scaled', 'd'],
        ],
      );
      sim.dropEvents(null);
      from = wire.mark();
      await wire.request('config.put.c', '{"k":"v"}');
      await wire.waitEvent('config_set', from);
      const text = await metrics.text();
      assert.match(text, new RegExp(`wadm_sim_events_dropped_total\\{lattice="${lattice}",type="component_scaled"\\} 2`));
      assert.match(text, new RegExp(`wadm_sim_events_emitted_total\\{lattice="${lattice}",type="config_set"\\} 1`));
      assert.match(text, new RegExp(`wadm_sim_commands_received_total\\{lattice="${lattice}",kind="config.put"\\} 2`));
      assert.throws(() => sim.dropEvents(2), RangeError);
    } finally {
      await sim.close();
      await wire.close();
    }
  });

  test('failHealthChecks: passed, then failed, then status while unhealthy, then passed again', async () => {
    const lattice = uniqueLattice();
    const wire = await Wire.open(nats.url, lattice);
    const sim = newLattice(nats.url, { lattice, healthCheckDelayMs: 20, healthCheckIntervalMs: 40 });
    try {
      const { id } = await sim.addHost();
      const from = wire.mark();
      await wire.request(`provider.start.${id}`, JSON.stringify({ provider_id: 'p', provider_ref: 'p:1', host_id: id }));
      const passed = await wire.waitEvent('health_check_passed', from);
      sim.failHealthChecks(/^p$/);
      const failed = await wire.waitEvent('health_check_failed', passed.seq);
      assert.equal(failed.rawData, `{"host_id":"${id}","provider_id":"p"}`);
      const status = await wire.waitEvent('health_check_status', failed.seq);
      assert.ok(status);
      assert.equal(sim.snapshot().hosts[0]?.providers[0]?.healthy, false);
      sim.failHealthChecks(null);
      await wire.waitEvent('health_check_passed', status.seq);
    } finally {
      await sim.close();
      await wire.close();
    }
  });

  test('a provider unhealthy from the start reports health_check_status, not failed', async () => {
    const lattice = uniqueLattice();
    const wire = await Wire.open(nats.url, lattice);
    const sim = newLattice(nats.url, { lattice, healthCheckDelayMs: 20, healthCheckIntervalMs: 40 });
    try {
      const { id } = await sim.addHost();
      sim.failHealthChecks(/sick/);
      const from = wire.mark();
      await wire.request(`provider.start.${id}`, JSON.stringify({ provider_id: 'p', provider_ref: 'sick:1', host_id: id }));
      const first = await wire.waitFor((r) => r.type?.startsWith('health_check_') ?? false, from);
      assert.equal(first.type, 'health_check_status');
    } finally {
      await sim.close();
      await wire.close();
    }
  });

  test('commandsReceived counts by kind, per host, and resets (0 at rest)', async () => {
    const lattice = uniqueLattice();
    const wire = await Wire.open(nats.url, lattice);
    const sim = newLattice(nats.url, { lattice });
    try {
      const a = await sim.addHost();
      const b = await sim.addHost();
      assert.equal(sim.commandsReceived().total, 0);
      await wire.gather('host.ping', '', 2);
      await wire.request(`host.get.${a.id}`);
      await wire.request('link.get');
      const all = sim.commandsReceived();
      assert.equal(all['host.ping'], 2);
      assert.equal(all['host.get'], 1);
      assert.equal(all['link.get'], 1);
      assert.equal(all.total, 4);
      assert.equal(sim.commandsReceived(a.id)['host.get'], 1);
      assert.equal(sim.commandsReceived(b.id)['host.get'], 0);
      sim.resetCommandCounts();
      assert.equal(sim.commandsReceived().total, 0);
    } finally {
      await sim.close();
      await wire.close();
    }
  });
});

describe('ground truth and modes', () => {
  test('snapshot() reflects hosts, components, providers, links and configs', async () => {
    const lattice = uniqueLattice();
    const wire = await Wire.open(nats.url, lattice);
    const sim = newLattice(nats.url, { lattice });
    try {
      const hostId = generatePublicKey('server');
      await sim.addHost({ hostId, friendlyName: 'snap-shot-0001', labels: { zone: 'east' } });
      await wire.request('config.put.cfg', '{"k":"v"}');
      await wire.request(
        `component.scale.${hostId}`,
        JSON.stringify({ component_ref: 'r:1', component_id: 'c', annotations: { app: 'x' }, count: 5, host_id: hostId, config: ['cfg'] }),
      );
      await wire.request(`provider.start.${hostId}`, JSON.stringify({ provider_id: 'p', provider_ref: 'p:1', host_id: hostId }));
      await wire.request(
        'link.put',
        JSON.stringify({ source_id: 'c', target: 'p', wit_namespace: 'wasi', wit_package: 'keyvalue', interfaces: ['store'] }),
      );
      await wire.waitEvents('component_scaled', 2);
      await wire.waitEvent('provider_started');
      const snap = sim.snapshot();
      assert.deepEqual(snap, {
        lattice,
        hosts: [
          {
            id: hostId,
            friendlyName: 'snap-shot-0001',
            version: '1.9.2',
            labels: { ...snap.hosts[0]?.labels, zone: 'east' },
            components: [{ id: 'c', imageRef: 'r:1', count: 5, annotations: { app: 'x' }, config: ['cfg'], limits: null }],
            providers: [{ id: 'p', imageRef: 'p:1', annotations: {}, config: [], healthy: null }],
          },
        ],
        links: [
          {
            source_id: 'c',
            target: 'p',
            name: 'default',
            wit_namespace: 'wasi',
            wit_package: 'keyvalue',
            interfaces: ['store'],
            source_config: [],
            target_config: [],
          },
        ],
        configs: { cfg: { k: 'v' } },
      });
      assert.ok(Object.keys(snap.hosts[0]?.labels ?? {}).includes('hostcore.arch'));
      assert.equal(JSON.stringify(JSON.parse(JSON.stringify(snap))), JSON.stringify(snap), 'plain data');
    } finally {
      await sim.close();
      await wire.close();
    }
  });

  test('multitenant: control and event subjects carry the account prefix', async () => {
    const lattice = uniqueLattice();
    const account = generatePublicKey('account');
    const wire = await Wire.open(nats.url, lattice, { account });
    const plain = await Wire.open(nats.url, lattice);
    const sim = newLattice(nats.url, { lattice, multitenantAccount: account });
    try {
      const { id } = await sim.addHost();
      const started = await wire.waitEvent('host_started');
      assert.equal(started.subject, `${account}.wasmbus.evt.${lattice}.host_started`);
      const r = await wire.request(`host.get.${id}`);
      assert.equal(r.json?.['success'], true);
      await assert.rejects(plain.request(`host.get.${id}`, '', 300), /no responders|timed out/);
      assert.equal(plain.events().length, 0);
    } finally {
      await sim.close();
      await wire.close();
      await plain.close();
    }
  });

  test('a custom ctl topic prefix moves control subjects but not events', async () => {
    const lattice = uniqueLattice();
    const wire = await Wire.open(nats.url, lattice, { ctlPrefix: 'custom.ctl' });
    const sim = newLattice(nats.url, { lattice, ctlTopicPrefix: 'custom.ctl' });
    try {
      const { id } = await sim.addHost();
      await wire.waitEvent('host_started');
      const r = await wire.request(`host.get.${id}`);
      assert.equal(r.json?.['success'], true);
    } finally {
      await sim.close();
      await wire.close();
    }
  });

  test('hostVersion < 1.9 drops limits from inventories', async () => {
    const lattice = uniqueLattice();
    const wire = await Wire.open(nats.url, lattice);
    const sim = newLattice(nats.url, { lattice, hostVersion: '1.8.0' });
    try {
      const { id } = await sim.addHost();
      await wire.request(`component.scale.${id}`, JSON.stringify({ component_ref: 'r:1', component_id: 'c', count: 1, host_id: id }));
      await wire.waitEvents('component_scaled', 2);
      const inv = await wire.request(`host.get.${id}`);
      assert.ok(inv.raw.includes('"revision":0,"max_instances":1}]'), inv.raw);
      assert.ok(inv.raw.includes('"version":"1.8.0"'));
    } finally {
      await sim.close();
      await wire.close();
    }
  });
});

describe('SimulatorConfig', () => {
  test('parses YAML and JSON; reports every error', () => {
    const y = parseSimulatorConfig('lattice: demo\nhosts:\n  - count: 2\n    labels: { zone: east }\n  - count: 1\n');
    assert.deepEqual(y, { lattice: 'demo', hosts: [{ count: 2, labels: { zone: 'east' } }, { count: 1, labels: {} }] });
    const j = parseSimulatorConfig('{"lattice":"demo","hosts":[{"count":1,"labels":{"gpu":true}}],"heartbeatIntervalMs":1000}');
    assert.deepEqual(j, { lattice: 'demo', hosts: [{ count: 1, labels: { gpu: 'true' } }], heartbeatIntervalMs: 1000 });
    assert.throws(
      () => parseSimulatorConfig('lattice: a.b\nhosts:\n  - count: -1\n'),
      (e: unknown) =>
        e instanceof SimulatorConfigError && /lattice must be/.test(e.message) && /hosts\[0\]\.count must be an integer/.test(e.message),
    );
  });

  test('startSimulator starts every host group', async () => {
    const lattice = uniqueLattice();
    const wire = await Wire.open(nats.url, lattice);
    const sim = await startSimulator(
      { lattice, hosts: [{ count: 2, labels: { zone: 'east' } }, { count: 1, labels: { zone: 'west' } }], heartbeatIntervalMs: 60_000 },
      { servers: nats.url, logger: quietLogger },
    );
    try {
      const started = await wire.waitEvents('host_started', 3);
      assert.equal(started.length, 3);
      const zones = sim
        .snapshot()
        .hosts.map((h) => h.labels['zone'])
        .sort();
      assert.deepEqual(zones, ['east', 'east', 'west']);
    } finally {
      await sim.close();
      await wire.close();
    }
  });
});
