/**
 * Manifest records (issue 8, item 7), on a real nats-server with two in-process replicas:
 *
 * - The bucket layout (`{lattice}-{name}` records, `{lattice}` indexes, docs/wire/api.md §4) is ambiguous:
 *   key `team-a` is lattice `team-a`'s index and app `a`'s record in lattice `team`; `team-a-b` is app
 *   `a-b` of `team` and app `b` of `team-a`. Whatever is put, in whatever order (also concurrently), no
 *   record or index is overwritten: the put that would take another's key is refused with a clear error.
 * - An app record missing from its lattice's index (the index write after the record write was lost) is
 *   found and indexed again without the app being touched, and a listing includes it.
 * - Deleting an app leaves its status `undeployed` ("Manifest has been undeployed").
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { NatsConnection } from '@nats-io/transport-node';
import { jetstream } from '@nats-io/jetstream';
import { Kvm, type KV } from '@nats-io/kv';
import type { Replica } from '@wadm-ts/cli';
import type { SimulatedLattice } from '@wadm-ts/simulator';
import { createLogger } from '@wadm-ts/obs';
import { ManifestStore, ManifestView, ensureBucket, jetStreamContext } from '@wadm-ts/store';
import { parseManifest } from '@wadm-ts/model';
import { startNats, type TestNats } from './harness/nats.js';
import { silent, startReplicas } from './harness/replicas.js';
import { simLattice } from './harness/lattice.js';
import { eventually, settle } from './harness/cluster.js';
import { RawApi } from './harness/api.js';
import { appManifest, expectedFootprint, footprint, type AppSpec } from './harness/runtime.js';

type Json = Record<string, any>;

let nats: TestNats;
let nc: NatsConnection;
let replicas: Replica[];
let kv: KV;
const sims: SimulatedLattice[] = [];

before(async () => {
  nats = await startNats();
  nc = await nats.connect();
  replicas = await startReplicas(2, nats.url, { resyncIntervalMs: 1000 });
  kv = await new Kvm(jetstream(nc)).open('wadm_manifests');
});

after(async () => {
  await Promise.all(sims.map((s) => s.close({ graceful: false })));
  await Promise.all((replicas ?? []).map((r) => r.stop()));
  await nats?.stop();
});

async function sim(lattice: string, hosts = 1): Promise<SimulatedLattice> {
  const s = await simLattice(nats.url, lattice, hosts);
  sims.push(s);
  return s;
}

const spec = (name: string, version: string, instances = 1): AppSpec => ({ name, version, image: `reg/${name}:${version}`, instances });
/** A manifest for names with `-` too (not deployed in these tests: the footprint helpers split ids on `-`). */
const manifest = (name: string, version: string): string => appManifest(spec(name, version));

async function created(api: RawApi, name: string, version: string): Promise<void> {
  const r = await api.put(manifest(name, version));
  assert.ok(r['result'] === 'created' || r['result'] === 'newversion', `put ${name}@${version} in ${api.lattice}: ${JSON.stringify(r)}`);
}

async function refused(api: RawApi, name: string, version: string, message: RegExp): Promise<void> {
  const r = await api.put(manifest(name, version));
  assert.equal(r['result'], 'error', `put ${name}@${version} in ${api.lattice} must be refused: ${JSON.stringify(r)}`);
  assert.match(String(r['message']), message);
  assert.doesNotMatch(String(r['message']), /Internal/);
}

async function versions(api: RawApi, name: string): Promise<string[]> {
  const r = await api.versions(name);
  return ((r['versions'] ?? []) as Array<{ version: string }>).map((v) => v.version);
}

async function listed(api: RawApi): Promise<string[]> {
  const r = await api.list();
  assert.equal(r['result'], 'success', JSON.stringify(r));
  return ((r['models'] ?? []) as Array<{ name: string }>).map((m) => m.name);
}

async function raw(key: string): Promise<unknown> {
  const e = await kv.get(key);
  return e && e.operation === 'PUT' ? e.json<unknown>() : undefined;
}

