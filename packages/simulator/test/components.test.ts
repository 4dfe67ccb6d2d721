import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { startNats } from './nats.js';
import { Wire, envelopeRe, newLattice, uniqueLattice } from './helpers.js';
import type { SimulatedLattice } from '../src/index.js';

let nats: { url: string; stop(): Promise<void> };
before(async () => {
  nats = await startNats();
});
after(async () => {
  await nats.stop();
});

const REF = 'ghcr.io/wasmcloud/components/http-hello-world-rust:0.1.0';
const ANN = { 'wasmcloud.dev/appspec': 'hello', 'wasmcloud.dev/managed-by': 'wadm' };
const ANN_JSON = '{"wasmcloud.dev/appspec":"hello","wasmcloud.dev/managed-by":"wadm"}';

async function withHost(fn: (wire: Wire, hostId: string, sim: SimulatedLattice) => Promise<void>): Promise<void> {
  const lattice = uniqueLattice();
  const wire = await Wire.open(nats.url, lattice);
  const sim = newLattice(nats.url, { lattice });
  try {
    const h = await sim.addHost();
    await wire.waitEvent('host_started');
    await fn(wire, h.id, sim);
  } finally {
    await sim.close();
    await wire.close();
  }
}

function scaleBody(hostId: string, count: number, extra: Record<string, unknown> = {}): string {
  return JSON.stringify({
    component_ref: REF,
    component_id: 'hello-http_component',
    annotations: ANN,
    count,
    host_id: hostId,
    config: [],
    allow_update: false,
    ...extra,
  });
}

function scaledData(hostId: string, max: number, ann = ANN_JSON, ref = REF): string {
  return `{"annotations":${ann},"component_id":"hello-http_component","host_id":"${hostId}","image_ref":"${ref}","max_instances":${max}}`;
}

