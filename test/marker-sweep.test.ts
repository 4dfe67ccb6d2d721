/**
 * Delete markers do not pile up while a lattice lives. Every chunk of commands is recorded under an
 * in-flight key of its own and removed once done; its delete marker stays in `wadm_state` (the last
 * message of its subject), and every view remembered the removal. Before, only lattice garbage
 * collection dropped them, so a busy lattice grew both for ever. Now:
 *  - a view forgets a removal once its watch has delivered past it and it is older than its removal
 *    memory (`KvMirror` `removalMemoryMs`);
 *  - the owner drops markers older than an hour (`sweepMarkers`, run with the resync), one message at a
 *    time, and leaves live keys, recent markers and other lattices alone.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { Kvm } from '@nats-io/kv';
import type { InFlightEntity } from '@wadm-ts/entities';
import { createLogger } from '@wadm-ts/obs';
import { StateView, jetStreamContext, removeKey, subjectsOf } from '@wadm-ts/store';
import { sweepMarkers } from '@wadm-ts/reconcile';
import { startNats, waitFor, type TestNats } from './harness/nats.js';
import { silent } from './harness/replicas.js';

let nats: TestNats;
before(async () => {
  nats = await startNats();
});
after(async () => {
  await nats.stop();
});

const BUCKET = 'wadm_state';
const REMOVED = 50;

test('removed in-flight keys: the view forgets them after its removal memory, and the sweep drops their old markers only', async () => {
  const nc = await nats.connect();
  const ctx = await jetStreamContext(nc);
  const kv = await new Kvm(nc).create(BUCKET, { history: 1 });
  const logger = createLogger({ replica: 'sweep', level: 'silent', destination: silent });
  const view = new StateView({ name: BUCKET, open: async () => kv, jsm: ctx.jsm, logger, removalMemoryMs: 300 });
  try {
    const ref = { lattice: 'sweep' };
    const inflight = (i: number): string => `lat._.sweep.inflight.b-1-${i}`;
    for (let i = 0; i < REMOVED; i++) {
      const rev = await kv.create(inflight(i), JSON.stringify({ kind: 'inflight', key: `b-1-${i}`, entries: [], issuedAt: 0, expiresAt: 0, epoch: 1 }));
      await removeKey(kv, inflight(i), rev);
    }
    const live = ['lat._.sweep.host.NH1', 'lat._.sweep.comp.NH1.web'];
    for (const k of live) await kv.put(k, JSON.stringify({ kind: 'host', seq: 1 }));
    // Another lattice's marker: not this sweep's business.
    await removeKey(kv, 'lat._.other.inflight.b-1-0', await kv.create('lat._.other.inflight.b-1-0', '{}'));
    // Started now, the view reads the markers with the initial values (as a replica does at start).
    await view.start();
    // And an owner's own removal, applied to its view at once (as FencedRecords.remove does).
    const own = 'lat._.sweep.inflight.b-1-own';
    const record: InFlightEntity = { kind: 'inflight', key: 'b-1-own', entries: [], issuedAt: 0, expiresAt: 0, epoch: 1 };
    const ownRev = await kv.create(own, JSON.stringify(record));
    view.mirror.applyLocal(own, record, ownRev);
    await removeKey(kv, own, ownRev);
    view.mirror.applyLocal(own, undefined, ownRev + 1);

    await waitFor(() => live.every((k) => view.mirror.get(k) !== undefined), 10_000, 'the view has the live keys');
    assert.ok(view.mirror.removals >= REMOVED + 1, `the view remembers the removals at first (${view.mirror.removals})`);
    // Once older than the removal memory, the next deliveries make the view forget them.
    await waitFor(
      async () => {
        await kv.put('lat._.sweep.host.NH1', JSON.stringify({ kind: 'host', seq: 2 }));
        return view.mirror.removals === 0;
      },
      10_000,
      'the view forgot the old removals',
    );

    const stream = `KV_${BUCKET}`;
    const subjects = async (lattice: string): Promise<string[]> => (await subjectsOf(ctx.jsm, stream, `$KV.${BUCKET}.lat._.${lattice}.>`)).sort();
    assert.equal((await subjects('sweep')).length, REMOVED + 1 + live.length, 'the markers are in the stream');
    // Younger than the age bound: kept.
    assert.equal(await sweepMarkers({ ctx, state: view, ref }), 0);
    assert.equal((await subjects('sweep')).length, REMOVED + 1 + live.length);
    // Older: dropped, and only they.
    assert.equal(await sweepMarkers({ ctx, state: view, ref, maxAgeMs: 0, now: Date.now() + 1000 }), REMOVED + 1);
    assert.deepEqual(await subjects('sweep'), live.map((k) => `$KV.${BUCKET}.${k}`).sort());
    assert.equal((await subjects('other')).length, 1, "another lattice's marker is left alone");
    for (const k of live) assert.ok(await kv.get(k), `${k} still holds its value`);

    // A fresh view of the bucket sees exactly the live keys.
    const fresh = new StateView({ name: BUCKET, open: async () => kv, jsm: ctx.jsm, logger });
    await fresh.start();
    try {
      assert.deepEqual(
        [...fresh.mirror.all()].map(([k]) => k).filter((k) => k.startsWith('lat._.sweep.')).sort(),
        [...live].sort(),
      );
    } finally {
      await fresh.stop();
    }
  } finally {
    await view.stop();
  }
});
