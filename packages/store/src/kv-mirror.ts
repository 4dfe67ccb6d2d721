/**
 * An in-memory mirror of a KV bucket, kept current by one watch (initial values, then updates): the
 * informer cache of controller-runtime, over JetStream KV. One watch per bucket per replica, however
 * many lattices there are (NATS 2.9 has no multi-filter consumers, so the watch covers the bucket).
 *
 * - Entries carry their revision; an update never replaces a newer revision (our own writes are applied
 *   at once with `applyLocal`, and the watch's later delivery of the same revision is a no-op).
 * - `caughtUp(seq)` waits until the mirror has seen the bucket up to a stream sequence (e.g. the last
 *   sequence read when a lattice was acquired), so an owner never acts on a view older than its lease.
 * - The watch is supervised: if it ends (server restart, bucket recreated), it is reopened with backoff
 *   and the mirror is rebuilt from the fresh initial values.
 *
 * Over 300 lines on purpose: entries, remembered removals, waiters and the watch loop keep one ordering
 * invariant together (a revision never goes back), and every method is part of keeping it.
 */
import { performance } from 'node:perf_hooks';
import type { KV, KvEntry } from '@nats-io/kv';
import type { JetStreamManager, JsMsg } from '@nats-io/jetstream';
import { nuid } from '@nats-io/nats-core';
import type { Logger } from '@wadm-ts/obs';
import { isMissingResource } from './retry.js';

export interface MirrorEntry<T> {
  value: T;
  revision: number;
}

/** A key changed: its previous and new value (undefined = absent). */
export type MirrorListener<T> = (key: string, previous: T | undefined, next: T | undefined) => void;

export interface KvMirrorOptions<T> {
  name: string;
  /** Open (creating when missing) the bucket; called again when the watch has to be reopened. */
  open: () => Promise<KV>;
  jsm: JetStreamManager;
  logger: Logger;
  /** Decode a stored value; undefined drops the key from the mirror (not ours / corrupt). */
  decode: (key: string, data: Uint8Array) => T | undefined;
  /**
   * How long a removal is remembered once the watch has delivered past it (ms, default 60 000): long
   * enough that no write acknowledged before it can still arrive, short enough that keys removed for good
   * (a new in-flight key per chunk of commands) do not pile up in memory.
   */
  removalMemoryMs?: number;
  /**
   * A watch that delivered nothing for this long (checked once per such interval, so at most twice as long)
   * asks the server whether its consumer still exists, and is reopened when it does not (ms, default 15 000). The client recreates the consumer of a gap it sees,
   * but not one deleted under it (by an operator, or by the server after a long freeze of this process):
   * without the check the view would stay as it was, silently, for good.
   */
  livenessMs?: number;
}

/** The raw message of @nats-io/nats-core 3.x (feature-detected: other shapes parse the headers). */
interface RawMsg {
  _rdata?: unknown;
  _msg?: { hdr?: unknown };
}

/**
 * Whether a watch delivery is a value (not a delete or purge marker). Every value written with
 * compare-and-set carries a header (`Nats-Expected-Last-Subject-Sequence`), and the client's `operation`
 * parses the whole header block into a map for every delivery; markers are the messages whose header
 * block names `KV-Operation`, so a search of the raw block answers without parsing it. `parsed` answers
 * from the parsed headers when the raw block is not there or names `KV-Operation`.
 */
function isPutMessage(m: RawMsg | undefined, parsed: () => boolean): boolean {
  const raw = m?._rdata;
  const hdr = m?._msg?.hdr;
  if (!(raw instanceof Uint8Array) || typeof hdr !== 'number' || hdr > raw.length) return parsed();
  if (hdr <= 0) return true;
  // Header names are case-insensitive: compare the block lower-cased.
  if (!Buffer.from(raw.buffer, raw.byteOffset, hdr).toString('latin1').toLowerCase().includes('kv-operation')) return true;
  return parsed();
}

/** `isPutMessage` for an entry of the client's `kv.watch`. */
export function isKvPut(e: KvEntry): boolean {
  return isPutMessage((e as unknown as { sm?: { msg?: RawMsg } }).sm?.msg, () => e.operation === 'PUT');
}

/** A wait for a stream sequence (see `waitForSeq`). */
interface SeqWaiter {
  seq: number;
  resolve: () => void;
}

