/**
 * Zero-downtime replacement of a scaler's instances when a new version changes their image (or their
 * scaler otherwise): which of the previous version's instances may be updated or stopped now without the
 * scaler's running instances dropping below `minAvailable(target, maxUnavailable)`. Pure budget math; the
 * workload scaler (workloads.ts) finds the candidates and turns the chosen ones into commands.
 *
 * Availability counts the instances observed running for the scaler: its own (the new version's) and the
 * previous version's, minus those with an update or stop in flight (an instance being updated is
 * unavailable until the host reports it with the new image). New instances placed on free hosts cost
 * nothing (start before stop); an update or a stop costs the instance's count.
 */
import { minAvailable } from '@wadm-ts/model';
import type { Command } from '../types.js';

/** A move on one host: update a previous instance in place, or stop it. */
export interface RolloutCandidate {
  host: string;
  /** Instances unavailable while the move is under way (the previous instance's count). */
  cost: number;
  command: Command;
  /** Its command is already in flight. */
  moving: boolean;
  /** The placement does not want the host any more (a scale-down or a move): stopping it comes first. */
  excess: boolean;
}

export interface RolloutInput {
  candidates: readonly RolloutCandidate[];
  /** Instances of the scaler running now and not being moved (own and previous). */
  available: number;
  /** Instances the scaler wants (the placement's total). */
  target: number;
  /**
   * Instances of the scaler running now, moving or not (own and previous), plus those being started on
   * free hosts. The floor is taken from the smaller of this and `target`: a scale-up that only grows counts
   * on occupied hosts cannot wait for instances that nothing starts yet (that would never end), while
   * new instances on free hosts are waited for (start before stop). Absent: `target`.
   */
  running?: number;
  maxUnavailable: number;
  /** New instances placed on free hosts, issued now or in flight (a start-before-stop under way). */
  starting: number;
  /**
   * No single move fits the floor even with every instance running, and there is no spare host to start
   * on first (providers: eligible hosts ≤ target; components are updated in place, never on a spare).
   */
  noRoom: boolean;
}

export interface RolloutDecision {
  chosen: RolloutCandidate[];
  floor: number;
  /** The floor cannot be honoured: moves go one host at a time, each once nothing else is down or moving. */
  oneAtATime: boolean;
}

/** Candidates in the order they are taken: excess first, then by host id. */
export function orderCandidates<T extends { host: string; excess: boolean }>(cs: readonly T[]): T[] {
  return [...cs].sort((a, b) => (a.excess === b.excess ? (a.host < b.host ? -1 : a.host > b.host ? 1 : 0) : a.excess ? -1 : 1));
}

/**
 * Which moves to make now. Within the budget: every candidate (in order) whose cost keeps the available
 * instances at or above the floor. Without room (`noRoom`): one candidate, once nothing is moving,
 * starting, or down (available ≥ target).
 */
export function chooseMoves(r: RolloutInput): RolloutDecision {
  const base = Math.min(r.target, r.running ?? r.target);
  const floor = minAvailable(base, r.maxUnavailable);
  const open = orderCandidates(r.candidates.filter((c) => !c.moving));
  if (r.noRoom) {
    const idle = !r.candidates.some((c) => c.moving) && r.starting === 0 && r.available >= base;
    return { chosen: idle && open.length > 0 ? [open[0]!] : [], floor, oneAtATime: true };
  }
  const chosen: RolloutCandidate[] = [];
  let budget = r.available;
  for (const c of open) {
    if (budget - c.cost < floor) continue;
    chosen.push(c);
    budget -= c.cost;
  }
  return { chosen, floor, oneAtATime: false };
}

/** The scaler's status message during a rollout, e.g. `rolling out echo: 1 of 3 updated`. */
export function rolloutMessage(name: string, updated: number, target: number, oneAtATime: boolean, maxUnavailable: number, stalled = 0): string {
  let base = `rolling out ${name}: ${Math.min(updated, target)} of ${target} updated`;
  if (oneAtATime) base += `, 1 host at a time (maxUnavailable ${maxUnavailable} leaves no room and no host is spare to start on first)`;
  if (stalled > 0) base += `; the in-place update did not take effect in time on ${stalled} host(s), replacing by stop and start`;
  return base;
}
