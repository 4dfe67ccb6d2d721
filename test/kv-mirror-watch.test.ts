/**
 * KvMirror watches a bucket through the client's ordered push consumer with a callback
 * (packages/store/src/kv-mirror.ts, watchBucket), not through `kv.watch`'s entry queue: values, markers,
 * and the initial values all come through it.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { jetstreamManager, type JetStreamManager } from '@nats-io/jetstream';
import { Kvm, type KV } from '@nats-io/kv';
import { createLogger } from '@wadm-ts/obs';
import { KvMirror, removeKey } from '@wadm-ts/store';
import { startNats, waitFor, type TestNats } from './harness/nats.js';
import { silent } from './harness/replicas.js';

/** A mirror of `kv` holding its values as text. */
const textMirror = (name: string, kv: KV, jsm: JetStreamManager, extra: { livenessMs?: number } = {}): KvMirror<string> =>
  new KvMirror<string>({ name, open: async () => kv, jsm, logger: createLogger({ replica: 'test', level: 'silent', destination: silent }), decode: (_k, d) => new TextDecoder().decode(d), ...extra });

let nats: TestNats;
before(async () => {
  nats = await startNats();
});
after(async () => {
  await nats.stop();
});

test('the mirror follows a bucket without kv.watch: initial values, updates, removals', async () => {
  const nc = await nats.connect();
  try {
    const jsm = await jetstreamManager(nc);
    const kv = await new Kvm(nc).create('direct', { history: 1 });
    await kv.put('a', '1');
    await kv.put('b', '1');
    const rb = await kv.put('b', '2');
    kv.watch = () => Promise.reject(new Error('kv.watch is not used'));
    const mirror = textMirror('direct', kv, jsm);
    await mirror.start();
    assert.equal(mirror.ready, true);
    assert.deepEqual([mirror.get('a')?.value, mirror.get('b')?.value], ['1', '2'], 'initial values (the last of each key)');
    const rc = await kv.put('c', '3');
    await removeKey(kv, 'b', rb);
    await waitFor(() => mirror.get('c')?.revision === rc && mirror.get('b') === undefined, 10_000, 'an update and a removal');
    assert.ok(mirror.revisionOf('b') > rb, 'the removal is remembered at its revision');
    await mirror.stop();
  } finally {
    await nc.close();
  }
});

test('a view whose watch consumer is deleted on the server notices it and reopens the watch', async () => {
  const nc = await nats.connect();
  try {
    const jsm = await jetstreamManager(nc);
    const kv = await new Kvm(nc).create('gone', { history: 1 });
    await kv.put('a', '1');
    const mirror = textMirror('gone', kv, jsm, { livenessMs: 500 });
    await mirror.start();
    const names: string[] = [];
    for await (const c of jsm.consumers.list('KV_gone')) names.push(c.name);
    assert.equal(names.length, 1, 'one watch consumer');
    for (const n of names) await jsm.consumers.delete('KV_gone', n);
    await kv.put('b', '2');
    await kv.delete('a');
    // Without the liveness check the view never sees these (the client does not recreate a deleted consumer).
    await waitFor(() => mirror.get('b')?.value === '2' && mirror.get('a') === undefined, 20_000, 'the writes after the consumer was deleted');
    const now: string[] = [];
    for await (const c of jsm.consumers.list('KV_gone')) now.push(c.name);
    assert.equal(now.length, 1, 'one watch consumer again');
    assert.notEqual(now[0], names[0], 'a new one');
    await mirror.stop();
  } finally {
    await nc.close();
  }
});