/** Wait on `waiters` until `releaseUpTo` passes `seq`: true, or false after `timeoutMs`. */
function waitForSeq(waiters: SeqWaiter[], seq: number, timeoutMs: number): Promise<boolean> {
  return timedWait(timeoutMs, false, (settle) => {
    const w = { seq, resolve: () => settle(true) };
    waiters.push(w);
    return () => {
      const i = waiters.indexOf(w);
      if (i >= 0) waiters.splice(i, 1);
    };
  });
}

/** Resolve the waits of `waiters` for sequences up to `revision`. */
function releaseUpTo(waiters: SeqWaiter[], revision: number): void {
  for (let i = waiters.length - 1; i >= 0; i--) {
    const w = waiters[i]!;
    if (w.seq <= revision) {
      waiters.splice(i, 1);
      w.resolve();
    }
  }
}

/** One delivery of a bucket watch: the key, its revision, the value (empty for a marker) and whether it is a value. */
type Delivery = (key: string, revision: number, value: Uint8Array, put: boolean) => void;

/** What `Bucket.watch` of @nats-io/kv 3.x builds its ordered push consumer from (feature-detected). */
interface BucketInternals {
  _buildCC(k: string, content: string, opts: { headers_only: boolean }): Record<string, unknown>;
  js: { consumers: { getPushConsumer(stream: string, cc: Record<string, unknown>): Promise<PushConsumer> } };
  stream: string;
  prefixLen: number;
  encodeKey(k: string): string;
}
interface PushConsumer {
  consume(o: { callback: (m: JsMsg) => void }): Promise<{ stop(): void; closed(): Promise<unknown> }>;
  info(cached?: boolean): Promise<unknown>;
}

/** An open watch: stop it, learn when it ended, and ask whether its consumer still exists on the server. */
interface Watch {
  stop(): void;
  closed: Promise<void>;
  /** False when the server no longer has the watch's consumer; true otherwise (also when it cannot tell now). */
  alive(): Promise<boolean>;
}

/**
 * Watch every key of `kv` from its last values on, handing each delivery to `deliver` as it arrives. The
 * ordered push consumer is the one the client's `kv.watch` uses (gaps, heartbeats and flow control are the
 * client's), consumed with a callback: a delivery is not wrapped in an entry and queued for an async
 * iterator first, which cost a busy replica as much as everything it does with the delivery. With a
 * client that builds its watch differently, `kv.watch` is used.
 */
async function watchBucket(kv: KV, deliver: Delivery): Promise<Watch> {
  const b = kv as unknown as Partial<BucketInternals>;
  if (typeof b._buildCC === 'function' && typeof b.js?.consumers?.getPushConsumer === 'function' && typeof b.stream === 'string' && typeof b.prefixLen === 'number' && b.encodeKey?.('a.b_=c') === 'a.b_=c') {
    const cc = { ...b._buildCC('>', 'last_value', { headers_only: false }), name: `KV_WATCHER_${nuid.next()}` };
    const oc = await b.js.consumers.getPushConsumer(b.stream, cc);
    const prefixLen = b.prefixLen;
    const iter = await oc.consume({
      callback: (m) => {
        const raw = (m as unknown as { msg?: RawMsg }).msg;
        deliver(m.subject.substring(prefixLen), m.seq, m.data, isPutMessage(raw, () => {
          const op = m.headers?.get('KV-Operation');
          return op !== 'DEL' && op !== 'PURGE';
        }));
      },
    });
    const alive = async (): Promise<boolean> => {
      try {
        await oc.info(false);
        return true;
      } catch (err) {
        return !isMissingResource(err);
      }
    };
    return { stop: () => iter.stop(), closed: iter.closed().then(() => undefined, () => undefined), alive };
  }
  const iter = await kv.watch({ key: '>' });
  const closed = (async () => {
    for await (const e of iter) deliver(e.key, e.revision, e.value, isKvPut(e));
  })();
  return { stop: () => iter.stop(), closed, alive: async () => true };
}

/**
 * A wait that `register` hooks up (it is handed `settle`, and returns how to unhook it): settled by the
 * first `settle(value)`, or with `timedOut` after `timeoutMs`, when it is unhooked.
 */
function timedWait<V>(timeoutMs: number, timedOut: V, register: (settle: (v: V) => void) => () => void): Promise<V> {
  return new Promise((resolve) => {
    const t = setTimeout(() => {
      unhook();
      resolve(timedOut);
    }, timeoutMs);
    const unhook = register((v) => {
      clearTimeout(t);
      resolve(v);
    });
  });
}

