/**
 * Planner speed at scale, run by hand (not a test: it asserts nothing about wall-clock time):
 *
 *   npm run build && node packages/reconcile/dist/test/plan-speed.js [apps] [hosts]
 *
 * Prints the time of one `planLattice` pass for a converged lattice and a mid-deploy one (nothing
 * running yet, every command in flight), and of `settleInflight` over those entries.
 */
import { isSatisfied, planLattice } from '../src/plan/index.js';
import type { PlanInput } from '../src/types.js';
import { convergeLattice, inflightOf, manyApps, manyHosts } from './plan-scale.js';

const nApps = Number(process.argv[2] ?? 1000);
const nHosts = Number(process.argv[3] ?? 100);

function time(label: string, runs: number, f: () => unknown): void {
  for (let i = 0; i < 2; i++) f(); // warm-up
  const ms: number[] = [];
  for (let i = 0; i < runs; i++) {
    const t0 = process.hrtime.bigint();
    f();
    ms.push(Number(process.hrtime.bigint() - t0) / 1e6);
  }
  ms.sort((a, b) => a - b);
  const median = ms[Math.floor(ms.length / 2)]!;
  console.log(`${label.padEnd(44)} median ${median.toFixed(1).padStart(8)} ms   min ${ms[0]!.toFixed(1).padStart(8)} ms   max ${ms.at(-1)!.toFixed(1).padStart(8)} ms   (${runs} runs)`);
}

const apps = manyApps(nApps);
const empty = manyHosts(nHosts);
const t0 = Date.now();
const { observed, final } = convergeLattice(apps, empty);
console.log(`set-up: ${nApps} apps x ${nHosts} hosts, ${observed.components.length} running components, converged in ${Date.now() - t0} ms`);

const now = 2_000_000;
const converged: PlanInput = { lattice: 'default', now, apps, applied: final.applied, observed, inflight: [] };
time('converged pass', 15, () => planLattice(converged));

const first = planLattice({ ...converged, observed: empty });
const midDeploy: PlanInput = { ...converged, observed: empty, inflight: inflightOf(first.commands, now) };
console.log(`mid-deploy: ${midDeploy.inflight.length} in-flight entries, ${planLattice(midDeploy).commands.length} commands left to issue`);
time('mid-deploy pass (all in flight)', 15, () => planLattice(midDeploy));
time('first pass (nothing running, nothing in flight)', 15, () => planLattice({ ...converged, observed: empty }));

// Dropping settled in-flight entries one isSatisfied (a linear scan of the lattice) per entry.
time(`isSatisfied per entry (${midDeploy.inflight.length} entries, converged)`, 15, () => midDeploy.inflight.filter((f) => isSatisfied(f.command, observed)));
