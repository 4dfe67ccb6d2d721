/**
 * Updates of one state key from one process run one after the other (LatticeStateStore.update): a
 * replica never loses a compare-and-set to itself. A host answers a fresh start with two events for the
 * same key; handled side by side, the second used to lose its compare-and-set every time (a backoff, a
 * read and a second write).
 *
 * Updates of one key that meet in one process are group-committed: decided in order, written once.
 *
 * Across processes (replicas), those two events are sometimes handled by two of them. The one that loses the
 * compare-and-set decides again on its view once the view has the winner's write, instead of reading KV.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { jetstreamManager } from '@nats-io/jetstream';
import { Kvm } from '@nats-io/kv';
import type { KV } from '@nats-io/kv';
import type { NatsConnection } from '@nats-io/transport-node';
import { createLogger } from '@wadm-ts/obs';
import { LatticeStateStore, StateView, isKvPut, jetStreamContext, removeKey, type StoredValue } from '@wadm-ts/store';
import { startNats, type TestNats } from './harness/nats.js';
import { silent } from './harness/replicas.js';

let nats: TestNats;
before(async () => {
  nats = await startNats();
});
after(async () => {
  await nats.stop();
});

/** A new bucket and a store over it without a view (every decision starts from a KV read); `conflicts` counts lost compare-and-sets. */
async function plainStore(nc: NatsConnection, bucket: string): Promise<{ kv: KV; store: LatticeStateStore; conflicts: () => number }> {
  const kv = await new Kvm(nc).create(bucket, { history: 1 });
  let conflicts = 0;
  const store = new LatticeStateStore(kv, await jetstreamManager(nc), bucket, () => conflicts++);
  return { kv, store, conflicts: () => conflicts };
}

test('concurrent updates of one key from one process: all applied in call order, no compare-and-set lost', async () => {
  const nc = await nats.connect();
  try {
    const { kv, store, conflicts } = await plainStore(nc, 'serial');
    const key = 'lat._.l.meta';
    const order: number[] = [];
    await Promise.all(
      Array.from({ length: 25 }, (_, i) =>
        store.update<StoredValue>(key, (cur) => {
          const seen = (cur as unknown as { n?: number } | undefined)?.n ?? 0;
          order.push(i);
          return { write: { kind: 'lattice', lattice: 'l', firstSeen: 0, lastActivity: 0, n: seen + 1 } as unknown as StoredValue };
        }),
      ),
    );
    const e = await kv.get(key);
    assert.equal((e!.json() as { n: number }).n, 25, 'every update saw the one before it');
    assert.equal(conflicts(), 0, 'no update lost a compare-and-set to another of the same process');
    assert.deepEqual(order, Array.from({ length: 25 }, (_, i) => i), 'decided in call order, each once');
    assert.equal(e!.revision, 1, 'updates issued in one turn were written once, together');
  } finally {
    await nc.close();
  }
});