export class KvMirror<T> {
  private readonly entries = new Map<string, MirrorEntry<T>>();
  private readonly listeners: Array<MirrorListener<T>> = [];
  private maxRevision = 0;
  private kv: KV | undefined;
  private stopped = false;
  private loop: Promise<void> | undefined;
  private stopWatch: (() => void) | undefined;
  private readonly waiters: SeqWaiter[] = [];
  /** Per key: callers waiting for the mirror to hold it above a revision (see `newerThan`). */
  private readonly keyWaiters = new Map<string, Array<{ after: number; resolve: () => void }>>();
  /**
   * Keys removed (locally or by a marker) → the revision of the removal: a watch that lags behind our own
   * delete must not bring back a value older than it.
   */
  private readonly removedAt = new Map<string, { revision: number; at: number }>();
  /** The highest revision the watch itself delivered (our own writes are applied earlier, at their ack). */
  private watchRevision = 0;
  private lastPrune = performance.now();
  /** While a reopened watch replays the initial values: keys seen so far (the rest are gone afterwards). */
  private resync: Set<string> | undefined;
  private loaded = false;

  constructor(private readonly o: KvMirrorOptions<T>) {}

  get bucket(): string {
    return this.o.name;
  }

  /** Start watching; resolves once the initial values are loaded. */
  async start(): Promise<void> {
    this.stopped = false;
    let ready!: () => void;
    const loaded = new Promise<void>((r) => (ready = r));
    this.loop = this.run(ready);
    await loaded;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.stopWatch?.();
    await this.loop;
    for (const w of this.waiters.splice(0)) w.resolve();
  }

  /**
   * Reopen the watch and rebuild from fresh initial values (after a reconnect: the server may have lost
   * the bucket, with memory storage, and started its sequence again).
   */
  reopen(): void {
    if (!this.stopped) this.stopWatch?.();
  }

  onChange(l: MirrorListener<T>): void {
    this.listeners.push(l);
  }

  get(key: string): MirrorEntry<T> | undefined {
    return this.entries.get(key);
  }

  /** Every entry whose key starts with `prefix`. */
  *withPrefix(prefix: string): IterableIterator<[string, MirrorEntry<T>]> {
    for (const e of this.entries) if (e[0].startsWith(prefix)) yield e;
  }

  *all(): IterableIterator<[string, MirrorEntry<T>]> {
    yield* this.entries;
  }

  /** Initial values loaded and not rebuilding after a reopened watch. */
  get ready(): boolean {
    return this.loaded && this.resync === undefined;
  }

  get size(): number {
    return this.entries.size;
  }

  /** Apply a write this process made (revision from the server's ack); undefined value = removed. */
  applyLocal(key: string, value: T | undefined, revision: number): void {
    this.apply(key, value, revision);
  }

  /**
   * Apply what KV holds for `key`, read after a lost compare-and-set: its value (decoded as watch
   * deliveries are; left alone when it does not decode), or its absence at the entry's revision, else at
   * `absentRevision`. Returns the decoded value, if any.
   */
  applyRead(key: string, entry: KvEntry | null, absentRevision: number): T | undefined {
    if (entry && entry.operation === 'PUT') {
      let v: T | undefined;
      try {
        v = this.o.decode(key, entry.value);
      } catch {
        return undefined;
      }
      if (v !== undefined) this.apply(key, v, entry.revision);
      return v;
    }
    this.apply(key, undefined, entry?.revision ?? absentRevision);
    return undefined;
  }

  /**
   * The revision the mirror knows for `key`: its entry's, else that of a removal it still remembers, else
   * 0 (never seen, or its removal forgotten: a compare-and-set on it then fails and reads KV).
   */
  revisionOf(key: string): number {
    return this.entries.get(key)?.revision ?? this.removedRevision(key);
  }

