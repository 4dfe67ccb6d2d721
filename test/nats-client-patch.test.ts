/**
 * The NATS client patches (packages/store/src/nats-patches.ts) change nothing a caller can see: replies,
 * timeouts, no-responders and requests cut short by a closing connection behave as before.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import type { NatsConnection } from '@nats-io/transport-node';
import { coalesceSocketWrites, natsRequestPatched } from '@wadm-ts/store';
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

test('a connection that coalesces its socket writes behaves as before, with fewer writes', async () => {
  const plain = await nats.connect();
  const coalesced = await nats.connect();
  try {
    assert.equal(coalesceSocketWrites(coalesced), true, 'the installed client has the protocol handler the patch expects');
    assert.equal(coalesceSocketWrites({}), false, 'anything else is left alone');
    nc.subscribe('echo.coalesce', { callback: (_e, m) => void m.respond(m.data) });
    await nc.flush();
    // Socket writes counted on each connection's own socket.
    const writesOf = (c: NatsConnection): (() => number) => {
      const socket = (c as unknown as { protocol: { transport: { socket: { write: (...a: unknown[]) => boolean } } } }).protocol.transport.socket;
      let writes = 0;
      const write = socket.write.bind(socket);
      socket.write = (...a: unknown[]) => {
        writes++;
        return write(...a);
      };
      return () => writes;
    };
    const counts = [writesOf(plain), writesOf(coalesced)];
    for (const [i, c] of [plain, coalesced].entries()) {
      // 200 requests issued from 200 callbacks of one turn (each its own microtask run), as a busy replica does.
      const replies = await new Promise<string[]>((resolve, reject) => {
        const pending: Promise<string>[] = [];
        for (let k = 0; k < 200; k++) setImmediate(() => pending.push(c.request('echo.coalesce', `m${k}`, { timeout: 5000 }).then((r) => r.string())));
        setImmediate(() => void Promise.all(pending).then(resolve, reject));
      });
      assert.deepEqual(replies, Array.from({ length: 200 }, (_, k) => `m${k}`), `connection ${i}: every reply, in order`);
    }
    const [p, q] = counts.map((f) => f());
    assert.ok(q! < p! / 4, `coalesced: ${q} socket writes for 200 requests, against ${p} without`);
    // Past the client's 32 KiB threshold a buffer is written at once; flush() still round-trips.
    const big = new Uint8Array(40 * 1024);
    const r = await coalesced.request('echo.coalesce', big, { timeout: 5000 });
    assert.equal(r.data.length, big.length);
    await coalesced.flush();
  } finally {
    await plain.close();
    await coalesced.close();
  }
});
