/**
 * The replica's in-memory view of manifests (bucket `wadm_manifests`), fed by one KV watch (`KvMirror`).
 * Listings and the manifest store's write hints read it, never KV.
 */
import type { KV } from '@nats-io/kv';
import type { JetStreamManager } from '@nats-io/jetstream';
import type { Logger } from '@wadm-ts/obs';
import type { LatticeRef } from '@wadm-ts/protocol';
import { KvMirror } from './kv-mirror.js';
import { decodeStoredApp, type StoredApp } from './stored-app.js';
import { decodeIndexNames, isIndexValue, recordBelongs, recordOwner, scopeKey, type RecordOwner } from './manifest-keys.js';

/** How long an app record may be missing from its index before the view asks for a sync (a put syncs right after its record write). */
const HEAL_AFTER_MS = 1500;
/** Random extra delay per record, so the replicas' views do not all ask at once. */
const HEAL_JITTER_MS = 1000;
/** After a sync was asked for, how long before asking again if the record still looks un-indexed. */
const HEAL_RECHECK_MS = 5000;
const HEAL_MAX_BACKOFF_MS = 60_000;

interface Unlisted {
  owner: RecordOwner;
  dueAt: number;
  failures: number;
}

/**
 * Manifests (bucket `wadm_manifests`, Rust layout): lattice indexes and app records, decoded on demand.
 *
 * The view also keeps the app records it sees missing from their lattice's index (`unindexed`): a record
 * whose index does not list it, found when the record changes or when an index drops its name. Which
 * index a record belongs to is told by its manifests' names (`recordOwner`; the key alone is ambiguous),
 * and only for records no index lists under the key's obvious split, so the common case decodes
 * nothing. One that stays un-indexed for `HEAL_AFTER_MS` (plus jitter) is handed to the healer the
 * manifest store registers (`onUnindexed`: a compare-and-set index sync).
 */
export class ManifestView {
  readonly mirror: KvMirror<Uint8Array>;
  private readonly decoded = new Map<string, { revision: number; name: string; app: StoredApp | null }>();
  /** app key → scope key of the index that lists it. */
  private readonly scopeOfApp = new Map<string, string>();
  private readonly listeners: Array<(scope: string) => void> = [];
  /** Decoded index records (scope key → names), cached per revision. */
  private readonly indexes = new Map<string, { revision: number; names: string[]; set: Set<string> }>();
  /** App records missing from their index: record key → whose it is. */
  private readonly unlisted = new Map<string, Unlisted>();
  /** Scope key → names of its un-indexed app records. */
  private readonly unlistedByScope = new Map<string, Set<string>>();
  /** Keys changed while the view was not ready (loading or rebuilding): checked once it is. */
  private readonly deferred = new Set<string>();
  private healer: ((scopeKey: string, name: string) => Promise<void>) | undefined;
  private timer: NodeJS.Timeout | undefined;
  private healing = false;
  private stopped = false;
  private readonly logger: Logger;

  constructor(o: { name: string; open: () => Promise<KV>; jsm: JetStreamManager; logger: Logger }) {
    this.logger = o.logger;
    // A copy: the delivered bytes are a view into the socket read they came in with, and keeping the view
    // would keep that whole read buffer alive for as long as the record is held.
    this.mirror = new KvMirror<Uint8Array>({ ...o, decode: (_k, d) => d.slice() });
    this.mirror.onChange((key) => {
      this.decoded.delete(key);
      const before = this.indexes.get(key)?.set;
      this.indexes.delete(key);
      const now = this.index(key);
      if (now) {
        for (const n of now.names) this.scopeOfApp.set(`${key}-${n}`, key);
        this.forget(key);
        for (const n of [...(this.unlistedByScope.get(key) ?? [])]) if (now.set.has(n)) this.forget(`${key}-${n}`);
        // Names the index dropped whose record is still there are un-indexed now.
        if (before) for (const n of before) if (!now.set.has(n)) this.check(`${key}-${n}`);
        this.emit(key);
        return;
      }
      if (before) for (const n of before) this.check(`${key}-${n}`);
      const scope = this.check(key) ?? this.scopeOfApp.get(key);
      if (scope !== undefined) this.emit(scope);
    });
  }

