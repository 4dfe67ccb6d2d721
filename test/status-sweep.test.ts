/**
 * A new owner learns the published statuses of a lattice before its first pass (StatusPublisher.preload):
 * a lattice of many apps in one sweep (a short-lived consumer, removed after it), a lattice of a few apps
 * by reading each status (no consumer). Either way an unchanged status is not published again, and a
 * changed one is published on the sequence it read.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { ensureApiStreams, jetStreamContext } from '@wadm-ts/store';
import { StatusPublisher } from '@wadm-ts/reconcile';
import type { Status } from '@wadm-ts/model';
import { startNats, type TestNats } from './harness/nats.js';

let nats: TestNats;
before(async () => {
  nats = await startNats();
});
after(async () => {
  await nats.stop();
});

const status = (type: 'deployed' | 'reconciling', i: number): Status => ({ status: { type, message: `app ${i}` }, version: '', components: [] });

test('a new owner knows every published status, by one sweep for many apps and by direct reads for a few', async () => {
  const nc = await nats.connect();
  try {
    const ctx = await jetStreamContext(nc);
    await ensureApiStreams(ctx);
    const many = Array.from({ length: 40 }, (_, i) => `m${i}`);
    const few = ['f0', 'f1', 'f2'];
    const first = { big: new StatusPublisher(ctx, { lattice: 'big' }, 1, true), small: new StatusPublisher(ctx, { lattice: 'small' }, 1, true) };
    for (const [i, n] of many.entries()) assert.equal(await first.big.publish(n, status('deployed', i)), true);
    for (const [i, n] of few.entries()) assert.equal(await first.small.publish(n, status('deployed', i)), true);

    const next = { big: new StatusPublisher(ctx, { lattice: 'big' }, 2, true), small: new StatusPublisher(ctx, { lattice: 'small' }, 2, true) };
    await next.big.preload([...many, 'not-yet']);
    await next.small.preload([...few, 'not-yet']);
    for (const [i, n] of many.entries()) assert.equal(next.big.unchanged(n, status('deployed', i)), true, `big ${n} known`);
    for (const [i, n] of few.entries()) assert.equal(next.small.unchanged(n, status('deployed', i)), true, `small ${n} known`);
    assert.equal(next.small.unchanged('not-yet', status('deployed', 9)), false);
    // No consumer outlives the sweeps.
    const consumers: string[] = [];
    for await (const c of ctx.jsm.consumers.list('wadm_status')) consumers.push(c.name);
    assert.deepEqual(consumers, []);
    // Unchanged: nothing published; changed: published on the sequence read (the compare-and-set holds).
    assert.equal(await next.small.publish('f1', status('deployed', 1)), false);
    assert.equal(await next.small.publish('f1', status('reconciling', 1)), true);
    assert.equal(await next.big.publish('m7', status('reconciling', 7)), true);
    assert.equal(await next.small.publish('not-yet', status('reconciling', 9)), true);
    // The old owner's stale view of f1 loses its compare-and-set: it re-reads, sees the newer epoch and stops.
    await assert.rejects(first.small.publish('f1', status('deployed', 5)), /epoch/);
  } finally {
    await nc.close();
  }
});
