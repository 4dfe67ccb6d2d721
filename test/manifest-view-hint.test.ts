/**
 * The manifest store with an in-memory view as a hint (`ManifestStore.useView`): writes are first tried
 * on the view's copy, with compare-and-set on its revision. A stale copy must never decide anything:
 * it loses the compare-and-set, or (for an answer that writes nothing) is decided again on KV's copy.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import type { NatsConnection } from '@nats-io/transport-node';
import { parseManifest, type Manifest } from '@wadm-ts/model';
import { ManifestStore, ensureBucket, jetStreamContext, type LoadedApp, type StoredApp } from '@wadm-ts/store';
import type { LatticeRef } from '@wadm-ts/protocol';
import { startNats, type TestNats } from './harness/nats.js';
import { appManifest } from './harness/runtime.js';

let nats: TestNats;
let nc: NatsConnection;

before(async () => {
  nats = await startNats();
  nc = await nats.connect();
});

after(async () => {
  await nats?.stop();
});

function manifest(name: string, version: string): Manifest {
  const r = parseManifest(appManifest({ name, version, image: `reg/${name}:${version}`, instances: 1 }));
  if (!r.ok) throw new Error(r.error);
  return r.manifest;
}

const scope: LatticeRef = { lattice: 'hint' };

test('a stale view copy loses the compare-and-set and the write is decided again on KV', async () => {
  const ctx = await jetStreamContext(nc);
  const kv = await ensureBucket(ctx, 'hint_manifests_1');
  const store = new ManifestStore(kv, 'hint_manifests_1');
  const addVersion = (v: string) => (cur: StoredApp | null) => ({
    kind: 'write' as const,
    app: { name: 'a', versions: [...(cur?.versions ?? []), { version: v, manifest: manifest('a', v) }], deployedVersion: cur?.deployedVersion ?? null },
    result: v,
  });
  await store.mutate(scope, 'a', addVersion('v1'));
  const stale = (await store.load(scope, 'a'))!;
  await store.mutate(scope, 'a', addVersion('v2'));
  const peeks: string[] = [];
  store.useView({ listed: () => true, peek: (_s, n): LoadedApp | undefined => (peeks.push(n), stale) });
  await store.mutate(scope, 'a', addVersion('v3'));
  assert.deepEqual(peeks, ['a'], 'the view was asked first');
  const now = (await store.load(scope, 'a'))!;
  assert.deepEqual(now.app.versions.map((v) => v.version), ['v1', 'v2', 'v3'], 'v2 (missing from the stale copy) is kept');
});

test('an answer that writes nothing is never taken on the view copy', async () => {
  const ctx = await jetStreamContext(nc);
  const kv = await ensureBucket(ctx, 'hint_manifests_2');
  const store = new ManifestStore(kv, 'hint_manifests_2');
  await store.mutate(scope, 'b', () => ({ kind: 'write', app: { name: 'b', versions: [{ version: 'v1', manifest: manifest('b', 'v1') }], deployedVersion: null }, result: 'ok' }));
  const stale = (await store.load(scope, 'b'))!;
  await store.mutate(scope, 'b', (cur) => ({ kind: 'write', app: { ...cur!, versions: [...cur!.versions, { version: 'v2', manifest: manifest('b', 'v2') }] }, result: 'ok' }));
  store.useView({ listed: () => true, peek: () => stale });
  // Deploy v2: the stale copy does not know it (it would answer "not found"); KV's copy does.
  const reply = await store.mutate(scope, 'b', (cur) =>
    cur!.versions.some((v) => v.version === 'v2') ? { kind: 'write', app: { ...cur!, deployedVersion: 'v2' }, result: 'deployed' } : { kind: 'keep', result: 'notfound' },
  );
  assert.equal(reply, 'deployed');
  assert.equal((await store.load(scope, 'b'))!.app.deployedVersion, 'v2');
});
