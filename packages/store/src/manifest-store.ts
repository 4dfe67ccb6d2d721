/**
 * The manifest store over KV bucket `wadm_manifests` (layout of docs/wire/api.md §4, so a bucket written by
 * the Rust wadm is served as-is).
 *
 * Concurrency design:
 * - Every write of an app record is compare-and-set on the revision that was read (`create` when the
 *   key is absent, `update(rev)` otherwise, `purge` with `previousSeq`); a lost race re-reads and
 *   re-decides, so concurrent puts of different versions all land and a put racing a delete is
 *   linearised (either the put lands after the purge as a fresh app with only its version, or the
 *   delete sees and removes it) — never a resurrected or half-deleted app.
 * - The per-lattice index (`{scope}` → sorted JSON array of names) is derived data. Every change of an
 *   app's *existence* is followed by an index sync that reads the index, then the app key, and always
 *   writes the index with compare-and-set (even when unchanged). Syncs are thereby totally ordered, and
 *   the last successful one read the app key after the last existence change: the index converges to
 *   the truth. Listing also skips names whose key is gone.
 * - With an in-memory view (`useView`), the first attempt of a write decides on the view's copy and
 *   writes with compare-and-set on its revision: a stale copy loses, and the retry reads KV. A decision
 *   that writes nothing (an error, "already exists") is always taken again on KV's copy.
 *
 * Key collisions (manifest-keys.ts): the layout is ambiguous — `team-a` is lattice `team-a`'s index and
 * app `a`'s record in lattice `team`; `team-a-b` is app `a-b` of `team` and app `b` of `team-a`. The
 * layout is kept (Rust-compatible both ways) and collisions are refused, never overwritten:
 * - what a key holds is told from its bytes: an index is a JSON array, a record a JSON object whose
 *   manifests name the app (so a record read for another split of its key is "someone else's");
 * - a write of a record whose key holds an index or another app's record is refused
 *   (`ManifestKeyCollisionError`), decided on KV's copy, so a concurrent change re-decides;
 * - before a record is *created*, its lattice's index key is claimed: it must hold an index, or is
 *   created as `[]` (compare-and-set create); when it holds an app record the put is refused. A record
 *   key is thus only ever created while its index key holds an index, and an index key only while it is
 *   absent — both atomic creates, so whichever comes first wins and the other is refused, whatever the
 *   interleaving. An index, once written, stays (possibly empty), so its key stays taken;
 * - an index sync never overwrites an app record (refused if the app exists, a no-op otherwise); a put
 *   that created its record and then meets one (only possible if an index was removed by hand) removes
 *   its record again (compare-and-set) and is refused.
 *
 * Healing: an app record missing from its index (the index sync after the record write failed, e.g. a
 * timeout during a server restart, and the client's retry was answered "already exists") is found by the
 * view (`ManifestHint.unindexed`, `onUnindexed`): listings sync the index of every such app of the
 * lattice first, and the view asks for a sync of one that stays un-indexed for a moment.
 */
import type { KV, KvEntry } from '@nats-io/kv';
import type { LatticeRef } from '@wadm-ts/protocol';
import { StorageError, casBackoff } from './errors.js';
import { isCasConflict } from './js-errors.js';
import { decodeStoredApp, encodeStoredApp, type StoredApp } from './stored-app.js';
import {
  ManifestKeyCollisionError,
  appKey,
  foreignRecordMessage,
  indexAtRecordKeyMessage,
  isIndexValue,
  recordAtIndexKeyMessage,
  recordBelongs,
  recordOwner,
  scopeKey,
  type RecordOwner,
} from './manifest-keys.js';

/** What a mutation decided: write a new record, delete the app, or leave it. */
export type Decision<T> =
  | { kind: 'write'; app: StoredApp; result: T }
  | { kind: 'delete'; result: T }
  | { kind: 'keep'; result: T };

export interface LoadedApp {
  app: StoredApp;
  revision: number;
}

/** What an app's record key holds: nothing, the app's record, a lattice index, or another app's record. */
type Slot =
  | { kind: 'absent' }
  | { kind: 'app'; app: StoredApp; revision: number }
  | { kind: 'index'; revision: number }
  | { kind: 'foreign'; owner: RecordOwner; revision: number };

const MAX_CAS_ATTEMPTS = 200;

