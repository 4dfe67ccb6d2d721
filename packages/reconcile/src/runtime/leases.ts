/**
 * Lattice ownership through leases with fencing tokens, in KV bucket `wadm_leases` (records and keys:
 * `lease-records.ts`; presence: `presence.ts`; fair-share decisions: `lease-share.ts`; this file: the
 * acquisition, renewal and release loop). Presence `r.{replicaId}` is renewed by compare-and-set every
 * leaseMs/4: it renews, in one write, the lease of every lattice the replica owns. A lease
 * `l.{account|_}.{lattice}` is written (CAS) only when the owner changes or the lattice becomes idle/active.
 *
 * A lease is held while its owner's presence (same incarnation) keeps being renewed. Expiry is judged by
 * local observation, never by comparing clocks: a replica that has not seen an owner's presence change
 * for `leaseMs` (monotonic clock) considers its leases expired and may take one over with a
 * compare-and-set that raises the epoch. The owner itself stops acting `safetyMs` before that moment
 * (its own deadline counts from when it *sent* the last successful renewal), so a paused, hung or
 * partitioned owner has stopped before anyone else starts. Whatever it still writes after a pause
 * between a check and a write carries its old epoch and is refused (see reconciler/commands).
 *
 * Lattices are spread over live replicas: each takes free leases up to ceil(L/R), releases one when it
 * holds more than its share while another holds less than floor(L/R), and hands every lease back on a
 * clean stop, so a joining replica takes some over and a leaving one frees them at once.
 */
import { performance } from 'node:perf_hooks';
import type { LatticeRef } from '@wadm-ts/protocol';
import { isCasConflict, removeKey } from '@wadm-ts/store';
import { claimedLease, encodeLeaseRecord, isLeaseOf, isPresenceKey, leaseKey, refOfLease, releasedLease, unownedLease, withIdleSince, type Held, type LeaseRecord, type LeaseValue } from './lease-records.js';
import { RenewalUnconfirmedError } from './presence.js';
import { balanceStep, offerShare, releaseVictim, shuffle } from './lease-share.js';
import { LeaseTable, type LeaseTableOptions } from './lease-table.js';

export interface LeasesOptions extends LeaseTableOptions {
  onAcquired: (h: Held) => void;
  onLost: (h: Held, reason: string) => void;
  /** Before this replica hands a lease back: stop working on it (resolve when a pass under way has ended). */
  beforeRelease?: (h: Held) => Promise<void>;
}

export class Leases extends LeaseTable {
  /** Leases this replica gave back recently (monotonic time): not taken again at once, so another replica gets them. */
  private readonly releasedAt = new Map<string, number>();
  private timer: NodeJS.Timeout | undefined;
  private beat: NodeJS.Timeout | undefined;
  private ticking: Promise<void> = Promise.resolve();
  private stopped = true;
  private readonly ownedGauge;
  private readonly changes;

  constructor(private readonly o: LeasesOptions) {
    super(o);
    this.mirror.onChange((key, _prev, next) => this.changed(key, next));
    this.ownedGauge = o.metrics.gauge('wadm_lattices_owned', 'lattices whose lease this replica holds');
    this.changes = o.metrics.counter('wadm_lease_changes_total', 'lattice leases acquired, released and lost by this replica', ['change']);
  }

  async start(): Promise<void> {
    this.stopped = false;
    await this.mirror.start();
    try {
      await this.presence.renew();
    } catch (err) {
      // Written but not yet seen on the watch: the first tick renews again.
      if (!(err instanceof RenewalUnconfirmedError)) throw err;
      this.o.logger.warn({ err: err.message }, 'first presence renewal not confirmed yet; will retry');
    }
    const every = Math.max(20, Math.min(250, Math.floor(this.o.leaseMs / 8)));
    this.timer = setInterval(() => this.schedule(), every);
    this.beat = setInterval(() => this.presence.stallCheck(), 100);
    this.schedule();
  }

