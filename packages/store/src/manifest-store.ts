/**
 * The manifest store over KV bucket `wadm_manifests` (layout of wadm-api.md §4, so a bucket written by
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
 */
import type { KV, KvEntry } from '@nats-io/kv';
import { StorageError, casBackoff, isCasConflict } from './errors.js';
import { decodeStoredApp, encodeStoredApp, type StoredApp } from './stored-app.js';

export const DEFAULT_MANIFEST_BUCKET = 'wadm_manifests';

/** The lattice (and, in multitenant mode, account) an app belongs to. */
export interface Scope {
  lattice: string;
  account?: string;
}

export function scopeKey(scope: Scope): string {
  return scope.account ? `${scope.account}-${scope.lattice}` : scope.lattice;
}

export function appKey(scope: Scope, name: string): string {
  return `${scopeKey(scope)}-${name}`;
}

/** What a mutation decided: write a new record, delete the app, or leave it. */
export type Decision<T> =
  | { kind: 'write'; app: StoredApp; result: T }
  | { kind: 'delete'; result: T }
  | { kind: 'keep'; result: T };

export interface LoadedApp {
  app: StoredApp;
  revision: number;
}

const MAX_CAS_ATTEMPTS = 200;

/** What an in-memory view of the manifest bucket offers the store (see `ManifestStore.useView`). */
export interface ManifestHint {
  /** True when the view shows the scope's index listing the app (false: unknown or not listed). */
  listed(scope: Scope, name: string): boolean;
  /** The view's copy of the app's record with its revision, or undefined when it has none. */
  peek(scope: Scope, name: string): LoadedApp | undefined;
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

  async load(scope: Scope, name: string): Promise<LoadedApp | null> {
    const key = appKey(scope, name);
    let e: KvEntry | null;
    try {
      e = this.live(await this.kv.get(key));
    } catch (err) {
      throw new StorageError('reading an app record failed', { bucket: this.bucket, key, op: 'get' }, { cause: err });
    }
    if (!e) return null;
    try {
      return { app: decodeStoredApp(name, e.value), revision: e.revision };
    } catch (err) {
      throw new StorageError(`decoding the app record failed: ${(err as Error).message}`, { bucket: this.bucket, key, op: 'decode' }, { cause: err });
    }
  }

  /**
   * Read-decide-write with compare-and-set, retried on conflict. `decide` must be pure: it may run
   * several times, against fresher records each time.
   */
  async mutate<T>(scope: Scope, name: string, decide: (current: StoredApp | null) => Decision<T>): Promise<T> {
    const key = appKey(scope, name);
    // The first attempt decides on the view's copy when it has one: a write then needs no read (a stale
    // copy loses the compare-and-set). Answers that write nothing are always decided on KV's copy.
    let viewCopy = this.hint?.peek(scope, name) ?? undefined;
    for (let attempt = 0; attempt < MAX_CAS_ATTEMPTS; attempt++) {
      const fromView = viewCopy !== undefined;
      const loaded = viewCopy ?? (await this.load(scope, name));
      viewCopy = undefined;
      const d = decide(loaded?.app ?? null);
      if (fromView && d.kind === 'keep') {
        attempt--;
        continue;
      }
      if (d.kind === 'keep') {
        // A replica killed between writing a new record and syncing the index leaves an app listed
        // nowhere; the client's retry lands here ("already exists"): repair the index.
        if (loaded) await this.ensureIndexed(scope, name);
        return d.result;
      }
      try {
        if (d.kind === 'write') {
          const data = encodeStoredApp(d.app);
          if (loaded) await this.kv.update(key, data, loaded.revision);
          else await this.kv.create(key, data);
        } else {
          if (!loaded) return d.result;
          await this.kv.purge(key, { previousSeq: loaded.revision });
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
      const existenceChanged = (d.kind === 'write') !== (loaded !== null);
      if (existenceChanged) await this.syncIndex(scope, name);
      else if (d.kind === 'write') await this.ensureIndexed(scope, name);
      return d.result;
    }
    throw new StorageError(`gave up after ${MAX_CAS_ATTEMPTS} compare-and-set conflicts`, { bucket: this.bucket, key, op: 'mutate' });
  }

  /**
   * An in-memory view of the bucket, used as a hint: a write is first tried on the view's copy of the
   * record (no read), and an index the view shows listing the app is not read again.
   */
  useView(hint: ManifestHint): void {
    this.hint = hint;
  }

  private hint: ManifestHint | undefined;

  /** Sync the index when it does not list an app whose record exists (one read when it does, none when the view knows). */
  async ensureIndexed(scope: Scope, name: string): Promise<void> {
    if (this.hint?.listed(scope, name)) return;
    if (!(await this.indexedNames(scope)).includes(name)) await this.syncIndex(scope, name);
  }

  /** Make the lattice index agree with whether `name`'s record exists (see the module comment). */
  async syncIndex(scope: Scope, name: string): Promise<void> {
    const indexKey = scopeKey(scope);
    for (let attempt = 0; attempt < MAX_CAS_ATTEMPTS; attempt++) {
      try {
        const idx = this.live(await this.kv.get(indexKey));
        const names = new Set(idx ? this.decodeIndex(idx) : []);
        const exists = (await this.load(scope, name)) !== null;
        if (exists) names.add(name);
        else names.delete(name);
        const data = JSON.stringify([...names].sort(byteOrder));
        if (idx) await this.kv.update(indexKey, data, idx.revision);
        else await this.kv.create(indexKey, data);
        return;
      } catch (err) {
        if (isCasConflict(err)) {
          this.onConflict();
          await casBackoff(attempt);
          continue;
        }
        if (err instanceof StorageError) throw err;
        throw new StorageError(`updating the lattice index failed: ${(err as Error).message}`, { bucket: this.bucket, key: indexKey, op: 'index' }, { cause: err });
      }
    }
    throw new StorageError(`gave up after ${MAX_CAS_ATTEMPTS} compare-and-set conflicts`, { bucket: this.bucket, key: indexKey, op: 'index' });
  }

  private decodeIndex(e: KvEntry): string[] {
    try {
      const v: unknown = JSON.parse(e.string());
      return Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : [];
    } catch {
      return [];
    }
  }

  async listNames(scope: Scope): Promise<string[]> {
    return (await this.indexedNames(scope)).sort(byteOrder);
  }

  /** The index's names, in stored order. */
  private async indexedNames(scope: Scope): Promise<string[]> {
    const indexKey = scopeKey(scope);
    try {
      const idx = this.live(await this.kv.get(indexKey));
      return idx ? this.decodeIndex(idx) : [];
    } catch (err) {
      throw new StorageError('reading the lattice index failed', { bucket: this.bucket, key: indexKey, op: 'get' }, { cause: err });
    }
  }

  /** Every app of the scope, sorted by name; names in the index whose record is gone are skipped. */
  async listApps(scope: Scope): Promise<StoredApp[]> {
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