  start(): Promise<void> {
    this.stopped = false;
    return this.mirror.start();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    await this.mirror.stop();
  }

  get ready(): boolean {
    return this.mirror.ready;
  }

  /** Called with the scope key (`{lattice}` or `{account}-{lattice}`) whose index or apps changed. */
  onChange(l: (scope: string) => void): void {
    this.listeners.push(l);
  }

  private emit(scope: string): void {
    for (const l of this.listeners) l(scope);
  }

  /** The names of an index record (decoded once per revision), or undefined when the key holds something else. */
  private index(key: string): { names: string[]; set: Set<string> } | undefined {
    const e = this.mirror.get(key);
    if (!e) return undefined;
    const cached = this.indexes.get(key);
    if (cached && cached.revision === e.revision) return cached;
    const names = decodeIndexNames(e.value);
    if (!names) return undefined;
    const d = { revision: e.revision, names, set: new Set(names) };
    this.indexes.set(key, d);
    return d;
  }

  private indexNames(key: string): string[] | undefined {
    return this.index(key)?.names;
  }

  /** Whether the scope's index lists the app, as this view sees it now (false before the view is ready). */
  listed(scope: LatticeRef, name: string): boolean {
    return this.ready && (this.index(scopeKey(scope))?.set.has(name) ?? false);
  }

  /** Whether the scope's index key holds an index, as this view sees it now (false before the view is ready). */
  hasIndex(scope: LatticeRef): boolean {
    return this.ready && this.index(scopeKey(scope)) !== undefined;
  }

  /** Names of the scope's app records that its index does not list, as this view sees it now. */
  unindexed(scope: LatticeRef): string[] {
    if (!this.ready) return [];
    return [...(this.unlistedByScope.get(scopeKey(scope)) ?? [])].sort();
  }

  /** Register the healer asked to sync the index of an app record that stays un-indexed (scope key, name). */
  onUnindexed(heal: (scopeKey: string, name: string) => Promise<void>): void {
    this.healer = heal;
    this.schedule();
  }

  /**
   * Re-decide whether the record at `key` is missing from its index. Returns the scope key it belongs
   * to when known.
   */
  private check(key: string): string | undefined {
    const sk0 = this.scopeOfApp.get(key);
    if (!this.mirror.ready) {
      this.deferred.add(key);
      this.schedule();
      return sk0;
    }
    const e = this.mirror.get(key);
    if (!e || isIndexValue(e.value)) {
      this.forget(key);
      return sk0;
    }
    // Common case: the index the key was last seen in still lists it; nothing to decode.
    if (sk0 !== undefined && this.index(sk0)?.set.has(key.slice(sk0.length + 1))) {
      this.forget(key);
      return sk0;
    }
    let owner: RecordOwner | undefined;
    try {
      owner = recordOwner(key, decodeStoredApp(key, e.value));
    } catch {
      owner = undefined;
    }
    if (!owner) {
      this.forget(key);
      return sk0;
    }
    if (this.index(owner.scopeKey)?.set.has(owner.name)) {
      this.scopeOfApp.set(key, owner.scopeKey);
      this.forget(key);
      return owner.scopeKey;
    }
    if (!this.unlisted.has(key)) {
      this.unlisted.set(key, { owner, dueAt: Date.now() + HEAL_AFTER_MS + Math.random() * HEAL_JITTER_MS, failures: 0 });
      let names = this.unlistedByScope.get(owner.scopeKey);
      if (!names) this.unlistedByScope.set(owner.scopeKey, (names = new Set()));
      names.add(owner.name);
      this.schedule();
    }
    return owner.scopeKey;
  }

  private forget(key: string): void {
    const u = this.unlisted.get(key);
    if (!u) return;
    this.unlisted.delete(key);
    const names = this.unlistedByScope.get(u.owner.scopeKey);
    names?.delete(u.owner.name);
    if (names?.size === 0) this.unlistedByScope.delete(u.owner.scopeKey);
  }

