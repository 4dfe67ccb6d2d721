/**
 * Spread math (wadm-behaviour.md §5.1) and host placement. Unlike wadm, the instances of one spread are
 * placed over its eligible hosts, balanced, deterministic, with the exact total (README rule 3).
 */
import { DEFAULT_SPREAD_WEIGHT, type ScalerProperties } from '@wadm-ts/model';
import { DEFAULT_SPREAD_NAME } from './ids.js';

export interface SpreadTarget {
  name: string;
  requirements: Record<string, string>;
  /** Spread mode: instances of this spread. Daemon mode: instances on every eligible host. */
  target: number;
}

/**
 * wadm's `compute_spread`: spreads sorted by weight descending (stable), each gets
 * floor(instances × w / Σw), the leftover handed out +1 in that order. No spreads ⇒ one `default`
 * spread with no requirements and every instance.
 */
export function computeSpread(s: ScalerProperties): SpreadTarget[] {
  const spreads = s.spread ?? [];
  if (spreads.length === 0) return [{ name: DEFAULT_SPREAD_NAME, requirements: {}, target: s.instances }];
  const weight = (w: number | undefined): number => w ?? DEFAULT_SPREAD_WEIGHT;
  const sorted = spreads.map((sp, i) => ({ sp, i })).sort((a, b) => weight(b.sp.weight) - weight(a.sp.weight) || a.i - b.i);
  const total = sorted.reduce((n, x) => n + weight(x.sp.weight), 0);
  const out = sorted.map(({ sp }) => ({
    name: sp.name,
    requirements: sp.requirements,
    target: total === 0 ? 0 : Math.floor((s.instances * weight(sp.weight)) / total),
  }));
  let left = s.instances - out.reduce((n, x) => n + x.target, 0);
  for (const o of out) {
    if (left <= 0) break;
    o.target += 1;
    left -= 1;
  }
  return out;
}

/** Daemon spreads: manifest order, weights ignored, `instances` on every eligible host. */
export function daemonSpreads(s: ScalerProperties): SpreadTarget[] {
  const spreads = s.spread ?? [];
  if (spreads.length === 0) return [{ name: DEFAULT_SPREAD_NAME, requirements: {}, target: s.instances }];
  return spreads.map((sp) => ({ name: sp.name, requirements: sp.requirements, target: s.instances }));
}

/** Every requirement key=value equals a host label. */
export function isEligible(labels: Record<string, string>, requirements: Record<string, string>): boolean {
  return Object.entries(requirements).every(([k, v]) => Object.prototype.hasOwnProperty.call(labels, k) && labels[k] === v);
}

/** What one host holds of the entity, from one scaler's point of view. */
export type HostSlot =
  | { kind: 'free' }
  /** Held by a wadm-managed instance no current scaler owns: cleanup removes it, then the host is free. */
  | { kind: 'stale' }
  /** Held by something this scaler does not own and that stays: never counted, never touched. */
  | { kind: 'foreign' }
  | { kind: 'own'; spread: string; count: number };

export interface PlacementHost {
  id: string;
  labels: Record<string, string>;
}

export interface PlacementRequest {
  mode: 'spread' | 'daemon';
  /** Most instances one host can hold (components: unbounded, providers: 1). */
  perHostCap: number;
  spreads: SpreadTarget[];
  /** Sorted by id. */
  hosts: PlacementHost[];
  slot: (hostId: string) => HostSlot;
}

export interface Assignment {
  spread: string;
  count: number;
}

export interface SpreadOutcome {
  spread: SpreadTarget;
  /** Hosts whose labels match the spread (whatever they hold). */
  eligible: number;
  /** Eligible hosts not held by something foreign. */
  available: number;
  /** Hosts assigned to this spread. */
  hosts: number;
  /** Instances assigned (spread mode: ≤ target). */
  placed: number;
}

export interface Placement {
  assignments: Map<string, Assignment>;
  outcomes: SpreadOutcome[];
}

/** Distribute `total` over `k` hosts: the first `total mod k` get one more, each capped. */
export function distribute(total: number, k: number, cap: number): number[] {
  if (k === 0) return [];
  const q = Math.floor(total / k);
  const r = total % k;
  return Array.from({ length: k }, (_, i) => Math.min(cap, q + (i < r ? 1 : 0)));
}

