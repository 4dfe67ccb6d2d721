/**
 * Lattice ownership through leases with fencing tokens, in KV bucket `wadm_leases`.
 *
 *   r.{replicaId}           presence: {replica, incarnation, at}; renewed by compare-and-set every
 *                           leaseMs/4. It renews, in one write, the lease of every lattice the replica owns.
 *   l.{account|_}.{lattice} the lattice's lease: {owner, incarnation, epoch, idleSince?}; written (CAS)
 *                           only when the owner changes or the lattice becomes idle/active.
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
import { randomUUID } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import type { KV } from '@nats-io/kv';
import { KvMirror, ensureBucket, isCasConflict, type JetStreamContext, type LatticeRef } from '@wadm-ts/store';
import type { Logger, Metrics } from '@wadm-ts/obs';
import { fromKeyToken, keyToken } from '@wadm-ts/entities';

export const LEASE_BUCKET = 'wadm_leases';

export interface LeaseValue {
  kind: 'lease';
  lattice: string;
  account?: string;
  /** Replica id, or null when released / not yet taken. */
  owner: string | null;
  incarnation?: string;
  /** Fencing token: raised at every change of owner. */
  epoch: number;
  /** Wall time (ms) when the owner first saw the lattice idle (no live host, no deployed app). */
  idleSince?: number;
}

export interface PresenceValue {
  kind: 'replica';
  replica: string;
  incarnation: string;
  /** Wall time of the renewal (informational; expiry is judged by observation). */
  at: number;
}

type LeaseRecord = LeaseValue | PresenceValue;

export function leaseKey(ref: LatticeRef): string {
  return `l.${ref.account ? keyToken(ref.account) : '_'}.${keyToken(ref.lattice)}`;
}

export function refOfLeaseKey(key: string): LatticeRef | undefined {
  const t = key.split('.');
  if (t.length !== 3 || t[0] !== 'l') return undefined;
  const lattice = fromKeyToken(t[2]!);
  return t[1] === '_' ? { lattice } : { lattice, account: fromKeyToken(t[1]!) };
}

export class LeaseLostError extends Error {
  constructor(ref: LatticeRef, epoch: number, why: string) {
    super(`lease of lattice ${ref.lattice} (epoch ${epoch}) lost: ${why}`);
    this.name = 'LeaseLostError';
  }
}

/** What this replica holds. */
export interface Held {
  ref: LatticeRef;
  key: string;
  epoch: number;
}

export interface LeasesOptions {
  ctx: JetStreamContext;
  logger: Logger;
  metrics: Metrics;
  replicaId: string;
  /** Lease duration (WADM_TAKEOVER_MS). */
  leaseMs: number;
  onAcquired: (h: Held) => void;
  onLost: (h: Held, reason: string) => void;
  /** Before this replica hands a lease back: stop working on it (resolve when a pass under way has ended). */
  beforeRelease?: (h: Held) => Promise<void>;
  /** Fencing off (test-only): holds() ignores the deadline. */
  unsafeDisableFencing?: boolean;
}

const decoder = new TextDecoder();

export class Leases {
  readonly mirror: KvMirror<LeaseRecord>;
  private kv: KV | undefined;
  private readonly incarnation = randomUUID();
  private readonly held = new Map<string, Held>();
  /** Leases this replica gave back recently (monotonic time): not taken again at once, so another replica gets them. */
  private readonly releasedAt = new Map<string, number>();
  /** Local (monotonic) time at which each presence key was last seen to change. */
  private readonly seen = new Map<string, number>();
  private presenceRevision = 0;
  /** Monotonic deadline after which this replica must not act as an owner. */
  private validUntil = 0;
  private lastRenewSent = -Infinity;
  private timer: NodeJS.Timeout | undefined;
  private beat: NodeJS.Timeout | undefined;
  /** Monotonic time this process last ran its 100 ms beat: a longer gap means it was itself stalled. */
  private lastBeat = performance.now();
  private ticking: Promise<void> = Promise.resolve();
  private stopped = true;
  private readonly safetyMs: number;
  private readonly ownedGauge;
  private readonly changes;
  private readonly validGauge;

