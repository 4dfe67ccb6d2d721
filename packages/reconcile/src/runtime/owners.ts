/**
 * The lattices this replica owns and when each is reconciled. A lattice's pass is triggered by its view
 * changing (state or manifests, coalesced over as long as its last pass took, at most `debounceMs`; a
 * host gone at once), by a reconcile signal, by a jittered per-lattice resync, and by the moment its plan
 * can change by time alone (`requeueAt`: an in-flight expiry or a backoff ending). At most one pass per
 * lattice runs at a time, and at most `maxConcurrent` per replica (p-queue). A trigger during a pass
 * runs the lattice once more after it.
 *
 * Over 300 lines on purpose: one class whose parts (triggers, the queue, the pass loop, the resync with
 * its host queries and marker sweep) all read and write the same per-lattice slot; split, each part
 * would need the slot's invariants (queued/running/again) explained again.
 */
import type { LatticeRef } from '@wadm-ts/protocol';
import PQueue from 'p-queue';
import { performance } from 'node:perf_hooks';
import { scopeKey, semanticallyChanged, type JetStreamContext, type ManifestView, type StateView } from '@wadm-ts/store';
import type { Logger, Metrics } from '@wadm-ts/obs';
import { LeaseLostError, leaseKey, type Held } from './lease-records.js';
import type { Leases } from './leases.js';
import { OwnedLattice, type Reconciler } from './reconciler.js';
import { idleLattice, MARKER_SWEEP_EVERY_MS, sweepMarkers } from './gc.js';

export interface OwnersOptions {
  ctx: JetStreamContext;
  leases: Leases;
  reconciler: Reconciler;
  state: StateView;
  manifests: ManifestView;
  logger: Logger;
  metrics: Metrics;
  /** Concurrent passes on this replica (WADM_MAX_RECONCILES). */
  maxConcurrent: number;
  /** Every owned lattice is reconciled at least this often, jittered ±25 % (ms). */
  resyncMs: number;
  /**
   * View changes are coalesced over at most this long before a pass (ms): over as long as the lattice's
   * last pass took, within [MIN_COALESCE_MS, debounceMs] (see `coalesceMs`).
   */
  debounceMs: number;
  /** Idle lattices are forgotten after this long (ms). */
  gcAfterMs: number;
  fenced: boolean;
  /**
   * Asks a lattice's hosts (inventories, links, configs) and merges the answers into state. A cold
   * lattice (never queried in full since its state began) is queried before its first pass; otherwise
   * queries run beside the passes: when the lattice is acquired and at every resync.
   */
  observer?: LatticeObserver;
}

export interface LatticeObserver {
  /** True when the lattice was never queried in full since its state began. */
  cold(ref: LatticeRef): boolean;
  query(ref: LatticeRef, why: 'cold' | 'acquired' | 'resync'): Promise<unknown>;
}

interface Slot {
  owned: OwnedLattice;
  scope: string;
  queued: boolean;
  running: boolean;
  again: boolean;
  /** A trigger during the running pass asked for no debounce (a host gone): the next pass follows at once. */
  urgent: boolean;
  lost: boolean;
  wakeAt: number;
  timer: NodeJS.Timeout | undefined;
  resync: NodeJS.Timeout | undefined;
  /** Passes that failed in a row (not lease losses), for backoff. */
  failures: number;
  /** How long the lattice's last pass took (ms): the coalescing delay of the changes after it (`coalesceMs`). */
  lastPassMs: number;
  /** When this owner last swept the lattice's old delete markers (monotonic ms). */
  sweptAt: number;
  ready: Promise<void>;
  /** Called when the pass under way ends (see drain). */
  idleWaiters: Array<() => void>;
}

/** The shortest delay over which view changes are coalesced (ms). */
export const MIN_COALESCE_MS = 10;

/** After a busy pass that left healthy marks waiting, the lattice is passed again this soon to see whether it is quiet (ms). */
const MARKS_RECHECK_MS = 250;

