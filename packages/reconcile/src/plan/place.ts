/**
 * Host placement of one scaler's instances over its spreads (the targets: `spread.ts`). Unlike wadm, the
 * instances of one spread are placed over its eligible hosts, balanced, deterministic, with the exact
 * total (docs/wire/README.md rule 3); hosts new to a scaler are taken least-loaded first, so the lattice
 * fills evenly across apps.
 */
import { distribute, isEligible, type SpreadTarget } from './spread.js';

/** What one host holds of the entity, from one scaler's point of view. */
export type HostSlot =
  /**
   * Nothing of the entity. `pending`: a placement of this scaler on the host is in flight (issued, not
   * observed yet); the host is preferred over other free ones, so a placement under way is chosen again.
   */
  | { kind: 'free'; pending?: { spread: string; count: number } }
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
  hosts: readonly PlacementHost[];
  slot: (hostId: string) => HostSlot;
  /**
   * The hosts whose slot may be anything but a plain `{ kind: 'free' }` (the slot of every other host
   * must be plain free). Given, a spread that the hosts already running it satisfy is placed without
   * looking at the other hosts. Absent: every host.
   */
  marked?: readonly PlacementHost[];
  /** The hosts eligible for `requirements`, in `hosts` order (e.g. cached over a plan). Absent: `hosts` filtered. */
  eligible?: (requirements: Record<string, string>) => readonly PlacementHost[];
  /**
   * Instances already on a host (whatever their owner): hosts new to the scaler are taken least-loaded
   * first. Absent: 0 everywhere.
   */
  load?: (hostId: string) => number;
  /** Order among new hosts of equal load, lower first (e.g. a hash of scaler and host). Absent, or equal: by id. */
  tiebreak?: (hostId: string) => number;
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

const byId = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);
/** The slot of a host that holds nothing of the entity (shared: slots are never changed). */
export const PLAIN_FREE: HostSlot = { kind: 'free' };
/** New hosts a spread takes by a look at every eligible host each, before the rest go into a heap. */
const LOOKS_BEFORE_HEAP = 4;

/**
 * The candidate hosts of one spread, best first, produced lazily:
 * 1. hosts already running this scaler's instance for this spread (larger count first, then by id), so a
 *    converged placement is chosen again and never moved to rebalance;
 * 2. hosts where such an instance is in flight (same order), so a placement under way is chosen again;
 * 3. free hosts, least-loaded first (then `tiebreak`, then id);
 * 4. hosts that must first be freed (a stale instance, or ours for another spread), in the same order.
 * Foreign hosts never. Classes 1–2 come from the marked hosts only; 3–4 need a look at every eligible
 * host: the first few such hosts are found by one look at every eligible host each, allocating nothing
 * (a spread wants a few new hosts at a time); past those, the rest go into a heap once, so that taking
 * the next best host costs a logarithm, not another look at every host.
 */
class Candidates {
  private readonly head: PlacementHost[];
  private next = 0;
  private rest: RestHeap | undefined;
  /** Hosts of classes 3–4 taken by a look at every eligible host so far. */
  private looked = 0;
  /** Eligible hosts not held by something foreign. */
  readonly available: number;

  constructor(
    private readonly spread: SpreadTarget,
    private readonly eligible: readonly PlacementHost[],
    private readonly marked: ReadonlyMap<string, { host: PlacementHost; slot: HostSlot }>,
    private readonly load: (hostId: string) => number,
    private readonly tiebreak: ((hostId: string) => number) | undefined,
  ) {
    const head: Array<{ host: PlacementHost; cls: number; count: number }> = [];
    let foreign = 0;
    for (const { host, slot } of marked.values()) {
      if (slot.kind !== 'foreign' && !(slot.kind === 'own' && slot.spread === spread.name) && !(slot.kind === 'free' && slot.pending?.spread === spread.name)) continue;
      if (!isEligible(host.labels, spread.requirements)) continue;
      if (slot.kind === 'foreign') foreign++;
      else if (slot.kind === 'own') head.push({ host, cls: 0, count: slot.count });
      else head.push({ host, cls: 1, count: slot.pending!.count });
    }
    if (head.length > 1) head.sort((a, b) => a.cls - b.cls || b.count - a.count || byId(a.host.id, b.host.id));
    this.head = head.map((x) => x.host);
    this.available = eligible.length - foreign;
  }

  /** Classes 3–4 hold the host: eligible (the caller's list), neither foreign nor in the head. The host's class, or -1. */
  private restClass(host: PlacementHost): number {
    const slot = this.marked.get(host.id)?.slot ?? PLAIN_FREE;
    if (slot.kind === 'foreign') return -1;
    if (slot.kind === 'own') return slot.spread === this.spread.name ? -1 : 1;
    if (slot.kind === 'free') return slot.pending?.spread === this.spread.name ? -1 : 0;
    return 1;
  }

  /** Classes 3 and 4: the eligible hosts not in the head, not foreign, not claimed. */
  private scan(claimed: ReadonlySet<string>): RestHeap {
    const entries: RestEntry[] = [];
    for (const host of this.eligible) {
      if (claimed.has(host.id)) continue;
      const cls = this.restClass(host);
      if (cls < 0) continue;
      entries.push({ host, cls, load: this.load(host.id), tie: this.tiebreak ? this.tiebreak(host.id) : 0 });
    }
    return new RestHeap(entries);
  }