  private schedule(): void {
    if (this.timer || this.stopped) return;
    let due = Infinity;
    if (this.deferred.size > 0) due = Date.now() + 200;
    if (this.healer) for (const u of this.unlisted.values()) due = Math.min(due, u.dueAt);
    if (due === Infinity) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      void this.tick();
    }, Math.max(0, due - Date.now()));
    this.timer.unref();
  }

  private async tick(): Promise<void> {
    if (this.stopped) return;
    if (!this.mirror.ready) {
      this.timer = setTimeout(() => {
        this.timer = undefined;
        void this.tick();
      }, 200);
      this.timer.unref();
      return;
    }
    const keys = [...this.deferred];
    this.deferred.clear();
    for (const k of keys) this.check(k);
    // A heal run under way schedules the next one when it ends.
    if (this.healing) return;
    if (!this.healer) return this.schedule();
    this.healing = true;
    try {
      for (const [key, u] of [...this.unlisted]) {
        if (this.stopped) return;
        if (u.dueAt > Date.now() || this.unlisted.get(key) !== u) continue;
        try {
          await this.healer(u.owner.scopeKey, u.owner.name);
          u.failures = 0;
          u.dueAt = Date.now() + HEAL_RECHECK_MS;
          this.logger.info({ key, lattice: u.owner.scopeKey, app: u.owner.name }, 'app record was missing from its lattice index; index synced');
        } catch (err) {
          u.failures++;
          u.dueAt = Date.now() + Math.min(HEAL_MAX_BACKOFF_MS, 1000 * 2 ** u.failures);
          this.logger.warn({ key, lattice: u.owner.scopeKey, app: u.owner.name, err: (err as Error).message }, 'app record is missing from its lattice index and syncing the index failed');
        }
      }
    } finally {
      this.healing = false;
      this.schedule();
    }
  }

  /** Every stored app of a scope (names in the index whose record is gone or unreadable are skipped). */
  apps(scope: LatticeRef): StoredApp[] {
    const sk = scopeKey(scope);
    const out: StoredApp[] = [];
    for (const name of this.indexNames(sk) ?? []) {
      const app = this.app(sk, name);
      if (app) out.push(app);
    }
    return out;
  }

  /** One stored app, decoded (cached per revision), or null (also when the key holds an index or another app's record). */
  app(sk: string, name: string): StoredApp | null {
    const key = `${sk}-${name}`;
    const e = this.mirror.get(key);
    if (!e) return null;
    let d = this.decoded.get(key);
    if (!d || d.revision !== e.revision || d.name !== name) {
      let app: StoredApp | null = null;
      if (!isIndexValue(e.value)) {
        try {
          const a = decodeStoredApp(name, e.value, d?.name === name ? (d.app ?? undefined) : undefined);
          app = recordBelongs(key, name, a) ? a : null;
        } catch {
          app = null;
        }
      }
      d = { revision: e.revision, name, app };
      this.decoded.set(key, d);
    }
    return d.app;
  }

  /** The view's copy of a stored app with its KV revision (undefined before the view is ready or when it has none). */
  peek(scope: LatticeRef, name: string): { app: StoredApp; revision: number } | undefined {
    if (!this.ready) return undefined;
    const sk = scopeKey(scope);
    const e = this.mirror.get(`${sk}-${name}`);
    const app = e ? this.app(sk, name) : null;
    return e && app ? { app, revision: e.revision } : undefined;
  }

  /** The revision of the app's record as this view holds it (undefined: none, or not loaded yet). */
  revisionOf(scope: LatticeRef, name: string): number | undefined {
    if (!this.ready) return undefined;
    return this.mirror.get(`${scopeKey(scope)}-${name}`)?.revision;
  }

  /** Whether the app is stored and has a deployed version (as this view sees it now). */
  isDeployed(scope: LatticeRef, name: string): boolean {
    const a = this.app(scopeKey(scope), name);
    return a !== null && a.deployedVersion !== null;
  }
}
