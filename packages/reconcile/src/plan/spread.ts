/**
 * Spread math (docs/wire/behaviour.md §5.1): the targets of a scaler's spreads, which hosts a spread may
 * use, and how a total is divided over hosts. Where the instances go is `place.ts`.
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

/** Distribute `total` over `k` hosts: the first `total mod k` get one more, each capped. */
export function distribute(total: number, k: number, cap: number): number[] {
  if (k === 0) return [];
  const q = Math.floor(total / k);
  const r = total % k;
  return Array.from({ length: k }, (_, i) => Math.min(cap, q + (i < r ? 1 : 0)));
}
