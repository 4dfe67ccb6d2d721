/** The planner over an in-memory key-value map: order, redelivery and concurrency do not matter. */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { LatticeEvent } from '@wadm-ts/protocol';
import { stateKeys, type StoredValue } from '@wadm-ts/store';
import { planEvent, semanticallyChanged, sweepDecision, type Op } from '../src/plan.js';

const L = { lattice: 'l1' };
const H = 'NHOST';

/** Apply ops to a Map the way applyOps does against KV. */
function run(kv: Map<string, StoredValue>, ops: Op[]): boolean {
  let changed = false;
  for (const op of ops) {
    const keys = op.kind === 'update' ? [op.key] : [...kv.keys()].filter((k) => matches(k, op.filter) && !op.keep.has(k));
    for (const k of keys) {
      const d = op.kind === 'update' ? op.decide(kv.get(k)) : sweepDecision(kv.get(k), op.seq, op.timeMs);
      if ('write' in d) {
        if (semanticallyChanged(kv.get(k), d.write)) changed = true;
        kv.set(k, d.write);
      }
    }
  }
  return changed;
}

function matches(key: string, filter: string): boolean {
  const re = new RegExp(`^${filter.replace(/\./g, '\\.').replace(/\*/g, '[^.]+').replace(/>/g, '.+')}$`);
  return re.test(key);
}

function live(kv: Map<string, StoredValue>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of [...kv.entries()].sort()) {
    if (v.kind === 'lattice' || v.kind === 'inflight' || v.kind === 'applied' || v.deleted) continue;
    // Bookkeeping sequences are left out: what they guard is compared.
    out[k] = JSON.parse(JSON.stringify(v, (key, val: unknown) => (['seq', 'lastSeen', 'deletedAt', 'labelsSeq', 'healthSeq', 'startSeq'].includes(key) ? undefined : val)));
  }
  return out;
}

const scaled = (id: string, n: number, ann: Record<string, string> = {}): LatticeEvent => ({
  type: 'component_scaled',
  hostId: H,
  componentId: id,
  imageRef: `img/${id}`,
  maxInstances: n,
  annotations: ann,
});
const hb = (comps: Array<[string, number]>): LatticeEvent => ({
  type: 'host_heartbeat',
  hostId: H,
  friendlyName: 'f',
  labels: { a: 'b' },
  version: '1.9.2',
  uptimeSeconds: 1,
  components: comps.map(([id, n]) => ({ id, imageRef: `img/${id}`, maxInstances: n, annotations: {} })),
  providers: [],
});

function applyAll(events: Array<[LatticeEvent, number]>): Map<string, StoredValue> {
  const kv = new Map<string, StoredValue>();
  for (const [ev, seq] of events) run(kv, planEvent(ev, { lattice: L, seq, timeMs: seq * 1000 }));
  return kv;
}

const history: Array<[LatticeEvent, number]> = [
  [{ type: 'host_started', hostId: H, friendlyName: 'f', labels: { a: 'b' }, version: '1.9.2' }, 1],
  [scaled('c1', 2), 2],
  [scaled('c2', 1), 3],
  [{ type: 'provider_started', hostId: H, providerId: 'p1', imageRef: 'img/p1', annotations: {} }, 4],
  [{ type: 'health_check_passed', hostId: H, providerId: 'p1' }, 5],
  [scaled('c1', 0), 6],
  [{ type: 'config_set', configName: 'cfg' }, 7],
  [
    {
      type: 'linkdef_set',
      link: { source_id: 'c2', target: 'p1', name: 'default', wit_namespace: 'wasi', wit_package: 'http', interfaces: ['outgoing-handler'], source_config: [], target_config: [] },
    },
    8,
  ],
  [{ type: 'labels_changed', hostId: H, labels: { a: 'c' } }, 9],
  [{ type: 'config_deleted', configName: 'cfg' }, 10],
  [scaled('c3', 4, { x: 'y' }), 11],
  [{ type: 'health_check_failed', hostId: H, providerId: 'p1' }, 12],
  [
    {
      type: 'host_heartbeat',
      hostId: H,
      friendlyName: 'f',
      labels: { a: 'd' },
      version: '1.9.2',
      uptimeSeconds: 13,
      components: [
        { id: 'c2', imageRef: 'img/c2', maxInstances: 1, annotations: {} },
        { id: 'c3', imageRef: 'img/c3', maxInstances: 4, annotations: { x: 'y' } },
      ],
      providers: [{ id: 'p1', imageRef: 'img/p1', annotations: {} }],
    },
    13,
  ],
  [{ type: 'labels_changed', hostId: H, labels: { a: 'e' } }, 14],
];

