/**
 * The scaler memo (plan/scaler-memo.ts) only saves work: a sequence of passes planned with one memo
 * gives exactly what planning each pass afresh gives, through deploys, partial landings, in-flight
 * entries, upgrades, undeploys, hosts coming and going, label changes, foreign instances, and instances
 * that stop or change count on their own.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { seededRandom } from '@wadm-ts/dev';
import { planLattice, ScalerMemo } from '../src/plan/index.js';
import type { DeployedApp, InFlight, ObservedLattice, PlanInput, PlanOutput } from '../src/types.js';
import { appHeader, capability, component, httpLink } from './fixtures.js';
import { applyToObserved, componentState, deployed, host } from './plan-sim.js';
import { inflightOf } from './plan-scale.js';

const rng = seededRandom;

const spreadApp = (name: string, image: string): DeployedApp =>
  deployed(`${appHeader(name)}
    - name: c
      type: component
      properties: { image: ${image} }
      traits:
        - type: spreadscaler
          properties:
            instances: 3
            spread:
              - name: east
                weight: 50
                requirements: { region: east }
              - name: west
                weight: 50
                requirements: { region: west }
`);

const daemonApp = (name: string): DeployedApp =>
  deployed(`${appHeader(name)}
    - name: d
      type: component
      properties: { image: ghcr.io/example/${name}:0.1.0 }
      traits:
        - type: daemonscaler
          properties: { instances: 1, spread: [{ name: east, requirements: { region: east } }] }
`);

const simpleApp = (i: number, image = `ghcr.io/example/s${i}:0.1.0`, version = 'v1'): DeployedApp =>
  deployed(appHeader(`s-${i}`) + component('c', image, 2) + '\n', version);

const mixedApp = (i: number): DeployedApp =>
  deployed(appHeader(`m-${i}`) + component('c', `ghcr.io/example/m${i}:0.1.0`, 2) + capability('p', `ghcr.io/example/p${i}:0.1.0`, 1, '', httpLink('c', { config: `addr${i}`, address: `0.0.0.0:${9000 + i}` })) + '\n');

function same(a: PlanOutput, b: PlanOutput, step: number): void {
  assert.deepEqual(a.commands, b.commands, `step ${step}: commands`);
  assert.deepEqual(a.statuses, b.statuses, `step ${step}: statuses`);
  assert.deepEqual(a.applied, b.applied, `step ${step}: applied records`);
  assert.deepEqual(a.drift, b.drift, `step ${step}: drift`);
}

for (const seed of [1, 2, 3, 4, 5]) {
  test(`planning with a memo equals planning afresh, over 60 evolving passes (seed ${seed})`, () => {
    const random = rng(seed);
    let hosts = Array.from({ length: 8 }, (_, i) => host(`h${i}`, { region: i % 2 === 0 ? 'east' : 'west' }));
    let apps: DeployedApp[] = [
      ...Array.from({ length: 12 }, (_, i) => simpleApp(i)),
      spreadApp('spread-a', 'ghcr.io/example/sa:0.1.0'),
      daemonApp('daemon-a'),
      mixedApp(0),
      mixedApp(1),
    ];
    let observed: ObservedLattice = { hosts, components: [], providers: [], links: [], configs: [], failures: [] };
    let applied: PlanOutput['applied'] = [];
    let inflight: InFlight[] = [];
    const memo = new ScalerMemo();
    let reused = 0;
    let reusedInFlight = 0;
    let now = 1_000_000;
    for (let step = 0; step < 60; step++) {
      now += 1000;
      const input: PlanInput = { lattice: 'default', now, apps, applied, observed: { ...observed, hosts }, inflight: inflight.filter((f) => f.expiresAt > now) };
      const withMemo = planLattice({ ...input, memo });
      reused += memo.reused;
      reusedInFlight += memo.reusedInFlight;
      same(withMemo, planLattice(input), step);
      // The hosts do some of what was asked; the rest stays in flight for a while.
      const landed = withMemo.commands.filter(() => random() < 0.6);
      observed = applyToObserved({ ...observed, hosts }, landed);
      inflight = [...input.inflight, ...inflightOf(withMemo.commands, now, 3000)];
      applied = withMemo.applied;
      const r = random();
      if (r < 0.08 && hosts.length > 4) {
        hosts = hosts.filter((_, i) => i !== Math.floor(random() * hosts.length)); // a host goes
      } else if (r < 0.14) {
        const n = hosts.length + step;
        hosts = [...hosts, host(`h-new-${n}`, { region: random() < 0.5 ? 'east' : 'west' })]; // a host comes
      } else if (r < 0.2) {
        const i = Math.floor(random() * hosts.length);
        hosts = hosts.map((h, j) => (j === i ? { ...h, labels: { region: h.labels['region'] === 'east' ? 'west' : 'east' } } : h)); // labels change
      } else if (r < 0.26) {
        const i = Math.floor(random() * 12);
        apps = apps.map((a) => (a.name === `s-${i}` ? simpleApp(i, `ghcr.io/example/s${i}:0.${step + 2}.0`, `v${step + 2}`) : a)); // an upgrade
      } else if (r < 0.3) {
        apps = apps.filter((a) => a.name !== `s-${Math.floor(random() * 12)}`); // an undeploy
      } else if (r < 0.34) {
        // Someone else's instance of a managed component turns up (a foreign or stale instance).
        const target = hosts[Math.floor(random() * hosts.length)]!;
        observed = { ...observed, components: [...observed.components, componentState(target.id, `foreign-${step}`, 'ghcr.io/x/y:1', 1, {})] };
      } else if (r < 0.4 && observed.components.length > 0) {
        // A host lost an instance, or reports another count, without being asked (a crash, an operator).
        const i = Math.floor(random() * observed.components.length);
        observed = {
          ...observed,
          components: random() < 0.5 ? observed.components.filter((_, j) => j !== i) : observed.components.map((c, j) => (j === i ? { ...c, maxInstances: c.maxInstances + 1 } : c)),
        };
      } else if (r < 0.43) {
        // An app record rewritten without a new version (rollout history): equal manifests, new objects.
        apps = apps.map((a) => (random() < 0.5 ? structuredClone(a) : a));
      } else if (r < 0.46) {
        // Heartbeat-style rewrite: every value replaced by an equal copy (nothing can be reused, nothing differs).
        observed = { ...observed, components: observed.components.map((c) => ({ ...c })) };
      }
    }
    assert.ok(reused > 0, `the memo was used (${reused} evaluations reused)`);
    assert.ok(reusedInFlight > 0, `evaluations with placements in flight were reused (${reusedInFlight})`);
  });
}

/** `apps` planned on `hosts` fresh hosts until they run (the hosts do everything asked). */
function converged(apps: DeployedApp[], hosts: number): { observed: ObservedLattice; applied: PlanOutput['applied'] } {
  let observed: ObservedLattice = { hosts: Array.from({ length: hosts }, (_, i) => host(`h${i}`)), components: [], providers: [], links: [], configs: [], failures: [] };
  let applied: PlanOutput['applied'] = [];
  for (let i = 0; i < 5; i++) {
    const p = planLattice({ lattice: 'default', now: 1000 * i, apps, applied, observed, inflight: [] });
    observed = applyToObserved(observed, p.commands);
    applied = p.applied;
  }
  return { observed, applied };
}