test('updates of one key group-commit: one write per batch, each caller answered as if written alone, a throwing decision fails only its caller', async () => {
  const nc = await nats.connect();
  try {
    const { kv, store } = await plainStore(nc, 'group');
    const key = 'lat._.l.comp.h.c';
    const bump = (): Promise<{ written?: StoredValue; previous?: StoredValue }> => store.update<StoredValue>(key, (cur) => ({ write: counter(countOf(cur) + 1) }));
    // One turn: the first starts a batch, the others join it; a skip and a throw in between.
    const first = bump();
    const skip = store.update<StoredValue>(key, () => ({ skip: true }));
    const boom = assert.rejects(
      store.update<StoredValue>(key, () => {
        throw new Error('bad decision');
      }),
      /bad decision/,
    );
    const second = bump();
    const [r1, r2, r3] = await Promise.all([first, skip, second]);
    await boom;
    assert.deepEqual([r1.previous, countOf(r1.written)], [undefined, 1], 'the first decided on the absent key');
    assert.equal(countOf(r2.previous), 1, 'the skip saw the first decision');
    assert.equal(r2.written, undefined);
    assert.deepEqual([countOf(r3.previous), countOf(r3.written)], [1, 2], 'the last decided on the first');
    const e = await kv.get(key);
    assert.deepEqual([countOf(e!.json<StoredValue>()), e!.revision], [2, 1], 'the batch was one write, of its last value');

    // An update issued while a batch is being written joins the next batch, which waits for it.
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    let writing!: () => void;
    const firstWrite = new Promise<void>((r) => (writing = r));
    const update = kv.update.bind(kv);
    let writes = 0;
    kv.update = async (k, d, v) => {
      writes++;
      if (writes === 1) {
        writing();
        await gate;
      }
      return update(k, d, v);
    };
    const inFlight = bump();
    await firstWrite; // the first batch is writing
    const later = [bump(), bump(), bump()];
    release();
    const results = await Promise.all([inFlight, ...later]);
    assert.deepEqual(results.map((r) => countOf(r.written)), [3, 4, 5, 6]);
    assert.equal(writes, 2, 'the three that came during the write were written together');
    assert.equal(countOf((await kv.get(key))!.json<StoredValue>()), 6);
  } finally {
    await nc.close();
  }
});

test('a batch that loses its compare-and-set is decided again, whole, on the winning value', async () => {
  const nc = await nats.connect();
  try {
    const { kv, store, conflicts } = await plainStore(nc, 'refold');
    const key = 'lat._.l.meta';
    await kv.put(key, JSON.stringify(counter(10)));
    const update = kv.update.bind(kv);
    let intruded = false;
    kv.update = async (k, d, v) => {
      if (!intruded) {
        intruded = true;
        await kv.put(key, JSON.stringify(counter(100))); // another replica wins meanwhile
      }
      return update(k, d, v);
    };
    const seen: number[] = [];
    const bump = (): Promise<{ written?: StoredValue; previous?: StoredValue }> =>
      store.update<StoredValue>(key, (cur) => {
        seen.push(countOf(cur));
        return { write: counter(countOf(cur) + 1) };
      });
    const [a, b] = await Promise.all([bump(), bump()]);
    assert.equal(conflicts(), 1);
    assert.deepEqual(seen, [10, 11, 100, 101], 'both decisions ran again, in order, on the winner');
    assert.deepEqual([countOf(a.previous), countOf(a.written), countOf(b.previous), countOf(b.written)], [100, 101, 101, 102]);
    assert.equal(countOf((await kv.get(key))!.json<StoredValue>()), 102);
  } finally {
    await nc.close();
  }
});

const counter = (n: number): StoredValue => ({ kind: 'lattice', lattice: 'l', firstSeen: 0, lastActivity: 0, n }) as unknown as StoredValue;
const countOf = (v: StoredValue | undefined): number => (v as unknown as { n?: number } | undefined)?.n ?? 0;

/** A replica's store over its own connection and view; `reads` counts its KV reads. */
async function replicaStore(bucket: string, removalMemoryMs?: number): Promise<{ store: LatticeStateStore; view: StateView; kv: KV; reads: () => number; conflicts: () => number; close: () => Promise<void> }> {
  const nc = await nats.connect();
  const ctx = await jetStreamContext(nc);
  const kv = await new Kvm(nc).open(bucket);
  let reads = 0;
  const get = kv.get.bind(kv);
  kv.get = (k, o) => {
    reads++;
    return get(k, o);
  };
  const logger = createLogger({ replica: 'cas', level: 'silent', destination: silent });
  const view = new StateView({ name: bucket, open: async () => kv, jsm: ctx.jsm, logger, ...(removalMemoryMs !== undefined ? { removalMemoryMs } : {}) });
  await view.start();
  let conflicts = 0;
  const store = new LatticeStateStore(kv, ctx.jsm, bucket, () => conflicts++);
  store.useView(view);
  return {
    store,
    view,
    kv,
    reads: () => reads,
    conflicts: () => conflicts,
    close: async () => {
      await view.stop();
      await nc.close();
    },
  };
}

