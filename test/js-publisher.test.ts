/**
 * JsPublisher and withLeanWrites (packages/store/src/js-publisher.ts): JetStream publishes and KV writes
 * acknowledged on one subscription answer exactly what the client's own `js.publish` and KV writes
 * answer — acks, lost compare-and-sets (err_code 10071), duplicates, no responders, timeouts, a closed
 * connection — so every classifier in the store (isCasConflict, isTransientJetStreamError) still applies.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import { Kvm } from '@nats-io/kv';
import { isCasConflict, isTransientJetStreamError, JsPublisher, withLeanWrites, jetStreamContext, ensureBucket } from '@wadm-ts/store';
import { startNats, type TestNats } from './harness/nats.js';

let nats: TestNats;
before(async () => {
  nats = await startNats();
});
after(async () => {
  await nats.stop();
});

test('publishes are acknowledged like js.publish: sequence, duplicates, expectations, no responders', async () => {
  const nc = await nats.connect();
  try {
    const jsm = await jetstreamManager(nc);
    await jsm.streams.add({ name: 'PUBS', subjects: ['pubs.>'] });
    const p = new JsPublisher(nc);
    const acks = await Promise.all(Array.from({ length: 50 }, (_, i) => p.publish(`pubs.${i % 5}`, `m${i}`)));
    assert.deepEqual(acks.map((a) => a.seq).sort((a, b) => a - b), Array.from({ length: 50 }, (_, i) => i + 1));
    assert.ok(acks.every((a) => a.stream === 'PUBS' && a.duplicate === false));
    const first = await p.publish('pubs.id', 'x', { msgID: 'one' });
    const again = await p.publish('pubs.id', 'x', { msgID: 'one' });
    assert.deepEqual([again.seq, again.duplicate], [first.seq, true], 'a message id seen in the duplicate window is a duplicate');
    // The same expectation js.publish would send: the subject's last sequence.
    const ok = await p.publish('pubs.id', 'y', { expectLastSubjectSequence: first.seq });
    assert.equal(ok.seq, first.seq + 1);
    const lost = await p.publish('pubs.id', 'z', { expectLastSubjectSequence: first.seq }).then(
      () => undefined,
      (e: unknown) => e,
    );
    assert.ok(isCasConflict(lost), `a stale expectation is a lost compare-and-set: ${String(lost)}`);
    const js = jetstream(nc);
    const viaClient = await js.publish('pubs.id', 'w', { expect: { lastSubjectSequence: first.seq } }).then(
      () => undefined,
      (e: unknown) => e,
    );
    assert.equal((lost as Error).name, (viaClient as Error).name, 'the same error class as the client');
    const nobody = await p.publish('nostream.here', 'x').then(
      () => undefined,
      (e: unknown) => e,
    );
    assert.ok(nobody instanceof Error && /no responders/i.test(nobody.message) && isTransientJetStreamError(nobody), `no stream: no responders (${String(nobody)})`);
    assert.equal(p.inFlight, 0);
  } finally {
    await nc.close();
  }
});

test('an unanswered publish times out, and a closed connection fails what is pending', async () => {
  const nc = await nats.connect();
  // A responder that never answers stands in for a stream that does not acknowledge.
  nc.subscribe('silent.>', { callback: () => undefined });
  await nc.flush();
  const p = new JsPublisher(nc, 300);
  const timedOut = await p.publish('silent.a', 'x').then(
    () => undefined,
    (e: unknown) => e,
  );
  assert.ok(timedOut instanceof Error && timedOut.name === 'TimeoutError' && isTransientJetStreamError(timedOut), String(timedOut));
  const pending = new JsPublisher(nc, 60_000).publish('silent.b', 'x');
  const settled = pending.then(
    () => 'resolved',
    (e: Error) => e.name,
  );
  await nc.close();
  assert.equal(await settled, 'ClosedConnectionError');
});

test('a bucket with lean writes stores, updates and creates exactly as the client does', async () => {
  const nc = await nats.connect();
  try {
    const ctx = await jetStreamContext(nc);
    const kv = await ensureBucket(ctx, 'lean');
    assert.equal(withLeanWrites(kv, ctx.publisher!), true, 'ensureBucket already made its writes lean (idempotent)');
    const plain = await new Kvm(nc).open('lean');
    const r1 = await kv.put('lat._.l.host.h1', '{"a":1}');
    const r2 = await kv.update('lat._.l.host.h1', '{"a":2}', r1);
    assert.equal(r2, r1 + 1);
    assert.equal((await plain.get('lat._.l.host.h1'))!.string(), '{"a":2}', 'read back by the unpatched client');
    const stale = await kv.update('lat._.l.host.h1', '{"a":3}', r1).then(
      () => undefined,
      (e: unknown) => e,
    );
    assert.ok(isCasConflict(stale), 'a stale revision loses');
    const created = await kv.create('lat._.l.host.h2', 'new');
    assert.ok(created > r2);
    assert.ok(isCasConflict(await kv.create('lat._.l.host.h2', 'again').then(() => undefined, (e: unknown) => e)), 'create of an existing key loses');
    await plain.delete('lat._.l.host.h2');
    const recreated = await kv.create('lat._.l.host.h2', 'back');
    assert.equal((await plain.get('lat._.l.host.h2'))!.revision, recreated, 'create over a delete marker, as the client does');
    await assert.rejects(kv.put('bad key with spaces', 'x'), /invalid key/i, 'keys are still validated');
  } finally {
    await nc.close();
  }
});
