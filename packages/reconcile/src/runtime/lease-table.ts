/**
 * What this replica knows of the lattice leases (bucket `wadm_leases`, mirrored): their records, the
 * ones it holds, and whether it may act for one right now (fencing). The loop that takes, renews and
 * hands them back is `leases.ts`.
 */
import type { KV } from '@nats-io/kv';
import { LEASE_BUCKET, type LatticeRef } from '@wadm-ts/protocol';
import { KvMirror, ensureBucket, isCasConflict, type JetStreamContext } from '@wadm-ts/store';
import type { Logger, Metrics } from '@wadm-ts/obs';
import { decodeLeaseRecord, encodeLeaseRecord, isLeaseOf, leaseKey, LeaseLostError, type Held, type LeaseRecord, type LeaseValue } from './lease-records.js';
import { Presence } from './presence.js';

export interface LeaseTableOptions {
  ctx: JetStreamContext;
  logger: Logger;
  metrics: Metrics;
  replicaId: string;
  /** Lease duration (WADM_TAKEOVER_MS). */
  leaseMs: number;
  /** Fencing off (test-only): holds() ignores the deadline. */
  unsafeDisableFencing?: boolean;
}

export class LeaseTable {
  readonly mirror: KvMirror<LeaseRecord>;
  protected kv: KV | undefined;
  protected readonly presence: Presence;
  protected readonly held = new Map<string, Held>();

  constructor(private readonly t: LeaseTableOptions) {
    this.mirror = new KvMirror<LeaseRecord>({
      name: LEASE_BUCKET,
      open: () => this.open(),
      jsm: t.ctx.jsm,
      logger: t.logger,
      decode: (_k, d) => decodeLeaseRecord(d),
    });
    this.presence = new Presence({ replicaId: t.replicaId, leaseMs: t.leaseMs, metrics: t.metrics, mirror: this.mirror, kv: () => this.bucket(), onOverwritten: () => this.overwritten() });
  }

  /** Another process with this replica id wrote its presence: every lease held is gone. */
  protected overwritten(): void {}

  protected async open(): Promise<KV> {
    this.kv = await ensureBucket(this.t.ctx, LEASE_BUCKET);
    return this.kv;
  }

  protected async bucket(): Promise<KV> {
    return this.kv ?? (await this.open());
  }

  /** Write `v` by compare-and-set on `revision` (create when undefined): the new revision, undefined on a conflict. */
  protected async cas(key: string, v: LeaseValue, revision: number | undefined): Promise<number | undefined> {
    const kv = await this.bucket();
    try {
      return revision === undefined ? await kv.create(key, encodeLeaseRecord(v)) : await kv.update(key, encodeLeaseRecord(v), revision);
    } catch (err) {
      if (isCasConflict(err)) return undefined;
      throw err;
    }
  }

  protected get incarnation(): string {
    return this.presence.incarnation;
  }

  get replicaId(): string {
    return this.t.replicaId;
  }

  /** The current epoch of a lattice's lease as this replica sees it (for command fencing). */
  epochOf(ref: LatticeRef): number | undefined {
    const v = this.mirror.get(leaseKey(ref))?.value;
    return v?.kind === 'lease' ? v.epoch : undefined;
  }

  lease(ref: LatticeRef): LeaseValue | undefined {
    const v = this.mirror.get(leaseKey(ref))?.value;
    return v?.kind === 'lease' ? v : undefined;
  }

  heldLattices(): Held[] {
    return [...this.held.values()];
  }

  /** Whether this replica may act for the lattice at this epoch right now. */
  holds(ref: LatticeRef, epoch: number): boolean {
    const key = leaseKey(ref);
    const h = this.held.get(key);
    if (!h || h.epoch !== epoch) return false;
    if (this.t.unsafeDisableFencing) return true;
    if (!this.presence.current()) return false;
    return isLeaseOf(this.mirror.get(key)?.value, this.t.replicaId, this.incarnation, epoch);
  }

  /**
   * Whether this replica's presence renewal is current. After a pause (GC, SIGSTOP, partition) it is not,
   * until a renewal succeeds again — and a renewal's reply arrives only after everything the server sent
   * meanwhile (lease and view updates), so a replica that is current again has caught up.
   */
  current(): boolean {
    return this.presence.current();
  }

  /** Throws LeaseLostError unless holds(). */
  check(ref: LatticeRef, epoch: number): void {
    if (!this.holds(ref, epoch)) throw new LeaseLostError(ref, epoch, 'not held (expired, taken over, or presence not renewed)');
  }

  /** Whether a lease record is free to take: released, or its owner's presence is gone or stale. */
  protected isFree(v: LeaseValue, now: number): boolean {
    if (v.owner === null) return true;
    if (v.owner === this.t.replicaId) return v.incarnation !== this.incarnation || !this.held.has(leaseKey(v));
    return !this.presence.alive(v.owner, v.incarnation, now);
  }
}
