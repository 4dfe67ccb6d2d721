import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { computeSpread, distribute, place, type HostSlot, type PlacementRequest, type SpreadTarget } from '../src/plan/index.js';

const sp = (name: string, weight?: number, requirements: Record<string, string> = {}) => (weight === undefined ? { name, requirements } : { name, requirements, weight });
const targets = (instances: number, ...weights: number[]) => computeSpread({ instances, spread: weights.map((w, i) => sp(`s${i}`, w)) }).map((s) => s.target);

describe('computeSpread (wadm-behaviour §5.1)', () => {
  it('matches the documented examples (sorted by weight, floor, remainder in that order)', () => {
    assert.deepEqual(targets(7, 40, 30), [4, 3]);
    assert.deepEqual(targets(7, 100, 100), [4, 3]);
    assert.deepEqual(targets(103, 42, 3, 37, 384), [85, 10, 8, 0]);
    assert.deepEqual(targets(5, 40, 40, 20), [2, 2, 1]);
    assert.deepEqual(targets(5, 40, 40), [3, 2]);
    assert.deepEqual(targets(103, 42, 3, 37), [53, 47, 3]);
    assert.deepEqual(targets(10, 30, 40).reduce((a, b) => a + b), 10);
  });
  it('sorts by weight descending, equal weights keep manifest order; default weight is 100', () => {
    const r = computeSpread({ instances: 5, spread: [sp('a', 20), sp('b', 40), sp('c', 40), sp('d')] });
    assert.deepEqual(r.map((s) => s.name), ['d', 'b', 'c', 'a']);
    assert.equal(r.reduce((n, s) => n + s.target, 0), 5);
  });
  it('no spreads: one default spread with every instance and no requirements', () => {
    assert.deepEqual(computeSpread({ instances: 12 }), [{ name: 'default', requirements: {}, target: 12 }]);
  });
});

describe('distribute', () => {
  it('balances with the exact total and caps per host', () => {
    assert.deepEqual(distribute(5, 2, Infinity), [3, 2]);
    assert.deepEqual(distribute(3, 5, Infinity), [1, 1, 1, 0, 0]);
    assert.deepEqual(distribute(9001, 5, Infinity), [1801, 1800, 1800, 1800, 1800]);
    assert.deepEqual(distribute(3, 3, 1), [1, 1, 1]);
    assert.deepEqual(distribute(4, 0, Infinity), []);
  });
});

const hosts = (...ids: Array<[string, Record<string, string>]>) => ids.map(([id, labels]) => ({ id, labels }));
const free = (): HostSlot => ({ kind: 'free' });
const counts = (p: ReturnType<typeof place>) => Object.fromEntries([...p.assignments].map(([h, a]) => [h, `${a.spread}:${a.count}`]));

describe('place', () => {
  const base = (over: Partial<PlacementRequest>): PlacementRequest => ({
    mode: 'spread',
    perHostCap: Infinity,
    spreads: [{ name: 'default', requirements: {}, target: 4 }],
    hosts: hosts(['h1', {}], ['h2', {}], ['h3', {}]),
    slot: free,
    ...over,
  });

  it('spreads one spread over its eligible hosts, balanced, sorted by id, exact total', () => {
    assert.deepEqual(counts(place(base({}))), { h1: 'default:2', h2: 'default:1', h3: 'default:1' });
    assert.deepEqual(counts(place(base({ spreads: [{ name: 'default', requirements: {}, target: 2 }] }))), { h1: 'default:1', h2: 'default:1' });
  });

  it('prefers hosts that already run the spread (a converged placement is kept; a new host does not move instances)', () => {
    const slot = (h: string): HostSlot => (h === 'h3' ? { kind: 'own', spread: 'default', count: 1 } : h === 'h2' ? { kind: 'own', spread: 'default', count: 1 } : { kind: 'free' });
    assert.deepEqual(counts(place(base({ spreads: [{ name: 'default', requirements: {}, target: 2 }], slot }))), { h2: 'default:1', h3: 'default:1' });
    // The host with more instances keeps the larger share.
    const slot2 = (h: string): HostSlot => (h === 'h3' ? { kind: 'own', spread: 'default', count: 2 } : { kind: 'own', spread: 'default', count: 1 });
    assert.deepEqual(counts(place(base({ spreads: [{ name: 'default', requirements: {}, target: 5 }], slot: slot2 }))), { h3: 'default:2', h1: 'default:2', h2: 'default:1' });
  });

  it('never uses a foreign host; a stale host is used after free ones', () => {
    const slot = (h: string): HostSlot => (h === 'h1' ? { kind: 'foreign' } : h === 'h2' ? { kind: 'stale' } : { kind: 'free' });
    const p = place(base({ slot }));
    assert.deepEqual(counts(p), { h3: 'default:2', h2: 'default:2' });
    assert.equal(p.outcomes[0]!.available, 2);
  });

  it('keeps requirement-matching hosts only; several spreads never share a host', () => {
    const hs = hosts(['e1', { region: 'east' }], ['e2', { region: 'east' }], ['w1', { region: 'west' }], ['m1', { region: 'moon' }]);
    const spreads = computeSpread({
      instances: 5,
      spread: [sp('east', 40, { region: 'east' }), sp('west', 40, { region: 'west' }), sp('moon', 20, { region: 'moon' })],
    });
    assert.deepEqual(counts(place(base({ hosts: hs, spreads }))), { e1: 'east:1', e2: 'east:1', w1: 'west:2', m1: 'moon:1' });
    // Overlapping spreads: the constrained one gets its host first.
    const overlap: SpreadTarget[] = [
      { name: 'any', requirements: {}, target: 3 },
      { name: 'moon', requirements: { region: 'moon' }, target: 1 },
    ];
    assert.deepEqual(counts(place(base({ hosts: hs, spreads: overlap }))), { m1: 'moon:1', e1: 'any:1', e2: 'any:1', w1: 'any:1' });
  });

  it('reports an unsatisfiable spread (no eligible host)', () => {
    const p = place(base({ spreads: [{ name: 'moon', requirements: { region: 'moon' }, target: 1 }] }));
    assert.equal(p.assignments.size, 0);
    assert.deepEqual({ placed: p.outcomes[0]!.placed, hosts: p.outcomes[0]!.hosts, eligible: p.outcomes[0]!.eligible }, { placed: 0, hosts: 0, eligible: 0 });
  });

  it('providers: one per host, a shortfall when fewer hosts than instances', () => {
    const p = place(base({ perHostCap: 1, spreads: [{ name: 'default', requirements: {}, target: 5 }] }));
    assert.deepEqual(counts(p), { h1: 'default:1', h2: 'default:1', h3: 'default:1' });
    assert.equal(p.outcomes[0]!.placed, 3);
  });

  it('daemon: every eligible non-foreign host, each host in one spread (its current one preferred)', () => {
    const hs = hosts(['a', { zone: 'x' }], ['b', { zone: 'x', gpu: 'yes' }], ['c', {}], ['d', { zone: 'x' }]);
    const slot = (h: string): HostSlot => (h === 'b' ? { kind: 'own', spread: 'gpu', count: 3 } : h === 'd' ? { kind: 'foreign' } : { kind: 'free' });
    const p = place({
      mode: 'daemon',
      perHostCap: Infinity,
      spreads: [
        { name: 'zone', requirements: { zone: 'x' }, target: 3 },
        { name: 'gpu', requirements: { gpu: 'yes' }, target: 3 },
      ],
      hosts: hs,
      slot,
    });
    assert.deepEqual(counts(p), { a: 'zone:3', b: 'gpu:3' });
  });
});
