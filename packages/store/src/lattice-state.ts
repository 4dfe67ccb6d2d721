/**
 * Lattice state in KV bucket `WADM_STATE_BUCKET_NAME` (default `wadm_state`): one key per entity, never
 * one blob per lattice. Every entity carries `seq`, the stream sequence of the last lattice event that
 * set it, and deletions are kept as tombstones (`deleted: true`) so that an older event can never
 * overwrite newer state or bring a removed entity back. Writes are compare-and-set. The values' types
 * (`HostEntity`, …, the owner's in-flight and applied records) are `@wadm-ts/entities`'s.
 *
 * Key layout (tokens that are not plain `[-_=a-zA-Z0-9]` are encoded as `=` + base64url):
 *   lat.{account|_}.{lattice}.meta
 *   lat.{account|_}.{lattice}.host.{hostId}
 *   lat.{account|_}.{lattice}.comp.{hostId}.{componentId}
 *   lat.{account|_}.{lattice}.prov.{hostId}.{providerId}
 *   lat.{account|_}.{lattice}.link.{sourceId}.{namespace}.{package}.{name}.{target}
 *   lat.{account|_}.{lattice}.config.{name}
 *   lat.{account|_}.{lattice}.fail.{comp|prov|link}.{…}
 *
 * A link's key is its identity on a wasmCloud host: (source, namespace, package, name, target) — a
 * `link.put` replaces the link with that identity or appends a new one, so links that differ only in
 * their target coexist (docs/wire/control-interface.md §3.9). Older wadm-ts releases keyed links without the target
 * (`link.{sourceId}.{namespace}.{package}.{name}`, see `stateKeys.legacyLink`); such an entry still
 * holds the whole link (its target included) and is read like any other link entry. Nothing writes
 * those keys any more except tombstones: the ingest retires one as soon as an event shows it stale
 * (see `@wadm-ts/ingest` plan.ts), so it cannot linger as a phantom link.
 */
import type { KV, KvEntry } from '@nats-io/kv';
import type { JetStreamManager } from '@nats-io/jetstream';
import { keyToken, refOfTokens, refTokens, type LatticeRef } from '@wadm-ts/protocol';
import { type AppliedEntity, type ComponentEntity, type ConfigEntity, type Entity, type FailureEntity, type HostEntity, type InFlightEntity, type LatticeEntities, type LinkEntity, type ProviderEntity, type Versioned } from '@wadm-ts/entities';
import { StorageError, casBackoff } from './errors.js';
import { isCasConflict } from './js-errors.js';
import { removeKey } from './kv-remove.js';


export interface LatticeMeta {
  kind: 'lattice';
  lattice: string;
  account?: string;
  firstSeen: number;
  lastActivity: number;
  /** When an owner first completed a full query of the lattice's hosts (absent: a cold start). */
  queriedAt?: number;
}

/** What the state bucket holds: observed entities, the lattice's meta, and its owner's records (shapes in `@wadm-ts/entities`). */
export type StoredValue = Entity | LatticeMeta | InFlightEntity | AppliedEntity;

const BOOKKEEPING = new Set(['seq', 'lastSeen', 'uptimeSeconds', 'deletedAt', 'expired', 'labelsSeq', 'healthSeq', 'startSeq', 'queriedAt']);

/** Whether a change of a stored value matters to a reconciler (not just sequence numbers and liveness). */
export function semanticallyChanged(prev: StoredValue | undefined, next: StoredValue | undefined): boolean {
  const gone = (v: StoredValue | undefined): boolean => !v || ('deleted' in v && v.deleted === true);
  if (gone(prev) || gone(next)) return gone(prev) !== gone(next);
  return !sameIgnoringBookkeeping(prev, next);
}

/** Deep equality of JSON values, keys named in BOOKKEEPING (at any depth) and undefined members ignored. */
function sameIgnoringBookkeeping(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false;
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  if (Array.isArray(a)) {
    const bb = b as unknown[];
    if (a.length !== bb.length) return false;
    for (let i = 0; i < a.length; i++) if (!sameIgnoringBookkeeping(a[i], bb[i])) return false;
    return true;
  }
  const x = a as Record<string, unknown>;
  const y = b as Record<string, unknown>;
  for (const k in x) if (!BOOKKEEPING.has(k) && x[k] !== undefined && !sameIgnoringBookkeeping(x[k], y[k])) return false;
  for (const k in y) if (!BOOKKEEPING.has(k) && y[k] !== undefined && x[k] === undefined) return false;
  return true;
}

export function latticePrefix(l: LatticeRef): string {
  return `lat.${refTokens(l)}`;
}

