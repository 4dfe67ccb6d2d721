/**
 * Large-lattice fixtures shared by the placement tests and the planner speed script: many one-component
 * apps over many plain hosts, and a convergence driver that applies plans straight to the observed state.
 */
import { planLattice } from '../src/plan/index.js';
import type { Command, DeployedApp, InFlight, ObservedLattice, PlanOutput } from '../src/types.js';
import { commandKey } from '../src/plan/index.js';
import { appHeader, capability, component, httpLink } from './fixtures.js';
import { applyToObserved, deployed, host, observedWith } from './plan-sim.js';

export const appName = (i: number): string => `app-${String(i).padStart(4, '0')}`;
export const hostName = (i: number): string => `host-${String(i).padStart(3, '0')}`;

/** `n` apps, each one component `c` with its own image and a spreadscaler of `instances`. */
export function manyApps(n: number, instances = 2): DeployedApp[] {
  return Array.from({ length: n }, (_, i) => deployed(appHeader(appName(i)) + component('c', `ghcr.io/example/c${i}:0.1.0`, instances) + '\n'));
}

/** `n` apps, each a component (spread of 2) and a provider (spread of 1) linked to it with a managed source config. */
export function mixedApps(n: number): DeployedApp[] {
  return Array.from({ length: n }, (_, i) =>
    deployed(appHeader(appName(i)) + component('c', `ghcr.io/example/c${i}:0.1.0`, 2) + capability('p', `ghcr.io/example/p${i}:0.1.0`, 1, '', httpLink('c', { config: 'addr', address: `0.0.0.0:${8000 + i}` })) + '\n'),
  );
}

export function manyHosts(n: number): ObservedLattice {
  return observedWith(Array.from({ length: n }, (_, i) => host(hostName(i))));
}

/** In-flight entries for `commands`, issued at `now`. */
export function inflightOf(commands: readonly Command[], now: number, ttl = 60_000): InFlight[] {
  return commands.map((command) => ({ key: commandKey(command), command, issuedAt: now, expiresAt: now + ttl }));
}

/** Plan → apply the commands to the observed state → plan again, until a plan has no commands. */
export function convergeLattice(apps: DeployedApp[], observed: ObservedLattice, maxRounds = 10): { observed: ObservedLattice; final: PlanOutput; rounds: number } {
  let applied: PlanOutput['applied'] = [];
  let o = observed;
  for (let rounds = 0; rounds <= maxRounds; rounds++) {
    const p = planLattice({ lattice: 'default', now: 1_000_000 + rounds * 1000, apps, applied, observed: o, inflight: [] });
    if (p.commands.length === 0) return { observed: o, final: p, rounds };
    o = applyToObserved(o, p.commands);
    applied = p.applied;
  }
  throw new Error(`no convergence within ${maxRounds} rounds`);
}

/** Σ max_instances of components per host (every host of the lattice listed, 0 when empty). */
export function loadPerHost(o: ObservedLattice): Map<string, number> {
  const load = new Map<string, number>(o.hosts.map((h) => [h.id, 0]));
  for (const c of o.components) load.set(c.hostId, (load.get(c.hostId) ?? 0) + c.maxInstances);
  for (const p of o.providers) load.set(p.hostId, (load.get(p.hostId) ?? 0) + 1);
  return load;
}
