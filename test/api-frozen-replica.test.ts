/**
 * A frozen replica (SIGSTOP: its connection stays open, it does no work) must not swallow API requests.
 * In a queue group it would keep its share of them, unanswered, for as long as it is frozen. Here every
 * replica receives every request and one live replica answers it: once the frozen replica's presence is
 * no longer live (WADM_TAKEOVER_MS), every request is answered at the first attempt, exactly once. After
 * SIGCONT the resumed replica does not answer the requests it held while frozen (the others did), and
 * takes its share again.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createInbox, type Msg } from '@nats-io/transport-node';
import { withFleet } from './harness/procs.js';
import { eventually } from './harness/cluster.js';
import type { ReplicaProc } from './harness/procs.js';
import { appManifest } from './harness/runtime.js';

const TAKEOVER_MS = 1500;
const LATTICE = 'frozenapi';
const fx = withFleet({ args: ['--stream-persistence', 'memory', '--takeover-ms', String(TAKEOVER_MS), '--resync-interval-ms', '1000'] });

/** API requests of `operation` a replica answered (its /metrics: `wadm_api_requests_total`, every result). */
async function answered(r: ReplicaProc, operation: string): Promise<number> {
  const text = await (await fetch(`${r.adminUrl()}/metrics`)).text();
  let n = 0;
  for (const m of text.matchAll(/^wadm_api_requests_total\{([^}]*)\} (\S+)$/gm)) if (m[1]!.includes(`operation="${operation}"`)) n += Number(m[2]);
  return n;
}

/** Send `n` requests at once on `subject`, each with its own inbox; count the replies per request within `waitMs`. */
async function burst(subject: (i: number) => string, body: (i: number) => string, n: number, waitMs: number): Promise<Array<Array<Record<string, unknown>>>> {
  const nc = fx.nc;
  const replies: Array<Array<Record<string, unknown>>> = Array.from({ length: n }, () => []);
  const prefix = createInbox();
  const sub = nc.subscribe(`${prefix}.*`, {
    callback: (_e, m: Msg) => {
      const i = Number(m.subject.slice(prefix.length + 1));
      replies[i]!.push(m.json<Record<string, unknown>>());
    },
  });
  await nc.flush();
  for (let i = 0; i < n; i++) nc.publish(subject(i), body(i), { reply: `${prefix}.${i}` });
  await nc.flush();
  // Every request answered (or the wait is over); then a little longer, to see any second answer.
  const deadline = Date.now() + waitMs;
  while (Date.now() < deadline && replies.some((r) => r.length === 0)) await new Promise((r) => setTimeout(r, 20));
  const quiet = Date.now() + 300;
  while (Date.now() < quiet) await new Promise((r) => setTimeout(r, 20));
  sub.unsubscribe();
  return replies;
}

test('a SIGSTOPped replica swallows no API request once its presence lapsed; answers come exactly once, before and after SIGCONT', async () => {
  const reps = ['fz-a', 'fz-b', 'fz-c'].map((id) => fx.fleet.spawn(id));
  await fx.fleet.ready(reps);
  const api = (op: string, name?: string): string => ['wadm.api', LATTICE, 'model', op, ...(name ? [name] : [])].join('.');
  const N = 30;

  // Once the three see each other's presence (a replica whose first renewal is not confirmed yet answers
  // nothing meanwhile), each answers a share, and each request is answered once.
  await eventually('each replica answers a share of the requests, each request once', async () => {
    const start = await Promise.all(reps.map((r) => answered(r, 'get')));
    const got = await burst(() => api('get', 'nosuch'), () => '', N, 5_000);
    assert.deepEqual(got.map((r) => r.length), Array(N).fill(1), 'every get answered exactly once');
    const now = await Promise.all(reps.map((r) => answered(r, 'get')));
    assert.ok(now.every((n, i) => n > start[i]!), `each replica answered some: ${now.map((n, i) => n - start[i]!).join(', ')}`);
  }, 20_000);
  const before = await burst(() => api('put'), (i) => appManifest({ name: `pre${i}`, version: 'v1', image: `reg/pre${i}:1`, instances: 1 }), N, 10_000);
  assert.deepEqual(before.map((r) => r.length), Array(N).fill(1), 'every put answered exactly once');
  assert.ok(before.every((r) => r[0]!['result'] === 'created'), JSON.stringify(before.map((r) => r[0])));
  const shares = await Promise.all(reps.map((r) => answered(r, 'put')));

  const victim = reps[0]!;
  fx.fleet.sigstop(victim);
  try {
    // Its presence lapses within WADM_TAKEOVER_MS; from then on the other two answer everything at once.
    await new Promise((r) => setTimeout(r, TAKEOVER_MS + 500));
    for (let round = 0; round < 3; round++) {
      const got = await burst(() => api('put'), (i) => appManifest({ name: `frozen${round}x${i}`, version: 'v1', image: `reg/f${round}x${i}:1`, instances: 1 }), N, 5_000);
      assert.deepEqual(got.map((r) => r.length), Array(N).fill(1), `round ${round}: every put answered exactly once while a replica is frozen`);
      assert.ok(got.every((r) => r[0]!['result'] === 'created'), JSON.stringify(got.map((r) => r[0])));
    }
    const reads = await burst((i) => api('get', `frozen0x${i}`), () => '', N, 5_000);
    assert.deepEqual(reads.map((r) => r.length), Array(N).fill(1), 'every get answered exactly once');
    assert.ok(reads.every((r) => r[0]!['result'] === 'success'), JSON.stringify(reads.map((r) => r[0])));
  } finally {
    fx.fleet.sigcont(victim);
  }

  // Resumed: what it held was answered by the others (it answers none of it), and it gets a share again.
  await eventually('the resumed replica answers its share again', async () => {
    const mine = await answered(victim, 'get');
    const got = await burst((i) => api('get', `pre${i}`), () => '', N, 5_000);
    assert.deepEqual(got.map((r) => r.length), Array(N).fill(1), 'every get answered exactly once after SIGCONT');
    assert.ok((await answered(victim, 'get')) > mine, 'the resumed replica answered some');
  }, 20_000);
  // It answered none of the 3 × 30 puts (and 30 gets) sent while it was frozen: every one was answered once, by the others.
  const putsByVictim = await answered(victim, 'put');
  assert.equal(putsByVictim, shares[0], 'the resumed replica answered no put it held while frozen');
});