export const stateKeys = {
  meta: (l: LatticeRef) => `${latticePrefix(l)}.meta`,
  host: (l: LatticeRef, hostId: string) => `${latticePrefix(l)}.host.${keyToken(hostId)}`,
  hosts: (l: LatticeRef) => `${latticePrefix(l)}.host.*`,
  component: (l: LatticeRef, hostId: string, id: string) => `${latticePrefix(l)}.comp.${keyToken(hostId)}.${keyToken(id)}`,
  componentsOf: (l: LatticeRef, hostId: string) => `${latticePrefix(l)}.comp.${keyToken(hostId)}.*`,
  components: (l: LatticeRef) => `${latticePrefix(l)}.comp.>`,
  provider: (l: LatticeRef, hostId: string, id: string) => `${latticePrefix(l)}.prov.${keyToken(hostId)}.${keyToken(id)}`,
  providersOf: (l: LatticeRef, hostId: string) => `${latticePrefix(l)}.prov.${keyToken(hostId)}.*`,
  providers: (l: LatticeRef) => `${latticePrefix(l)}.prov.>`,
  /** A link by its host identity (source, namespace, package, name, target). */
  link: (l: LatticeRef, sourceId: string, ns: string, pkg: string, name: string, target: string) =>
    `${latticePrefix(l)}.link.${keyToken(sourceId)}.${keyToken(ns)}.${keyToken(pkg)}.${keyToken(name)}.${keyToken(target)}`,
  /** Every link (any target) with this source, namespace, package and name. */
  linksNamed: (l: LatticeRef, sourceId: string, ns: string, pkg: string, name: string) =>
    `${latticePrefix(l)}.link.${keyToken(sourceId)}.${keyToken(ns)}.${keyToken(pkg)}.${keyToken(name)}.*`,
  /** The key older wadm-ts releases kept a link under (no target); only ever tombstoned now. */
  legacyLink: (l: LatticeRef, sourceId: string, ns: string, pkg: string, name: string) =>
    `${latticePrefix(l)}.link.${keyToken(sourceId)}.${keyToken(ns)}.${keyToken(pkg)}.${keyToken(name)}`,
  links: (l: LatticeRef) => `${latticePrefix(l)}.link.>`,
  config: (l: LatticeRef, name: string) => `${latticePrefix(l)}.config.${keyToken(name)}`,
  configs: (l: LatticeRef) => `${latticePrefix(l)}.config.*`,
  failure: (l: LatticeRef, what: FailureEntity['what'], subject: string, hostId = '_') => `${latticePrefix(l)}.fail.${what}.${keyToken(hostId)}.${keyToken(subject)}`,
  failures: (l: LatticeRef) => `${latticePrefix(l)}.fail.>`,
  inflight: (l: LatticeRef, key: string) => `${latticePrefix(l)}.inflight.${keyToken(key)}`,
  inflights: (l: LatticeRef) => `${latticePrefix(l)}.inflight.*`,
  applied: (l: LatticeRef, app: string) => `${latticePrefix(l)}.applied.${keyToken(app)}`,
  applieds: (l: LatticeRef) => `${latticePrefix(l)}.applied.*`,
  all: (l: LatticeRef) => `${latticePrefix(l)}.>`,
};

/** Parse `lat.{acct}.{lattice}.…` back into a LatticeRef. */
export function latticeOfKey(key: string): LatticeRef | undefined {
  const t = key.split('.');
  if (t.length < 4 || t[0] !== 'lat') return undefined;
  return refOfTokens(t[1]!, t[2]!);
}

/** Outcome of a decision on one key: write `value`, or leave the key as it is. */
export type KeyDecision<T> = { write: T } | { skip: true };

export interface Loaded<T> {
  value: T;
  revision: number;
}

const MAX_ATTEMPTS = 500;

/** An in-memory copy of the bucket that the store may read instead of KV (see `useView`). */
export interface StateCache {
  readonly ready: boolean;
  get(key: string): { value: StoredValue; revision: number } | undefined;
  /** Keys matching a subject filter, or undefined when the cache cannot answer. */
  keysMatching(filter: string): string[] | undefined;
  applyLocal(key: string, value: StoredValue | undefined, revision: number): void;
  /** The revision held for `key` (its entry, or a removal still remembered), 0 when none. */
  revisionOf(key: string): number;
  /** True once it holds `key` above revision `after` (a value or its removal); false when nothing newer came within `timeoutMs`. */
  newerThan(key: string, after: number, timeoutMs: number): Promise<boolean>;
}

/**
 * How long a writer that lost a compare-and-set waits for its view to deliver the winning write before it
 * reads KV instead (ms). The winner's write is already stored, so the watch normally brings it within a
 * millisecond or two; the wait only runs out when the view cannot know (a removal it has forgotten).
 */
const VIEW_WAIT_MS = 50;

type Decide = (current: StoredValue | undefined) => KeyDecision<StoredValue>;
type UpdateResult = { written?: StoredValue; previous?: StoredValue };
interface Waiter {
  decide: Decide;
  resolve(r: UpdateResult): void;
  reject(err: unknown): void;
}