export class Owners {
  private readonly slots = new Map<string, Slot>();
  /** Slots dropped while a pass was still running (until it ends): a new owner slot waits for them. */
  private readonly retiring = new Map<string, Slot>();
  private readonly queue: PQueue;
  private stopped = false;
  private discoverTimer: NodeJS.Timeout | undefined;
  private readonly depth;
  private readonly triggers;
  private readonly queueWait;
  private readonly retries;
  private readonly markersDropped;

  constructor(private readonly o: OwnersOptions) {
    this.queue = new PQueue({ concurrency: o.maxConcurrent });
    this.depth = o.metrics.gauge('wadm_reconcile_queue_depth', 'owned lattices waiting for a reconcile pass');
    this.triggers = o.metrics.counter('wadm_reconcile_triggers_total', 'reasons a lattice pass was requested', ['reason']);
    this.queueWait = o.metrics.histogram('wadm_reconcile_queue_duration_seconds', 'time a lattice waited in the queue before its pass started (controller-runtime: workqueue queue_duration)', []);
    this.retries = o.metrics.counter('wadm_reconcile_retries_total', 'passes scheduled again (with backoff) after a failed pass', []);
    this.markersDropped = o.metrics.counter('wadm_state_markers_dropped_total', 'delete markers of removed state keys dropped from wadm_state once old (owned, live lattices)', []);
    const active = o.metrics.gauge('wadm_reconcile_active_workers', 'reconcile passes running now');
    this.queue.on('active', () => active.set(this.queue.pending));
    this.queue.on('idle', () => active.set(0));
    o.state.onChange((ref, key, prev, next) => {
      // Only lattices this replica owns are reconciled here; the others' changes (most of them, with
      // several replicas) are not looked at.
      const s = this.slots.get(leaseKey(ref));
      if (!s || key.endsWith('.meta')) return;
      const kind = (next ?? prev)?.kind;
      if (kind === 'inflight' || kind === 'applied' || kind === 'lattice') return;
      if (!semanticallyChanged(prev, next)) return;
      // A host gone (host_stopped, or expired) takes capacity away: its instances are placed elsewhere at
      // once, not after the debounce that coalesces ordinary changes.
      const hostGone = next?.kind === 'host' && next.deleted === true && !(prev?.kind === 'host' && prev.deleted === true);
      if (hostGone) this.wake(s, 0, 'host gone');
      else this.wake(s, this.coalesceMs(s), 'state');
    });
    o.manifests.onChange((scope) => {
      for (const s of this.slots.values()) if (s.scope === scope) this.wake(s, this.coalesceMs(s), 'manifests');
    });
  }

