import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { startNats } from './nats.js';
import { Wire, envelopeRe, hostcoreJson, newLattice, uniqueLattice } from './helpers.js';
import type { SimulatedLattice } from '../src/index.js';

let nats: { url: string; stop(): Promise<void> };
before(async () => {
  nats = await startNats();
});
after(async () => {
  await nats.stop();
});

async function withHosts(n: number, fn: (wire: Wire, hostIds: string[], sim: SimulatedLattice) => Promise<void>): Promise<void> {
  const lattice = uniqueLattice();
  const wire = await Wire.open(nats.url, lattice);
  const sim = newLattice(nats.url, { lattice });
  try {
    const ids: string[] = [];
    for (let i = 0; i < n; i++) ids.push((await sim.addHost()).id);
    await wire.waitEvents('host_started', n);
    await fn(wire, ids, sim);
  } finally {
    await sim.close();
    await wire.close();
  }
}

const LINK = {
  source_id: 'hello-httpserver',
  target: 'hello-http_component',
  name: 'default',
  wit_namespace: 'wasi',
  wit_package: 'http',
  interfaces: ['incoming-handler'],
  source_config: [],
  target_config: [],
};
const LINK_WIRE =
  '{"source_id":"hello-httpserver","target":"hello-http_component","name":"default","wit_namespace":"wasi","wit_package":"http","interfaces":["incoming-handler"],"source_config":[],"target_config":[]}';
const LINK_SORTED =
  '{"interfaces":["incoming-handler"],"name":"default","source_config":[],"source_id":"hello-httpserver","target":"hello-http_component","target_config":[],"wit_namespace":"wasi","wit_package":"http"}';

