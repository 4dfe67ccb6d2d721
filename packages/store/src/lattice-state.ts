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

const noop = (): void => undefined;

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
   */
  async update<T extends StoredValue>(key: string, decide: (current: T | undefined) => KeyDecision<T>): Promise<{ written?: T; previous?: T }> {
    // Updates of one key from this process run one after the other: each starts from the revision the
    // previous one wrote (the view has it at once), instead of losing a compare-and-set to it.
    const prev = this.updating.get(key);
    const run = (prev ? prev.then(noop, noop) : Promise.resolve()).then(() => this.updateNow(key, decide));
    const tail = run.then(noop, noop);
    this.updating.set(key, tail);
    void tail.then(() => {
      if (this.updating.get(key) === tail) this.updating.delete(key);
    });
    return run;
  }

  /** Updates of a key under way in this process (the last one's settlement), see `update`. */
  private readonly updating = new Map<string, Promise<void>>();

  private async updateNow<T extends StoredValue>(key: string, decide: (current: T | undefined) => KeyDecision<T>): Promise<{ written?: T; previous?: T }> {
    // From the view while it is ready (no read): the value and revision it holds, or, for a key it holds
    // no value of, the revision of the removal it remembers (0 if none). After a lost race, from the view
    // again once it has the winner's write; from KV only when the view has nothing newer in time.
    let from: { cur: Loaded<T> | null; expected: number } | undefined = this.fromView<T>(key);
    for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
      let cur: Loaded<T> | null;
      let expected: number | undefined;
      if (from) {
        cur = from.cur;
        expected = from.expected;
      } else cur = await this.read<T>(key);
      from = undefined;
      const d = decide(cur?.value);
      if ('skip' in d) return cur ? { previous: cur.value } : {};
      const data = JSON.stringify(d.write);
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
        if (this.cache?.ready && (await this.cache.newerThan(key, lost, VIEW_WAIT_MS))) from = this.fromView<T>(key);
        else await casBackoff(attempt);
        continue;
      }
      this.cache?.applyLocal(key, d.write, rev);
      return cur ? { written: d.write, previous: cur.value } : { written: d.write };
    }
    throw new StorageError(`gave up after ${MAX_ATTEMPTS} compare-and-set conflicts`, { bucket: this.bucket, key, op: 'update' });
  }

  /** What the view holds for `key` to decide and compare-and-set on, or undefined when it is not ready. */
  private fromView<T extends StoredValue>(key: string): { cur: Loaded<T> | null; expected: number } | undefined {
    if (!this.cache?.ready) return undefined;
    const e = this.cache.get(key) as Loaded<T> | undefined;
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