  constructor(private readonly o: LeasesOptions) {
    this.safetyMs = Math.min(1000, Math.max(50, o.leaseMs * 0.2));
    this.mirror = new KvMirror<LeaseRecord>({
      name: LEASE_BUCKET,
      open: () => this.open(),
      jsm: o.ctx.jsm,
      logger: o.logger,
      decode: (_k, d) => JSON.parse(decoder.decode(d)) as LeaseRecord,
    });
    this.mirror.onChange((key, _prev, next) => this.changed(key, next));
    this.ownedGauge = o.metrics.gauge('wadm_lattices_owned', 'lattices whose lease this replica holds');
    this.validGauge = o.metrics.gauge('wadm_lease_valid', '1 while this replica may act as an owner (its presence renewal is current)');
    this.changes = o.metrics.counter('wadm_lease_changes_total', 'lattice leases acquired, released and lost by this replica', ['change']);
  }

  private async open(): Promise<KV> {
    this.kv = await ensureBucket(this.o.ctx, LEASE_BUCKET);
    return this.kv;
  }

  get replicaId(): string {
    return this.o.replicaId;
  }

  async start(): Promise<void> {
    this.stopped = false;
    await this.mirror.start();
    await this.renewPresence();
    const every = Math.max(20, Math.min(250, Math.floor(this.o.leaseMs / 8)));
    this.timer = setInterval(() => this.schedule(), every);
    this.beat = setInterval(() => this.stallCheck(), 100);
    this.schedule();
  }

