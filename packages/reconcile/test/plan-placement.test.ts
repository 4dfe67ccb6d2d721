import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { place, planLattice, type HostSlot, type PlacementRequest } from '../src/plan/index.js';
import type { Command, ObservedLattice } from '../src/types.js';
import { appHeader, component, HELLO } from './fixtures.js';
import { applyToObserved, componentState, deployed, host, observedWith } from './plan-sim.js';
import { convergeLattice, hostName, inflightOf, loadPerHost, manyApps, manyHosts } from './plan-scale.js';

const counts = (p: ReturnType<typeof place>) => Object.fromEntries([...p.assignments].map(([h, a]) => [h, `${a.spread}:${a.count}`]));
/** `app/component@host` → max_instances of every component. */
const placementOf = (o: ObservedLattice) => new Map(o.components.map((c) => [`${c.componentId}@${c.hostId}`, c.maxInstances]));

describe('place: load-aware', () => {
  const hosts = ['h1', 'h2', 'h3', 'h4'].map((id) => ({ id, labels: {} }));
  const base = (over: Partial<PlacementRequest>): PlacementRequest => ({
    mode: 'spread',
    perHostCap: Infinity,
    spreads: [{ name: 'default', requirements: {}, target: 2 }],
    hosts,
    slot: () => ({ kind: 'free' }),
    ...over,
  });
  const loads: Record<string, number> = { h1: 5, h2: 1, h3: 0, h4: 1 };

  it('new hosts are the least loaded; ties by the tie-break, then by id', () => {
    assert.deepEqual(counts(place(base({ load: (h) => loads[h]! }))), { h3: 'default:1', h2: 'default:1' });
    assert.deepEqual(counts(place(base({ load: (h) => loads[h]!, tiebreak: (h) => (h === 'h4' ? 0 : 1) }))), { h3: 'default:1', h4: 'default:1' });
    // The remainder goes to the least loaded.
    const two = hosts.slice(0, 2);
    assert.deepEqual(counts(place(base({ hosts: two, spreads: [{ name: 'default', requirements: {}, target: 3 }], load: (h) => (h === 'h2' ? 0 : 9) }))), { h2: 'default:2', h1: 'default:1' });
  });

  it('hosts running the spread stay chosen whatever their load; then hosts with it in flight', () => {
    const slot = (h: string): HostSlot => (h === 'h1' ? { kind: 'own', spread: 'default', count: 1 } : h === 'h4' ? { kind: 'free', pending: { spread: 'default', count: 1 } } : { kind: 'free' });
    assert.deepEqual(counts(place(base({ load: (h) => loads[h]!, slot }))), { h1: 'default:1', h4: 'default:1' });
    // In flight for another spread: a plain free host.
    const other = (h: string): HostSlot => (h === 'h4' ? { kind: 'free', pending: { spread: 'x', count: 1 } } : { kind: 'free' });
    assert.deepEqual(counts(place(base({ load: (h) => loads[h]!, slot: other }))), { h3: 'default:1', h2: 'default:1' });
  });

  it('with `marked`, unmarked hosts are free and a satisfied spread does not look further', () => {
    const asked: string[] = [];
    const slot = (h: string): HostSlot => {
      asked.push(h);
      return h === 'h2' || h === 'h4' ? { kind: 'own', spread: 'default', count: 1 } : { kind: 'free' };
    };
    const eligibleAsked: number[] = [];
    const p = place(base({ slot, marked: [hosts[1]!, hosts[3]!], load: (h) => loads[h]!, eligible: () => (eligibleAsked.push(1), hosts) }));
    assert.deepEqual(counts(p), { h2: 'default:1', h4: 'default:1' });
    assert.deepEqual(asked.sort(), ['h2', 'h4']);
    assert.deepEqual(p.outcomes[0], { spread: { name: 'default', requirements: {}, target: 2 }, eligible: 4, available: 4, hosts: 2, placed: 2 });
  });
});

