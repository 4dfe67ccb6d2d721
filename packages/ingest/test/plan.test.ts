/** The planner over an in-memory key-value map: order, redelivery and concurrency do not matter. */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { cloudEvent, decodeLatticeEvent, type LatticeEvent, type LinkDef } from '@wadm-ts/protocol';
import { stateKeys, type StoredValue } from '@wadm-ts/store';
import { planConfigSnapshot, planEvent, planInventory, planLinkSnapshot, semanticallyChanged, sweepDecision, type Op } from '../src/plan.js';
import type { LinkEntity } from '@wadm-ts/entities';

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
      stateKeys.link(L, 'c2', 'wasi', 'http', 'default', 'p1'),
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
    assert.deepEqual(Object.keys(state), [stateKeys.link(L, 'c2', 'wasi', 'http', 'default', 'p1')]);
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

const kvLink = (target: string, interfaces: string[], name = 'default'): LinkDef => ({
  source_id: 'c',
  target,
  name,
  wit_namespace: 'wasi',
  wit_package: 'keyvalue',
  interfaces,
  source_config: [],
  target_config: [],
});
const set = (l: LinkDef): LatticeEvent => ({ type: 'linkdef_set', link: l });
const deleted = (removed?: LinkDef, name = 'default'): LatticeEvent => ({
  type: 'linkdef_deleted',
  sourceId: 'c',
  name,
  namespace: 'wasi',
  package: 'keyvalue',
  ...(removed ? { target: removed.target, interfaces: removed.interfaces } : {}),
});
const keyOf = (target: string, name = 'default'): string => stateKeys.link(L, 'c', 'wasi', 'keyvalue', name, target);
const LEGACY = stateKeys.legacyLink(L, 'c', 'wasi', 'keyvalue', 'default');
/** A state with the entry an older wadm-ts wrote under the target-less key. */
const withLegacy = (l: LinkDef, seq: number): Map<string, StoredValue> => new Map<string, StoredValue>([[LEGACY, { kind: 'link', link: l, seq } satisfies LinkEntity]]);
const linksOf = (kv: Map<string, StoredValue>): Record<string, string[]> =>
  Object.fromEntries(Object.entries(live(kv)).map(([k, v]) => [k, (v as LinkEntity).link.interfaces]));