describe('planEvent', () => {
  test('applying in order gives the expected state', () => {
    const state = live(applyAll(history));
    assert.deepEqual(Object.keys(state), [
      stateKeys.component(L, H, 'c2'),
      stateKeys.component(L, H, 'c3'),
      stateKeys.host(L, H),
      stateKeys.link(L, 'c2', 'wasi', 'http', 'default'),
      stateKeys.provider(L, H, 'p1'),
    ].sort());
    assert.deepEqual((state[stateKeys.host(L, H)] as { labels: unknown }).labels, { a: 'e' });
    // The heartbeat after the failed health check keeps it (health has its own order).
    assert.equal((state[stateKeys.provider(L, H, 'p1')] as { health: string }).health, 'unhealthy');
    assert.equal((state[stateKeys.component(L, H, 'c3')] as { maxInstances: number }).maxInstances, 4);
  });

  test('any order gives the same state (seq guards every key)', () => {
    const expected = live(applyAll(history));
    let seed = 42;
    const rand = (): number => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
    for (let i = 0; i < 200; i++) {
      // Every event commutes, labels and health included (they carry their own order).
      const shuffled = [...history].sort(() => rand() - 0.5);
      assert.deepEqual(live(applyAll(shuffled)), expected, `order ${shuffled.map(([, s]) => s).join(',')}`);
    }
  });

  test('redelivery is a no-op', () => {
    const kv = applyAll(history);
    const before = JSON.stringify([...kv.entries()]);
    for (const [ev, seq] of history) assert.equal(run(kv, planEvent(ev, { lattice: L, seq, timeMs: seq * 1000 })), false);
    assert.equal(JSON.stringify([...kv.entries()]), before);
  });

  test('an older event never overwrites newer state; a tombstone blocks resurrection', () => {
    const kv = applyAll([
      [scaled('c1', 0), 10],
      [scaled('c1', 3), 9],
    ]);
    assert.deepEqual(live(kv), {});
  });

  test('a heartbeat is a full snapshot of its host, but newer per-entity events win', () => {
    const kv = applyAll([
      [scaled('old', 1), 1],
      [scaled('newer', 2), 5],
      [hb([['hbonly', 3]]), 4],
    ]);
    const state = live(kv);
    assert.ok(!(stateKeys.component(L, H, 'old') in state), 'swept: not in the heartbeat and older');
    assert.ok(stateKeys.component(L, H, 'newer') in state, 'kept: newer than the heartbeat');
    assert.ok(stateKeys.component(L, H, 'hbonly') in state);
  });

  test('host_stopped removes the host and everything it ran', () => {
    const kv = applyAll([...history, [{ type: 'host_stopped', hostId: H, labels: {} }, 15]]);
    const state = live(kv);
    assert.deepEqual(Object.keys(state), [stateKeys.link(L, 'c2', 'wasi', 'http', 'default')]);
  });

  test('changes are reported only when reconciler-relevant state changed', () => {
    const kv = applyAll([[hb([['a', 1]]), 1]]);
    assert.equal(run(kv, planEvent(hb([['a', 1]]), { lattice: L, seq: 2, timeMs: 2000 })), false, 'identical heartbeat');
    assert.equal(run(kv, planEvent(hb([['a', 2]]), { lattice: L, seq: 3, timeMs: 3000 })), true, 'count changed');
    assert.equal(run(kv, planEvent({ type: 'health_check_status', hostId: H, providerId: 'x' }, { lattice: L, seq: 4, timeMs: 4000 })), false);
  });

  test('failures are recorded for backoff', () => {
    const kv = applyAll([
      [{ type: 'component_scale_failed', hostId: H, componentId: 'c', imageRef: 'i', maxInstances: 1, annotations: {}, error: 'boom' }, 1],
      [{ type: 'provider_start_failed', hostId: H, providerId: 'p', providerRef: 'r', error: 'nope' }, 2],
    ]);
    const fails = [...kv.values()].filter((v) => v.kind === 'failure');
    assert.deepEqual(fails.map((f) => (f as { error: string }).error).sort(), ['boom', 'nope']);
  });
});
