/**
 * Fair spreading of lattices over live replicas, as pure decisions (the loop acting on them is
 * `leases.ts`): each replica takes free leases up to ceil(L/R), releases one when it holds more than
 * its share while another holds less than floor(L/R).
 */
import type { Held, LeaseValue } from './lease-records.js';

/** The fair share bounds of `leases` lattices over `live` replicas. */
export function fairShare(leases: number, live: number): { ceil: number; floor: number } {
  return { ceil: Math.ceil(leases / live), floor: Math.floor(leases / live) };
}

export interface BalanceInput {
  /** Every lease on record. */
  leases: readonly LeaseValue[];
  /** Live replica ids (this one included). */
  live: ReadonlySet<string>;
  replicaId: string;
  /** Leases this replica holds. */
  mine: number;
  isFree: (v: LeaseValue) => boolean;
}

/** What one balancing round does: take free leases up to `share`, give one back, or nothing. */
export type BalanceStep = { kind: 'take'; share: number } | { kind: 'release'; reason: string } | { kind: 'none' };

export function balanceStep(i: BalanceInput): BalanceStep {
  if (i.leases.length === 0) return { kind: 'none' };
  const { ceil, floor } = fairShare(i.leases.length, i.live.size);
  if (i.mine < ceil) return { kind: 'take', share: ceil };
  if (i.mine <= floor) return { kind: 'none' };
  const owned = new Map<string, number>();
  for (const v of i.leases) if (v.owner && !i.isFree(v)) owned.set(v.owner, (owned.get(v.owner) ?? 0) + 1);
  const starved = [...i.live].some((r) => r !== i.replicaId && (owned.get(r) ?? 0) < floor);
  if (i.mine > ceil) return { kind: 'release', reason: 'above fair share' };
  if (starved) return { kind: 'release', reason: 'another replica is below its share' };
  return { kind: 'none' };
}

/** The lease a replica above its share gives back: the last by key. */
export function releaseVictim(held: Iterable<Held>): Held | undefined {
  return [...held].sort((a, b) => (a.key < b.key ? 1 : -1))[0];
}

/** The share this replica may hold when offered one more lattice (`known`: whether its lease exists). */
export function offerShare(leases: number, known: boolean, live: number): number {
  return Math.ceil((leases + (known ? 0 : 1)) / live);
}

/** In place, uniformly (the order free leases are tried in, so replicas do not all race for the same one). */
export function shuffle<T>(xs: T[]): void {
  for (let i = xs.length - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1));
    [xs[i], xs[j]] = [xs[j]!, xs[i]!];
  }
}