/** What an in-memory view of the manifest bucket offers the store (see `ManifestStore.useView`). */
export interface ManifestHint {
  /** True when the view shows the scope's index listing the app (false: unknown or not listed). */
  listed(scope: LatticeRef, name: string): boolean;
  /** The view's copy of the app's record with its revision, or undefined when it has none. */
  peek(scope: LatticeRef, name: string): LoadedApp | undefined;
  /** True when the view shows the scope's index key holding an index (false: unknown or not). */
  hasIndex?(scope: LatticeRef): boolean;
  /** Names of the scope's app records the view sees missing from the scope's index. */
  unindexed?(scope: LatticeRef): readonly string[];
  /** Register the healer the view calls for an app record (scope key, name) that stays missing from its index. */
  onUnindexed?(heal: (scopeKey: string, name: string) => Promise<void>): void;
}

export class ManifestStore {
  constructor(
    readonly kv: KV,
    readonly bucket: string,
    /** Called on every lost compare-and-set (for metrics). */
    private readonly onConflict: () => void = () => undefined,
  ) {}

  private live(e: KvEntry | null): KvEntry | null {
    return e && e.operation === 'PUT' ? e : null;
  }

  /** The app's record, or null when its key is absent or holds something else (an index, another app's record). */
  async load(scope: LatticeRef, name: string): Promise<LoadedApp | null> {
    const slot = await this.read(scopeKey(scope), name);
    return slot.kind === 'app' ? { app: slot.app, revision: slot.revision } : null;
  }

  private async read(sk: string, name: string): Promise<Slot> {
    const key = `${sk}-${name}`;
    let e: KvEntry | null;
    try {
      e = this.live(await this.kv.get(key));
    } catch (err) {
      throw new StorageError('reading an app record failed', { bucket: this.bucket, key, op: 'get' }, { cause: err });
    }
    if (!e) return { kind: 'absent' };
    if (isIndexValue(e.value)) return { kind: 'index', revision: e.revision };
    let app: StoredApp;
    try {
      app = decodeStoredApp(name, e.value);
    } catch (err) {
      throw new StorageError(`decoding the app record failed: ${(err as Error).message}`, { bucket: this.bucket, key, op: 'decode' }, { cause: err });
    }
    if (!recordBelongs(key, name, app)) return { kind: 'foreign', owner: recordOwner(key, app)!, revision: e.revision };
    return { kind: 'app', app, revision: e.revision };
  }

  /**
   * Read-decide-write with compare-and-set, retried on conflict. `decide` must be pure: it may run
   * several times, against fresher records each time. A write whose key belongs to another lattice's
   * index or app throws `ManifestKeyCollisionError`.
   */
  async mutate<T>(scope: LatticeRef, name: string, decide: (current: StoredApp | null) => Decision<T>): Promise<T> {
    const sk = scopeKey(scope);
    const key = appKey(scope, name);
    const mt = scope.account !== undefined;
    // The first attempt decides on the view's copy when it has one: a write then needs no read (a stale
    // copy loses the compare-and-set). Answers that write nothing are always decided on KV's copy.
    let viewCopy = this.hint?.peek(scope, name) ?? undefined;
    for (let attempt = 0; attempt < MAX_CAS_ATTEMPTS; attempt++) {
      const fromView = viewCopy !== undefined;
      const slot: Slot = viewCopy ? { kind: 'app', ...viewCopy } : await this.read(sk, name);
      viewCopy = undefined;
      const d = decide(slot.kind === 'app' ? slot.app : null);
      if (fromView && d.kind === 'keep') {
        attempt--;
        continue;
      }
      if (d.kind === 'keep') {
        // A replica killed between writing a new record and syncing the index leaves an app listed
        // nowhere; the client's retry lands here ("already exists"): repair the index.
        if (slot.kind === 'app') await this.ensureIndexed(scope, name);
        return d.result;
      }
      if (d.kind === 'delete' && slot.kind !== 'app') return d.result;
      if (d.kind === 'write') {
        if (slot.kind === 'index') {
          throw new ManifestKeyCollisionError(indexAtRecordKeyMessage(this.bucket, sk, name, mt), { bucket: this.bucket, key, holds: 'index', op: 'put' });
        }
        if (slot.kind === 'foreign') {
          throw new ManifestKeyCollisionError(foreignRecordMessage(this.bucket, sk, name, slot.owner, mt), { bucket: this.bucket, key, holds: 'app', op: 'put' });
        }
        if (slot.kind === 'absent') await this.claimIndex(scope, name);
      }
      let created: number | undefined;
      try {
        if (d.kind === 'write') {
          const data = encodeStoredApp(d.app);
          if (slot.kind === 'app') await this.kv.update(key, data, slot.revision);
          else created = await this.kv.create(key, data);
        } else if (slot.kind === 'app') {
          await this.kv.purge(key, { previousSeq: slot.revision });
        }
      } catch (err) {
        if (isCasConflict(err)) {
          if (fromView) {
            attempt--;
            continue;
          }
          this.onConflict();
          await casBackoff(attempt);
          continue;
        }
        throw new StorageError(`writing the app record failed: ${(err as Error).message}`, { bucket: this.bucket, key, op: d.kind }, { cause: err });
      }
      const existenceChanged = (d.kind === 'write') !== (slot.kind === 'app');
      try {
        if (existenceChanged) await this.syncIndex(scope, name);
        else if (d.kind === 'write') await this.ensureIndexed(scope, name);
      } catch (err) {
        // The index key was taken by an app record after the claim (only if an index was removed by
        // hand): the record just created would be listed nowhere, so it goes again.
        if (err instanceof ManifestKeyCollisionError && created !== undefined) await this.kv.purge(key, { previousSeq: created }).catch(() => undefined);
        throw err;
      }
      return d.result;
    }
    throw new StorageError(`gave up after ${MAX_CAS_ATTEMPTS} compare-and-set conflicts`, { bucket: this.bucket, key, op: 'mutate' });
  }

