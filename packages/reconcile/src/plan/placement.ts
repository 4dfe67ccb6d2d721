/**
 * Lattice-wide placement state of one plan pass: how loaded each host is (every instance observed on it,
 * whatever its owner, plus the placements in flight and those the pass has already decided for earlier
 * scalers), which placements of which scaler are in flight, the eligible hosts per requirement set
 * (computed once per pass), and a per-scaler tie-break between equally loaded hosts.
 */
import { SCALER_KEY, SPREAD_KEY } from '@wadm-ts/protocol';
import type { InFlight } from '../types.js';
import type { Workload } from './desired.js';
import { fnv1a } from './ids.js';
import type { Instance } from './observed.js';
import { isEligible } from './spread.js';
import type { HostEntity } from '@wadm-ts/entities';

/** A placement (ScaleComponent with a count, or StartProvider) in flight to a host that does not show it yet. */
export interface PendingPlacement {
  scaler: string;
  spread: string;
  count: number;
  issuedAt: number;
}

const entityKey = (w: Workload, id: string): string => `${w}\u0000${id}`;

/** MurmurHash3's 32-bit finalizer: spreads every input bit over the output. */
function fmix32(x: number): number {
  let h = x >>> 0;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** The later of two in-flight placements for the same target (order-independent). */
function later(a: PendingPlacement, b: PendingPlacement): PendingPlacement {
  if (a.issuedAt !== b.issuedAt) return a.issuedAt > b.issuedAt ? a : b;
  if (a.count !== b.count) return a.count > b.count ? a : b;
  const ka = `${a.scaler}\u0000${a.spread}`;
  const kb = `${b.scaler}\u0000${b.spread}`;
  return ka >= kb ? a : b;
}

export class LatticeLoad {
  private readonly load = new Map<string, number>();
  private readonly hostHash = new Map<string, number>();
  private readonly eligibleCache = new Map<string, readonly HostEntity[]>();
  /** entity → host → the in-flight placement there. */
  private readonly pending = new Map<string, Map<string, PendingPlacement>>();

  /**
   * @param hosts live hosts, sorted by id
   * @param instances every instance observed on those hosts
   * @param inflight in-flight entries not expired
   */
  constructor(
    private readonly hosts: readonly HostEntity[],
    instances: readonly Instance[],
    inflight: readonly InFlight[],
  ) {
    for (const h of hosts) {
      this.load.set(h.id, 0);
      this.hostHash.set(h.id, fnv1a(h.id));
    }
    const running = new Set<string>();
    for (const i of instances) {
      this.add(i.hostId, i.count);
      running.add(`${entityKey(i.workload, i.id)}\u0000${i.hostId}`);
    }
    for (const f of inflight) {
      const c = f.command;
      const target =
        c.kind === 'ScaleComponent' && c.count > 0
          ? { key: entityKey('component', c.component_id), host: c.host_id, count: c.count, annotations: c.annotations }
          : c.kind === 'StartProvider'
            ? { key: entityKey('provider', c.provider_id), host: c.host_id, count: 1, annotations: c.annotations }
            : undefined;
      if (!target || !this.load.has(target.host) || running.has(`${target.key}\u0000${target.host}`)) continue;
      const p: PendingPlacement = { scaler: target.annotations[SCALER_KEY] ?? '', spread: target.annotations[SPREAD_KEY] ?? '', count: target.count, issuedAt: f.issuedAt };
      const perHost = this.pending.get(target.key) ?? new Map<string, PendingPlacement>();
      const cur = perHost.get(target.host);
      perHost.set(target.host, cur ? later(cur, p) : p);
      this.pending.set(target.key, perHost);
    }
    for (const perHost of this.pending.values()) for (const [host, p] of perHost) this.add(host, p.count);
  }

  /** Instances on the host (observed, in flight, and placed by this pass so far). */
  readonly get = (hostId: string): number => this.load.get(hostId) ?? 0;

  add(hostId: string, delta: number): void {
    const cur = this.load.get(hostId);
    if (cur !== undefined) this.load.set(hostId, cur + delta);
  }

  /** host → in-flight placement of the entity, on hosts that do not show it yet. */
  pendingOf(w: Workload, id: string): ReadonlyMap<string, PendingPlacement> | undefined {
    return this.pending.size === 0 ? undefined : this.pending.get(entityKey(w, id));
  }

  /** Live hosts eligible for the requirements, sorted by id; computed once per requirement set. */
  readonly eligible = (requirements: Record<string, string>): readonly HostEntity[] => {
    const keys = Object.keys(requirements);
    if (keys.length === 0) return this.hosts;
    keys.sort();
    const key = keys.map((k) => `${k}\u0000${requirements[k]}`).join('\u0001');
    let hit = this.eligibleCache.get(key);
    if (hit === undefined) {
      hit = this.hosts.filter((h) => isEligible(h.labels, requirements));
      this.eligibleCache.set(key, hit);
    }
    return hit;
  };

  /** A tie-break between hosts of equal load, different per scaler: a hash of the scaler id and the host id. */
  tiebreak(scalerId: string): (hostId: string) => number {
    const seed = fnv1a(scalerId);
    return (hostId) => fmix32(seed ^ (this.hostHash.get(hostId) ?? fnv1a(hostId)));
  }
}