describe('links keyed by their host identity (source, namespace, package, name, target)', () => {
  test('links that differ only in their target coexist; the same identity replaces', () => {
    const kv = applyAll([
      [set(kvLink('p1', ['atomics'])), 1],
      [set(kvLink('p2', ['store'])), 2],
      [set(kvLink('p1', ['atomics', 'batch'])), 3],
    ]);
    assert.deepEqual(linksOf(kv), { [keyOf('p1')]: ['atomics', 'batch'], [keyOf('p2')]: ['store'] });
  });

  test('linkdef_deleted with a target removes that link only, and an older put cannot bring it back', () => {
    const events: Array<[LatticeEvent, number]> = [
      [set(kvLink('p1', ['atomics'])), 1],
      [set(kvLink('p2', ['store'])), 2],
      [deleted(kvLink('p1', ['atomics'])), 4],
      [set(kvLink('p1', ['atomics'])), 3],
    ];
    assert.deepEqual(linksOf(applyAll(events)), { [keyOf('p2')]: ['store'] });
    assert.deepEqual(linksOf(applyAll([...events].reverse())), { [keyOf('p2')]: ['store'] }, 'any order');
  });

  test('linkdef_deleted without a target (nothing removed) retires every older entry of that name, nothing newer or else', () => {
    const kv = applyAll([
      [set(kvLink('p1', ['atomics'])), 1],
      [set(kvLink('p2', ['store'])), 2],
      [set(kvLink('p3', ['batch'])), 9],
      [set(kvLink('p4', ['store'], 'other')), 3],
    ]);
    assert.equal(run(kv, planEvent(deleted(), { lattice: L, seq: 5, timeMs: 5000 })), true);
    assert.deepEqual(linksOf(kv), { [keyOf('p3')]: ['batch'], [keyOf('p4', 'other')]: ['store'] });
    assert.equal(run(kv, planEvent(deleted(), { lattice: L, seq: 5, timeMs: 5000 })), false, 'redelivery is a no-op');
  });

  test('a put that fails is recorded under the link identity, target included', () => {
    const l = kvLink('p2', ['atomics']);
    const kv = applyAll([[{ type: 'linkdef_set_failed', link: l, error: 'link already exists with different target' }, 1]]);
    const f = [...kv.values()].find((v) => v.kind === 'failure');
    assert.equal(f?.kind === 'failure' ? f.subject : undefined, keyOf('p2'));
  });

  describe('entries an older wadm-ts kept without the target', () => {
    const legacy = kvLink('p1', ['atomics']);
    const step = (kv: Map<string, StoredValue>, ev: LatticeEvent, seq: number): Map<string, StoredValue> => {
      run(kv, planEvent(ev, { lattice: L, seq, timeMs: seq * 1000 }));
      return kv;
    };

    test('are read as the link they hold until an event shows them stale', () => {
      const kv = step(withLegacy(legacy, 1), set(kvLink('p2', ['store'])), 2);
      assert.deepEqual(linksOf(kv), { [LEGACY]: ['atomics'], [keyOf('p2')]: ['store'] }, 'another target, disjoint interfaces: both on the host');
      assert.deepEqual(linksOf(step(kv, deleted(kvLink('p2', ['store'])), 3)), { [LEGACY]: ['atomics'] }, 'the other link removed');
    });

    test('a put of the same target replaces it; of an overlapping other target supersedes it', () => {
      assert.deepEqual(linksOf(step(withLegacy(legacy, 1), set(kvLink('p1', ['atomics', 'store'])), 2)), { [keyOf('p1')]: ['atomics', 'store'] });
      assert.deepEqual(linksOf(step(withLegacy(legacy, 1), set(kvLink('p2', ['atomics'])), 2)), { [keyOf('p2')]: ['atomics'] });
    });

    test('a deletion of its target, or one that removed nothing, retires it; one of another target does not', () => {
      assert.deepEqual(linksOf(step(withLegacy(legacy, 1), deleted(kvLink('p1', ['atomics'])), 2)), {});
      assert.deepEqual(linksOf(step(withLegacy(legacy, 1), deleted(), 2)), {});
      assert.deepEqual(linksOf(step(withLegacy(legacy, 1), deleted(kvLink('p2', ['store'])), 2)), { [LEGACY]: ['atomics'] });
    });

    test('an event older than the entry leaves it, and lattices without legacy entries never get such keys', () => {
      assert.deepEqual(linksOf(step(withLegacy(legacy, 5), deleted(), 2)), { [LEGACY]: ['atomics'] });
      const kv = applyAll([
        [set(kvLink('p1', ['atomics'])), 1],
        [deleted(kvLink('p1', ['atomics'])), 2],
        [deleted(), 3],
      ]);
      assert.ok(!kv.has(LEGACY));
    });
  });

  test('linkdef_deleted decodes target and interfaces only when the host removed a link', () => {
    const data = { name: 'default', source_id: 'c', wit_namespace: 'wasi', wit_package: 'keyvalue' };
    const decode = (d: Record<string, unknown>) => decodeLatticeEvent(cloudEvent('NHOST', 'com.wasmcloud.lattice.linkdef_deleted', d));
    assert.deepEqual(decode(data), { ok: true, event: { type: 'linkdef_deleted', sourceId: 'c', name: 'default', namespace: 'wasi', package: 'keyvalue' } });
    assert.deepEqual(decode({ interfaces: ['atomics'], ...data, target: 'p1' }), {
      ok: true,
      event: { type: 'linkdef_deleted', sourceId: 'c', name: 'default', namespace: 'wasi', package: 'keyvalue', target: 'p1', interfaces: ['atomics'] },
    });
  });

  test('query answers merge as snapshots at a sequence: what matches is not written, newer events win, older lose', () => {
    const kv = applyAll([[hb([['a', 1], ['b', 2]]), 1]]);
    const inv = (comps: Array<[string, number]>) => hb(comps) as Extract<LatticeEvent, { type: 'host_heartbeat' }>;
    const writes = (ops: Op[]): number => {
      let n = 0;
      for (const op of ops) {
        const keys = op.kind === 'update' ? [op.key] : [...kv.keys()].filter((k) => matches(k, op.filter) && !op.keep.has(k));
        for (const k of keys) if ('write' in (op.kind === 'update' ? op.decide(kv.get(k)) : sweepDecision(kv.get(k), op.seq, op.timeMs))) n++;
      }
      return n;
    };
    assert.equal(writes(planInventory(inv([['a', 1], ['b', 2]]), { lattice: L, seq: 5, timeMs: 5000 })), 0, 'an inventory equal to state writes nothing');
    // The answer (seq 5) says b is gone and a runs 3: applied; an older event (seq 4) then changes nothing.
    run(kv, planInventory(inv([['a', 3]]), { lattice: L, seq: 5, timeMs: 5000 }));
    assert.equal(run(kv, planEvent(scaled('a', 1), { lattice: L, seq: 4, timeMs: 4000 })), false, 'an event older than the answer loses');
    assert.deepEqual(Object.keys(live(kv)).sort(), [stateKeys.component(L, H, 'a'), stateKeys.host(L, H)].sort());
    assert.equal((live(kv)[stateKeys.component(L, H, 'a')] as { maxInstances: number }).maxInstances, 3);
    assert.equal(run(kv, planEvent(scaled('a', 2), { lattice: L, seq: 6, timeMs: 6000 })), true, 'a newer event wins');
    // Links and configs: the answer is the truth at its sequence.
    const link = { source_id: 's', target: 't', name: 'default', wit_namespace: 'wasi', wit_package: 'http', interfaces: ['incoming-handler'], source_config: [], target_config: [] };
    run(kv, planLinkSnapshot([link], { lattice: L, seq: 7, timeMs: 7000 }));
    assert.equal(writes(planLinkSnapshot([link], { lattice: L, seq: 8, timeMs: 8000 })), 0, 'the same links again write nothing');
    run(kv, planLinkSnapshot([], { lattice: L, seq: 9, timeMs: 9000 }));
    assert.equal(Object.keys(live(kv)).filter((k) => k.includes('.link.')).length, 0, 'a link the hosts no longer have is removed');
    run(kv, planConfigSnapshot('c', { k: 'v' }, { lattice: L, seq: 10, timeMs: 10_000 }));
    assert.equal(typeof (live(kv)[stateKeys.config(L, 'c')] as { digest?: string }).digest, 'string', 'a queried config keeps its values digest');
    run(kv, planConfigSnapshot('c', undefined, { lattice: L, seq: 11, timeMs: 11_000 }));
    assert.equal(live(kv)[stateKeys.config(L, 'c')], undefined, 'a config the hosts do not have is removed');
  });
});