  /**
   * Write `app` over the record at exactly `revision` (compare-and-set, no retry): the new revision, or
   * undefined when the record changed since (whoever changed it wins; the caller decides again on what is
   * there now). `revision` must be one at which the key held this app's record (e.g. from the view's `peek`).
   */
  async replaceAt(scope: LatticeRef, name: string, app: StoredApp, revision: number): Promise<number | undefined> {
    const key = appKey(scope, name);
    try {
      return await this.kv.update(key, encodeStoredApp(app), revision);
    } catch (err) {
      if (isCasConflict(err)) {
        this.onConflict();
        return undefined;
      }
      throw new StorageError(`writing the app record failed: ${(err as Error).message}`, { bucket: this.bucket, key, op: 'write' }, { cause: err });
    }
  }

  /**
   * An in-memory view of the bucket, used as a hint: a write is first tried on the view's copy of the
   * record (no read), an index the view shows listing the app is not read again, and app records the
   * view sees missing from their index are synced (by listings, and when the view asks).
   */
  useView(hint: ManifestHint): void {
    this.hint = hint;
    hint.onUnindexed?.((sk, name) => this.syncIndexKey(sk, name, false));
  }

  private hint: ManifestHint | undefined;

  /**
   * Make sure the scope's index key holds an index before a record of the scope is created: create it
   * empty when absent (compare-and-set); refuse when it holds an app record.
   */
  private async claimIndex(scope: LatticeRef, name: string): Promise<void> {
    if (this.hint?.hasIndex?.(scope)) return;
    const sk = scopeKey(scope);
    for (let attempt = 0; attempt < MAX_CAS_ATTEMPTS; attempt++) {
      let e: KvEntry | null;
      try {
        e = this.live(await this.kv.get(sk));
      } catch (err) {
        throw new StorageError('reading the lattice index failed', { bucket: this.bucket, key: sk, op: 'get' }, { cause: err });
      }
      if (e) {
        if (isIndexValue(e.value)) return;
        throw this.recordAtIndexKey(sk, name, e, scope.account !== undefined);
      }
      try {
        await this.kv.create(sk, '[]');
        return;
      } catch (err) {
        if (!isCasConflict(err)) throw new StorageError(`creating the lattice index failed: ${(err as Error).message}`, { bucket: this.bucket, key: sk, op: 'index' }, { cause: err });
        this.onConflict();
        await casBackoff(attempt);
      }
    }
    throw new StorageError(`gave up after ${MAX_CAS_ATTEMPTS} compare-and-set conflicts`, { bucket: this.bucket, key: sk, op: 'index' });
  }

  private recordAtIndexKey(sk: string, name: string, e: KvEntry, mt: boolean): ManifestKeyCollisionError {
    let owner: RecordOwner | undefined;
    try {
      owner = recordOwner(sk, decodeStoredApp(sk, e.value));
    } catch {
      owner = undefined;
    }
    return new ManifestKeyCollisionError(recordAtIndexKeyMessage(this.bucket, sk, name, owner, mt), { bucket: this.bucket, key: sk, holds: 'app', op: 'index' });
  }

