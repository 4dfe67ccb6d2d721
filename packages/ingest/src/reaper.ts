/**
 * Host expiry, run by the owner of each lattice over its in-memory view (no KV scans). Each expiry is
 * still a compare-and-set on the host's entry, so a silent host is expired exactly once even around a
 * change of owner, and only the winner tombstones the host's components and providers and asks for the
 * lattice to be reconciled. Tombstone garbage collection works the same way.
 *
 * Liveness is judged by arrival, never by comparing clocks: a host is silent when this replica has
 * seen no new event of it (its entry's sequence unchanged) for the cleanup interval of its own
 * monotonic clock, counted from when it first looked (so a replica that starts after every replica was
 * down gives each host a full interval), and only while ingest has nothing undelivered (a backlog may
 * hold the host's heartbeats). The tombstone carries the host's own last sequence, so any event the
 * host published after the one it was judged by (a heartbeat still queued) brings it back.
 */
import { HOST_EVENTS_STREAM, INGEST_CONSUMER, type LatticeRef } from '@wadm-ts/protocol';
import { stateKeys, streamName, type JetStreamContext, type LatticeStateStore, type StateView } from '@wadm-ts/store';
import type { Logger, Metrics } from '@wadm-ts/obs';
import { applyOps } from './apply.js';
import { performance } from 'node:perf_hooks';
import type { LatticeMarker } from './worker.js';
import type { HostEntity } from '@wadm-ts/entities';

export interface ReaperOptions {
  ctx: JetStreamContext;
  store: LatticeStateStore;
  view: StateView;
  /** The lattices this replica owns (the reaper works only on those). */
  lattices: () => LatticeRef[];
  signaler: LatticeMarker;
  logger: Logger;
  metrics: Metrics;
  /** A host with no event for this long is gone (ms). */
  cleanupIntervalMs: number;
  /** Scan period (ms); default a quarter of the cleanup interval, at least 100 ms. */
  tickMs?: number;
  /** Wall time now (ms), for tombstone ages. */
  now?: () => number;
  /** Monotonic time now (ms), for silence (default performance.now). */
  monotonic?: () => number;
  /** Whether ingest has delivered every event (default: asks the ingest consumer). */
  ingestCaughtUp?: () => Promise<boolean>;
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
  /** Host key → the host entry's (sequence, lastSeen) as last seen, and when (monotonic ms) it was first seen so. */
  private readonly arrivals = new Map<string, { mark: string; at: number }>();

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
    const mono = (this.o.monotonic ?? (() => performance.now()))();
    const looked = new Set<string>();
    const silent: Array<{ ref: LatticeRef; host: HostEntity }> = [];
    for (const ref of owned) {
      for (const h of this.o.view.read(ref).snapshot.hosts) {
        const key = stateKeys.host(ref, h.id);
        looked.add(key);
        // Any new event of the host changes its entry: a heartbeat its sequence, other events `lastSeen`.
        const mark = `${h.seq}:${h.lastSeen}`;
        const a = this.arrivals.get(key);
        if (!a || a.mark !== mark) {
          this.arrivals.set(key, { mark, at: mono });
          continue;
        }
        if (mono - a.at > this.o.cleanupIntervalMs) silent.push({ ref, host: h });
      }
    }
    for (const k of [...this.arrivals.keys()]) if (!looked.has(k)) this.arrivals.delete(k);
    if (silent.length > 0 && (await this.caughtUp())) {
      for (const { ref, host } of silent) if (await this.expire(ref, host, now)) out.push({ lattice: ref, hostId: host.id });
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
      if (await this.o.store.removeIfUnchanged(key, revision)) n++;
    }
    this.collected.inc(n);
    return n;
  }

  /** Whether ingest has delivered every event published so far (nothing of a silent host is waiting). */
  private async caughtUp(): Promise<boolean> {
    if (this.o.ingestCaughtUp) return this.o.ingestCaughtUp();
    try {
      const i = await this.o.ctx.jsm.consumers.info(streamName(this.o.ctx, HOST_EVENTS_STREAM), INGEST_CONSUMER);
      return i.num_pending === 0;
    } catch (err) {
      this.o.logger.warn({ err: (err as Error).message }, 'cannot tell whether ingest is caught up; expiring no host this pass');
      return false;
    }
  }

  private async expire(ref: LatticeRef, judged: HostEntity, now: number): Promise<boolean> {
    const hostId = judged.id;
    // The tombstone keeps the sequence the host was judged by: an event the host published after that
    // one (a heartbeat still queued somewhere) is newer and brings the host back.
    const seq = judged.seq;
    const r = await this.o.store.update<HostEntity>(stateKeys.host(ref, hostId), (cur) => {
      if (!cur || cur.deleted || cur.seq !== judged.seq || cur.lastSeen !== judged.lastSeen) return { skip: true };
      return { write: { ...cur, deleted: true, expired: true, deletedAt: now } as HostEntity };
    });
    if (!r.written) return false;
    // Everything the host ran goes, each half a step past its own sequence: still below anything the
    // host publishes next.
    await applyOps(this.o.store, [
      { kind: 'sweep', filter: stateKeys.componentsOf(ref, hostId), keep: new Set(), seq, timeMs: now, final: true, all: true },
      { kind: 'sweep', filter: stateKeys.providersOf(ref, hostId), keep: new Set(), seq, timeMs: now, final: true, all: true },
    ]);
    this.expired.inc({ lattice: ref.lattice });
    this.o.signaler.mark(ref, 'host_expired');
    this.o.logger.info({ lattice: ref.lattice, host: hostId, lastEvent: new Date(r.previous!.lastSeen).toISOString() }, 'host expired: no event from it for the cleanup interval');
    return true;
  }
}
