/** TEMPORARY until the planner exports settleInflight/earliestRequeue. */
import type { LatticeSnapshot } from '@wadm-ts/store';
import { isSatisfied } from '../plan/index.js';
import type { InFlight, PlanInput, PlanOutput } from '../types.js';
import { failureMatches } from '../plan/index.js';

export function settleInflight(inflight: readonly InFlight[], observed: LatticeSnapshot, now: number): { live: InFlight[]; done: InFlight[] } {
  const live: InFlight[] = [];
  const done: InFlight[] = [];
  for (const f of inflight) (f.expiresAt <= now || isSatisfied(f.command, observed) ? done : live).push(f);
  return { live, done };
}

export function earliestRequeue(input: PlanInput, _out: PlanOutput): number | undefined {
  let t = Infinity;
  for (const f of input.inflight) if (f.expiresAt > input.now) t = Math.min(t, f.expiresAt);
  const b = input.backoffMs ?? 5000;
  for (const f of input.observed.failures) {
    const end = f.at + b;
    if (end > input.now && input.inflight.length >= 0) t = Math.min(t, end);
  }
  void failureMatches;
  return Number.isFinite(t) ? t : undefined;
}