  start(): void {
    this.stopped = false;
    // Lattices whose state exists but which have no lease yet (e.g. their signal was lost): offer them.
    this.discoverTimer = setInterval(() => void this.discover(), Math.max(1000, this.o.resyncMs));
    this.discoverTimer.unref();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.discoverTimer) clearInterval(this.discoverTimer);
    for (const s of this.slots.values()) this.drop(s);
    this.slots.clear();
    await this.queue.onIdle();
  }

  private async discover(): Promise<void> {
    for (const ref of this.o.state.lattices()) {
      if (this.stopped) return;
      if (this.o.leases.lease(ref)) continue;
      await this.o.leases.offer(ref).catch((err: unknown) => this.o.logger.warn({ err: (err as Error).message, lattice: ref.lattice }, 'offering a lattice failed'));
    }
  }

  owned(): LatticeRef[] {
    return [...this.slots.values()].map((s) => s.owned.held.ref);
  }

  /** The lease was acquired: catch the views up to now, then reconcile. */
  acquired(h: Held): void {
    const old = this.slots.get(h.key) ?? this.retiring.get(h.key);
    if (old) this.drop(old);
    const previous = old?.running ? new Promise<void>((r) => old.idleWaiters.push(r)) : Promise.resolve();
    const slot: Slot = {
      owned: new OwnedLattice(h, this.o.ctx, this.o.fenced),
      scope: scopeKey(h.ref),
      queued: false,
      running: false,
      again: false,
      urgent: false,
      lost: false,
      wakeAt: Infinity,
      timer: undefined,
      resync: undefined,
      failures: 0,
      lastPassMs: this.o.debounceMs,
      sweptAt: performance.now(),
      ready: Promise.resolve(),
      idleWaiters: [],
    };
    // An owner never acts on a view older than its lease: wait until both views have seen their buckets as of now.
    slot.ready = Promise.all([this.o.state.mirror.sync(), this.o.manifests.mirror.sync(), previous])
      .then(() => undefined)
      .catch((err: unknown) => this.o.logger.warn({ err: (err as Error).message, lattice: h.ref.lattice }, 'catching the views up failed; reconciling with what they hold'))
      .then(async () => {
        const obs = this.o.observer;
        if (!obs || slot.lost) return;
        // After a cold start nothing is known of what runs: ask every host before acting on any of it.
        if (obs.cold(h.ref)) await this.observe(slot, 'cold');
        else void this.observe(slot, 'acquired');
      });
    this.slots.set(h.key, slot);
    this.scheduleResync(slot);
    this.wake(slot, 0, 'acquired');
  }

  lost(h: Held): void {
    const s = this.slots.get(h.key);
    if (!s || s.owned.held !== h) return;
    this.drop(s);
    this.slots.delete(h.key);
    if (s.running) this.retiring.set(h.key, s);
    this.o.reconciler.forgetMetrics(h.ref);
  }

  private drop(s: Slot): void {
    s.lost = true;
    if (s.timer) clearTimeout(s.timer);
    if (s.resync) clearTimeout(s.resync);
  }

  private settle(s: Slot): void {
    if (s.running) return;
    if (this.retiring.get(s.owned.held.key) === s) this.retiring.delete(s.owned.held.key);
    for (const w of s.idleWaiters.splice(0)) w();
  }

  /**
   * Before a lease is handed back: stop scheduling the lattice and wait (at most `timeoutMs`) for a pass
   * under way to finish, so the next owner never runs beside it.
   */
  async drain(h: Held, timeoutMs: number): Promise<void> {
    const s = this.slots.get(h.key);
    if (!s || s.owned.held !== h) return;
    this.drop(s);
    if (!s.running) return;
    await new Promise<void>((resolve) => {
      const t = setTimeout(resolve, timeoutMs);
      s.idleWaiters.push(() => {
        clearTimeout(t);
        resolve();
      });
    });
  }

  /**
   * How long changes of a lattice are coalesced before its next pass: as long as its last pass took,
   * between MIN_COALESCE_MS and `debounceMs`. A lattice thus spends at most about half its time in passes
   * while changes keep coming (a long pass, under load, gathers more changes for the next one), and a
   * quick lattice (few apps, or the last changes of a burst) is passed again soon after its changes.
   */
  private coalesceMs(s: Slot): number {
    return Math.min(this.o.debounceMs, Math.max(MIN_COALESCE_MS, s.lastPassMs));
  }

  /** Ask for a pass of a lattice (no-op unless this replica owns it). */
  trigger(ref: LatticeRef, reason: string, delayMs?: number): void {
    const s = this.slots.get(leaseKey(ref));
    if (s) this.wake(s, delayMs ?? this.coalesceMs(s), reason);
  }

  private scheduleResync(s: Slot): void {
    const ms = this.o.resyncMs * (0.75 + Math.random() * 0.5);
    s.resync = setTimeout(() => {
      if (s.lost) return;
      this.wake(s, 0, 'resync');
      void this.observe(s, 'resync');
      void this.sweep(s);
      this.scheduleResync(s);
    }, ms);
  }

  /** One round of host queries for an owned lattice; what changes triggers a pass through the view. */
  private async observe(s: Slot, why: 'cold' | 'acquired' | 'resync'): Promise<void> {
    if (!this.o.observer || s.lost) return;
    try {
      await this.o.observer.query(s.owned.held.ref, why);
    } catch (err) {
      this.o.logger.warn({ lattice: s.owned.held.ref.lattice, err: (err as Error).message, why }, 'querying the hosts failed; events alone until the next round');
    }
  }

  /** Drop the lattice's old delete markers, at most every `MARKER_SWEEP_EVERY_MS` (see gc.ts `sweepMarkers`). */
  private async sweep(s: Slot): Promise<void> {
    const now = performance.now();
    if (s.lost || now - s.sweptAt < MARKER_SWEEP_EVERY_MS) return;
    s.sweptAt = now;
    const ref = s.owned.held.ref;
    try {
      const dropped = await sweepMarkers({ ctx: this.o.ctx, state: this.o.state, ref });
      if (dropped > 0) {
        this.markersDropped.inc(dropped);
        this.o.logger.info({ lattice: ref.lattice, dropped }, 'old delete markers of removed state keys dropped');
      }
    } catch (err) {
      this.o.logger.warn({ lattice: ref.lattice, err: (err as Error).message }, 'sweeping old delete markers failed; next resync tries again');
    }
  }

  private wake(s: Slot, delayMs: number, reason: string): void {
    if (s.lost || this.stopped) return;
    this.triggers.inc({ reason });
    if (s.running) {
      s.again = true;
      if (delayMs <= 0) s.urgent = true;
      return;
    }
    if (s.queued) return;
    const at = performance.now() + Math.max(0, delayMs);
    if (s.timer && s.wakeAt <= at) return;
    if (s.timer) clearTimeout(s.timer);
    s.wakeAt = at;
    s.timer = setTimeout(() => {
      s.timer = undefined;
      s.wakeAt = Infinity;
      this.enqueue(s);
    }, Math.max(0, delayMs));
  }

  private enqueue(s: Slot): void {
    if (s.queued || s.lost) return;
    s.queued = true;
    this.depth.set(this.queue.size + 1);
    const queuedAt = performance.now();
    void this.queue.add(() => {
      this.queueWait.observe((performance.now() - queuedAt) / 1000);
      return this.run(s);
    });
  }

  private async run(s: Slot): Promise<void> {
    // queued → running in one step: a trigger from here on asks for another pass after this one.
    s.queued = false;
    s.running = true;
    s.again = false;
    s.urgent = false;
    this.depth.set(this.queue.size);
    if (s.lost || this.stopped) {
      s.running = false;
      this.settle(s);
      return;
    }
    await s.ready;
    const h = s.owned.held;
    let next: number | undefined;
    try {
      const started = performance.now();
      const r = await this.o.reconciler.reconcile(s.owned);
      s.lastPassMs = performance.now() - started;
      s.failures = 0;
      if (r.requeueAt !== undefined) next = Math.max(0, r.requeueAt - Date.now()) + 5;
      // History-only healthy marks (healthy-marks.ts) go once the lattice is quiet: a pass that sent and
      // published nothing, with nothing queued after it. After a busy pass, come back soon to see.
      if (s.owned.marks.size > 0 && !s.again && !s.lost) {
        if (r.commands.length === 0 && r.published === 0) await this.o.reconciler.flushMarks(s.owned);
        else next = Math.min(next ?? Infinity, MARKS_RECHECK_MS);
      }
      const gcIn = await idleLattice({ ctx: this.o.ctx, state: this.o.state, leases: this.o.leases, logger: this.o.logger, metrics: this.o.metrics, held: h, gcAfterMs: this.o.gcAfterMs }, r.idle);
      if (gcIn !== undefined) next = next === undefined ? gcIn : Math.min(next, gcIn);
    } catch (err) {
      if (err instanceof LeaseLostError) {
        this.o.logger.warn({ lattice: h.ref.lattice, epoch: h.epoch, err: err.message }, 'pass stopped: lease lost');
      } else {
        s.failures++;
        this.retries.inc();
        next = Math.min(30_000, 250 * 2 ** Math.min(s.failures, 7));
        this.o.logger.warn({ lattice: h.ref.lattice, err, retryInMs: next }, 'reconcile failed; will retry');
      }
    } finally {
      s.running = false;
      this.settle(s);
    }
    if (s.lost) return;
    if (s.again) this.wake(s, s.urgent ? 0 : this.coalesceMs(s), 'changed during pass');
    else if (next !== undefined) this.wake(s, next, 'requeue');
  }
}
