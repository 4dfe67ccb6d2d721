import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { startNats } from './nats.js';
import { Wire, envelopeRe, newLattice, uniqueLattice } from './helpers.js';

let nats: { url: string; stop(): Promise<void> };
before(async () => {
  nats = await startNats();
});
after(async () => {
  await nats.stop();
});

const PREF = 'ghcr.io/wasmcloud/http-server:0.23.0';
const ANN_JSON = '{"wasmcloud.dev/appspec":"hello","wasmcloud.dev/managed-by":"wadm"}';

function startBody(hostId: string, extra: Record<string, unknown> = {}): string {
  return JSON.stringify({
    provider_id: 'hello-httpserver',
    provider_ref: PREF,
    host_id: hostId,
    config: [],
    annotations: { 'wasmcloud.dev/managed-by': 'wadm', 'wasmcloud.dev/appspec': 'hello' },
    ...extra,
  });
}

describe('provider.start / provider.stop', () => {
  test('start: reply, provider_started, then health_check_passed and health_check_status', async () => {
    const lattice = uniqueLattice();
    const wire = await Wire.open(nats.url, lattice);
    const sim = newLattice(nats.url, { lattice, healthCheckDelayMs: 50, healthCheckIntervalMs: 80 });
    try {
      const { id } = await sim.addHost();
      const from = wire.mark();
      const reply = await wire.request(`provider.start.${id}`, startBody(id));
      assert.equal(reply.raw, '{"success":true,"message":"successfully started provider"}');
      const started = await wire.waitEvent('provider_started', from);
      assert.ok(started.seq > reply.seq, 'reply first');
      assert.equal(
        envelopeRe('provider_started', id).exec(started.raw)?.[2],
        `{"annotations":${ANN_JSON},"host_id":"${id}","image_ref":"${PREF}","provider_id":"hello-httpserver"}`,
      );
      const passed = await wire.waitEvent('health_check_passed', from);
      assert.ok(passed.seq > started.seq);
      assert.equal(envelopeRe('health_check_passed', id).exec(passed.raw)?.[2], `{"host_id":"${id}","provider_id":"hello-httpserver"}`);
      const status = await wire.waitEvent('health_check_status', passed.seq);
      assert.equal(status.rawData, `{"host_id":"${id}","provider_id":"hello-httpserver"}`);
      assert.equal(sim.snapshot().hosts[0]?.providers[0]?.healthy, true);
      const inv = await wire.request(`host.get.${id}`);
      assert.ok(
        inv.raw.includes(`"providers":[{"id":"hello-httpserver","image_ref":"${PREF}","revision":0,"annotations":${ANN_JSON}}]`),
        inv.raw,
      );
    } finally {
      await sim.close();
      await wire.close();
    }
  });

  test('already running, not running, bad bodies', async () => {
    const lattice = uniqueLattice();
    const wire = await Wire.open(nats.url, lattice);
    const sim = newLattice(nats.url, { lattice });
    try {
      const { id } = await sim.addHost();
      await wire.request(`provider.start.${id}`, startBody(id));
      await wire.waitEvent('provider_started');
      const again = await wire.request(`provider.start.${id}`, startBody(id));
      assert.equal(again.raw, '{"success":false,"message":"provider with that ID is already running"}');
      const notRunning = await wire.request(`provider.stop.${id}`, JSON.stringify({ host_id: id, provider_id: 'other' }));
      assert.equal(notRunning.raw, '{"success":false,"message":"provider with that ID is not running"}');
      const bad = await wire.request(`provider.start.${id}`, JSON.stringify({ provider_ref: PREF }));
      assert.equal(bad.raw, '{"success":false,"message":"failed to deserialize provider start command"}');
      const badStop = await wire.request(`provider.stop.${id}`, 'nope');
      assert.equal(badStop.raw, '{"success":false,"message":"failed to deserialize provider stop command"}');
    } finally {
      await sim.close();
      await wire.close();
    }
  });

  test('stop: shutdown notice, provider_stopped BEFORE the reply', async () => {
    const lattice = uniqueLattice();
    const wire = await Wire.open(nats.url, lattice);
    const sim = newLattice(nats.url, { lattice });
    try {
      const { id } = await sim.addHost();
      await wire.request(`provider.start.${id}`, startBody(id));
      await wire.waitEvent('provider_started');
      const notices: string[] = [];
      wire.nc.subscribe(`wasmbus.rpc.${lattice}.hello-httpserver.default.shutdown`, {
        callback: (_e, m) => {
          notices.push(new TextDecoder().decode(m.data));
        },
      });
      await wire.nc.flush();
      const from = wire.mark();
      // `provider_ref` is accepted as an alias of `provider_id`.
      const reply = await wire.request(`provider.stop.${id}`, JSON.stringify({ host_id: id, provider_ref: 'hello-httpserver' }));
      assert.equal(reply.raw, '{"success":true,"message":"successfully stopped provider"}');
      const stopped = wire.events('provider_stopped', from);
      assert.equal(stopped.length, 1, 'provider_stopped arrived before the reply');
      assert.ok((stopped[0]?.seq ?? Infinity) < reply.seq);
      assert.equal(
        envelopeRe('provider_stopped', id).exec(stopped[0]?.raw ?? '')?.[2],
        `{"annotations":${ANN_JSON},"host_id":"${id}","instance_id":"hello-httpserver","link_name":"default","provider_id":"hello-httpserver","public_key":"hello-httpserver","reason":"stop"}`,
      );
      assert.deepEqual(notices, [`{"host_id":"${id}"}`]);
      assert.deepEqual(sim.snapshot().hosts[0]?.providers, []);
    } finally {
      await sim.close();
      await wire.close();
    }
  });

  test('missing config: provider_start_failed with the error', async () => {
    const lattice = uniqueLattice();
    const wire = await Wire.open(nats.url, lattice);
    const sim = newLattice(nats.url, { lattice });
    try {
      const { id } = await sim.addHost();
      const from = wire.mark();
      const reply = await wire.request(`provider.start.${id}`, startBody(id, { config: ['missing'] }));
      assert.equal(reply.raw, '{"success":true,"message":"successfully started provider"}');
      const failed = await wire.waitEvent('provider_start_failed', from);
      assert.equal(
        envelopeRe('provider_start_failed', id).exec(failed.raw)?.[2],
        `{"error":"Unable to fetch requested config: Config missing does not exist","host_id":"${id}","link_name":"default","provider_id":"hello-httpserver","provider_ref":"${PREF}"}`,
      );
    } finally {
      await sim.close();
      await wire.close();
    }
  });

  test('disabled builtin providers get no reply at all', async () => {
    const lattice = uniqueLattice();
    const wire = await Wire.open(nats.url, lattice);
    const sim = newLattice(nats.url, { lattice });
    try {
      const { id } = await sim.addHost();
      await assert.rejects(
        wire.request(`provider.start.${id}`, startBody(id, { provider_ref: 'wasmcloud+builtin://http-server' }), 300),
        /timed out/,
      );
      assert.equal(sim.commandsReceived()['provider.start'], 1);
    } finally {
      await sim.close();
      await wire.close();
    }
  });

  test('provider.auction: ack order host_id, provider_ref, provider_id, constraints', async () => {
    const lattice = uniqueLattice();
    const wire = await Wire.open(nats.url, lattice);
    const sim = newLattice(nats.url, { lattice });
    try {
      const a = await sim.addHost({ labels: { zone: 'east' } });
      const b = await sim.addHost({ labels: { zone: 'east' } });
      await wire.request(`provider.start.${b.id}`, startBody(b.id));
      await wire.waitEvent('provider_started');
      const acks = await wire.collect(
        'provider.auction',
        JSON.stringify({ provider_ref: PREF, provider_id: 'hello-httpserver', constraints: { zone: 'east' } }),
        2,
      );
      assert.deepEqual(
        acks.map((r) => r.raw),
        [
          `{"success":true,"message":"","response":{"host_id":"${a.id}","provider_ref":"${PREF}","provider_id":"hello-httpserver","constraints":{"zone":"east"}}}`,
        ],
      );
    } finally {
      await sim.close();
      await wire.close();
    }
  });
});