  /** Hand every lease back, withdraw presence, stop. */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    if (this.beat) clearInterval(this.beat);
    await this.ticking;
    await Promise.all([...this.held.values()].map((h) => this.release(h, 'replica stopping').catch(() => undefined)));
    try {
      if (this.kv) await this.kv.delete(`r.${keyToken(this.o.replicaId)}`);
    } catch {
      // best effort: presence expires by itself
    }
    await this.mirror.stop();
  }

  private schedule(): void {
    if (this.stopped) return;
    this.ticking = this.ticking.then(() => this.tick()).catch((err: unknown) => this.o.logger.warn({ err: (err as Error).message }, 'lease pass failed'));
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
    if (this.o.unsafeDisableFencing) return true;
    if (performance.now() >= this.validUntil) return false;
    const v = this.mirror.get(key)?.value;
    return v?.kind === 'lease' && v.owner === this.o.replicaId && v.incarnation === this.incarnation && v.epoch === epoch;
  }

  /**
   * Whether this replica's presence renewal is current. After a pause (GC, SIGSTOP, partition) it is not,
   * until a renewal succeeds again — and a renewal's reply arrives only after everything the server sent
   * meanwhile (lease and view updates), so a replica that is current again has caught up.
   */
  current(): boolean {
    return performance.now() < this.validUntil;
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

  /** Throws LeaseLostError unless holds(). */
  check(ref: LatticeRef, epoch: number): void {
    if (!this.holds(ref, epoch)) throw new LeaseLostError(ref, epoch, 'not held (expired, taken over, or presence not renewed)');
  }

  private liveReplicas(now: number): Set<string> {
    const live = new Set<string>([this.o.replicaId]);
    for (const [key, e] of this.mirror.all()) {
      if (e.value.kind !== 'replica') continue;
      if (now - (this.seen.get(key) ?? now) < this.o.leaseMs) live.add(e.value.replica);
    }
    return live;
  }

  /**
   * After this process was itself stalled (GC pause, SIGSTOP, an overloaded event loop), what it last saw
   * of the others is old news, not proof they are gone: their presence counts as seen now, so nobody is
   * taken over on the strength of our own pause.
   */
  private stallCheck(): void {
    const now = performance.now();
    if (now - this.lastBeat > Math.max(300, this.o.leaseMs / 5)) for (const k of this.seen.keys()) this.seen.set(k, now);
    this.lastBeat = now;
  }

  /** Whether a lease record is free to take: released, or its owner's presence is gone or stale. */
  private isFree(v: LeaseValue, now: number): boolean {
    if (v.owner === null) return true;
    if (v.owner === this.o.replicaId) return v.incarnation !== this.incarnation || !this.held.has(leaseKey(v));
    const pKey = `r.${keyToken(v.owner)}`;
    const p = this.mirror.get(pKey)?.value;
    if (!p || p.kind !== 'replica' || p.incarnation !== v.incarnation) return true;
    return now - (this.seen.get(pKey) ?? now) >= this.o.leaseMs;
  }

  private changed(key: string, next: LeaseRecord | undefined): void {
    if (key.startsWith('r.')) {
      if (next) this.seen.set(key, performance.now());
      else this.seen.delete(key);
      return;
    }
    const h = this.held.get(key);
    if (h && (!next || next.kind !== 'lease' || next.owner !== this.o.replicaId || next.incarnation !== this.incarnation || next.epoch !== h.epoch)) {
      this.lose(h, next ? `taken over (owner ${next.kind === 'lease' ? next.owner : '?'}, epoch ${next.kind === 'lease' ? next.epoch : '?'})` : 'lease removed');
      return;
    }
    // A lease just released: claim it soon if this replica is below its share (jittered against the others).
    if (!h && next?.kind === 'lease' && next.owner === null && !this.stopped) setTimeout(() => this.schedule(), Math.floor(Math.random() * 30));
  }

  private lose(h: Held, reason: string): void {
    if (this.held.get(h.key) !== h) return;
    this.held.delete(h.key);
    this.ownedGauge.set(this.held.size);
    this.changes.inc({ change: 'lost' });
    this.o.logger.warn({ lattice: h.ref.lattice, epoch: h.epoch, reason }, 'lattice lost');
    this.o.onLost(h, reason);
  }

  private async renewPresence(): Promise<void> {
    const key = `r.${keyToken(this.o.replicaId)}`;
    const value: PresenceValue = { kind: 'replica', replica: this.o.replicaId, incarnation: this.incarnation, at: Date.now() };
    const sent = performance.now();
    const kv = this.kv ?? (await this.open());
    try {
      const rev = this.presenceRevision ? await kv.update(key, JSON.stringify(value), this.presenceRevision) : await kv.put(key, JSON.stringify(value));
      this.presenceRevision = rev;
      this.mirror.applyLocal(key, value, rev);
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
          this.presenceRevision = cur.revision;
        } else {
          this.presenceRevision = 0;
          this.validUntil = 0;
          for (const h of [...this.held.values()]) this.lose(h, 'presence overwritten by another process with this replica id');
        }
      }
      throw err;
    }
  }

  private async tick(): Promise<void> {
    if (this.stopped) return;
    this.stallCheck();
    const now = performance.now();
    if (now >= this.validUntil) this.validGauge.set(0);
    if (now - this.lastRenewSent >= this.o.leaseMs / 4) {
      try {
        await this.renewPresence();
      } catch (err) {
        this.o.logger.warn({ err: (err as Error).message }, 'renewing presence failed; will retry');
      }
    }
    if (performance.now() >= this.validUntil) return; // not current: take nothing
    await this.balance(performance.now());
  }

  /** Take free leases up to this replica's share; give one back when holding more than fair. */
  private async balance(now: number): Promise<void> {
    const live = this.liveReplicas(now);
    const leases: LeaseValue[] = [];
    for (const [, e] of this.mirror.all()) if (e.value.kind === 'lease') leases.push(e.value);
    if (leases.length === 0) return;
    const ceil = Math.ceil(leases.length / live.size);
    const floor = Math.floor(leases.length / live.size);
    const owned = new Map<string, number>();
    for (const v of leases) if (v.owner && !this.isFree(v, now)) owned.set(v.owner, (owned.get(v.owner) ?? 0) + 1);
    const mine = this.held.size;
    if (mine < ceil) {
      for (const [k, t] of this.releasedAt) if (now - t >= this.o.leaseMs) this.releasedAt.delete(k);
      const free = leases.filter((v) => this.isFree(v, now) && !this.releasedAt.has(leaseKey(v)));
      shuffle(free);
      let n = mine;
      for (const v of free) {
        if (n >= ceil || this.stopped) break;
        if (await this.acquire({ lattice: v.lattice, ...(v.account ? { account: v.account } : {}) })) n++;
      }
    } else if (mine > floor) {
      const starved = [...live].some((r) => r !== this.o.replicaId && (owned.get(r) ?? 0) < floor);
      if (mine > ceil || starved) {
        const victim = [...this.held.values()].sort((a, b) => (a.key < b.key ? 1 : -1))[0];
        if (victim) await this.release(victim, mine > ceil ? 'above fair share' : 'another replica is below its share');
      }
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
    this.stallCheck();
    const now = performance.now();
    const cur = this.mirror.get(key)?.value;
    if (cur && cur.kind === 'lease' && !this.isFree(cur, now)) return true;
    const live = this.liveReplicas(now);
    let leases = 0;
    for (const [, e] of this.mirror.all()) if (e.value.kind === 'lease') leases++;
    const share = Math.ceil((leases + (cur ? 0 : 1)) / live.size);
    if (this.held.size < share) {
      await this.acquire(ref);
      return true;
    }
    if (!cur) {
      // Make the lattice known, unowned: a replica below its share claims it.
      const v: LeaseValue = { kind: 'lease', lattice: ref.lattice, ...(ref.account ? { account: ref.account } : {}), owner: null, epoch: Date.now() };
      try {
        const kv = this.kv ?? (await this.open());
        const rev = await kv.create(key, JSON.stringify(v));
        this.mirror.applyLocal(key, v, rev);
      } catch (err) {
        if (!isCasConflict(err)) throw err;
      }
    }
    return true;
  }

  /** Compare-and-set the lease to this replica with a higher epoch. */
  async acquire(ref: LatticeRef): Promise<boolean> {
    const key = leaseKey(ref);
    const kv = this.kv ?? (await this.open());
    this.stallCheck();
    const e = this.mirror.get(key);
    const cur = e?.value.kind === 'lease' ? e.value : undefined;
    if (cur && !this.isFree(cur, performance.now())) return false;
    const epoch = cur ? Math.max(cur.epoch + 1, 1) : Date.now();
    const v: LeaseValue = { kind: 'lease', lattice: ref.lattice, ...(ref.account ? { account: ref.account } : {}), owner: this.o.replicaId, incarnation: this.incarnation, epoch };
    if (cur?.idleSince !== undefined) v.idleSince = cur.idleSince;
    let rev: number;
    try {
      rev = e ? await kv.update(key, JSON.stringify(v), e.revision) : await kv.create(key, JSON.stringify(v));
    } catch (err) {
      if (isCasConflict(err)) return false; // another replica was faster
      throw err;
    }
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
    const v: LeaseValue = { ...e.value, owner: null };
    delete v.incarnation;
    try {
      const kv = this.kv ?? (await this.open());
      const rev = await kv.update(h.key, JSON.stringify(v), e.revision);
      this.mirror.applyLocal(h.key, v, rev);
      this.changes.inc({ change: 'released' });
      this.o.logger.info({ lattice: h.ref.lattice, epoch: h.epoch, reason }, 'lattice released');
    } catch (err) {
      if (!isCasConflict(err)) throw err;
    }
  }

  /** Record (or clear) when the lattice became idle, on the lease (CAS, only by the holder). */
  async setIdleSince(h: Held, idleSince: number | undefined): Promise<LeaseValue | undefined> {
    const e = this.mirror.get(h.key);
    if (!e || e.value.kind !== 'lease' || !this.holds(h.ref, h.epoch)) return undefined;
    if (e.value.idleSince === idleSince) return e.value;
    const v: LeaseValue = { ...e.value };
    if (idleSince === undefined) delete v.idleSince;
    else v.idleSince = idleSince;
    const rev = await (this.kv ?? (await this.open())).update(h.key, JSON.stringify(v), e.revision);
    this.mirror.applyLocal(h.key, v, rev);
    return v;
  }

  /** Remove the lease of a garbage-collected lattice (CAS); false when it changed meanwhile. */
  async forget(h: Held): Promise<boolean> {
    const e = this.mirror.get(h.key);
    if (!e || !this.holds(h.ref, h.epoch)) return false;
    const kv = this.kv ?? (await this.open());
    try {
      await kv.purge(h.key, { previousSeq: e.revision });
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

function shuffle<T>(xs: T[]): void {
  for (let i = xs.length - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1));
    [xs[i], xs[j]] = [xs[j]!, xs[i]!];
  }
}