  /**
   * Resolves true once the mirror holds `key` at a revision above `after` (a value, or its removal), false
   * after `timeoutMs` if nothing newer was delivered. A writer that lost a compare-and-set waits here for
   * the winner's write, which the watch is about to deliver, instead of reading KV.
   */
  newerThan(key: string, after: number, timeoutMs: number): Promise<boolean> {
    if (this.revisionOf(key) > after) return Promise.resolve(true);
    return timedWait(timeoutMs, false, (settle) => {
      let list = this.keyWaiters.get(key);
      if (!list) this.keyWaiters.set(key, (list = []));
      const w = { after, resolve: () => settle(true) };
      list.push(w);
      return () => {
        const l = this.keyWaiters.get(key);
        const i = l?.indexOf(w) ?? -1;
        if (l && i >= 0) l.splice(i, 1);
        if (l?.length === 0) this.keyWaiters.delete(key);
      };
    });
  }

  private wake(key: string): void {
    const list = this.keyWaiters.get(key);
    if (!list) return;
    const rev = this.revisionOf(key);
    const due = list.filter((w) => w.after < rev);
    if (due.length === 0) return;
    const rest = list.filter((w) => w.after >= rev);
    if (rest.length === 0) this.keyWaiters.delete(key);
    else this.keyWaiters.set(key, rest);
    for (const w of due) w.resolve();
  }

  /**
   * True once the watch itself has delivered the bucket up to stream sequence `seq` (a write of this
   * process applied at its acknowledgement does not count): then every write before it is in the mirror.
   * False when that takes longer than `timeoutMs`.
   */
  delivered(seq: number, timeoutMs: number): Promise<boolean> {
    return this.watchRevision >= seq ? Promise.resolve(true) : waitForSeq(this.deliveredWaiters, seq, timeoutMs);
  }

  private readonly deliveredWaiters: SeqWaiter[] = [];

  /** Resolve once every bucket message up to `seq` has been seen (or after `timeoutMs`: returns false). */
  caughtUp(seq: number, timeoutMs = 5000): Promise<boolean> {
    return this.maxRevision >= seq ? Promise.resolve(true) : waitForSeq(this.waiters, seq, timeoutMs);
  }

  /** Wait until the mirror has seen everything the bucket held when this was called. */
  async sync(timeoutMs = 5000): Promise<boolean> {
    const info = await this.o.jsm.streams.info(`KV_${this.o.name}`);
    return this.caughtUp(info.state.last_seq, timeoutMs);
  }

  private apply(key: string, value: T | undefined, revision: number): void {
    const cur = this.entries.get(key);
    if (this.resync && !this.resync.has(key)) {
      // First delivery after a reopen: it is the truth, whatever revision we held (a recreated stream
      // starts its sequence again).
      this.resync.add(key);
      this.removedAt.delete(key);
    } else if (cur && cur.revision >= revision) return;
    else if (!cur && this.removedRevision(key) >= revision) return;
    if (value === undefined) this.markRemoved(key, revision);
    else this.removedAt.delete(key);
    if (value === undefined) {
      if (!cur) {
        this.bump(revision);
        this.wake(key);
        return;
      }
      this.entries.delete(key);
    } else {
      this.entries.set(key, { value, revision });
    }
    this.bump(revision);
    for (const l of this.listeners) l(key, cur?.value, value);
    this.wake(key);
  }

  /** Keys whose removal is still remembered (see `removalMemoryMs`). */
  get removals(): number {
    return this.removedAt.size;
  }

  private removedRevision(key: string): number {
    return this.removedAt.get(key)?.revision ?? 0;
  }

  private markRemoved(key: string, revision: number): void {
    this.removedAt.set(key, { revision: Math.max(revision, this.removedRevision(key)), at: performance.now() });
  }

  /**
   * A delivery of the watch at `revision`. Now and then, removals the watch has delivered past and that
   * are older than `removalMemoryMs` are forgotten: the watch delivers in order, so nothing older of
   * those keys can come from it any more, and no acknowledged write of ours is that late.
   */
  private seen(revision: number): void {
    if (revision > this.watchRevision) {
      this.watchRevision = revision;
      releaseUpTo(this.deliveredWaiters, revision);
    }
    const memory = this.o.removalMemoryMs ?? 60_000;
    const now = performance.now();
    if (now - this.lastPrune < memory / 2 || this.removedAt.size === 0) return;
    this.lastPrune = now;
    for (const [k, r] of this.removedAt) if (r.revision <= this.watchRevision && now - r.at >= memory) this.removedAt.delete(k);
  }

  private bump(revision: number): void {
    if (revision <= this.maxRevision) return;
    this.maxRevision = revision;
    releaseUpTo(this.waiters, revision);
  }