describe('component.scale', () => {
  test('fresh start: reply {"success":true,"message":""}, then component_scaled twice', async () => {
    await withHost(async (wire, hostId) => {
      const from = wire.mark();
      const reply = await wire.request(`component.scale.${hostId}`, scaleBody(hostId, 1));
      assert.equal(reply.raw, '{"success":true,"message":""}');
      const events = await wire.waitEvents('component_scaled', 2, from);
      assert.ok(events.every((e) => e.seq > reply.seq), 'reply precedes the events');
      for (const e of events) {
        const m = envelopeRe('component_scaled', hostId).exec(e.raw);
        assert.ok(m, e.raw);
        assert.equal(m[2], scaledData(hostId, 1));
        assert.equal(e.subject, `wasmbus.evt.${wire.lattice}.component_scaled`);
      }
      // Inventory, field for field (struct order, limits null on 1.9).
      const inv = await wire.request(`host.get.${hostId}`);
      assert.match(
        inv.raw,
        new RegExp(
          `^\\{"success":true,"message":"","response":\\{"components":\\[\\{"id":"hello-http_component","image_ref":"${REF.replace(/\./g, '\\.')}","annotations":${ANN_JSON.replace(/\./g, '\\.')},"revision":0,"max_instances":1,"limits":null\\}\\],"providers":\\[\\],"host_id":"${hostId}",`,
        ),
      );
    });
  });

  test('the first event carries the host key, the second the request host_id', async () => {
    await withHost(async (wire, hostId) => {
      const from = wire.mark();
      await wire.request(`component.scale.${hostId}`, scaleBody(hostId, 2, { host_id: 'SOMEONE' }));
      const [first, second] = await wire.waitEvents('component_scaled', 2, from);
      assert.equal(first?.rawData, scaledData(hostId, 2));
      assert.equal(second?.rawData, scaledData('SOMEONE', 2));
    });
  });

  test('rescale: one event with the existing annotations; same count re-emits', async () => {
    await withHost(async (wire, hostId, sim) => {
      await wire.request(`component.scale.${hostId}`, scaleBody(hostId, 1));
      await wire.waitEvents('component_scaled', 2);
      let from = wire.mark();
      const r = await wire.request(`component.scale.${hostId}`, scaleBody(hostId, 4, { annotations: { new: 'ann' } }));
      assert.equal(r.raw, '{"success":true,"message":""}');
      const e = await wire.waitEvent('component_scaled', from);
      assert.equal(e.rawData, scaledData(hostId, 4));
      assert.equal(sim.snapshot().hosts[0]?.components[0]?.count, 4);
      assert.deepEqual(sim.snapshot().hosts[0]?.components[0]?.annotations, { new: 'ann' });
      assert.equal(sim.componentInstances(), 4, 'the cheap count agrees with the snapshot');
      assert.equal(sim.componentInstances('new'), 4);
      assert.equal(sim.componentInstances('wasmcloud.dev/appspec'), 0, 'only components carrying the annotation');
      from = wire.mark();
      await wire.request(`component.scale.${hostId}`, scaleBody(hostId, 4, { annotations: { new: 'ann' } }));
      const again = await wire.waitEvent('component_scaled', from);
      assert.equal(again.rawData, scaledData(hostId, 4, '{"new":"ann"}'));
    });
  });

  test('scale to 0: stops it, one event with max_instances 0; also when not running', async () => {
    await withHost(async (wire, hostId, sim) => {
      await wire.request(`component.scale.${hostId}`, scaleBody(hostId, 1));
      await wire.waitEvents('component_scaled', 2);
      let from = wire.mark();
      await wire.request(`component.scale.${hostId}`, scaleBody(hostId, 0, { annotations: { other: 'x' } }));
      const e = await wire.waitEvent('component_scaled', from);
      assert.equal(e.rawData, scaledData(hostId, 0)); // the running instance's annotations
      assert.deepEqual(sim.snapshot().hosts[0]?.components, []);
      const inv = await wire.request(`host.get.${hostId}`);
      assert.deepEqual((inv.json?.['response'] as { components: unknown[] }).components, []);
      from = wire.mark();
      await wire.request(`component.scale.${hostId}`, scaleBody(hostId, 0, { annotations: { other: 'x' } }));
      const e2 = await wire.waitEvent('component_scaled', from);
      assert.equal(e2.rawData, scaledData(hostId, 0, '{"other":"x"}'));
    });
  });

  test('the key is count: max_instances is ignored and means 0', async () => {
    await withHost(async (wire, hostId, sim) => {
      const from = wire.mark();
      const body = JSON.stringify({ component_ref: REF, component_id: 'hello-http_component', max_instances: 3, host_id: hostId });
      await wire.request(`component.scale.${hostId}`, body);
      const e = await wire.waitEvent('component_scaled', from);
      assert.equal(e.rawData, scaledData(hostId, 0, '{}'));
      assert.deepEqual(sim.snapshot().hosts[0]?.components, []);
    });
  });

  test('a body without component_id is a deserialize error', async () => {
    await withHost(async (wire, hostId) => {
      const r = await wire.request(`component.scale.${hostId}`, JSON.stringify({ component_ref: REF, count: 1 }));
      assert.equal(r.raw, '{"success":false,"message":"failed to deserialize component scale command"}');
      const r2 = await wire.request(`component.scale.${hostId}`, JSON.stringify({ component_id: 'x', count: 'one' }));
      assert.equal(r2.raw, '{"success":false,"message":"failed to deserialize component scale command"}');
    });
  });

  test('different image ref: the warning message, the image ref is not updated', async () => {
    await withHost(async (wire, hostId) => {
      await wire.request(`component.scale.${hostId}`, scaleBody(hostId, 1));
      await wire.waitEvents('component_scaled', 2);
      const from = wire.mark();
      const r = await wire.request(`component.scale.${hostId}`, scaleBody(hostId, 1, { component_ref: 'ghcr.io/x/other:2' }));
      assert.deepEqual(r.json, {
        success: true,
        message: `Requested to scale existing component to a different image reference: ${REF} != ghcr.io/x/other:2. The component will be scaled but the image reference will not be updated. If you meant to update this component to a new image ref, use the update command.`,
      });
      const e = await wire.waitEvent('component_scaled', from);
      assert.equal(e.rawData, scaledData(hostId, 1));
    });
  });

  test('allow_update with a changed ref: message, scale event, then the update events', async () => {
    await withHost(async (wire, hostId, sim) => {
      await wire.request(`component.scale.${hostId}`, scaleBody(hostId, 1));
      await wire.waitEvents('component_scaled', 2);
      const from = wire.mark();
      const r = await wire.request(
        `component.scale.${hostId}`,
        scaleBody(hostId, 1, { component_ref: 'ghcr.io/x/other:2', allow_update: true }),
      );
      assert.equal(
        r.json?.['message'],
        `Requested to scale existing component, with a changed image reference: ${REF} != ghcr.io/x/other:2. The component will be scaled, and the image reference will be updated afterwards.`,
      );
      const events = await wire.waitEvents('component_scaled', 3, from);
      assert.deepEqual(
        events.map((e) => e.rawData),
        [scaledData(hostId, 1), scaledData(hostId, 1, '{}', 'ghcr.io/x/other:2'), scaledData(hostId, 0, '{}', 'ghcr.io/x/other:2')],
      );
      assert.equal(sim.snapshot().hosts[0]?.components[0]?.imageRef, 'ghcr.io/x/other:2');
    });
  });

  test('missing config: success reply, then component_scale_failed', async () => {
    await withHost(async (wire, hostId, sim) => {
      const from = wire.mark();
      const r = await wire.request(`component.scale.${hostId}`, scaleBody(hostId, 1, { config: ['nope'] }));
      assert.equal(r.raw, '{"success":true,"message":""}');
      const e = await wire.waitEvent('component_scale_failed', from);
      assert.ok(e.seq > r.seq);
      assert.equal(
        envelopeRe('component_scale_failed', hostId).exec(e.raw)?.[2],
        `{"annotations":${ANN_JSON},"component_id":"hello-http_component","error":"Unable to fetch requested config: Config nope does not exist","host_id":"${hostId}","image_ref":"${REF}","max_instances":1}`,
      );
      assert.deepEqual(sim.snapshot().hosts[0]?.components, []);
      // With the config present the start succeeds and the config names are recorded.
      await wire.request('config.put.nope', '{"a":"b"}');
      const from2 = wire.mark();
      await wire.request(`component.scale.${hostId}`, scaleBody(hostId, 1, { config: ['nope'] }));
      await wire.waitEvents('component_scaled', 2, from2);
      assert.deepEqual(sim.snapshot().hosts[0]?.components[0]?.config, ['nope']);
    });
  });

  test('component_limits show up as limits (v1.9)', async () => {
    await withHost(async (wire, hostId, sim) => {
      await wire.request(
        `component.scale.${hostId}`,
        scaleBody(hostId, 1, { component_limits: { max_memory_limit: '64', max_execution_time: '1000' } }),
      );
      await wire.waitEvents('component_scaled', 2);
      const inv = await wire.request(`host.get.${hostId}`);
      assert.ok(inv.raw.includes('"max_instances":1,"limits":{"max_execution_time":"1000","max_memory_limit":"64"}'), inv.raw);
      assert.deepEqual(sim.snapshot().hosts[0]?.components[0]?.limits, { max_execution_time: '1000', max_memory_limit: '64' });
    });
  });
});