/**
 * Run a batch's decisions in order, each on the value the one before it decided: what each waiter is
 * answered, and the value to write (undefined: every decision skipped). A decision that throws answers
 * its own waiter with the error and leaves the batch (`waiters` is who is still in it).
 */
function fold(start: StoredValue | undefined, batch: readonly Waiter[]): { waiters: Waiter[]; results: UpdateResult[]; last: StoredValue | undefined } {
  const waiters: Waiter[] = [];
  const results: UpdateResult[] = [];
  let value = start;
  let last: StoredValue | undefined;
  for (const w of batch) {
    let d: KeyDecision<StoredValue>;
    try {
      d = w.decide(value);
    } catch (err) {
      w.reject(err);
      continue;
    }
    waiters.push(w);
    if ('skip' in d) results.push(value !== undefined ? { previous: value } : {});
    else {
      results.push(value !== undefined ? { written: d.write, previous: value } : { written: d.write });
      value = last = d.write;
    }
  }
  return { waiters, results, last };
}

export class LatticeStateStore {
  private cache: StateCache | undefined;

  constructor(
    readonly kv: KV,
    private readonly jsm: JetStreamManager,
    readonly bucket: string,
    private readonly onConflict: () => void = () => undefined,
  ) {}

  /**
   * Read through the replica's view of the bucket: a compare-and-set first uses the revision the view
   * holds (no read), and reads KV only after a lost race; key listings come from the view.
   */
  useView(cache: StateCache): void {
    this.cache = cache;
  }

  async read<T extends StoredValue>(key: string): Promise<Loaded<T> | null> {
    let e: KvEntry | null;
    try {
      e = await this.kv.get(key);
    } catch (err) {
      throw new StorageError(`reading lattice state failed: ${(err as Error).message}`, { bucket: this.bucket, key, op: 'get' }, { cause: err });
    }
    if (!e || e.operation !== 'PUT') return null;
    try {
      return { value: e.json<T>(), revision: e.revision };
    } catch {
      return null; // not ours / corrupt: treated as absent and overwritten by the next write
    }
  }

  /**
   * Compare-and-set one key: `decide` sees the current value (or undefined) and says what to write;
   * on a lost race it runs again on the fresh value. Returns what was written, or undefined.
   *
   * Updates of one key from this process are group-committed. They never race each other: an update
   * waits for the one in flight, and every update that arrives meanwhile (or in the same turn of the
   * event loop, e.g. the two `component_scaled` events a host sends for one start) joins one batch,
   * whose decisions run in arrival order, each on what the one before it decided, and whose last
   * value is written once. Each caller is answered as if its own decision had been written alone: the
   * same values, in the same order, that writing them one after the other stores.
   */
  update<T extends StoredValue>(key: string, decide: (current: T | undefined) => KeyDecision<T>): Promise<{ written?: T; previous?: T }> {
    return new Promise((resolve, reject) => {
      const waiter = { decide: decide as Decide, resolve: resolve as (r: UpdateResult) => void, reject };
      const open = this.batches.get(key);
      if (open) {
        open.push(waiter);
        return;
      }
      const batch: Waiter[] = [waiter];
      this.batches.set(key, batch);
      const start = (): void => {
        this.batches.delete(key);
        const run = this.commit(key, batch);
        this.inFlight.set(key, run);
        void run.then(() => {
          if (this.inFlight.get(key) === run) this.inFlight.delete(key);
        });
      };
      const ahead = this.inFlight.get(key);
      if (ahead) void ahead.then(start);
      else setImmediate(start);
    });
  }

  /** Per key: the batch still taking updates (not started), and the commit of the one before it. */
  private readonly batches = new Map<string, Waiter[]>();
  private readonly inFlight = new Map<string, Promise<void>>();

