/**
 * Updates of one state key from one process run one after the other (LatticeStateStore.update): a
 * replica never loses a compare-and-set to itself. A host answers a fresh start with two events for the
 * same key; handled side by side, the second used to lose its compare-and-set every time (a backoff, a
 * read and a second write).
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { jetstreamManager } from '@nats-io/jetstream';
import { Kvm } from '@nats-io/kv';
import { LatticeStateStore, type StoredValue } from '@wadm-ts/store';
import { startNats, type TestNats } from './harness/nats.js';

let nats: TestNats;
before(async () => {
  nats = await startNats();
});
after(async () => {
  await nats.stop();
});

test('concurrent updates of one key from one process: all applied in call order, no compare-and-set lost', async () => {
  const nc = await nats.connect();
  try {
    const kv = await new Kvm(nc).create('serial', { history: 1 });
    let conflicts = 0;
    const store = new LatticeStateStore(kv, await jetstreamManager(nc), 'serial', () => conflicts++);
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
    assert.equal(conflicts, 0, 'no update lost a compare-and-set to another of the same process');
    assert.deepEqual(order, Array.from({ length: 25 }, (_, i) => i), 'decided in call order, each once');
  } finally {
    await nc.close();
  }
});
