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
  /** The API subscription this replica answers on (written in its presence). */
  api?: string;
}

/** A replica takes part in choosing API responders from its second renewal in a row on (see `liveApi`). */
export const SETTLED_RUN = 2;

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
  /** The same, as heard, never moved forward by `stallCheck` (see `liveApi`). */
  private readonly heard = new Map<string, number>();
  /** Renewals in this replica's current run (written in a row, each within `leaseMs` of the one before), as written in its presence. */
  private run = 0;
  /** When the last renewal that was written (acknowledged) had been sent (monotonic). */
  private lastWritten = -Infinity;
  /** Set once this replica withdrew from answering the API (stopping): it is nobody's responder any more. */
  private withdrawn = false;
  /** Set while it withdraws: its renewals no longer name the API. */
  private leaving = false;
  /** Set once the API subscription is up (`joinApi`): from then on renewals name the API. */
  private joined = false;
  /** Whether the last written renewal named the API. */
  private runNamesApi = false;
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

  /**
   * Whether the others take this replica's presence for live, as far as it can tell: its last renewal was
   * written less than `leaseMs` (less a safety margin) ago. Looser than `current`, which also wants this
   * process's own watch to have delivered the renewal: what the API needs is to answer exactly while the
   * others leave the requests chosen for it to it.
   */
  answering(now = performance.now()): boolean {
    return now - this.lastWritten < this.o.leaseMs - this.safetyMs;
  }

  /** Whether a renewal is due (every leaseMs/4); also clears the valid gauge once not current. */
  renewDue(now: number): boolean {
    if (now >= this.validUntil) this.validGauge.set(0);
    return now - this.lastRenewSent >= this.o.leaseMs / 4;
  }

  /** A presence key changed in the bucket. */
  changed(key: string, present: boolean): void {
    if (present) {
      const now = performance.now();
      this.seen.set(key, now);
      this.heard.set(key, now);
    } else {
      this.seen.delete(key);
      this.heard.delete(key);
    }
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

  /**
   * The replicas answering on API subscription `api` whose presence was heard to change within `leaseMs`
   * (`live`; this one while `answering` and not withdrawn), and those of them whose presence says they
   * renewed `SETTLED_RUN` times in a row (`settled`): every replica reads that from the same record, so all
   * take a joining (or resumed) replica into account at about the same moment, and their choices agree
   * across a join. Unlike `live()`, a stall of this process does not count as having heard from the
   * others: for the API, taking a silent replica for gone costs a duplicate answer, taking it for live
   * loses the requests chosen for it.
   */
  liveApi(now: number, api: string): { live: string[]; settled: string[] } {
    const live: string[] = [];
    const settled: string[] = [];
    const own = this.key;
    for (const [key, e] of this.o.mirror.all()) {
      if (key === own || e.value.kind !== 'replica' || e.value.api !== api) continue;
      if (now - (this.heard.get(key) ?? now) >= this.o.leaseMs) continue;
      live.push(e.value.replica);
      if ((e.value.run ?? SETTLED_RUN) >= SETTLED_RUN) settled.push(e.value.replica);
    }
    if (this.o.api === api && this.runNamesApi && !this.withdrawn && this.answering(now)) {
      live.push(this.o.replicaId);
      if (this.run >= SETTLED_RUN) settled.push(this.o.replicaId);
    }
    return { live: live.sort(), settled: settled.sort() };
  }

  /** Whether `owner`'s presence, of that incarnation, is live. */
  alive(owner: string, incarnation: string | undefined, now: number): boolean {
    const pKey = presenceKey(owner);
    const p = this.o.mirror.get(pKey)?.value;
    if (!p || p.kind !== 'replica' || p.incarnation !== incarnation) return false;
    return now - (this.seen.get(pKey) ?? now) < this.o.leaseMs;
  }

  /**
   * Start answering API requests (the API subscription is up): renew at once with the API named, so the
   * others count this replica only once it can answer what they leave to it.
   */
  async joinApi(): Promise<void> {
    if (this.joined || this.o.api === undefined) return;
    this.joined = true;
    try {
      await this.renew();
    } catch {
      // the next renewal names it
    }
  }

  /**
   * Stop answering API requests and say so in the presence (a renewal without `api`), so the others take
   * this replica's share at once instead of after `leaseMs` (best effort: on failure they do after that).
   */
  async leaveApi(): Promise<void> {
    if (this.leaving) return;
    this.leaving = true;
    try {
      await this.renew();
    } catch {
      // best effort
    }
    // Seen by the others about now (the renewal is confirmed once this process's own watch delivered it).
    this.withdrawn = true;
  }

  /** Withdraw this replica's presence (best effort: it expires by itself). */
  async withdraw(kv: KV | undefined): Promise<void> {
    this.withdrawn = true;
    try {
      if (kv) await kv.delete(this.key);
    } catch {
      // best effort: presence expires by itself
    }
  }

  /** Renew by compare-and-set; throws when it failed. */
  async renew(): Promise<void> {
    const key = this.key;
    const sent = performance.now();
    const api = this.joined && !this.leaving && !this.withdrawn ? this.o.api : undefined;
    // The run goes on while renewals naming the API follow each other within the lease; else it begins again.
    const run = this.answering(sent) && this.runNamesApi ? this.run + 1 : 1;
    const value: PresenceValue = { kind: 'replica', replica: this.o.replicaId, incarnation: this.incarnation, at: Date.now(), ...(api !== undefined ? { api, run } : {}) };
    const kv = await this.o.kv();
    try {
      const rev = this.revision ? await kv.update(key, encodeLeaseRecord(value), this.revision) : await kv.put(key, encodeLeaseRecord(value));
      this.revision = rev;
      // Written: the others hear of it now, whether or not this process's watch confirms it in time.
      this.lastWritten = sent;
      this.run = run;
      this.runNamesApi = api !== undefined;
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