  /** Decide a batch on the current value and write its result once; answers every waiter, never rejects. */
  private async commit(key: string, batch: Waiter[]): Promise<void> {
    // From the view while it is ready (no read): the value and revision it holds, or, for a key it holds
    // no value of, the revision of the removal it remembers (0 if none). After a lost race, from the view
    // again once it has the winner's write; from KV only when the view has nothing newer in time.
    let from: { cur: Loaded<StoredValue> | null; expected: number } | undefined = this.fromView(key);
    let waiters = batch;
    try {
      for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
        let cur: Loaded<StoredValue> | null;
        let expected: number | undefined;
        if (from) {
          cur = from.cur;
          expected = from.expected;
        } else cur = await this.read(key);
        from = undefined;
        const folded = fold(cur?.value, waiters);
        waiters = folded.waiters;
        if (folded.last === undefined) {
          waiters.forEach((w, i) => w.resolve(folded.results[i]!));
          return;
        }
        const data = JSON.stringify(folded.last);
        let rev: number;
        try {
          // No value: created, on the remembered removal's revision when there is one (KV's create would
          // read the key after a lost race; the view or the read below does that here).
          rev = cur ? await this.kv.update(key, data, cur.revision) : expected !== undefined ? await this.kv.put(key, data, { previousSeq: expected }) : await this.kv.create(key, data);
        } catch (err) {
          if (!isCasConflict(err)) {
            throw new StorageError(`writing lattice state failed: ${(err as Error).message}`, { bucket: this.bucket, key, op: 'update' }, { cause: err });
          }
          this.onConflict();
          const lost = cur?.revision ?? expected ?? 0;
          // Once the view holds the key past the lost revision (a value, or its removal), decide on the view.
          if (this.cache?.ready && (await this.cache.newerThan(key, lost, VIEW_WAIT_MS))) from = this.fromView(key);
          else await casBackoff(attempt);
          continue;
        }
        this.cache?.applyLocal(key, folded.last, rev);
        waiters.forEach((w, i) => w.resolve(folded.results[i]!));
        return;
      }
      throw new StorageError(`gave up after ${MAX_ATTEMPTS} compare-and-set conflicts`, { bucket: this.bucket, key, op: 'update' });
    } catch (err) {
      for (const w of waiters) w.reject(err);
    }
  }

  /** What the view holds for `key` to decide and compare-and-set on, or undefined when it is not ready. */
  private fromView(key: string): { cur: Loaded<StoredValue> | null; expected: number } | undefined {
    if (!this.cache?.ready) return undefined;
    const e = this.cache.get(key);
    return e ? { cur: e, expected: e.revision } : { cur: null, expected: this.cache.revisionOf(key) };
  }

  /**
   * Keys matching `filter` (subject wildcards): from the view when one is attached (it may lag by a few
   * milliseconds), else — or with `fresh` — as one snapshot read from the bucket stream's
   * per-subject state (`subjects_filter`), not with kv.keys(), whose ordered-consumer walk does not end
   * while matching keys keep changing (every heartbeat changes host keys).
   */
  async keys(filter: string, opts: { fresh?: boolean } = {}): Promise<string[]> {
    const fromCache = this.cache?.ready && !opts.fresh ? this.cache.keysMatching(filter) : undefined;
    if (fromCache) return fromCache;
    const prefix = `$KV.${this.bucket}.`;
    try {
      const info = await this.jsm.streams.info(`KV_${this.bucket}`, { subjects_filter: `${prefix}${filter}` });
      return Object.keys(info.state.subjects ?? {}).map((subj) => subj.slice(prefix.length));
    } catch (err) {
      throw new StorageError(`listing lattice state keys failed: ${(err as Error).message}`, { bucket: this.bucket, key: filter, op: 'keys' }, { cause: err });
    }
  }

  /** Every live (non-tombstone) value under `filter`, with its key. */
  async list<T extends StoredValue>(filter: string, includeDeleted = false): Promise<Array<{ key: string } & Loaded<T>>> {
    const keys = await this.keys(filter);
    const out: Array<{ key: string } & Loaded<T>> = [];
    for (let i = 0; i < keys.length; i += 256) {
      const batch = keys.slice(i, i + 256);
      const loaded = await Promise.all(batch.map((k) => this.read<T>(k)));
      loaded.forEach((l, j) => {
        if (l && (includeDeleted || !(l.value as Versioned).deleted)) out.push({ key: batch[j]!, ...l });
      });
    }
    return out;
  }

  /** Remove a key if it is still at `revision` (compare-and-set); false when it changed meanwhile. */
  async removeIfUnchanged(key: string, revision: number): Promise<boolean> {
    try {
      await removeKey(this.kv, key, revision);
      this.cache?.applyLocal(key, undefined, revision + 1);
      return true;
    } catch (err) {
      if (isCasConflict(err)) return false;
      throw new StorageError(`removing lattice state failed: ${(err as Error).message}`, { bucket: this.bucket, key, op: 'delete' }, { cause: err });
    }
  }
}

export async function readLatticeSnapshot(store: LatticeStateStore, l: LatticeRef): Promise<LatticeEntities> {
  const [hosts, components, providers, links, configs] = await Promise.all([
    store.list<HostEntity>(stateKeys.hosts(l)),
    store.list<ComponentEntity>(stateKeys.components(l)),
    store.list<ProviderEntity>(stateKeys.providers(l)),
    store.list<LinkEntity>(stateKeys.links(l)),
    store.list<ConfigEntity>(stateKeys.configs(l)),
  ]);
  return {
    hosts: hosts.map((h) => h.value),
    components: components.map((c) => c.value),
    providers: providers.map((p) => p.value),
    links: links.map((x) => x.value),
    configs: configs.map((c) => c.value),
  };
}