test('a converged lattice whose app records are decoded again (equal manifests, new objects) reuses every scaler', () => {
  const apps = Array.from({ length: 20 }, (_, i) => simpleApp(i));
  const { observed, applied } = converged(apps, 6);
  const memo = new ScalerMemo();
  const base = { lattice: 'default', now: 10_000, applied, observed, inflight: [] };
  const first = planLattice({ ...base, apps, memo });
  assert.equal(first.commands.length, 0, 'converged');
  const again = planLattice({ ...base, apps: apps.map((a) => structuredClone(a)), memo });
  assert.equal(memo.reused, 20, 'every scaler reused after its record was decoded again');
  same(again, first, 0);
});

test('an app that did not change keeps its very status object from pass to pass; one that changed gets a new one', () => {
  const apps = Array.from({ length: 6 }, (_, i) => simpleApp(i));
  const { observed, applied } = converged(apps, 4);
  const memo = new ScalerMemo();
  const base = { lattice: 'default', applied, inflight: [], memo };
  planLattice({ ...base, now: 10_000, apps, observed }); // the memo learns the converged scalers
  const a = planLattice({ ...base, now: 11_000, apps, observed });
  const b = planLattice({ ...base, now: 12_000, apps, observed });
  for (const app of apps) assert.equal(b.statuses[app.name], a.statuses[app.name], `${app.name}: the same object`);
  assert.equal(a.statuses['s-0']?.status.type, 'deployed');
  // s-0 loses an instance: its status is built anew (and says so); the others stay the same objects.
  const lost = observed.components.find((c) => c.annotations['wasmcloud.dev/appspec'] === 's-0')!;
  const c = planLattice({ ...base, now: 13_000, apps, observed: { ...observed, components: observed.components.filter((x) => x !== lost) } });
  assert.notEqual(c.statuses['s-0'], b.statuses['s-0']);
  assert.equal(c.statuses['s-0']?.status.type, 'reconciling');
  for (const app of apps.slice(1)) assert.equal(c.statuses[app.name], b.statuses[app.name], `${app.name}: still the same object`);
  // Planned without a memo, every status is equal but new.
  const fresh = planLattice({ ...base, memo: undefined, now: 12_000, apps, observed });
  assert.deepEqual(fresh.statuses, b.statuses);
  assert.notEqual(fresh.statuses['s-1'], b.statuses['s-1']);
});