  private onEntry(key: string, revision: number, value: Uint8Array, put: boolean): void {
    if (!put) {
      // A delete/purge marker removes the key (markers are newer than what they remove).
      this.resync?.add(key);
      this.seen(revision);
      const cur = this.entries.get(key);
      if (!cur) this.markRemoved(key, revision);
      else if (cur.revision < revision || this.resync) {
        this.entries.delete(key);
        this.markRemoved(key, revision);
        for (const l of this.listeners) l(key, cur.value, undefined);
      }
      this.bump(revision);
      this.wake(key);
      return;
    }
    this.seen(revision);
    if (!this.resync) {
      // Already applied (this process's own write, applied at its ack) or older than a removal: no decode.
      const cur = this.entries.get(key);
      if ((cur && cur.revision >= revision) || (!cur && this.removedRevision(key) >= revision)) {
        this.bump(revision);
        return;
      }
    }
    let v: T | undefined;
    try {
      v = this.o.decode(key, value);
    } catch {
      v = undefined;
    }
    this.apply(key, v, revision);
  }

  private async run(ready: () => void): Promise<void> {
    let delay = 100;
    let first = true;
    while (!this.stopped) {
      try {
        this.kv ??= await this.o.open();
        let failed: unknown;
        // Deliveries that arrive before this session is set up (below) wait for it, in order.
        let held: Array<Parameters<Delivery>> | undefined = [];
        let watch: Watch | undefined;
        let deliveries = 0;
        const take: Delivery = (key, revision, value, put) => {
          deliveries++;
          if (this.stopped || failed !== undefined) return;
          if (held) {
            held.push([key, revision, value, put]);
            return;
          }
          try {
            this.onEntry(key, revision, value, put);
          } catch (err) {
            // A listener failed: reopen (the initial values rebuild the mirror) rather than go on without it.
            failed = err;
            setImmediate(() => watch?.stop());
          }
        };
        watch = await watchBucket(this.kv, take);
        this.stopWatch = () => watch?.stop();
        // Stopped while the watch was being opened: nothing would stop this one.
        if (this.stopped) watch.stop();
        const last = (await this.o.jsm.streams.info(`KV_${this.o.name}`)).state.last_seq;
        if (!first) {
          // Reopened: the initial values rebuild the mirror; keys they do not mention are gone.
          this.resync = new Set();
          this.maxRevision = 0;
          this.watchRevision = 0;
          this.removedAt.clear();
        }
        let announced = false;
        const announce = (): void => {
          if (announced) return;
          announced = true;
          const seen = this.resync;
          this.resync = undefined;
          if (seen) {
            for (const k of [...this.entries.keys()]) {
              if (seen.has(k)) continue;
              const prev = this.entries.get(k)!.value;
              this.entries.delete(k);
              for (const l of this.listeners) l(k, prev, undefined);
            }
          }
          this.loaded = true;
          if (first) ready();
          first = false;
          delay = 100;
        };
        if (last === 0) announce();
        else void this.caughtUp(last, 60_000).then(announce);
        const early = held;
        held = undefined;
        for (const d of early) take(...d);
        const open = watch;
        // Asked once per interval without a delivery (a heartbeat does not count: the client keeps those).
        let counted = deliveries;
        let checking = false;
        const liveness = setInterval(() => {
          if (checking || deliveries !== counted) {
            counted = deliveries;
            return;
          }
          checking = true;
          void open
            .alive()
            .then((ok) => {
              if (ok || this.stopped) return;
              this.o.logger.warn({ bucket: this.o.name }, 'the KV watch\'s consumer is gone from the server; reopening the watch');
              open.stop();
            })
            .finally(() => (checking = false));
        }, this.o.livenessMs ?? 15_000);
        liveness.unref();
        try {
          await watch.closed;
        } finally {
          clearInterval(liveness);
        }
        if (failed !== undefined) throw failed;
        if (!announced) announce();
      } catch (err) {
        if (this.stopped) break;
        this.o.logger.warn({ err: (err as Error).message, bucket: this.o.name, retryInMs: delay }, 'KV watch failed; reopening');
        this.kv = undefined;
      }
      if (this.stopped) break;
      this.o.logger.info({ bucket: this.o.name }, 'KV watch ended; reopening');
      await new Promise((r) => setTimeout(r, delay));
      delay = Math.min(delay * 2, 5000);
    }
    if (first) ready();
  }
}