/**
 * Candidate order for one spread: hosts already running this scaler's instance for this spread (larger
 * count first, so a converged placement is chosen again), then free hosts, then hosts that must first
 * be freed (stale instance, or ours for another spread); by id within a class. Foreign hosts never.
 */
function rankFor(spread: string, hosts: PlacementHost[], slot: (h: string) => HostSlot): PlacementHost[] {
  const cls = (s: HostSlot): number => (s.kind === 'own' && s.spread === spread ? 0 : s.kind === 'free' ? 1 : 2);
  const weight = (s: HostSlot): number => (s.kind === 'own' && s.spread === spread ? s.count : 0);
  return hosts
    .filter((h) => slot(h.id).kind !== 'foreign')
    .sort((a, b) => {
      const sa = slot(a.id);
      const sb = slot(b.id);
      return cls(sa) - cls(sb) || weight(sb) - weight(sa) || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);
    });
}

function placeSpread(req: PlacementRequest): Placement {
  const eligibleOf = (sp: SpreadTarget): PlacementHost[] => req.hosts.filter((h) => isEligible(h.labels, sp.requirements));
  const ranked = req.spreads.map((sp) => rankFor(sp.name, eligibleOf(sp), req.slot));
  const claimed = new Set<string>();
  const picked: string[][] = req.spreads.map(() => []);
  const claimNext = (i: number): boolean => {
    const h = ranked[i]!.find((x) => !claimed.has(x.id));
    if (!h) return false;
    claimed.add(h.id);
    picked[i]!.push(h.id);
    return true;
  };
  const active = req.spreads.map((sp, i) => ({ sp, i })).filter((x) => x.sp.target > 0);
  // Phase A: one host for each spread, the most constrained spreads first.
  for (const { i } of [...active].sort((a, b) => ranked[a.i]!.length - ranked[b.i]!.length || a.i - b.i)) claimNext(i);
  // Phase B: more hosts, up to one per instance, in spread order.
  for (const { sp, i } of active) {
    while (picked[i]!.length < sp.target && claimNext(i));
  }
  const assignments = new Map<string, Assignment>();
  const outcomes = req.spreads.map((sp, i) => {
    // Keep rank order, so a host that runs more gets the larger share.
    const order = ranked[i]!.filter((h) => picked[i]!.includes(h.id));
    const counts = distribute(sp.target, order.length, req.perHostCap);
    order.forEach((h, j) => assignments.set(h.id, { spread: sp.name, count: counts[j]! }));
    return {
      spread: sp,
      eligible: eligibleOf(sp).length,
      available: ranked[i]!.length,
      hosts: order.length,
      placed: counts.reduce((n, c) => n + c, 0),
    };
  });
  return { assignments, outcomes };
}

function placeDaemon(req: PlacementRequest): Placement {
  const assignments = new Map<string, Assignment>();
  const perSpread = new Map<string, number>();
  for (const h of req.hosts) {
    const s = req.slot(h.id);
    if (s.kind === 'foreign') continue;
    const matching = req.spreads.filter((sp) => sp.target > 0 && isEligible(h.labels, sp.requirements));
    const sp = (s.kind === 'own' ? matching.find((m) => m.name === s.spread) : undefined) ?? matching[0];
    if (!sp) continue;
    assignments.set(h.id, { spread: sp.name, count: Math.min(req.perHostCap, sp.target) });
    perSpread.set(sp.name, (perSpread.get(sp.name) ?? 0) + 1);
  }
  const outcomes = req.spreads.map((sp) => {
    const hosts = perSpread.get(sp.name) ?? 0;
    const eligible = req.hosts.filter((h) => isEligible(h.labels, sp.requirements));
    return {
      spread: sp,
      eligible: eligible.length,
      available: eligible.filter((h) => req.slot(h.id).kind !== 'foreign').length,
      hosts,
      placed: hosts * Math.min(req.perHostCap, sp.target),
    };
  });
  return { assignments, outcomes };
}

/** Where the instances of one scaler go: host → (spread, count). Deterministic for the same input. */
export function place(req: PlacementRequest): Placement {
  return req.mode === 'spread' ? placeSpread(req) : placeDaemon(req);
}