describe('place: candidate order', () => {
  it('is (running here, in flight here, free, to be freed), then load, tie-break, id: as a full sort gives', () => {
    let seed = 7;
    const rand = (n: number) => ((seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) % n);
    for (let round = 0; round < 40; round++) {
      const hs = Array.from({ length: 30 + rand(40) }, (_, i) => ({ id: `h${String(i).padStart(2, '0')}`, labels: {} }));
      const slots = new Map<string, HostSlot>();
      const kinds: HostSlot[] = [
        { kind: 'free' },
        { kind: 'free' },
        { kind: 'free' },
        { kind: 'stale' },
        { kind: 'foreign' },
        { kind: 'own', spread: 'other', count: 1 },
        { kind: 'own', spread: 'default', count: 1 + rand(2) },
        { kind: 'free', pending: { spread: 'default', count: 1 + rand(2) } },
        { kind: 'free', pending: { spread: 'other', count: 1 } },
      ];
      for (const h of hs) slots.set(h.id, kinds[rand(kinds.length)]!);
      const loads = new Map(hs.map((h) => [h.id, rand(4)]));
      const ties = new Map(hs.map((h) => [h.id, rand(3)]));
      const target = 1 + rand(hs.length + 5);
      const slot = (h: string) => slots.get(h)!;
      const p = place({ mode: 'spread', perHostCap: Infinity, spreads: [{ name: 'default', requirements: {}, target }], hosts: hs, slot, load: (h) => loads.get(h)!, tiebreak: (h) => ties.get(h)! });
      const cls = (s: HostSlot) => (s.kind === 'own' && s.spread === 'default' ? 0 : s.kind === 'free' && s.pending?.spread === 'default' ? 1 : s.kind === 'free' ? 2 : 3);
      const count = (s: HostSlot) => (s.kind === 'own' ? s.count : s.kind === 'free' && s.pending ? s.pending.count : 0);
      const ranked = hs
        .filter((h) => slot(h.id).kind !== 'foreign')
        .sort((x, y) => {
          const sx = slot(x.id);
          const sy = slot(y.id);
          const c = cls(sx) - cls(sy);
          if (c !== 0) return c;
          if (cls(sx) < 2) return count(sy) - count(sx) || (x.id < y.id ? -1 : 1);
          return loads.get(x.id)! - loads.get(y.id)! || ties.get(x.id)! - ties.get(y.id)! || (x.id < y.id ? -1 : 1);
        })
        .slice(0, target);
      const want = ranked.map((h, i) => [h.id, Math.floor(target / ranked.length) + (i < target % ranked.length ? 1 : 0)]);
      assert.deepEqual([...p.assignments].map(([h, a]) => [h, a.count]), want, `round ${round}`);
    }
  });
});