describe('lattices team and team-a: colliding keys are refused, never overwritten', () => {
  test('team-a first: app a of team would take the index key of team-a', async () => {
    const teamA = new RawApi(nc, 'team-a');
    const team = new RawApi(nc, 'team');
    const simTeamA = await sim('team-a');
    await created(teamA, 'x', 'v1');
    await created(teamA, 'y', 'v1');
    await refused(team, 'a', 'v1', /^Application a cannot be stored in lattice team: its key 'team-a' in bucket wadm_manifests holds the application index of lattice team-a /);
    // Reads of the app that cannot exist answer "not found", not a storage error.
    assert.equal((await team.get('a'))['result'], 'notfound');
    assert.equal((await team.versions('a'))['result'], 'notfound');
    assert.equal((await team.deploy('a'))['result'], 'notfound');
    assert.equal((await team.del('a'))['result'], 'noop');
    assert.deepEqual(await listed(team), []);
    assert.deepEqual(await listed(teamA), ['x', 'y']);
    assert.deepEqual(await raw('team-a'), ['x', 'y'], 'the index of team-a is intact');

    // Record against record: app a-x of team is key team-a-x, app x's of team-a.
    await created(team, 'b', 'v1');
    await refused(team, 'a-x', 'v1', /^Application a-x cannot be stored in lattice team: its key 'team-a-x' in bucket wadm_manifests holds application x of lattice team-a /);
    await created(teamA, 'x', 'v2');
    assert.deepEqual(await versions(teamA, 'x'), ['v1', 'v2']);
    assert.equal((await teamA.deploy('x'))['result'], 'acknowledged');
    await eventually('x of team-a runs v2', () => assert.deepEqual(footprint(simTeamA.snapshot(), 'x'), expectedFootprint(spec('x', 'v2'))), 15_000);
    assert.deepEqual(await listed(team), ['b']);

    // Emptied, the index stays: its key stays taken.
    assert.equal((await teamA.del('x'))['result'], 'deleted');
    assert.equal((await teamA.del('y'))['result'], 'deleted');
    assert.deepEqual(await raw('team-a'), []);
    await refused(team, 'a', 'v2', /holds the application index of lattice team-a/);
    await eventually('x of team-a is gone from the host', () => assert.deepEqual(footprint(simTeamA.snapshot(), 'x'), expectedFootprint(undefined)), 15_000);
    assert.deepEqual(await versions(team, 'b'), ['v1']);
  });

  test('crew first: lattice crew-a would take the record key of app a of crew', async () => {
    const crew = new RawApi(nc, 'crew');
    const crewA = new RawApi(nc, 'crew-a');
    const simCrew = await sim('crew');
    await created(crew, 'a', 'v1');
    assert.equal((await crew.deploy('a'))['result'], 'acknowledged');
    await refused(crewA, 'x', 'v1', /^Application x cannot be stored in lattice crew-a: the lattice's index key 'crew-a' in bucket wadm_manifests holds application a of lattice crew /);
    await refused(crewA, 'y', 'v1', /holds application a of lattice crew/);
    assert.deepEqual(await listed(crewA), []);
    assert.equal((await crewA.get('x'))['result'], 'notfound');
    const rec = (await raw('crew-a')) as Json;
    assert.deepEqual(Object.keys(rec['manifests']), ['v1'], 'the record of a is intact');
    assert.equal(rec['deployed_version'], 'v1');
    assert.equal(await raw('crew-a-x'), undefined, 'a refused put leaves no record behind');
    await eventually('a of crew runs v1', () => assert.deepEqual(footprint(simCrew.snapshot(), 'a'), expectedFootprint(spec('a', 'v1'))), 15_000);

    // Record against record, the other way round: app x-y of crew first, then app y of crew-x.
    await created(crew, 'x-y', 'v1');
    await refused(new RawApi(nc, 'crew-x'), 'y', 'v1', /^Application y cannot be stored in lattice crew-x: its key 'crew-x-y' in bucket wadm_manifests holds application x-y of lattice crew /);
    assert.deepEqual(await versions(crew, 'x-y'), ['v1']);
    assert.deepEqual(await listed(new RawApi(nc, 'crew-x')), []);

    await created(crew, 'a', 'v2');
    assert.deepEqual(await versions(crew, 'a'), ['v1', 'v2']);
    assert.deepEqual(await listed(crew), ['a', 'x-y']);

    // Once a is deleted its key is free: crew-a can have apps, and then a cannot come back.
    assert.equal((await crew.del('a'))['result'], 'deleted');
    await created(crewA, 'x', 'v1');
    assert.deepEqual(await listed(crewA), ['x']);
    await refused(crew, 'a', 'v3', /holds the application index of lattice crew-a/);
    assert.deepEqual(await listed(crew), ['x-y']);
    await eventually('a of crew is gone from the host', () => assert.deepEqual(footprint(simCrew.snapshot(), 'a'), expectedFootprint(undefined)), 15_000);
  });

  test('concurrent puts of colliding keys: exactly one wins, the other is refused, nothing is lost', async () => {
    for (let i = 0; i < 12; i++) {
      const lat = new RawApi(nc, `race${i}`);
      const latA = new RawApi(nc, `race${i}-a`);
      // Index key race{i}-a against record key race{i}-a; record key race{i}-a-b of both a-b (race{i}) and b (race{i}-a).
      const puts = await Promise.all([lat.put(manifest('a', 'v1')), latA.put(manifest('x', 'v1')), lat.put(manifest('a-b', 'v1')), latA.put(manifest('b', 'v1'))]);
      const [a, x, ab, b] = puts.map((r) => String(r['result']));
      const why = JSON.stringify(puts);
      for (const r of puts) if (r['result'] === 'error') assert.match(String(r['message']), /cannot be stored in lattice .*\(the manifest bucket keys an application/, why);
      assert.ok((a === 'created') !== (x === 'created' || b === 'created'), `app a of race${i} xor an app of race${i}-a: ${why}`);
      assert.ok((ab === 'created') !== (b === 'created'), `a-b of race${i} xor b of race${i}-a (one key): ${why}`);
      const winners = new Map<RawApi, string[]>([
        [lat, [...(a === 'created' ? ['a'] : []), ...(ab === 'created' ? ['a-b'] : [])]],
        [latA, [...(b === 'created' ? ['b'] : []), ...(x === 'created' ? ['x'] : [])]],
      ]);
      for (const [api, names] of winners) {
        assert.deepEqual(await listed(api), names, `${api.lattice} lists what was created: ${why}`);
        for (const n of names) assert.deepEqual(await versions(api, n), ['v1'], `${api.lattice}/${n}: ${why}`);
      }
      // A second round of puts on top: every app that exists takes its new version; the others stay refused.
      for (const [api, names] of winners) for (const n of names) await created(api, n, 'v2');
      for (const [api, names] of winners) for (const n of names) assert.deepEqual(await versions(api, n), ['v1', 'v2']);
    }
  });
});

test('an app record missing from its index is indexed again without being touched, listed, and deploys', async () => {
  const lattice = 'heal';
  const api = new RawApi(nc, lattice);
  const s = await sim(lattice, 2);
  await created(api, 'bystander', 'v1');
  await created(api, 'orphan', 'v1');
  // What a lost index write leaves: the record, no index entry (as manifest-index-crash.test.ts does).
  const drop = async (): Promise<void> => {
    const idx = await kv.get(lattice);
    assert.ok(idx && idx.operation === 'PUT');
    const names = idx.json<string[]>();
    assert.ok(names.includes('orphan'), JSON.stringify(names));
    await kv.update(lattice, JSON.stringify(names.filter((n) => n !== 'orphan')), idx.revision);
  };
  await drop();
  // No request about the app: the replicas' views find it and sync the index.
  await eventually('the index lists orphan again', async () => assert.deepEqual(await raw(lattice), ['bystander', 'orphan']), 15_000);
  assert.deepEqual(await listed(api), ['bystander', 'orphan']);
  assert.equal((await api.deploy('orphan'))['result'], 'acknowledged');
  await eventually('orphan runs', () => assert.deepEqual(footprint(s.snapshot(), 'orphan'), expectedFootprint(spec('orphan', 'v1'))), 15_000);

  // Lost again while deployed: indexed again, and it runs (again).
  await drop();
  await eventually('the index lists orphan again', async () => assert.deepEqual(await raw(lattice), ['bystander', 'orphan']), 15_000);
  await eventually('orphan runs', () => assert.deepEqual(footprint(s.snapshot(), 'orphan'), expectedFootprint(spec('orphan', 'v1'))), 15_000);
});

test('a listing indexes the un-indexed apps its view has seen', async () => {
  const ctx = await jetStreamContext(nc);
  const bucket = 'records_list_heal';
  const bkv = await ensureBucket(ctx, bucket);
  const store = new ManifestStore(bkv, bucket);
  const view = new ManifestView({ name: bucket, open: () => ensureBucket(ctx, bucket), jsm: ctx.jsm, logger: createLogger({ replica: 't', level: 'silent', destination: silent }) });
  await view.start();
  try {
    const scope = { lattice: 'l' };
    const m = (name: string) => {
      const r = parseManifest(manifest(name, 'v1'));
      if (!r.ok) throw new Error(r.error);
      return r.manifest;
    };
    for (const name of ['one', 'two']) {
      await store.mutate(scope, name, () => ({ kind: 'write', app: { name, versions: [{ version: 'v1', manifest: m(name) }], deployedVersion: null }, result: 'ok' }));
    }
    const idx = (await bkv.get('l'))!;
    await bkv.update('l', JSON.stringify(['one']), idx.revision);
    await eventually('the view sees two un-indexed', () => assert.deepEqual(view.unindexed(scope), ['two']), 10_000);
    // A store that uses the view heals before it lists (the view's own timer may get there first: either way).
    store.useView(view);
    assert.deepEqual((await store.listApps(scope)).map((a) => a.name), ['one', 'two']);
    assert.deepEqual(JSON.parse((await bkv.get('l'))!.string()), ['one', 'two']);
    await eventually('the view no longer reports it', () => assert.deepEqual(view.unindexed(scope), []), 10_000);
  } finally {
    await view.stop();
  }
});

describe('a deleted app says undeployed', () => {
  const UNDEPLOYED = { status: { type: 'undeployed', message: 'Manifest has been undeployed' }, version: '', components: [] };

  test('deployed, then deleted: status undeployed, and it stays so', async () => {
    const lattice = 'gone';
    const api = new RawApi(nc, lattice);
    const s = await sim(lattice);
    await created(api, 'web', 'v1');
    assert.equal((await api.deploy('web'))['result'], 'acknowledged');
    await eventually('web deployed', async () => assert.equal((await api.status('web'))['status']['status']['type'], 'deployed'), 15_000);
    assert.equal((await api.del('web'))['result'], 'deleted');
    await eventually('web undeployed', async () => assert.deepEqual((await api.status('web'))['status'], UNDEPLOYED), 15_000);
    await eventually('web is gone from the host', () => assert.deepEqual(footprint(s.snapshot(), 'web'), expectedFootprint(undefined)), 15_000);
    await settle(replicas, 3);
    assert.deepEqual((await api.status('web'))['status'], UNDEPLOYED);

    // Put again (fresh), deploy, delete its only version by name.
    await created(api, 'web', 'v2');
    assert.equal((await api.deploy('web'))['result'], 'acknowledged');
    await eventually('web deployed again', async () => assert.equal((await api.status('web'))['status']['status']['type'], 'deployed'), 15_000);
    const r = await api.del('web', 'v2');
    assert.equal(r['message'], 'Successfully deleted last version of application web');
    await eventually('web undeployed again', async () => assert.deepEqual((await api.status('web'))['status'], UNDEPLOYED), 15_000);
  });

  test('never deployed, in a lattice without hosts: status undeployed after the delete', async () => {
    const api = new RawApi(nc, 'nohosts');
    await created(api, 'idle', 'v1');
    assert.equal((await api.del('idle'))['result'], 'deleted');
    assert.deepEqual((await api.status('idle'))['status'], UNDEPLOYED, 'published before the delete is answered');
  });
});

test('64 puts at once into one lattice from one process: all indexed, and the index writes do not contend (group commit)', async () => {
  const ctx = await jetStreamContext(nc);
  const bucket = 'records_group_commit';
  const bkv = await ensureBucket(ctx, bucket);
  let conflicts = 0;
  const store = new ManifestStore(bkv, bucket, () => void conflicts++);
  const scope = { lattice: 'burst' };
  const names = Array.from({ length: 64 }, (_, i) => `app${String(i).padStart(2, '0')}`);
  // The lattice's index exists already (a lattice that has had apps), as in a bulk load of a live lattice.
  await bkv.create('burst', '[]');
  await Promise.all(
    names.map((name) => {
      const r = parseManifest(manifest(name, 'v1'));
      if (!r.ok) throw new Error(r.error);
      return store.mutate(scope, name, () => ({ kind: 'write', app: { name, versions: [{ version: 'v1', manifest: r.manifest }], deployedVersion: null }, result: 'ok' }));
    }),
  );
  assert.deepEqual(JSON.parse((await bkv.get('burst'))!.string()), names);
  // One writer per index key in this process: syncs asked for meanwhile join the next write instead of
  // racing it (one at a time each lost a compare-and-set to almost every other).
  assert.equal(conflicts, 0, `${conflicts} compare-and-sets lost`);
  assert.deepEqual((await store.listApps(scope)).map((a) => a.name), names);
});