describe('links', () => {
  test('put: linkdef_set before the reply, exactly one host answers; get returns it', async () => {
    await withHosts(3, async (wire, _ids, sim) => {
      const from = wire.mark();
      const reply = await wire.request('link.put', JSON.stringify({ ...LINK, name: undefined }));
      assert.equal(reply.raw, '{"success":true,"message":"successfully set link"}');
      const set = wire.events('linkdef_set', from);
      assert.equal(set.length, 1);
      assert.ok((set[0]?.seq ?? Infinity) < reply.seq, 'event before reply');
      const source = set[0]?.json?.['source'] as string;
      assert.equal(envelopeRe('linkdef_set', source).exec(set[0]?.raw ?? '')?.[2], LINK_SORTED);
      assert.equal(sim.commandsReceived()['link.put'], 1, 'queue group: one host received it');
      const get = await wire.request('link.get');
      assert.equal(get.raw, `{"success":true,"message":"","response":[${LINK_WIRE}]}`);
      // Idempotent put: success and another event; still one link.
      await wire.request('link.put', JSON.stringify(LINK));
      assert.equal(wire.events('linkdef_set', from).length, 2);
      assert.equal(sim.snapshot().links.length, 1);
    });
  });

  test('put failures: missing config and conflicting target, with linkdef_set_failed', async () => {
    await withHosts(1, async (wire) => {
      const from = wire.mark();
      const r = await wire.request('link.put', JSON.stringify({ ...LINK, source_config: ['a'], target_config: ['SECRET_b'] }));
      const msg =
        'Failed to validate configuration and secrets. Configuration a not found in config store. Secret reference SECRET_b not found in config store. ';
      assert.deepEqual(r.json, { success: false, message: msg });
      const failed = wire.events('linkdef_set_failed', from);
      assert.equal(failed.length, 1);
      assert.ok((failed[0]?.seq ?? Infinity) < r.seq);
      assert.equal(
        failed[0]?.rawData,
        `{"error":${JSON.stringify(msg)},"interfaces":["incoming-handler"],"name":"default","source_config":["a"],"source_id":"hello-httpserver","target":"hello-http_component","target_config":["SECRET_b"],"wit_namespace":"wasi","wit_package":"http"}`,
      );
      await wire.request('link.put', JSON.stringify(LINK));
      const conflict = await wire.request('link.put', JSON.stringify({ ...LINK, target: 'other', interfaces: ['incoming-handler', 'x'] }));
      assert.equal(
        conflict.raw,
        '{"success":false,"message":"link already exists with different target, consider deleting the existing link or using a different link name"}',
      );
      // No overlapping interface: not a conflict.
      const fine = await wire.request('link.put', JSON.stringify({ ...LINK, target: 'other', interfaces: ['y'] }));
      assert.equal(fine.json?.['success'], true);
      const bad = await wire.request('link.put', JSON.stringify({ source_id: 'x' }));
      assert.equal(bad.raw, '{"success":false,"message":"failed to deserialize wrpc link definition"}');
    });
  });

  test('identity (source, target, ns, pkg, name): put replaces or appends; del removes the first match of (source, ns, pkg, name); get returns all', async () => {
    await withHosts(2, async (wire, _ids, sim) => {
      const kv = { source_id: 'comp', name: 'default', wit_namespace: 'wasi', wit_package: 'keyvalue', source_config: [], target_config: [] };
      const put = async (target: string, interfaces: string[]): Promise<boolean> =>
        (await wire.request('link.put', JSON.stringify({ ...kv, target, interfaces }))).json?.['success'] === true;
      const held = (): Array<[string, string[]]> => sim.snapshot().links.filter((l) => l.source_id === 'comp').map((l) => [l.target, l.interfaces]);
      const get = async (): Promise<unknown> => (await wire.request('link.get')).json?.['response'];
      // Same identity, other interfaces: the second put replaces the first.
      assert.equal(await put('kv1', ['atomics']), true);
      assert.equal(await put('kv1', ['store']), true);
      assert.deepEqual(held(), [['kv1', ['store']]]);
      // Another target on disjoint interfaces: appended; on an overlapping one: refused, with linkdef_set_failed.
      assert.equal(await put('kv2', ['atomics']), true);
      let from = wire.mark();
      assert.equal(await put('kv3', ['batch', 'atomics']), false);
      assert.equal(wire.events('linkdef_set_failed', from).length, 1);
      assert.equal(await put('kv1', ['store', 'watch']), true, 'replacing in place is no conflict');
      assert.deepEqual(held(), [['kv1', ['store', 'watch']], ['kv2', ['atomics']]]);
      // Another source: link.get returns the links of every source.
      assert.equal((await wire.request('link.put', JSON.stringify({ ...kv, source_id: 'other', target: 'kv1', interfaces: ['store'] }))).json?.['success'], true);
      assert.equal((await get() as unknown[]).length, 3);
      // Three of one name, then del ×2: the first match goes each time, the last taking its place (swap_remove).
      assert.equal(await put('kv3', ['batch']), true);
      assert.deepEqual(held(), [['kv1', ['store', 'watch']], ['kv2', ['atomics']], ['kv3', ['batch']]]);
      const del = JSON.stringify({ source_id: 'comp', name: 'default', wit_namespace: 'wasi', wit_package: 'keyvalue' });
      from = wire.mark();
      await wire.request('link.del', del);
      assert.equal(
        wire.events('linkdef_deleted', from)[0]?.rawData,
        '{"interfaces":["store","watch"],"name":"default","source_id":"comp","target":"kv1","wit_namespace":"wasi","wit_package":"keyvalue"}',
      );
      assert.deepEqual(held(), [['kv3', ['batch']], ['kv2', ['atomics']]]);
      from = wire.mark();
      await wire.request('link.del', del);
      assert.equal((wire.events('linkdef_deleted', from)[0]?.json?.['data'] as { target?: string }).target, 'kv3');
      assert.deepEqual(held(), [['kv2', ['atomics']]]);
      await wire.request('link.del', del);
      assert.deepEqual(held(), []);
      from = wire.mark();
      await wire.request('link.del', del);
      assert.equal(
        wire.events('linkdef_deleted', from)[0]?.rawData,
        '{"name":"default","source_id":"comp","wit_namespace":"wasi","wit_package":"keyvalue"}',
        'nothing left of that name: no target, no interfaces',
      );
      assert.deepEqual(await get(), [{ source_id: 'other', target: 'kv1', name: 'default', wit_namespace: 'wasi', wit_package: 'keyvalue', interfaces: ['store'], source_config: [], target_config: [] }]);
    });
  });

  test('del: no spec → no event; spec → linkdef_deleted before the reply, target/interfaces only if removed', async () => {
    await withHosts(2, async (wire, _ids, sim) => {
      const del = JSON.stringify({ source_id: 'hello-httpserver', name: 'default', wit_namespace: 'wasi', wit_package: 'http' });
      let from = wire.mark();
      const none = await wire.request('link.del', del);
      assert.equal(none.raw, `{"success":true,"message":"successfully deleted link (spec doesn't exist)"}`);
      await wire.request('link.put', JSON.stringify(LINK));
      assert.deepEqual(
        wire.events(undefined, from).map((e) => e.type),
        ['linkdef_set'],
      );
      from = wire.mark();
      const r = await wire.request('link.del', del);
      assert.equal(r.raw, '{"success":true,"message":"successfully deleted link"}');
      const deleted = wire.events('linkdef_deleted', from);
      assert.equal(deleted.length, 1);
      assert.ok((deleted[0]?.seq ?? Infinity) < r.seq);
      assert.equal(
        deleted[0]?.rawData,
        '{"interfaces":["incoming-handler"],"name":"default","source_id":"hello-httpserver","target":"hello-http_component","wit_namespace":"wasi","wit_package":"http"}',
      );
      assert.deepEqual(sim.snapshot().links, []);
      from = wire.mark();
      await wire.request('link.del', del);
      assert.equal(
        wire.events('linkdef_deleted', from)[0]?.rawData,
        '{"name":"default","source_id":"hello-httpserver","wit_namespace":"wasi","wit_package":"http"}',
      );
      const get = await wire.request('link.get');
      assert.equal(get.raw, '{"success":true,"message":"","response":[]}');
    });
  });

  test('claims.get: unsigned artifacts → empty list', async () => {
    await withHosts(2, async (wire) => {
      const r = await wire.request('claims.get');
      assert.equal(r.raw, '{"success":true,"message":"","response":[]}');
    });
  });
});