  /** The best host of classes 3–4 not claimed, by one look at every eligible host (nothing allocated). */
  private best(claimed: ReadonlySet<string>): PlacementHost | undefined {
    let best: PlacementHost | undefined;
    let bc = 0;
    let bl = 0;
    let bt = 0;
    for (const host of this.eligible) {
      if (claimed.has(host.id)) continue;
      const cls = this.restClass(host);
      if (cls < 0) continue;
      const load = this.load(host.id);
      const tie = this.tiebreak ? this.tiebreak(host.id) : 0;
      if (best !== undefined && !ranksBefore(cls, load, tie, host.id, bc, bl, bt, best.id)) continue;
      best = host;
      bc = cls;
      bl = load;
      bt = tie;
    }
    return best;
  }

  /** The best candidate not claimed yet (claims only grow, so a host passed over never comes back). */
  take(claimed: ReadonlySet<string>): PlacementHost | undefined {
    while (this.next < this.head.length) {
      const h = this.head[this.next++]!;
      if (!claimed.has(h.id)) return h;
    }
    if (this.rest === undefined && this.looked < LOOKS_BEFORE_HEAP) {
      this.looked++;
      return this.best(claimed);
    }
    this.rest ??= this.scan(claimed);
    for (let e = this.rest.pop(); e !== undefined; e = this.rest.pop()) if (!claimed.has(e.host.id)) return e.host;
    return undefined;
  }
}

interface RestEntry {
  host: PlacementHost;
  cls: number;
  load: number;
  tie: number;
}

/** The order of classes 3–4: (class, load, tie-break, id), lower first. */
const ranksBefore = (cls: number, load: number, tie: number, id: string, cls2: number, load2: number, tie2: number, id2: string): boolean =>
  cls !== cls2 ? cls < cls2 : load !== load2 ? load < load2 : tie !== tie2 ? tie < tie2 : id < id2;
const restBefore = (a: RestEntry, b: RestEntry): boolean => ranksBefore(a.cls, a.load, a.tie, a.host.id, b.cls, b.load, b.tie, b.host.id);

/** A binary min-heap of candidates by (class, load, tie-break, id). */
class RestHeap {
  constructor(private readonly h: RestEntry[]) {
    for (let i = (h.length >> 1) - 1; i >= 0; i--) this.down(i);
  }

  pop(): RestEntry | undefined {
    const h = this.h;
    if (h.length === 0) return undefined;
    const top = h[0]!;
    const last = h.pop()!;
    if (h.length > 0) {
      h[0] = last;
      this.down(0);
    }
    return top;
  }

  private down(i: number): void {
    const h = this.h;
    const n = h.length;
    for (;;) {
      const l = 2 * i + 1;
      if (l >= n) return;
      const r = l + 1;
      const c = r < n && restBefore(h[r]!, h[l]!) ? r : l;
      if (!restBefore(h[c]!, h[i]!)) return;
      const t = h[i]!;
      h[i] = h[c]!;
      h[c] = t;
      i = c;
    }
  }
}

function placeSpread(req: PlacementRequest): Placement {
  const eligibleOf = req.eligible ?? ((r: Record<string, string>) => req.hosts.filter((h) => isEligible(h.labels, r)));
  const marked = new Map<string, { host: PlacementHost; slot: HostSlot }>();
  for (const host of req.marked ?? req.hosts) marked.set(host.id, { host, slot: req.slot(host.id) });
  const load = req.load ?? (() => 0);
  const eligible = req.spreads.map((sp) => eligibleOf(sp.requirements));
  const candidates = req.spreads.map((sp, i) => new Candidates(sp, eligible[i]!, marked, load, req.tiebreak));
  const claimed = new Set<string>();
  const picked: PlacementHost[][] = req.spreads.map(() => []);
  const claimNext = (i: number): boolean => {
    const h = candidates[i]!.take(claimed);
    if (!h) return false;
    claimed.add(h.id);
    picked[i]!.push(h);
    return true;
  };
  const active = req.spreads.map((sp, i) => ({ sp, i })).filter((x) => x.sp.target > 0);
  // Phase A: one host for each spread, the most constrained spreads first.
  for (const { i } of [...active].sort((a, b) => candidates[a.i]!.available - candidates[b.i]!.available || a.i - b.i)) claimNext(i);
  // Phase B: more hosts, up to one per instance, in spread order.
  for (const { sp, i } of active) {
    while (picked[i]!.length < sp.target && claimNext(i));
  }
  const assignments = new Map<string, Assignment>();
  const outcomes = req.spreads.map((sp, i) => {
    // Picked in candidate order, so a host that runs more gets the larger share.
    const order = picked[i]!;
    const counts = distribute(sp.target, order.length, req.perHostCap);
    order.forEach((h, j) => assignments.set(h.id, { spread: sp.name, count: counts[j]! }));
    return {
      spread: sp,
      eligible: eligible[i]!.length,
      available: candidates[i]!.available,
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
