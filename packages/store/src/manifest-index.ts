/**
 * Maintenance of the per-lattice index (`{scope}` → sorted JSON array of names) of the manifest bucket:
 * derived data, synced after every change of an app's existence. Every sync reads the index, then the
 * app key, and always writes the index with compare-and-set (even when unchanged), so syncs are totally
 * ordered and the index converges to the truth (see manifest-store.ts). An index sync never overwrites
 * an app record; before a record is created its index key is claimed (`claim`).
 */
import type { KV, KvEntry } from '@nats-io/kv';
import type { LatticeRef } from '@wadm-ts/protocol';
import { StorageError, casBackoff } from './errors.js';
import { isCasConflict } from './js-errors.js';
import { ManifestKeyCollisionError, decodeIndexNames, isIndexValue, scopeKey } from './manifest-keys.js';
import { live, readSlot, recordAtIndexKey, type LoadedApp } from './manifest-slot.js';

export const MAX_CAS_ATTEMPTS = 200;

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

/** Syncs of one index key: those waiting for the next run (name → callers), and whether one runs. */
interface IndexBatch {
  pending: Map<string, Array<{ resolve: () => void; reject: (err: unknown) => void }>>;
  running: boolean;
  mt: boolean;
}

export class ManifestIndex {
  /** The view used as a hint (set by `ManifestStore.useView`). */
  hint: ManifestHint | undefined;

  constructor(
    private readonly kv: KV,
    private readonly bucket: string,
    private readonly onConflict: () => void,
  ) {}

  /**
   * Make sure the scope's index key holds an index before a record of the scope is created: create it
   * empty when absent (compare-and-set); refuse when it holds an app record.
   */
  async claim(scope: LatticeRef, name: string): Promise<void> {
    if (this.hint?.hasIndex?.(scope)) return;
    const sk = scopeKey(scope);
    for (let attempt = 0; attempt < MAX_CAS_ATTEMPTS; attempt++) {
      let e: KvEntry | null;
      try {
        e = live(await this.kv.get(sk));
      } catch (err) {
        throw new StorageError('reading the lattice index failed', { bucket: this.bucket, key: sk, op: 'get' }, { cause: err });
      }
      if (e) {
        if (isIndexValue(e.value)) return;
        throw recordAtIndexKey(this.bucket, sk, name, e, scope.account !== undefined);
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

  /** Sync the index when it does not list an app whose record exists (one read when it does, none when the view knows). */
  async ensureIndexed(scope: LatticeRef, name: string): Promise<void> {
    if (this.hint?.listed(scope, name)) return;
    if (!(await this.indexedNames(scope)).includes(name)) await this.sync(scope, name);
  }

  /** Make the lattice index agree with whether `name`'s record exists. */
  async sync(scope: LatticeRef, name: string): Promise<void> {
    await this.syncKey(scopeKey(scope), name, scope.account !== undefined);
  }

  /**
   * `sync` by scope key (`mt`: multitenant, for the messages). Syncs of one index key asked for while one
   * runs are done together by the next (group commit): one read of the index, one read of each app key,
   * one compare-and-set, instead of as many writes contending for the same key (16 puts in flight lost
   * thousands of compare-and-sets to each other). Each name's app key is still read after the caller's
   * change of that app's existence, so the argument above holds for every name of a batch.
   */
  syncKey(sk: string, name: string, mt: boolean): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      let b = this.batches.get(sk);
      if (!b) this.batches.set(sk, (b = { pending: new Map(), running: false, mt }));
      const waiting = b.pending.get(name);
      if (waiting) waiting.push({ resolve, reject });
      else b.pending.set(name, [{ resolve, reject }]);
      if (!b.running) void this.drain(sk, b);
    });
  }

  /** Index keys with syncs waiting or running (see `syncKey`). */
  private readonly batches = new Map<string, IndexBatch>();

  private async drain(sk: string, b: IndexBatch): Promise<void> {
    b.running = true;
    while (b.pending.size > 0) {
      const batch = b.pending;
      b.pending = new Map();
      let failures: Map<string, Error>;
      try {
        failures = await this.syncNames(sk, [...batch.keys()], b.mt);
      } catch (err) {
        for (const ws of batch.values()) for (const w of ws) w.reject(err);
        continue;
      }
      for (const [name, ws] of batch) {
        const f = failures.get(name);
        for (const w of ws) (f ? w.reject(f) : w.resolve());
      }
    }
    b.running = false;
    this.batches.delete(sk);
  }

  /** One sync of `names` in the index at `sk`; the names it refuses (the index key holds an app record), with why. */
  private async syncNames(sk: string, names: readonly string[], mt: boolean): Promise<Map<string, Error>> {
    for (let attempt = 0; attempt < MAX_CAS_ATTEMPTS; attempt++) {
      try {
        const idx = live(await this.kv.get(sk));
        const exists = await Promise.all(names.map(async (n) => (await readSlot(this.kv, this.bucket, sk, n)).kind === 'app'));
        if (idx && !isIndexValue(idx.value)) {
          // The index key holds an app record (of another lattice): never overwritten.
          return new Map(names.flatMap((n, i) => (exists[i] ? [[n, recordAtIndexKey(this.bucket, sk, n, idx, mt)] as const] : [])));
        }
        const set = new Set(idx ? (decodeIndexNames(idx.value) ?? []) : []);
        names.forEach((n, i) => (exists[i] ? set.add(n) : set.delete(n)));
        const data = JSON.stringify([...set].sort(byteOrder));
        if (idx) await this.kv.update(sk, data, idx.revision);
        else await this.kv.create(sk, data);
        return new Map();
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

  /**
   * The scope's app names, sorted. App records the view sees missing from the index are indexed first
   * (those that cannot be, because the index key holds another lattice's app, stay unlisted).
   */
  async listNames(scope: LatticeRef): Promise<string[]> {
    for (const name of this.hint?.unindexed?.(scope) ?? []) {
      try {
        await this.sync(scope, name);
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
      const idx = live(await this.kv.get(indexKey));
      return idx ? (decodeIndexNames(idx.value) ?? []) : [];
    } catch (err) {
      throw new StorageError('reading the lattice index failed', { bucket: this.bucket, key: indexKey, op: 'get' }, { cause: err });
    }
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