describe('config', () => {
  test('put / get / del with events before replies', async () => {
    await withHosts(2, async (wire, _ids, sim) => {
      let from = wire.mark();
      const put = await wire.request('config.put.app-config', '{"b":"2","a":"1"}');
      assert.equal(put.raw, '{"success":true,"message":"successfully put config"}');
      const set = wire.events('config_set', from);
      assert.equal(set.length, 1);
      assert.ok((set[0]?.seq ?? Infinity) < put.seq);
      assert.equal(envelopeRe('config_set', set[0]?.json?.['source'] as string).exec(set[0]?.raw ?? '')?.[2], '{"config_name":"app-config"}');
      const get = await wire.request('config.get.app-config');
      assert.equal(get.raw, '{"success":true,"message":"","response":{"a":"1","b":"2"}}');
      assert.deepEqual(sim.snapshot().configs, { 'app-config': { a: '1', b: '2' } });
      const missing = await wire.request('config.get.nothing');
      assert.equal(missing.raw, '{"success":true,"message":"Configuration not found"}');
      const bad = await wire.request('config.put.x', '{"a":1}');
      assert.equal(bad.raw, '{"success":false,"message":"config data should be a map of string -> string"}');
      from = wire.mark();
      const del = await wire.request('config.del.app-config');
      assert.equal(del.raw, '{"success":true,"message":"successfully deleted config"}');
      const deleted = wire.events('config_deleted', from);
      assert.ok((deleted[0]?.seq ?? Infinity) < del.seq);
      assert.equal(deleted[0]?.rawData, '{"config_name":"app-config"}');
      // Idempotent: deleting again still emits config_deleted.
      from = wire.mark();
      await wire.request('config.del.app-config');
      assert.equal(wire.events('config_deleted', from).length, 1);
      assert.equal(sim.commandsReceived()['config.del'], 2);
    });
  });
});

describe('labels', () => {
  test('put / del with labels_changed (full set) before the reply', async () => {
    await withHosts(1, async (wire, [id], sim) => {
      assert.ok(id);
      let from = wire.mark();
      const put = await wire.request(`label.put.${id}`, '{"key":"zone","value":"east"}');
      assert.equal(put.raw, '{"success":true,"message":"successfully put label"}');
      const changed = wire.events('labels_changed', from);
      assert.equal(changed.length, 1);
      assert.ok((changed[0]?.seq ?? Infinity) < put.seq);
      assert.equal(
        envelopeRe('labels_changed', id).exec(changed[0]?.raw ?? '')?.[2],
        `{"host_id":"${id}","labels":${hostcoreJson({ zone: 'east' })}}`,
      );
      assert.equal(sim.snapshot().hosts[0]?.labels['zone'], 'east');
      const guard = await wire.request(`label.put.${id}`, '{"key":"HostCore.os","value":"x"}');
      assert.equal(guard.raw, '{"success":false,"message":"hostcore.* labels cannot be set dynamically"}');
      const bad = await wire.request(`label.put.${id}`, '{"key":"k"}');
      assert.equal(bad.raw, '{"success":false,"message":"failed to deserialize put label request"}');
      from = wire.mark();
      const none = await wire.request(`label.del.${id}`, '{"key":"nope"}');
      assert.equal(none.raw, '{"success":true,"message":"successfully deleted label (no such label)"}');
      assert.equal(wire.events(undefined, from).length, 0);
      const del = await wire.request(`label.del.${id}`, '{"key":"zone","value":"ignored"}');
      assert.equal(del.raw, '{"success":true,"message":"successfully deleted label"}');
      const after = wire.events('labels_changed', from);
      assert.equal(after.length, 1);
      assert.equal(after[0]?.rawData, `{"host_id":"${id}","labels":${hostcoreJson()}}`);
      const badDel = await wire.request(`label.del.${id}`, '{}');
      assert.equal(badDel.raw, '{"success":false,"message":"failed to deserialize delete label request"}');
    });
  });

  test('registry.put is fire-and-forget; with a reply subject it acks', async () => {
    await withHosts(2, async (wire, _ids, sim) => {
      wire.publish('registry.put', '{"ghcr.io":{"username":"u","password":"p","registryType":"oci"}}');
      const acks = await wire.gather('registry.put', '{"docker.io":{"token":"t"}}', 2);
      assert.ok(acks.every((a) => a.raw === '{"success":true,"message":"successfully put registries"}'));
      assert.equal(sim.commandsReceived()['registry.put'], 4);
    });
  });
});