describe('component.update', () => {
  test('not running, same ref, and a real update', async () => {
    await withHost(async (wire, hostId) => {
      const body = (ref: string) =>
        JSON.stringify({ component_id: 'hello-http_component', annotations: { u: '1' }, host_id: hostId, new_component_ref: ref });
      const missing = await wire.request(`component.update.${hostId}`, body('x:2'));
      assert.equal(missing.raw, '{"success":false,"message":"component hello-http_component not found"}');
      await wire.request(`component.scale.${hostId}`, scaleBody(hostId, 2));
      await wire.waitEvents('component_scaled', 2);
      const same = await wire.request(`component.update.${hostId}`, body(REF));
      assert.equal(same.raw, `{"success":true,"message":"component hello-http_component already updated to ${REF}"}`);
      const from = wire.mark();
      const upd = await wire.request(`component.update.${hostId}`, body('x:2'));
      assert.equal(upd.raw, `{"success":true,"message":"component hello-http_component updating from ${REF} to x:2"}`);
      const events = await wire.waitEvents('component_scaled', 2, from);
      assert.ok(events.every((e) => e.seq > upd.seq));
      assert.deepEqual(
        events.map((e) => e.rawData),
        [scaledData(hostId, 2, '{"u":"1"}', 'x:2'), scaledData(hostId, 0, '{"u":"1"}', 'x:2')],
      );
    });
  });
});

describe('component.auction', () => {
  test('only qualifying hosts answer', async () => {
    const lattice = uniqueLattice();
    const wire = await Wire.open(nats.url, lattice);
    const sim = newLattice(nats.url, { lattice });
    try {
      const east = await sim.addHost({ labels: { zone: 'east' } });
      await sim.addHost({ labels: { zone: 'west' } });
      const busy = await sim.addHost({ labels: { zone: 'east' } });
      await wire.request(`component.scale.${busy.id}`, JSON.stringify({ component_ref: 'r:1', component_id: 'echo', count: 1, host_id: busy.id }));
      await wire.waitEvents('component_scaled', 2);
      const body = JSON.stringify({ component_ref: 'ghcr.io/x:1', component_id: 'echo', constraints: { zone: 'east' } });
      const acks = await wire.collect('component.auction', body, 3);
      assert.equal(acks.length, 1);
      assert.equal(
        acks[0]?.raw,
        `{"success":true,"message":"","response":{"component_ref":"ghcr.io/x:1","component_id":"echo","host_id":"${east.id}","constraints":{"zone":"east"}}}`,
      );
      const bad = await wire.collect('component.auction', '{"component_ref":"x"}', 3);
      assert.equal(bad.length, 3);
      assert.ok(bad.every((r) => r.raw === '{"success":false,"message":"failed to deserialize component auction command"}'));
    } finally {
      await sim.close();
      await wire.close();
    }
  });
});
