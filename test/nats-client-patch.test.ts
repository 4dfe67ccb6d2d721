/**
 * The request patch (packages/store/src/nats-patches.ts) changes nothing a caller can see: replies,
 * timeouts, no-responders and requests cut short by a closing connection behave as before.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import type { NatsConnection } from '@nats-io/transport-node';
import { natsRequestPatched } from '@wadm-ts/store';
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