describe('placement over the whole lattice (1,000 apps, spread of 2, 100 hosts)', () => {
  const apps = manyApps(1000);
  const empty = manyHosts(100);
  const { observed, rounds } = convergeLattice(apps, empty);

  it('converges with no host above twice the mean, and a second run places the same', () => {
    assert.equal(rounds, 1);
    assert.equal(observed.components.length, 2000);
    const load = loadPerHost(observed);
    const mean = 2000 / 100;
    const max = Math.max(...load.values());
    assert.ok(max <= 2 * mean, `busiest host runs ${max}, mean ${mean}`);
    assert.ok(Math.min(...load.values()) > 0, 'every host is used');
    // Each app on two distinct hosts, one instance each.
    const perApp = new Map<string, string[]>();
    for (const c of observed.components) perApp.set(c.componentId, [...(perApp.get(c.componentId) ?? []), c.hostId]);
    assert.equal(perApp.size, 1000);
    for (const hs of perApp.values()) assert.equal(new Set(hs).size, 2);
    assert.ok(observed.components.every((c) => c.maxInstances === 1));
    const again = convergeLattice(apps, empty);
    assert.deepEqual(placementOf(again.observed), placementOf(observed));
  });

  it('a converged lattice stays put: planning again issues nothing', () => {
    assert.deepEqual(planLattice({ lattice: 'default', now: 5_000_000, apps, applied: [], observed, inflight: [] }).commands, []);
  });

  it('stopping one host re-places only the instances that were on it, over many hosts', () => {
    const stopped = hostName(42);
    const lost = observed.components.filter((c) => c.hostId === stopped);
    assert.ok(lost.length > 0);
    const after: ObservedLattice = { ...observed, hosts: observed.hosts.filter((h) => h.id !== stopped), components: observed.components.filter((c) => c.hostId !== stopped) };
    const p = planLattice({ lattice: 'default', now: 5_000_000, apps, applied: [], observed: after, inflight: [] });
    // One placement per lost instance, nothing removed or re-scaled elsewhere.
    assert.equal(p.commands.length, lost.length);
    const placed = p.commands.filter((c): c is Extract<Command, { kind: 'ScaleComponent' }> => c.kind === 'ScaleComponent' && c.count === 1);
    assert.equal(placed.length, lost.length);
    assert.deepEqual(placed.map((c) => c.component_id).sort(), lost.map((c) => c.componentId).sort());
    const survivors = placementOf(after);
    const { observed: healed } = convergeLattice(apps, after);
    const final = placementOf(healed);
    for (const [k, n] of survivors) assert.equal(final.get(k), n, `${k} moved`);
    assert.equal(healed.components.length, 2000);
    // The lost instances went to several hosts, each app still on two distinct hosts.
    assert.ok(new Set(placed.map((c) => c.host_id)).size >= Math.min(lost.length, 10));
    for (const c of placed) assert.ok(!after.components.some((x) => x.componentId === c.component_id && x.hostId === c.host_id));
    const load = loadPerHost(healed);
    assert.ok(Math.max(...load.values()) <= 2 * (2000 / 99));
  });
});

describe('placement counts every instance and what the pass has already placed', () => {
  const app = (name: string, instances: number) => deployed(appHeader(name) + component('c', HELLO, instances) + '\n');
  const hosts = [host('h1'), host('h2'), host('h3')];
  const placements = (cmds: readonly Command[], model: string) =>
    cmds.flatMap((c) => (c.kind === 'ScaleComponent' && c.model_name === model && c.count > 0 ? [c.host_id] : []));

  it('avoids hosts loaded by unmanaged instances and by earlier apps of the same pass', () => {
    const busy = componentState('h1', 'someone-else', HELLO, 50, {});
    const p = planLattice({ lattice: 'l', now: 0, apps: [app('a', 1), app('b', 1), app('c', 1)], applied: [], observed: observedWith(hosts, { components: [busy] }), inflight: [] });
    const used = ['a', 'b', 'c'].map((m) => placements(p.commands, m));
    assert.ok(used.every((u) => u.length === 1 && u[0] !== 'h1'), JSON.stringify(used));
    // a and b take h2 and h3; c, with both at 1 and h1 at 50, takes one of them.
    assert.deepEqual([used[0]![0], used[1]![0]].sort(), ['h2', 'h3']);
  });

  it('a placement in flight is chosen again even when observing part of the deploy changes the loads', () => {
    const apps = manyApps(50);
    const lattice = manyHosts(10);
    const now = 100;
    const first = planLattice({ lattice: 'l', now, apps, applied: [], observed: lattice, inflight: [] });
    assert.equal(first.commands.length, 100);
    const inflight = inflightOf(first.commands, now);
    // Half of the commands have landed; the others are still under way.
    const observed = applyToObserved(lattice, first.commands.filter((_, i) => i % 2 === 0));
    const next = planLattice({ lattice: 'l', now: now + 10, apps, applied: [], observed, inflight });
    assert.deepEqual(next.commands, []);
    // Once the in-flight entries expired, the remaining placements are decided afresh (and stay 100 instances).
    const late = planLattice({ lattice: 'l', now: now + 120_000, apps, applied: [], observed, inflight });
    assert.equal(late.commands.length, 50);
  });
});
