/**
 * Host expiry, run by the owner of each lattice over its in-memory view (no KV scans). Each expiry is
 * still a compare-and-set on the host's entry, so a silent host is expired exactly once even around a
 * change of owner, and only the winner tombstones the host's components and providers and asks for the
 * lattice to be reconciled. Tombstone garbage collection works the same way.
 */
import { stateKeys, streamName, type HostState, type JetStreamContext, type LatticeRef, type LatticeStateStore, type StateView } from '@wadm-ts/store';
import type { Logger, Metrics } from '@wadm-ts/obs';
import { applyOps } from './apply.js';
import type { ReconcileSignaler } from '@wadm-ts/store';
import { EVENTS_STREAM } from './worker.js';

export interface ReaperOptions {
  ctx: JetStreamContext;
  store: LatticeStateStore;
  view: StateView;
  /** The lattices this replica owns (the reaper works only on those). */
  lattices: () => LatticeRef[];
  signaler: ReconcileSignaler;
  logger: Logger;
  metrics: Metrics;
  /** A host with no event for this long is gone (ms). */
  cleanupIntervalMs: number;
  /** Scan period (ms); default a quarter of the cleanup interval, at least 100 ms. */
  tickMs?: number;
  /** Server time now (ms); the reaper compares against event stream timestamps. */
  now?: () => number;
  /**
   * Tombstones older than this are removed (ms; default 2 h). It must exceed how long the event stream
   * keeps events (1 h), so that no event older than a tombstone can still be delivered.
   */
  tombstoneTtlMs?: number;
  /** How often tombstones are collected (ms; default 5 min). */
  gcIntervalMs?: number;
}

export class HostReaper {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> = Promise.resolve();
  private readonly expired;
  private readonly lattices;
  private readonly hosts;
  private readonly collected;
  private lastGc = 0;

  constructor(private readonly o: ReaperOptions) {
    this.expired = o.metrics.counter('wadm_hosts_expired_total', 'hosts expired for silence (by this replica)', ['lattice']);
    this.lattices = o.metrics.gauge('wadm_lattices_known', 'lattices with state in this replica\'s view');
    this.hosts = o.metrics.gauge('wadm_hosts_known', 'live hosts per lattice (from this replica\'s view)', ['lattice']);
    this.collected = o.metrics.counter('wadm_state_tombstones_collected_total', 'expired tombstones removed from lattice state');
  }

  start(): void {
    const tick = this.o.tickMs ?? Math.max(100, Math.floor(this.o.cleanupIntervalMs / 4));
    this.timer ??= setInterval(() => {
      this.running = this.running.then(async () => void (await this.sweep())).catch((err: unknown) => this.o.logger.warn({ err }, 'host reaper pass failed'));
    }, tick);
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    await this.running;
  }

  /** One pass over every lattice; returns the hosts this replica expired. */
  async sweep(): Promise<Array<{ lattice: LatticeRef; hostId: string }>> {
    const now = (this.o.now ?? Date.now)();
    const all = this.o.view.lattices();
    this.lattices.set(all.length);
    const owned = this.o.lattices();
    const out: Array<{ lattice: LatticeRef; hostId: string }> = [];
    for (const ref of owned) {
      for (const h of this.o.view.read(ref).snapshot.hosts) {
        if (now - h.lastSeen <= this.o.cleanupIntervalMs) continue;
        if (await this.expire(ref, h.id, now)) out.push({ lattice: ref, hostId: h.id });
      }
    }
    // Every replica's view holds every lattice: each reports live hosts for all of them.
    this.hosts.reset();
    for (const ref of all) this.hosts.set({ lattice: ref.lattice }, this.o.view.read(ref).snapshot.hosts.length);
    if (now - this.lastGc >= (this.o.gcIntervalMs ?? 300_000)) {
      this.lastGc = now;
      for (const ref of owned) await this.collectTombstones(ref, now);
    }
    return out;
  }

  /** Remove tombstones past their TTL, each with compare-and-set so a concurrent re-creation survives. */
  async collectTombstones(ref: LatticeRef, now: number): Promise<number> {
    const cutoff = now - (this.o.tombstoneTtlMs ?? 2 * 3_600_000);
    let n = 0;
    for (const { key, value, revision } of this.o.view.entries(ref)) {
      if (value.kind === 'lattice' || value.kind === 'inflight' || value.kind === 'applied') continue;
      // Failure records (kept for backoff and status) age out the same way.
      const deadSince = value.kind === 'failure' ? value.at : value.deleted ? (value.deletedAt ?? 0) : Infinity;
      if (deadSince > cutoff) continue;
      if (await this.o.store.purgeIfUnchanged(key, revision)) n++;
    }
    this.collected.inc(n);
    return n;
  }

  private async expire(ref: LatticeRef, hostId: string, now: number): Promise<boolean> {
    // Everything published before now has a lower sequence than the stream's last one: tombstones at
    // that sequence win against stale events, and lose against anything the host publishes later.
    const seq = (await this.o.ctx.jsm.streams.info(streamName(this.o.ctx, EVENTS_STREAM))).state.last_seq;
    const r = await this.o.store.update<HostState>(stateKeys.host(ref, hostId), (cur) => {
      if (!cur || cur.deleted || now - cur.lastSeen <= this.o.cleanupIntervalMs) return { skip: true };
      return { write: { ...cur, deleted: true, expired: true, seq: Math.max(cur.seq, seq), deletedAt: now } as HostState };
    });
    if (!r.written) return false;
    await applyOps(this.o.store, [
      { kind: 'sweep', filter: stateKeys.componentsOf(ref, hostId), keep: new Set(), seq, timeMs: now, final: true },
      { kind: 'sweep', filter: stateKeys.providersOf(ref, hostId), keep: new Set(), seq, timeMs: now, final: true },
    ]);
    this.expired.inc({ lattice: ref.lattice });
    this.o.signaler.mark(ref, 'host_expired');
    this.o.logger.info({ lattice: ref.lattice, host: hostId, lastSeen: new Date(r.previous!.lastSeen).toISOString() }, 'host expired after the cleanup interval');
    return true;
  }
}