  /** Sync the index when it does not list an app whose record exists (one read when it does, none when the view knows). */
  async ensureIndexed(scope: LatticeRef, name: string): Promise<void> {
    if (this.hint?.listed(scope, name)) return;
    if (!(await this.indexedNames(scope)).includes(name)) await this.syncIndex(scope, name);
  }

  /** Make the lattice index agree with whether `name`'s record exists (see the module comment). */
  async syncIndex(scope: LatticeRef, name: string): Promise<void> {
    await this.syncIndexKey(scopeKey(scope), name, scope.account !== undefined);
  }

  private async syncIndexKey(sk: string, name: string, mt: boolean): Promise<void> {
    for (let attempt = 0; attempt < MAX_CAS_ATTEMPTS; attempt++) {
      try {
        const idx = this.live(await this.kv.get(sk));
        const exists = (await this.read(sk, name)).kind === 'app';
        if (idx && !isIndexValue(idx.value)) {
          // The index key holds an app record (of another lattice): never overwritten.
          if (!exists) return;
          throw this.recordAtIndexKey(sk, name, idx, mt);
        }
        const names = new Set(idx ? this.decodeIndex(idx) : []);
        if (exists) names.add(name);
        else names.delete(name);
        const data = JSON.stringify([...names].sort(byteOrder));
        if (idx) await this.kv.update(sk, data, idx.revision);
        else await this.kv.create(sk, data);
        return;
      } catch (err) {
        if (isCasConflict(err)) {
          this.onConflict();
          await casBackoff(attempt);
          continue;
        }
        if (err instanceof StorageError || err instanceof ManifestKeyCollisionError) throw err;
        throw new StorageError(`updating the lattice index failed: ${(err as Error).message}`, { bucket: this.bucket, key: sk, op: 'index' }, { cause: err });
      }
    }
    throw new StorageError(`gave up after ${MAX_CAS_ATTEMPTS} compare-and-set conflicts`, { bucket: this.bucket, key: sk, op: 'index' });
  }

  private decodeIndex(e: KvEntry): string[] {
    if (!isIndexValue(e.value)) return [];
    try {
      const v: unknown = JSON.parse(e.string());
      return Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : [];
    } catch {
      return [];
    }
  }

  /**
   * The scope's app names, sorted. App records the view sees missing from the index are indexed first
   * (those that cannot be, because the index key holds another lattice's app, stay unlisted).
   */
  async listNames(scope: LatticeRef): Promise<string[]> {
    for (const name of this.hint?.unindexed?.(scope) ?? []) {
      try {
        await this.syncIndex(scope, name);
      } catch (err) {
        if (!(err instanceof ManifestKeyCollisionError)) throw err;
      }
    }
    return (await this.indexedNames(scope)).sort(byteOrder);
  }

  /** The index's names, in stored order. */
  private async indexedNames(scope: LatticeRef): Promise<string[]> {
    const indexKey = scopeKey(scope);
    try {
      const idx = this.live(await this.kv.get(indexKey));
      return idx ? this.decodeIndex(idx) : [];
    } catch (err) {
      throw new StorageError('reading the lattice index failed', { bucket: this.bucket, key: indexKey, op: 'get' }, { cause: err });
    }
  }

  /** Every app of the scope, sorted by name; names in the index whose record is gone are skipped. */
  async listApps(scope: LatticeRef): Promise<StoredApp[]> {
    const names = await this.listNames(scope);
    const out: StoredApp[] = [];
    // Bounded: many concurrent requests each listing a large lattice must not flood the server.
    for (let i = 0; i < names.length; i += 64) {
      const loaded = await Promise.all(names.slice(i, i + 64).map((n) => this.load(scope, n)));
      for (const l of loaded) if (l) out.push(l.app);
    }
    return out;
  }
}

/** Byte-wise ascending order of UTF-8 strings (the Rust BTreeSet order). */
export function byteOrder(a: string, b: string): number {
  // UTF-8 orders as code points do; UTF-16 units order the same except around surrogates.
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const x = a.charCodeAt(i);
    const y = b.charCodeAt(i);
    if (x === y) continue;
    if ((x >= 0xd800 && x <= 0xdfff) || (y >= 0xd800 && y <= 0xdfff)) return a.codePointAt(i)! < b.codePointAt(i)! ? -1 : 1;
    return x < y ? -1 : 1;
  }
  return a.length === b.length ? 0 : a.length < b.length ? -1 : 1;
}
