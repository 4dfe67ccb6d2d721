/**
 * Planner speed at scale, run by hand (not a test: it asserts nothing about wall-clock time):
 *
 *   npm run build && node packages/reconcile/dist/test/plan-speed.js [apps] [hosts]
 *
 * Prints the time of one `planLattice` pass for a converged lattice and mid-deploy ones (every command
 * in flight, none or half of them landed), and of settling those in-flight entries. Machines shared
 * with other work are noisy: compare the minimums (CPU time counts this process only, GC threads included).
 */
import { earliestRequeue, isSatisfied, planLattice, ScalerMemo, settleInflight } from '../src/plan/index.js';
import { reconcile, type ReconcileInput } from '../src/plan/reconcile.js';
import type { PlanInput } from '../src/types.js';
import { applyToObserved } from './plan-sim.js';
import { convergeLattice, inflightOf, manyApps, manyHosts, mixedApps } from './plan-scale.js';

const nApps = Number(process.argv[2] ?? 1000);
const nHosts = Number(process.argv[3] ?? 100);
const RUNS = 25;

function time(label: string, runs: number, f: () => unknown): void {
  for (let i = 0; i < 2; i++) f(); // warm-up
  const wall: number[] = [];
  const cpu: number[] = [];
  for (let i = 0; i < runs; i++) {
    const c0 = process.cpuUsage();
    const t0 = process.hrtime.bigint();
    f();
    wall.push(Number(process.hrtime.bigint() - t0) / 1e6);
    const c = process.cpuUsage(c0);
    cpu.push((c.user + c.system) / 1e3);
  }
  const stats = (xs: number[]): string => {
    const s = [...xs].sort((a, b) => a - b);
    return `min ${s[0]!.toFixed(1).padStart(7)}  median ${s[Math.floor(s.length / 2)]!.toFixed(1).padStart(7)}`;
  };
  console.log(`${label.padEnd(50)} wall ms: ${stats(wall)}   cpu ms: ${stats(cpu)}   (${runs} runs)`);
}

const apps = manyApps(nApps);
const empty = manyHosts(nHosts);
const t0 = Date.now();
const { observed, final } = convergeLattice(apps, empty);
console.log(`set-up: ${nApps} apps x ${nHosts} hosts, ${observed.components.length} running components, converged in ${Date.now() - t0} ms`);

const now = 2_000_000;
const converged: PlanInput = { lattice: 'default', now, apps, applied: final.applied, observed, inflight: [] };
time('converged pass', RUNS, () => planLattice(converged));
// The owner keeps a memo across its passes (plan/scaler-memo.ts): converged scalers are not evaluated again.
const memo = new ScalerMemo();
time('converged pass, with the owner\'s scaler memo', RUNS, () => planLattice({ ...converged, memo }));

// The whole pass function (plan/reconcile.ts) as the owner runs it at rest: stored apps, records, statuses, rollouts.
const stored: ReconcileInput['stored'] = apps.map((a, i) => ({ name: a.name, deployedVersion: a.version, versions: [{ version: a.version, manifest: a.manifest }], released: false, revision: i + 1 }));
const applied: ReconcileInput['applied'] = final.applied.map((record, i) => ({ key: `applied.${record.app}`, revision: i + 1, value: { kind: 'applied', record, epoch: 1 } }));
const passMemo = new ScalerMemo();
time('reconcile() at rest, with the owner\'s scaler memo', RUNS, () => reconcile({ lattice: 'default', now, stored, gone: [], observed, inflight: [], applied, memo: passMemo }));

const first = planLattice({ ...converged, observed: empty });
const midDeploy: PlanInput = { ...converged, observed: empty, inflight: inflightOf(first.commands, now) };
console.log(`mid-deploy: ${midDeploy.inflight.length} in-flight entries, ${planLattice(midDeploy).commands.length} commands left to issue`);
time('mid-deploy pass (all in flight, none landed)', RUNS, () => planLattice(midDeploy));
time('first pass (nothing running, nothing in flight)', RUNS, () => planLattice({ ...converged, observed: empty }));

const half = applyToObserved(empty, first.commands.filter((_, i) => i % 2 === 0));
const halfLanded: PlanInput = { ...midDeploy, observed: half };
time('mid-deploy pass (all in flight, half landed)', RUNS, () => planLattice(halfLanded));
const out = planLattice(halfLanded);
time('earliestRequeue (half landed)', RUNS, () => earliestRequeue(halfLanded, out));

// Dropping settled in-flight entries: one isSatisfied (a linear scan of the lattice) per entry, or settleInflight.
time(`isSatisfied per entry (${midDeploy.inflight.length} entries, half landed)`, RUNS, () => midDeploy.inflight.filter((f) => isSatisfied(f.command, half)));
time(`settleInflight (${midDeploy.inflight.length} entries, half landed)`, RUNS, () => settleInflight(midDeploy.inflight, half, now));

// Apps with more to them: a component, a provider, a link and a managed config each.
const mixed = mixedApps(nApps);
const m = convergeLattice(mixed, empty);
console.log(`mixed: ${nApps} apps, ${m.observed.components.length} components, ${m.observed.providers.length} providers, ${m.observed.links.length} links, ${m.observed.configs.length} configs`);
time('mixed: converged pass', RUNS, () => planLattice({ ...converged, apps: mixed, applied: m.final.applied, observed: m.observed }));
