/**
 * The client patches (packages/store/src/nats-patches.ts) change nothing a caller can see: replies,
 * timeouts, no-responders and requests cut short by a closing connection behave as before, and with
 * writes coalesced per event-loop turn every message still arrives, in order, including large ones and
 * those published just before a drain.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import type { NatsConnection } from '@nats-io/transport-node';
import { natsRequestPatched, natsWritesCoalesced } from '@wadm-ts/store';
import { startNats, type TestNats } from './harness/nats.js';

let nats: TestNats;
let nc: NatsConnection;

before(async () => {
  nats = await startNats();
  nc = await nats.connect();
});

after(async () => {
  await nats?.stop();
});

test('requests behave as before with the patch in place', async () => {
  assert.equal(natsRequestPatched, true, 'the installed client has the request class the patch expects');
  nc.subscribe('echo', { callback: (_e, m) => void m.respond(m.data) });
  nc.subscribe('slow', { callback: () => undefined });
  const replies = await Promise.all(Array.from({ length: 200 }, (_, i) => nc.request('echo', `m${i}`, { timeout: 2000 })));
  assert.deepEqual(replies.map((r) => r.string()), Array.from({ length: 200 }, (_, i) => `m${i}`));
  await assert.rejects(nc.request('slow', 'x', { timeout: 100 }), (e: Error) => /timeout/i.test(e.name + e.message), 'a request without a reply times out');
  await assert.rejects(nc.request('nobody.here', 'x', { timeout: 1000 }), (e: Error) => /no responders|503/i.test(`${e.message} ${(e as { cause?: Error }).cause?.message ?? ''} ${e.name}`), 'no responders');
  // A request still pending when the connection closes is rejected, not left hanging.
  const other = await nats.connect();
  const pending = other.request('slow', 'x', { timeout: 30_000 });
  const settled = pending.then(() => 'resolved', () => 'rejected');
  await other.close();
  assert.equal(await settled, 'rejected');
});

test('coalesced writes: messages from many promise chains arrive in order, large ones too, and a drain sends what was published', async () => {
  assert.equal(natsWritesCoalesced, true, 'the installed client has the protocol handler the patch expects');
  const sender = await nats.connect();
  const got: string[] = [];
  const done = new Promise<void>((resolve) => {
    nc.subscribe('order', {
      callback: (_e, m) => {
        got.push(m.string());
        if (got.length === 1002) resolve();
      },
    });
  });
  await nc.flush();
  // Interleaved async chains, as a busy replica publishes.
  await Promise.all(
    Array.from({ length: 10 }, async (_, chain) => {
      for (let i = 0; i < 100; i++) {
        await Promise.resolve();
        sender.publish('order', `${chain}:${i}`);
      }
    }),
  );
  const big = 'x'.repeat(2 * 1024 * 1024);
  sender.publish('order', big);
  sender.publish('order', 'last');
  await sender.drain();
  await done;
  for (let chain = 0; chain < 10; chain++) {
    const mine = got.filter((g) => g.startsWith(`${chain}:`)).map((g) => Number(g.split(':')[1]));
    assert.deepEqual(mine, Array.from({ length: 100 }, (_, i) => i), `chain ${chain} in order`);
  }
  assert.equal(got[1000]!.length, big.length);
  assert.equal(got[1001], 'last');
});
