/**
 * Healthy marks that wait for a quiet lattice (reconcile/src/runtime/healthy-marks.ts), against a real
 * manifest bucket and view: a mark is written on the revision it was decided on; when a user deployed
 * another version meanwhile, the version still lands among the healthy versions (a later revert finds it);
 * when the record moved on but deploys the same version, the mark is left to the next pass.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import type { NatsConnection } from '@nats-io/transport-node';
import { parseManifest, type Manifest } from '@wadm-ts/model';
import { rolloutOnDeploy, rolloutOnHealthy } from '@wadm-ts/entities';
import { ManifestStore, ManifestView, ensureBucket, jetStreamContext, type StoredApp } from '@wadm-ts/store';
import { HealthyMarks, MARK_WAIT_MS } from '@wadm-ts/reconcile';
import { createLogger } from '@wadm-ts/obs';
import type { LatticeRef } from '@wadm-ts/protocol';
import { startNats, type TestNats } from './harness/nats.js';
import { appManifest } from './harness/runtime.js';

let nats: TestNats;
let nc: NatsConnection;
let view: ManifestView;
let store: ManifestStore;
const BUCKET = 'marks_manifests';
const scope: LatticeRef = { lattice: 'marks' };

before(async () => {
  nats = await startNats();
  nc = await nats.connect();
  const ctx = await jetStreamContext(nc);
  const kv = await ensureBucket(ctx, BUCKET);
  store = new ManifestStore(kv, BUCKET);
  view = new ManifestView({ name: BUCKET, open: async () => kv, jsm: ctx.jsm, logger: createLogger({ replica: 'test', level: 'silent' }) });
  await view.start();
});

after(async () => {
  await view?.stop();
  await nats?.stop();
});

function manifest(name: string, version: string): Manifest {
  const r = parseManifest(appManifest({ name, version, image: `reg/${name}:${version}`, instances: 1 }));
  if (!r.ok) throw new Error(r.error);
  return r.manifest;
}

/** Store v1 and v2 of `name` with `deployed` deployed; the view's revision of the record once it has it. */
async function stored(name: string, deployed: string): Promise<number> {
  await store.mutate(scope, name, () => ({
    kind: 'write',
    app: { name, versions: ['v1', 'v2', 'v3'].map((v) => ({ version: v, manifest: manifest(name, v) })), deployedVersion: deployed, rollout: rolloutOnDeploy(undefined, deployed, 1000) },
    result: 'ok',
  }));
  await view.mirror.sync();
  return view.revisionOf(scope, name)!;
}

async function rewrite(name: string, change: (cur: StoredApp) => StoredApp): Promise<void> {
  await store.mutate(scope, name, (cur) => ({ kind: 'write', app: change(cur!), result: 'ok' }));
  await view.mirror.sync();
}

function mark(name: string, revision: number, version: string, now: number) {
  return { app: name, revision, rollout: rolloutOnHealthy(rolloutOnDeploy(undefined, version, 1000), version, now), history: true as const };
}

const check = (): void => undefined;

test('a kept mark is written on the revision it was decided on, once, and waits at most MARK_WAIT_MS', async () => {
  const marks = new HealthyMarks();
  const rev = await stored('a', 'v1');
  marks.add(mark('a', rev, 'v1', 2000), 2000);
  // Decided again by a later pass: the first decision stays.
  marks.add(mark('a', rev, 'v1', 2500), 2500);
  assert.equal(marks.size, 1);
  assert.equal(marks.due(2000 + MARK_WAIT_MS - 1), false);
  assert.equal(marks.due(2000 + MARK_WAIT_MS), true);
  assert.deepEqual(await marks.flush(scope, view, store, check), { written: 1, dropped: 0, kept: 0 });
  assert.equal(marks.size, 0);
  await view.mirror.sync();
  const r = view.peek(scope, 'a')!.app.rollout;
  assert.deepEqual(r, { deployed: { version: 'v1', atMs: 1000, healthyAtMs: 2000 }, healthyVersions: ['v1'] });
});

test('a user deployed another version meanwhile: the marked version still joins the healthy versions', async () => {
  const marks = new HealthyMarks();
  const rev = await stored('b', 'v1');
  marks.add(mark('b', rev, 'v1', 2000), 2000);
  await rewrite('b', (cur) => ({ ...cur, deployedVersion: 'v2', rollout: rolloutOnDeploy(cur.rollout, 'v2', 3000) }));
  assert.deepEqual(await marks.flush(scope, view, store, check), { written: 1, dropped: 0, kept: 0 });
  await view.mirror.sync();
  const app = view.peek(scope, 'b')!.app;
  assert.equal(app.deployedVersion, 'v2');
  // v2's own deploy time is untouched (its deadline counts from it); v1 is what a revert of v2 goes back to.
  assert.deepEqual(app.rollout, { deployed: { version: 'v2', atMs: 3000 }, healthyVersions: ['v1'] });
});

test('v2 still waiting when v3 is deployed and marked: both are written, in the order they were healthy', async () => {
  const marks = new HealthyMarks();
  const rev = await stored('e', 'v2');
  marks.add(mark('e', rev, 'v2', 2000), 2000);
  await rewrite('e', (cur) => ({ ...cur, deployedVersion: 'v3', rollout: rolloutOnDeploy(cur.rollout, 'v3', 3000) }));
  const rev3 = view.revisionOf(scope, 'e')!;
  const onRecord = view.peek(scope, 'e')!.app.rollout;
  marks.add({ app: 'e', revision: rev3, rollout: rolloutOnHealthy(onRecord, 'v3', 3500), history: true }, 3500);
  const pending = (): number => marks.size;
  assert.equal(pending(), 2, 'one mark per app and version');
  let flushed = 0;
  for (let i = 0; i < 5 && pending() > 0; i++) {
    flushed += (await marks.flush(scope, view, store, check)).written;
    await view.mirror.sync();
    // What a pass would decide again for v3 if its mark was left to it (the record moved on under it).
    const cur = view.peek(scope, 'e')!;
    if (pending() === 0 && !cur.app.rollout?.healthyVersions.includes('v3')) marks.add({ app: 'e', revision: cur.revision, rollout: rolloutOnHealthy(cur.app.rollout, 'v3', 4000), history: true }, 4000);
  }
  assert.ok(flushed >= 2, `written ${flushed}`);
  assert.deepEqual(view.peek(scope, 'e')!.app.rollout?.healthyVersions, ['v2', 'v3']);
});

test('the record moved on but deploys the same version: the mark is left to the next pass', async () => {
  const marks = new HealthyMarks();
  const rev = await stored('c', 'v1');
  marks.add(mark('c', rev, 'v1', 2000), 2000);
  await rewrite('c', (cur) => ({ ...cur, versions: [...cur.versions, { version: 'v3', manifest: manifest('c', 'v3') }] }));
  assert.deepEqual(await marks.flush(scope, view, store, check), { written: 0, dropped: 1, kept: 0 });
  assert.equal(marks.size, 0);
  assert.deepEqual(view.peek(scope, 'c')!.app.rollout?.healthyVersions, []);
});

test('a lost lease stops the flush before it writes', async () => {
  const marks = new HealthyMarks();
  const rev = await stored('d', 'v1');
  marks.add(mark('d', rev, 'v1', 2000), 2000);
  await assert.rejects(
    marks.flush(scope, view, store, () => {
      throw new Error('lease lost');
    }),
    /lease lost/,
  );
  await view.mirror.sync();
  assert.equal(view.revisionOf(scope, 'd'), rev, 'nothing written');
});
