import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { startNats } from './nats.js';
import { Wire, envelopeRe, hostcoreJson, newLattice, uniqueLattice } from './helpers.js';
import { isPublicKey } from '../src/index.js';

let nats: { url: string; stop(): Promise<void> };
before(async () => {
  nats = await startNats();
});
after(async () => {
  await nats.stop();
});

describe('host lifecycle', () => {
  test('host_started is published after the subscriptions are up, field for field', async () => {
    const lattice = uniqueLattice();
    const wire = await Wire.open(nats.url, lattice);
    const sim = newLattice(nats.url, { lattice });
    try {
      const h = await sim.addHost({ labels: { zone: 'east' }, friendlyName: 'wild-snow-4821' });
      assert.ok(isPublicKey(h.id), 'host id is a valid nkey server key');
      assert.match(h.id, /^N[A-Z2-7]{55}$/);
      const e = await wire.waitEvent('host_started');
      assert.equal(e.subject, `wasmbus.evt.${lattice}.host_started`);
      const m = envelopeRe('host_started', h.id).exec(e.raw);
      assert.ok(m, `envelope: ${e.raw}`);
      assert.equal(
        m[2],
        `{"friendly_name":"wild-snow-4821","labels":${hostcoreJson({ zone: 'east' })},"uptime_seconds":0,"version":"1.9.2"}`,
      );
      // The host answers as soon as host_started has been seen.
      const r = await wire.request(`host.get.${h.id}`);
      assert.equal(r.json?.['success'], true);
    } finally {
      await sim.close();
      await wire.close();
    }
  });

  test('generated friendly names look like adjective-noun-NNNN', async () => {
    const sim = newLattice(nats.url);
    try {
      const h = await sim.addHost();
      assert.match(h.friendlyName, /^[a-z]+-[a-z]+-\d{4}$/);
    } finally {
      await sim.close();
    }
  });

  test('host.ping: every host answers with the Host struct in declaration order', async () => {
    const lattice = uniqueLattice();
    const wire = await Wire.open(nats.url, lattice);
    const sim = newLattice(nats.url, { lattice });
    try {
      const a = await sim.addHost({ friendlyName: 'a-b-0001', labels: { k: 'v' } });
      const b = await sim.addHost({ friendlyName: 'a-b-0002' });
      const replies = await wire.gather('host.ping', '', 2);
      assert.equal(replies.length, 2);
      const byId = new Map(replies.map((r) => [(r.json?.['response'] as { id: string }).id, r.raw]));
      assert.equal(
        byId.get(a.id),
        `{"success":true,"message":"","response":{"rpc_host":"${nats.url}","ctl_host":"${nats.url}","friendly_name":"a-b-0001","id":"${a.id}","labels":${hostcoreJson({ k: 'v' })},"lattice":"${lattice}","uptime_human":"0s","uptime_seconds":0,"version":"1.9.2"}}`,
      );
      assert.ok(byId.get(b.id)?.includes(`"friendly_name":"a-b-0002","id":"${b.id}"`));
    } finally {
      await sim.close();
      await wire.close();
    }
  });

  test('host.get: empty inventory, struct order, sorted labels', async () => {
    const lattice = uniqueLattice();
    const wire = await Wire.open(nats.url, lattice);
    const sim = newLattice(nats.url, { lattice });
    try {
      const h = await sim.addHost({ friendlyName: 'x-y-0003', labels: { b: '2', a: '1' } });
      const r = await wire.request(`host.get.${h.id}`);
      assert.equal(
        r.raw,
        `{"success":true,"message":"","response":{"components":[],"providers":[],"host_id":"${h.id}","friendly_name":"x-y-0003","labels":${hostcoreJson({ a: '1', b: '2' })},"version":"1.9.2","uptime_human":"0s","uptime_seconds":0}}`,
      );
    } finally {
      await sim.close();
      await wire.close();
    }
  });

  test('heartbeat: first one after one interval, data = inventory with every key sorted', async () => {
    const lattice = uniqueLattice();
    const wire = await Wire.open(nats.url, lattice);
    const sim = newLattice(nats.url, { lattice, heartbeatIntervalMs: 150 });
    try {
      const h = await sim.addHost({ friendlyName: 'hb-host-0004' });
      const started = await wire.waitEvent('host_started');
      const from = wire.mark();
      await wire.request(
        `component.scale.${h.id}`,
        JSON.stringify({ component_ref: 'ghcr.io/x/echo:1', component_id: 'echo', annotations: { 'wasmcloud.dev/appspec': 'app' }, count: 3, host_id: h.id }),
      );
      await wire.request(
        `provider.start.${h.id}`,
        JSON.stringify({ provider_id: 'http', provider_ref: 'ghcr.io/x/http:1', host_id: h.id, annotations: { a: 'b' } }),
      );
      await wire.waitEvents('component_scaled', 2, from);
      const ps = await wire.waitEvent('provider_started', from);
      const hb = await wire.waitEvent('host_heartbeat', ps.seq, () => true, 3_000);
      assert.ok(hb.seq > started.seq);
      const m = envelopeRe('host_heartbeat', h.id).exec(hb.raw);
      assert.ok(m, hb.raw);
      assert.match(
        m[2] ?? '',
        new RegExp(
          `^\\{"components":\\[\\{"annotations":\\{"wasmcloud\\.dev/appspec":"app"\\},"id":"echo","image_ref":"ghcr\\.io/x/echo:1","limits":null,"max_instances":3,"revision":0\\}\\],` +
            `"friendly_name":"hb-host-0004","host_id":"${h.id}","labels":\\{[^}]*\\},` +
            `"providers":\\[\\{"annotations":\\{"a":"b"\\},"id":"http","image_ref":"ghcr\\.io/x/http:1","revision":0\\}\\],` +
            `"uptime_human":"(0s|\\d+s)","uptime_seconds":\\d+,"version":"1\\.9\\.2"\\}$`,
        ),
      );
      // Heartbeats keep coming at the interval.
      await wire.waitEvent('host_heartbeat', hb.seq + 1, () => true, 3_000);
    } finally {
      await sim.close();
      await wire.close();
    }
  });

  test('host.stop: reply first, then host_stopped with labels only; no more answers', async () => {
    const lattice = uniqueLattice();
    const wire = await Wire.open(nats.url, lattice);
    const sim = newLattice(nats.url, { lattice });
    try {
      const h = await sim.addHost({ labels: { zone: 'z' } });
      await wire.request(`component.scale.${h.id}`, JSON.stringify({ component_ref: 'r:1', component_id: 'c', count: 1, host_id: h.id }));
      await wire.request(`provider.start.${h.id}`, JSON.stringify({ provider_id: 'p', provider_ref: 'p:1', host_id: h.id }));
      await wire.waitEvent('provider_started');
      const from = wire.mark();
      const reply = await wire.request(`host.stop.${h.id}`, JSON.stringify({ host_id: h.id, timeout: 1000 }));
      assert.equal(reply.raw, '{"success":true,"message":"successfully handled stop host"}');
      const stopped = await wire.waitEvent('host_stopped', from);
      assert.ok(stopped.seq > reply.seq, 'reply precedes host_stopped');
      const m = envelopeRe('host_stopped', h.id).exec(stopped.raw);
      assert.equal(m?.[2], `{"labels":${hostcoreJson({ zone: 'z' })}}`);
      // No component_scaled / provider_stopped on shutdown.
      assert.deepEqual(
        wire.events(undefined, from).map((e) => e.type),
        ['host_stopped'],
      );
      assert.deepEqual(sim.hostIds(), []);
      await assert.rejects(wire.request(`host.get.${h.id}`, '', 300), /no responders|timed out/);
    } finally {
      await sim.close();
      await wire.close();
    }
  });

  test('host.stop accepts an empty body and rejects a foreign host_id', async () => {
    const lattice = uniqueLattice();
    const wire = await Wire.open(nats.url, lattice);
    const sim = newLattice(nats.url, { lattice });
    try {
      const h = await sim.addHost();
      const bad = await wire.request(`host.stop.${h.id}`, JSON.stringify({ host_id: 'NOTME' }));
      assert.equal(bad.raw, '{"success":false,"message":"invalid host_id [NOTME]"}');
      const garbage = await wire.request(`host.stop.${h.id}`, '{');
      assert.equal(garbage.raw, '{"success":false,"message":"failed to deserialize stop command"}');
      const okReply = await wire.request(`host.stop.${h.id}`, '');
      assert.equal(okReply.raw, '{"success":true,"message":"successfully handled stop host"}');
      await wire.waitEvent('host_stopped');
    } finally {
      await sim.close();
      await wire.close();
    }
  });

  test('stopHost(): clean stop emits exactly host_stopped', async () => {
    const lattice = uniqueLattice();
    const wire = await Wire.open(nats.url, lattice);
    const sim = newLattice(nats.url, { lattice });
    try {
      const h = await sim.addHost();
      await wire.waitEvent('host_started');
      const from = wire.mark();
      await sim.stopHost(h.id);
      const e = await wire.waitEvent('host_stopped', from);
      assert.equal(e.json?.['source'], h.id);
    } finally {
      await sim.close();
      await wire.close();
    }
  });

  test('killHost(): no events, no answers, no heartbeats', async () => {
    const lattice = uniqueLattice();
    const wire = await Wire.open(nats.url, lattice);
    const sim = newLattice(nats.url, { lattice, heartbeatIntervalMs: 100 });
    try {
      const victim = await sim.addHost();
      const witness = await sim.addHost();
      await wire.request(`provider.start.${victim.id}`, JSON.stringify({ provider_id: 'p', provider_ref: 'p:1', host_id: victim.id }));
      await wire.waitEvent('provider_started');
      const from = wire.mark();
      sim.killHost(victim.id);
      // Wait for two heartbeats of the witness: the victim would have beaten by now.
      await wire.waitEvents('host_heartbeat', 2, from, 3_000).then(async (hbs) => {
        const fromWitness = hbs.filter((e) => e.json?.['source'] === witness.id);
        if (fromWitness.length < 2) {
          await wire.waitFor(
            (r) => r.type === 'host_heartbeat' && r.json?.['source'] === witness.id,
            (fromWitness.at(-1)?.seq ?? from) + 1,
            3_000,
          );
        }
      });
      assert.deepEqual(
        wire.events(undefined, from).filter((e) => e.json?.['source'] === victim.id),
        [],
      );
      await assert.rejects(wire.request(`host.get.${victim.id}`, '', 300), /no responders|timed out/);
      assert.deepEqual(sim.hostIds(), [witness.id]);
      assert.deepEqual(
        sim.snapshot().hosts.map((x) => x.id),
        [witness.id],
      );
    } finally {
      await sim.close();
      await wire.close();
    }
  });

  test('unsupported subject shapes get the error reply', async () => {
    const lattice = uniqueLattice();
    const wire = await Wire.open(nats.url, lattice);
    const sim = newLattice(nats.url, { lattice });
    try {
      const h = await sim.addHost();
      const r1 = await wire.request(`component.frobnicate.${h.id}`);
      assert.equal(r1.raw, '{"success":false,"message":"unsupported subject"}');
      const r2 = await wire.request('config.get.a.b');
      assert.equal(r2.raw, '{"success":false,"message":"unsupported subject"}');
      const r3 = await wire.request('link.frob');
      assert.equal(r3.raw, '{"success":false,"message":"unsupported subject"}');
      assert.equal(sim.commandsReceived().unsupported, 3);
    } finally {
      await sim.close();
      await wire.close();
    }
  });

  test('close() stops every host cleanly', async () => {
    const lattice = uniqueLattice();
    const wire = await Wire.open(nats.url, lattice);
    const sim = newLattice(nats.url, { lattice });
    try {
      await sim.addHost();
      await sim.addHost();
      const from = wire.mark();
      await sim.close();
      await wire.waitEvents('host_stopped', 2, from);
    } finally {
      await wire.close();
    }
  });
});