test('two replicas updating one key: every update applied once; a lost compare-and-set decides again on the view, not on a KV read', async () => {
  const nc = await nats.connect();
  await new Kvm(nc).create('race', { history: 1 });
  const a = await replicaStore('race');
  const b = await replicaStore('race');
  try {
    const key = 'lat._.l.meta';
    const bump = (s: LatticeStateStore): Promise<unknown> => s.update<StoredValue>(key, (cur) => ({ write: counter(countOf(cur) + 1) }));
    const rounds = 30;
    for (let i = 0; i < rounds; i++) await Promise.all([bump(a.store), bump(b.store)]);
    const e = await (await new Kvm(nc).open('race')).get(key);
    assert.equal(countOf(e!.json<StoredValue>()), 2 * rounds, 'no update lost, none applied twice');
    const conflicts = a.conflicts() + b.conflicts();
    const reads = a.reads() + b.reads();
    assert.ok(conflicts > 0, 'the two replicas raced');
    // Without the wait for the view, every lost race read KV (twice for a create: KV's own read, then ours).
    assert.ok(reads < conflicts, `lost races resolved from the view: ${reads} KV reads for ${conflicts} lost compare-and-sets`);
  } finally {
    await a.close();
    await b.close();
    await nc.close();
  }
});

test('a key whose removal the view has forgotten is still written (the lost compare-and-set falls back to a KV read)', async () => {
  const nc = await nats.connect();
  const kv = await new Kvm(nc).create('forgot', { history: 1 });
  // Removals are forgotten as soon as the watch delivered past them.
  const r = await replicaStore('forgot', 0);
  try {
    const key = 'lat._.l.meta';
    const rev = await kv.put(key, JSON.stringify(counter(1)));
    await removeKey(kv, key, rev);
    // Further deliveries move the watch past the marker, so the view prunes it.
    for (let i = 0; i < 3; i++) await kv.put(`lat._.l.host.h${i}`, JSON.stringify(counter(i)));
    await r.view.mirror.sync();
    await r.store.update<StoredValue>(`lat._.l.host.h9`, () => ({ write: counter(9) }));
    assert.equal(r.view.revisionOf(key), 0, 'the view no longer knows the removal');
    const w = await r.store.update<StoredValue>(key, (cur) => ({ write: counter(countOf(cur) + 5) }));
    assert.equal(countOf(w.written), 5, 'decided on an absent key');
    assert.equal(countOf((await kv.get(key))!.json<StoredValue>()), 5, 'and written over the delete marker');
  } finally {
    await r.close();
    await nc.close();
  }
});

test('watch deliveries are told apart from delete and purge markers without parsing their headers (the raw shape is there)', async () => {
  const nc = await nats.connect();
  try {
    const kv = await new Kvm(nc).create('ops', { history: 1 });
    const rev = await kv.put('a', '1');
    await kv.update('a', '2', rev); // a value with a header (expected revision)
    await kv.put('b', '1');
    await kv.delete('b');
    await kv.put('c', '1');
    await kv.purge('c');
    await kv.create('d', '1');
    const seen = new Map<string, { put: boolean; op: string; raw: boolean }>();
    const w = await kv.watch({ key: '>' });
    for await (const e of w) {
      const m = (e as unknown as { sm?: { msg?: { _rdata?: unknown } } }).sm?.msg;
      seen.set(e.key, { put: isKvPut(e), op: e.operation, raw: m?._rdata instanceof Uint8Array });
      if (seen.size === 4) break;
    }
    w.stop();
    for (const [k, s] of seen) {
      assert.equal(s.put, s.op === 'PUT', `${k}: ${s.op}`);
      assert.ok(s.raw, `${k}: the client still exposes the raw message (else every delivery falls back to parsing headers)`);
    }
    assert.deepEqual([...seen].map(([k, s]) => `${k}:${s.op}`).sort(), ['a:PUT', 'b:DEL', 'c:PURGE', 'd:PUT']);
  } finally {
    await nc.close();
  }
});