test('a deploy under way: scalers whose placements are all in flight are reused, and planned again once they expire or land', () => {
  const hosts = Array.from({ length: 6 }, (_, i) => host(`h${i}`));
  const apps = Array.from({ length: 20 }, (_, i) => simpleApp(i));
  const empty: ObservedLattice = { hosts, components: [], providers: [], links: [], configs: [], failures: [] };
  const memo = new ScalerMemo();
  const first = planLattice({ lattice: 'default', now: 1000, apps, applied: [], observed: empty, inflight: [], memo });
  assert.equal(first.commands.length, 40, 'two instances per app');
  const inflight = inflightOf(first.commands, 1000, 5000);
  const input = (now: number, observed: ObservedLattice, f: InFlight[]): PlanInput => ({ lattice: 'default', now, apps, applied: first.applied, observed, inflight: f.filter((x) => x.expiresAt > now) });
  // Nothing landed, everything in flight: planned once more (the first pass had nothing in flight), then
  // every scaler's evaluation is reused, and nothing is sent again.
  const second = planLattice({ ...input(2000, empty, inflight), memo });
  assert.equal(memo.reusedInFlight, 0);
  assert.equal(second.commands.length, 0);
  same(second, planLattice(input(2000, empty, inflight)), 2);
  const third = planLattice({ ...input(3000, empty, inflight), memo });
  assert.equal(memo.reusedInFlight, 20, 'reused');
  assert.equal(third.commands.length, 0);
  same(third, planLattice(input(3000, empty, inflight)), 3);
  // Half landed: those apps are planned again (their instances changed), the others still reused.
  const half = applyToObserved(empty, first.commands.filter((c) => c.kind === 'ScaleComponent' && Number(/s_(\d+)/.exec(c.component_id)?.[1] ?? 0) % 2 === 0));
  const fourth = planLattice({ ...input(4000, half, inflight), memo });
  assert.equal(memo.reusedInFlight, 10);
  same(fourth, planLattice(input(4000, half, inflight)), 4);
  // The in-flight entries expire: what did not land is sent again, planned afresh.
  const late = planLattice({ ...input(7000, half, inflight), memo });
  assert.equal(memo.reusedInFlight, 0);
  assert.equal(late.commands.length, 20, 'the placements that never landed are sent again');
  same(late, planLattice(input(7000, half, inflight)), 5);
});
