/**
 * This replica's presence in `wadm_leases` (`r.{replicaId}`, layout in `leases.ts`) and what it sees of
 * the others'. Expiry is judged by local observation, never by comparing clocks: another replica's
 * presence counts as live while it was seen to change within `leaseMs` (monotonic clock). This replica
 * may act as an owner until `safetyMs` before its own lease would expire, counted from when it *sent*
 * its last successful renewal.
 */
import { randomUUID } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import type { KV } from '@nats-io/kv';
import { isCasConflict, type KvMirror } from '@wadm-ts/store';
import type { Metrics } from '@wadm-ts/obs';
import { encodeLeaseRecord, presenceKey, type LeaseRecord, type PresenceValue } from './lease-records.js';

export interface PresenceOptions {
  replicaId: string;
  leaseMs: number;
  metrics: Metrics;
  mirror: KvMirror<LeaseRecord>;
  kv: () => Promise<KV>;
  /** Another process with this replica id wrote its presence: every lease held is gone. */
  onOverwritten: () => void;
}

/** A renewal was written but the lease watch did not deliver it in time: the validity was not extended. */
export class RenewalUnconfirmedError extends Error {
  constructor(readonly revision: number) {
    super(`the lease watch did not deliver this replica's renewal (revision ${revision}) in time`);
    this.name = 'RenewalUnconfirmedError';
  }
}

export class Presence {
  readonly incarnation = randomUUID();
  private revision = 0;
  /** Monotonic deadline after which this replica must not act as an owner. */
  private validUntil = 0;
  private lastRenewSent = -Infinity;
  /** Local (monotonic) time at which each presence key was last seen to change. */
  private readonly seen = new Map<string, number>();
  /** Monotonic time this process last ran its 100 ms beat: a longer gap means it was itself stalled. */
  private lastBeat = performance.now();
  private readonly safetyMs: number;
  private readonly validGauge;

  constructor(private readonly o: PresenceOptions) {
    this.safetyMs = Math.min(1000, Math.max(50, o.leaseMs * 0.2));
    this.validGauge = o.metrics.gauge('wadm_lease_valid', '1 while this replica may act as an owner (its presence renewal is current)');
  }

  get key(): string {
    return presenceKey(this.o.replicaId);
  }

  /** Whether this replica's renewal is current (it may act as an owner). */
  current(now = performance.now()): boolean {
    return now < this.validUntil;
  }

  /** Whether a renewal is due (every leaseMs/4); also clears the valid gauge once not current. */
  renewDue(now: number): boolean {
    if (now >= this.validUntil) this.validGauge.set(0);
    return now - this.lastRenewSent >= this.o.leaseMs / 4;
  }

  /** A presence key changed in the bucket. */
  changed(key: string, present: boolean): void {
    if (present) this.seen.set(key, performance.now());
    else this.seen.delete(key);
  }

  /**
   * After this process was itself stalled (GC pause, SIGSTOP, an overloaded event loop), what it last saw
   * of the others is old news, not proof they are gone: their presence counts as seen now, so nobody is
   * taken over on the strength of our own pause.
   */
  stallCheck(): void {
    const now = performance.now();
    if (now - this.lastBeat > Math.max(300, this.o.leaseMs / 5)) for (const k of this.seen.keys()) this.seen.set(k, now);
    this.lastBeat = now;
  }

  /** Replicas whose presence is live (this one always). */
  live(now: number): Set<string> {
    const live = new Set<string>([this.o.replicaId]);
    for (const [key, e] of this.o.mirror.all()) {
      if (e.value.kind !== 'replica') continue;
      if (now - (this.seen.get(key) ?? now) < this.o.leaseMs) live.add(e.value.replica);
    }
    return live;
  }

  /** Whether `owner`'s presence, of that incarnation, is live. */
  alive(owner: string, incarnation: string | undefined, now: number): boolean {
    const pKey = presenceKey(owner);
    const p = this.o.mirror.get(pKey)?.value;
    if (!p || p.kind !== 'replica' || p.incarnation !== incarnation) return false;
    return now - (this.seen.get(pKey) ?? now) < this.o.leaseMs;
  }

  /** Withdraw this replica's presence (best effort: it expires by itself). */
  async withdraw(kv: KV | undefined): Promise<void> {
    try {
      if (kv) await kv.delete(this.key);
    } catch {
      // best effort: presence expires by itself
    }
  }

  /** Renew by compare-and-set; throws when it failed. */
  async renew(): Promise<void> {
    const key = this.key;
    const value: PresenceValue = { kind: 'replica', replica: this.o.replicaId, incarnation: this.incarnation, at: Date.now() };
    const sent = performance.now();
    const kv = await this.o.kv();
    try {
      const rev = this.revision ? await kv.update(key, encodeLeaseRecord(value), this.revision) : await kv.put(key, encodeLeaseRecord(value));
      this.revision = rev;
      this.o.mirror.applyLocal(key, value, rev);
      // Current only once the lease watch has delivered this renewal: it has then delivered every lease
      // write made before it, such as another replica's takeover while this process was paused, so no
      // command is checked against a lease table older than the renewal that makes this replica current.
      // Not delivered in time: the validity is not extended, and the next tick renews again.
      if (!(await this.o.mirror.delivered(rev, Math.max(100, this.o.leaseMs / 4)))) throw new RenewalUnconfirmedError(rev);
      this.validUntil = sent + this.o.leaseMs - this.safetyMs;
      this.lastRenewSent = sent;
      this.validGauge.set(1);
    } catch (err) {
      if (isCasConflict(err)) {
        // Either our own earlier renewal landed although its reply was lost, or another process with our
        // id wrote it: only in the second case is every lease we held gone.
        const cur = await kv.get(key).catch(() => null);
        const mine = cur?.operation === 'PUT' && (cur.json<PresenceValue>().incarnation === this.incarnation);
        if (mine && cur) {
          this.revision = cur.revision;
        } else {
          this.revision = 0;
          this.validUntil = 0;
          this.o.onOverwritten();
        }
      }
      throw err;
    }
  }
}
