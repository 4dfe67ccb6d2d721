/**
 * The JetStream building blocks of wadm-ts against real nats-servers: ensureStream / ensureBucket
 * (create, reconcile num_replicas and listed fields, refusals are warnings, never delete), the transient
 * error classification with errors the client really throws, retryTransient, and ConsumerLoop surviving
 * a memory-storage restart and a deleted consumer.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { AckPolicy, jetstreamManager, StorageType, type JsMsg } from '@nats-io/jetstream';
import PQueue from 'p-queue';
import { capturingLogger } from './harness/replicas.js';
import {
  ConsumerLoop,
  JetStreamOperationError,
  RetryAbortedError,
  ensureBucket,
  ensureStream,
  isMissingResource,
  isTransientJetStreamError,
  jetStreamContext,
  retryTransient,
  type JetStreamContext,
} from '@wadm-ts/store';
import { startLocalNats, type LocalNats, type LocalNatsCluster } from '@wadm-ts/dev';
import { startNatsCluster, waitFor } from './harness/nats.js';


const conns: NatsConnection[] = [];
async function open(url: string | string[]): Promise<NatsConnection> {
  const nc = await connect({ servers: url, maxReconnectAttempts: -1, reconnectTimeWait: 100 });
  conns.push(nc);
  return nc;
}
after(async () => {
  for (const c of conns) if (!c.isClosed()) await c.close();
});

describe('ensureStream / ensureBucket on a single server', () => {
  let server: LocalNats;
  let nc: NatsConnection;
  before(async () => {
    server = await startLocalNats();
    nc = await open(server.url);
  });
  after(() => server.stop());

  test('--stream-replicas 3 on a non-clustered server: created with 1 replica (warning), never raised on an existing stream', async () => {
    const { logger, lines } = capturingLogger();
    const ctx = await jetStreamContext(nc, { replicas: 3 }, { logger });
    const r = await ensureStream(ctx, { name: 'single_r3', subjects: ['single.r3.>'] });
    assert.equal(r.created, true);
    assert.equal(r.replicas, 1);
    assert.match(r.refused['num_replicas'] ?? '', /non-clustered/);
    assert.ok(lines.some((l) => l['level'] === 40 && /not clustered/.test(String(l['msg']))), 'a warning was logged');
    await ctx.js.publish('single.r3.x', 'kept');
    // Again (an existing stream): 2.9 would accept raising num_replicas and then lose the stream on restart.
    const again = await ensureStream(ctx, { name: 'single_r3', subjects: ['single.r3.>'] });
    assert.equal(again.created, false);
    assert.equal((await ctx.jsm.streams.info('single_r3')).config.num_replicas, 1);
    assert.ok(lines.some((l) => /not raising num_replicas/.test(String(l['msg']))));
    const kv = await ensureBucket(ctx, 'single_bucket');
    await kv.put('k', 'v');
    assert.equal((await ctx.jsm.streams.info('KV_single_bucket')).config.num_replicas, 1);
    assert.equal((await ctx.jsm.streams.info('single_r3')).state.messages, 1, 'data kept');
  });

  test('listed fields are updated on an existing stream, unlisted ones are not; a refused update is a warning and keeps the data', async () => {
    const { logger, lines } = capturingLogger();
    const ctx = await jetStreamContext(nc, { replicas: 1 }, { logger });
    await ensureStream(ctx, { name: 'fields', subjects: ['fields.>'], max_msgs_per_subject: 5, max_age: 0 });
    for (let i = 0; i < 3; i++) await ctx.js.publish('fields.a', String(i));
    const r = await ensureStream(ctx, { name: 'fields', subjects: ['fields.>'], max_msgs_per_subject: 10, max_age: 3_600_000_000_000 }, { reconcile: ['max_msgs_per_subject'] });
    assert.deepEqual(r.updated, ['max_msgs_per_subject']);
    const info = await ctx.jsm.streams.info('fields');
    assert.equal(info.config.max_msgs_per_subject, 10);
    assert.equal(info.config.max_age, 0, 'max_age was not listed: unchanged');
    assert.equal(info.state.messages, 3, 'messages kept');
    // NATS refuses subjects that overlap another stream's: logged, not thrown, nothing deleted.
    const refused = await ensureStream(ctx, { name: 'fields', subjects: ['fields.>', 'single.r3.>'] }, { reconcile: ['subjects'] });
    assert.match(refused.refused['subjects'] ?? '', /overlap/, JSON.stringify(refused));
    assert.ok(lines.some((l) => l['level'] === 40 && /refused updating subjects/.test(String(l['msg']))), 'warning logged');
    assert.deepEqual((await ctx.jsm.streams.info('fields')).config.subjects, ['fields.>']);
    assert.equal((await ctx.jsm.streams.info('fields')).state.messages, 3, 'still there');
  });

  test('transient or not: errors the client really throws', async () => {
    // A request nobody answers in time.
    const sub = nc.subscribe('silent.service', { callback: () => undefined });
    const timeout = await nc.request('silent.service', '', { timeout: 100 }).catch((e: unknown) => e);
    sub.unsubscribe();
    assert.equal(isTransientJetStreamError(timeout), true, `timeout: ${String(timeout)}`);
    const noResponders = await nc.request('nobody.home', '', { timeout: 1000 }).catch((e: unknown) => e);
    assert.equal(isTransientJetStreamError(noResponders), true, `no responders: ${String(noResponders)}`);
    // A JetStream API nobody answers (a domain that does not exist: what a starting server looks like).
    const noJs = await jetstreamManager(nc, { domain: 'nowhere', timeout: 1000 }).catch((e: unknown) => e);
    assert.equal(isTransientJetStreamError(noJs), true, `no JetStream API: ${String(noJs)}`);
    const jsm = await jetstreamManager(nc);
    const missing = await jsm.streams.info('no_such_stream').catch((e: unknown) => e);
    assert.equal(isTransientJetStreamError(missing), false);
    assert.equal(isMissingResource(missing), true);
    const missingConsumer = await jsm.consumers.info('fields', 'no_such_consumer').catch((e: unknown) => e);
    assert.equal(isMissingResource(missingConsumer), true);
    const conflict = await jsm.streams.add({ name: 'fields', subjects: ['other.>'] }).catch((e: unknown) => e);
    assert.equal(isTransientJetStreamError(conflict), false, `name in use: ${String(conflict)}`);
    const r3 = await jsm.streams.add({ name: 'r3_here', subjects: ['r3here.>'], num_replicas: 3 }).catch((e: unknown) => e);
    assert.equal(isTransientJetStreamError(r3), false, `replicas not supported: ${String(r3)}`);
    const closed = await open(server.url);
    await closed.close();
    const afterClose = await closed.request('x', '').catch((e: unknown) => e);
    assert.equal(isTransientJetStreamError(afterClose), false, 'a closed connection never comes back: not transient');
  });

  test('retryTransient: retries transient failures with backoff, fails fast on others, stops on abort', async () => {
    const { logger, lines } = capturingLogger();
    let n = 0;
    const v = await retryTransient(
      'flaky thing',
      async () => {
        if (++n < 3) await nc.request('nobody.home', '', { timeout: 500 });
        return 'done';
      },
      { logger, initialDelayMs: 5, maxDelayMs: 20 },
    );
    assert.equal(v, 'done');
    assert.equal(lines.filter((l) => l['msg'] === 'flaky thing failed transiently; retrying').length, 2);
    assert.equal(lines[0]?.['reason'], 'no responders');
    const jsm = await jetstreamManager(nc);
    await assert.rejects(
      retryTransient('reading a missing stream', () => jsm.streams.info('no_such_stream'), { logger }),
      (err: unknown) => err instanceof JetStreamOperationError && /reading a missing stream: stream not found/.test(err.message),
    );
    const ac = new AbortController();
    const p = retryTransient('never works', () => nc.request('nobody.home', ''), { logger, signal: ac.signal, initialDelayMs: 50 });
    ac.abort();
    await assert.rejects(p, RetryAbortedError);
  });
});

describe('ensureStream / ensureBucket on a 3-node cluster', () => {
  let cluster: LocalNatsCluster;
  let ctx1: JetStreamContext;
  let nc: NatsConnection;
  before(async () => {
    cluster = await startNatsCluster({ nodes: 3, waitForJetStream: true });
    nc = await open(cluster.urls);
  });
  after(() => cluster.stop());

  test('existing R1 streams and buckets are updated to --stream-replicas 3 with their data; 5 (more than servers) is a refusal', async () => {
    const { logger, lines } = capturingLogger();
    ctx1 = await retryTransient('ctx', () => jetStreamContext(nc, { replicas: 1 }, { logger }), { logger });
    await retryTransient('r1 stream', () => ensureStream(ctx1, { name: 'grow', subjects: ['grow.>'] }), { logger });
    const kv1 = await retryTransient('r1 bucket', () => ensureBucket(ctx1, 'grow_bucket'), { logger });
    await ctx1.js.publish('grow.a', 'x');
    await kv1.put('k', 'v');
    assert.equal((await ctx1.jsm.streams.info('grow')).config.num_replicas, 1);

    const ctx3 = await jetStreamContext(nc, { replicas: 3 }, { logger });
    const r = await retryTransient('r3 stream', () => ensureStream(ctx3, { name: 'grow', subjects: ['grow.>'] }), { logger });
    assert.deepEqual([r.created, r.updated, r.replicas], [false, ['num_replicas'], 3]);
    const kv3 = await retryTransient('r3 bucket', () => ensureBucket(ctx3, 'grow_bucket'), { logger });
    await waitFor(async () => (await ctx3.jsm.streams.info('KV_grow_bucket')).config.num_replicas === 3, 10_000, 'bucket R3');
    assert.equal((await kv3.get('k'))?.string(), 'v', 'bucket data kept');
    assert.equal((await ctx3.jsm.streams.info('grow')).state.messages, 1, 'stream data kept');

    const ctx5 = await jetStreamContext(nc, { replicas: 5 }, { logger });
    const r5 = await retryTransient('r5 stream', () => ensureStream(ctx5, { name: 'grow', subjects: ['grow.>'] }), { logger });
    assert.match(r5.refused['num_replicas'] ?? '', /no suitable peers/);
    assert.equal((await ctx5.jsm.streams.info('grow')).config.num_replicas, 3, 'unchanged');
    assert.ok(lines.some((l) => l['level'] === 40 && /refused updating num_replicas/.test(String(l['msg']))));
  });
});

describe('ConsumerLoop', () => {
  test('a memory-storage restart and a deleted consumer: re-created through ensure(), every message handled', async () => {
    const server = await startLocalNats();
    try {
      const { logger, lines } = capturingLogger();
      const nc = await open(server.url);
      const ctx = await jetStreamContext(nc, { persistence: 'memory' }, { logger });
      let ensures = 0;
      const ensure = async (): Promise<void> => {
        ensures++;
        await ensureStream(ctx, { name: 'loop_s', subjects: ['loop.>'], storage: StorageType.Memory });
        await ctx.jsm.consumers.add('loop_s', { durable_name: 'loop_c', ack_policy: AckPolicy.Explicit, ack_wait: 2_000_000_000 }).catch((e: unknown) => {
          if (!/already/.test(String(e))) throw e;
        });
      };
      await ensure();
      const seen = new Set<string>();
      const loop = new ConsumerLoop({
        nc,
        js: ctx.js,
        stream: 'loop_s',
        consumer: 'loop_c',
        logger,
        ensure,
        handle: async (m: JsMsg) => {
          seen.add(m.string());
          m.ack();
        },
        queue: new PQueue({ concurrency: 4 }),
        maxMessages: 16,
        expiresMs: 2000,
      });
      await loop.start();
      const publish = (body: string): Promise<unknown> => retryTransient('publish', () => ctx.js.publish('loop.x', body), { logger, initialDelayMs: 50, maxDelayMs: 500, retryIf: isMissingResource });
      for (let i = 0; i < 5; i++) await publish(`a${i}`);
      await waitFor(() => seen.size === 5, 10_000, 'first 5 handled');

      await server.restart(); // memory storage: the stream and the consumer are gone
      // Published as soon as the stream is back (the loop's ensure() re-creates it).
      await waitFor(async () => (await ctx.jsm.streams.info('loop_s').then(() => true, () => false)), 20_000, 'stream re-created');
      for (let i = 0; i < 5; i++) await publish(`b${i}`);
      await waitFor(() => ['b0', 'b1', 'b2', 'b3', 'b4'].every((b) => seen.has(b)), 20_000, 'messages after the restart handled');
      const sessionsAfterRestart = loop.sessions;
      assert.ok(sessionsAfterRestart >= 2, `consuming again after the restart (sessions ${sessionsAfterRestart})`);
      assert.ok(ensures >= 2, 'ensure() re-created the stream and consumer');

      await ctx.jsm.consumers.delete('loop_s', 'loop_c');
      await waitFor(async () => (await ctx.jsm.consumers.info('loop_s', 'loop_c').then(() => true, () => false)), 20_000, 'consumer re-created');
      for (let i = 0; i < 5; i++) await publish(`c${i}`);
      await waitFor(() => ['c0', 'c1', 'c2', 'c3', 'c4'].every((c) => seen.has(c)), 20_000, 'messages after the deletion handled');
      const reasons = lines.filter((l) => l['msg'] === 'consumer session ended; restarting').map((l) => String(l['reason']));
      process.stderr.write(`# consumer-loop: ${loop.sessions} sessions, ${ensures} ensures; restarts: ${reasons.join(' | ')}\n`);
      await loop.stop();
      assert.equal(loop.consuming(), false);
    } finally {
      await server.stop();
    }
  });
});