  /** Hand every lease back, withdraw presence, stop. */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    if (this.beat) clearInterval(this.beat);
    await this.ticking;
    await Promise.all([...this.held.values()].map((h) => this.release(h, 'replica stopping').catch(() => undefined)));
    await this.presence.withdraw(this.kv);
    await this.mirror.stop();
  }

  private schedule(): void {
    if (this.stopped) return;
    this.ticking = this.ticking.then(() => this.tick()).catch((err: unknown) => this.o.logger.warn({ err: (err as Error).message }, 'lease pass failed'));
  }

  /** Resolves once current() (at most `timeoutMs`; false when still not current). */
  async whenCurrent(timeoutMs = 10_000): Promise<boolean> {
    const deadline = performance.now() + timeoutMs;
    while (!this.current()) {
      if (this.stopped || performance.now() >= deadline) return false;
      this.schedule();
      await new Promise((r) => setTimeout(r, 20));
    }
    return true;
  }

  private changed(key: string, next: LeaseRecord | undefined): void {
    if (isPresenceKey(key)) {
      this.presence.changed(key, next !== undefined);
      return;
    }
    const h = this.held.get(key);
    if (h && !isLeaseOf(next, this.o.replicaId, this.incarnation, h.epoch)) {
      this.lose(h, next ? `taken over (owner ${next.kind === 'lease' ? next.owner : '?'}, epoch ${next.kind === 'lease' ? next.epoch : '?'})` : 'lease removed');
      return;
    }
    // A lease just released: claim it soon if this replica is below its share (jittered against the others).
    if (!h && next?.kind === 'lease' && next.owner === null && !this.stopped) setTimeout(() => this.schedule(), Math.floor(Math.random() * 30));
  }

  protected override overwritten(): void {
    for (const h of [...this.held.values()]) this.lose(h, 'presence overwritten by another process with this replica id');
  }

  private lose(h: Held, reason: string): void {
    if (this.held.get(h.key) !== h) return;
    this.held.delete(h.key);
    this.ownedGauge.set(this.held.size);
    this.changes.inc({ change: 'lost' });
    this.o.logger.warn({ lattice: h.ref.lattice, epoch: h.epoch, reason }, 'lattice lost');
    this.o.onLost(h, reason);
  }

  private async tick(): Promise<void> {
    if (this.stopped) return;
    this.presence.stallCheck();
    if (this.presence.renewDue(performance.now())) {
      try {
        await this.presence.renew();
      } catch (err) {
        this.o.logger.warn({ err: (err as Error).message }, 'renewing presence failed; will retry');
      }
    }
    if (!this.presence.current()) return; // not current: take nothing
    await this.balance(performance.now());
  }

  /** Take free leases up to this replica's share; give one back when holding more than fair. */
  private async balance(now: number): Promise<void> {
    const live = this.presence.live(now);
    const leases: LeaseValue[] = [];
    for (const [, e] of this.mirror.all()) if (e.value.kind === 'lease') leases.push(e.value);
    const mine = this.held.size;
    const step = balanceStep({ leases, live, replicaId: this.o.replicaId, mine, isFree: (v) => this.isFree(v, now) });
    if (step.kind === 'take') {
      for (const [k, t] of this.releasedAt) if (now - t >= this.o.leaseMs) this.releasedAt.delete(k);
      const free = leases.filter((v) => this.isFree(v, now) && !this.releasedAt.has(leaseKey(v)));
      shuffle(free);
      let n = mine;
      for (const v of free) {
        if (n >= step.share || this.stopped) break;
        if (await this.acquire(refOfLease(v))) n++;
      }
    } else if (step.kind === 'release') {
      const victim = releaseVictim(this.held.values());
      if (victim) await this.release(victim, step.reason);
    }
  }

  /**
   * A lattice needs an owner (a signal arrived): make sure its lease exists; take it when fair. Returns
   * false when this replica cannot decide now (it is not current: paused or cut off), so that the signal
   * goes to another replica.
   */
  async offer(ref: LatticeRef): Promise<boolean> {
    const key = leaseKey(ref);
    if (this.held.has(key)) return true;
    if (this.stopped || !this.current()) return false;
    this.presence.stallCheck();
    const now = performance.now();
    const cur = this.mirror.get(key)?.value;
    if (cur && cur.kind === 'lease' && !this.isFree(cur, now)) return true;
    const live = this.presence.live(now);
    let leases = 0;
    for (const [, e] of this.mirror.all()) if (e.value.kind === 'lease') leases++;
    const share = offerShare(leases, cur !== undefined, live.size);
    if (this.held.size < share) {
      await this.acquire(ref);
      return true;
    }
    if (!cur) {
      // Make the lattice known, unowned: a replica below its share claims it.
      const v = unownedLease(ref, Date.now());
      const rev = await this.cas(key, v, undefined);
      if (rev !== undefined) this.mirror.applyLocal(key, v, rev);
    }
    return true;
  }

  /** Compare-and-set the lease to this replica with a higher epoch. */
  async acquire(ref: LatticeRef): Promise<boolean> {
    const key = leaseKey(ref);
    await this.bucket(); // opened before the lease is judged: no bucket open comes between the judgement and the write
    this.presence.stallCheck();
    const e = this.mirror.get(key);
    const cur = e?.value.kind === 'lease' ? e.value : undefined;
    if (cur && !this.isFree(cur, performance.now())) return false;
    const v = claimedLease(ref, this.o.replicaId, this.incarnation, cur, Date.now());
    const epoch = v.epoch;
    const rev = await this.cas(key, v, e?.revision);
    if (rev === undefined) return false; // another replica was faster
    const h: Held = { ref, key, epoch };
    this.held.set(key, h);
    this.mirror.applyLocal(key, v, rev);
    this.ownedGauge.set(this.held.size);
    this.changes.inc({ change: 'acquired' });
    this.o.logger.info({ lattice: ref.lattice, epoch, previousOwner: cur?.owner ?? null }, 'lattice acquired');
    this.o.onAcquired(h);
    return true;
  }

  /** Give a lease back (owner null, same epoch) so another replica can take it at once. */
  async release(h: Held, reason: string): Promise<void> {
    if (this.held.get(h.key) !== h) return;
    await this.o.beforeRelease?.(h);
    const e = this.mirror.get(h.key);
    if (this.held.get(h.key) !== h) return;
    this.held.delete(h.key);
    this.releasedAt.set(h.key, performance.now());
    this.ownedGauge.set(this.held.size);
    this.o.onLost(h, reason);
    if (!e || e.value.kind !== 'lease') return;
    const v = releasedLease(e.value);
    const rev = await this.cas(h.key, v, e.revision);
    if (rev === undefined) return;
    this.mirror.applyLocal(h.key, v, rev);
    this.changes.inc({ change: 'released' });
    this.o.logger.info({ lattice: h.ref.lattice, epoch: h.epoch, reason }, 'lattice released');
  }

  /** Record (or clear) when the lattice became idle, on the lease (CAS, only by the holder). */
  async setIdleSince(h: Held, idleSince: number | undefined): Promise<LeaseValue | undefined> {
    const e = this.mirror.get(h.key);
    if (!e || e.value.kind !== 'lease' || !this.holds(h.ref, h.epoch)) return undefined;
    if (e.value.idleSince === idleSince) return e.value;
    const v = withIdleSince(e.value, idleSince);
    const rev = await (await this.bucket()).update(h.key, encodeLeaseRecord(v), e.revision);
    this.mirror.applyLocal(h.key, v, rev);
    return v;
  }

  /** Remove the lease of a garbage-collected lattice (CAS); false when it changed meanwhile. */
  async forget(h: Held): Promise<boolean> {
    const e = this.mirror.get(h.key);
    if (!e || !this.holds(h.ref, h.epoch)) return false;
    const kv = await this.bucket();
    try {
      await removeKey(kv, h.key, e.revision);
    } catch (err) {
      if (isCasConflict(err)) return false;
      throw err;
    }
    this.held.delete(h.key);
    this.ownedGauge.set(this.held.size);
    this.changes.inc({ change: 'forgotten' });
    this.o.onLost(h, 'garbage-collected');
    return true;
  }
}
