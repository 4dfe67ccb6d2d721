/**
 * The manifest store over KV bucket `wadm_manifests` (layout of docs/wire/api.md §4, so a bucket written by
 * the Rust wadm is served as-is).
 *
 * This file holds the compare-and-set mutate loop; what a record key holds and the collision refusals are
 * manifest-slot.ts, the index maintenance manifest-index.ts.
 *
 * Concurrency design:
 * - Every write of an app record is compare-and-set on the revision that was read (`create` when the
 *   key is absent, `update(rev)` otherwise, a delete marker with `previousSeq`, kv-remove.ts); a lost race re-reads and
 *   re-decides, so concurrent puts of different versions all land and a put racing a delete is
 *   linearised (either the put lands after the delete as a fresh app with only its version, or the
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
import type { KV } from '@nats-io/kv';
import type { LatticeRef } from '@wadm-ts/protocol';
import { StorageError, casBackoff } from './errors.js';
import { isCasConflict } from './js-errors.js';
import { removeKey } from './kv-remove.js';
import { encodeStoredApp, type StoredApp } from './stored-app.js';
import { ManifestKeyCollisionError, appKey, scopeKey } from './manifest-keys.js';
import { readSlot, writeCollision, type LoadedApp, type Slot } from './manifest-slot.js';
import { MAX_CAS_ATTEMPTS, ManifestIndex, type ManifestHint } from './manifest-index.js';

/** What a mutation decided: write a new record, delete the app, or leave it. */
export type Decision<T> =
  | { kind: 'write'; app: StoredApp; result: T }
  | { kind: 'delete'; result: T }
  | { kind: 'keep'; result: T };

export class ManifestStore {
  private readonly index: ManifestIndex;

  constructor(
    readonly kv: KV,
    readonly bucket: string,
    /** Called on every lost compare-and-set (for metrics). */
    private readonly onConflict: () => void = () => undefined,
  ) {
    this.index = new ManifestIndex(kv, bucket, () => this.onConflict());
  }

  /** The app's record, or null when its key is absent or holds something else (an index, another app's record). */
  async load(scope: LatticeRef, name: string): Promise<LoadedApp | null> {
    const slot = await this.read(scopeKey(scope), name);
    return slot.kind === 'app' ? { app: slot.app, revision: slot.revision } : null;
  }

  private read(sk: string, name: string): Promise<Slot> {
    return readSlot(this.kv, this.bucket, sk, name);
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
    let viewCopy = this.index.hint?.peek(scope, name) ?? undefined;
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
        const collision = writeCollision(this.bucket, sk, name, slot, mt);
        if (collision) throw collision;
        if (slot.kind === 'absent') await this.index.claim(scope, name);
      }
      let created: number | undefined;
      try {
        if (d.kind === 'write') {
          const data = encodeStoredApp(d.app);
          if (slot.kind === 'app') await this.kv.update(key, data, slot.revision);
          else created = await this.kv.create(key, data);
        } else if (slot.kind === 'app') {
          await removeKey(this.kv, key, slot.revision);
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
        if (err instanceof ManifestKeyCollisionError && created !== undefined) await removeKey(this.kv, key, created).catch(() => undefined);
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
    this.index.hint = hint;
    hint.onUnindexed?.((sk, name) => this.index.syncKey(sk, name, false));
  }

  /** Sync the index when it does not list an app whose record exists (one read when it does, none when the view knows). */
  ensureIndexed(scope: LatticeRef, name: string): Promise<void> {
    return this.index.ensureIndexed(scope, name);
  }

  /** Make the lattice index agree with whether `name`'s record exists (see the module comment). */
  syncIndex(scope: LatticeRef, name: string): Promise<void> {
    return this.index.sync(scope, name);
  }

  /**
   * The scope's app names, sorted. App records the view sees missing from the index are indexed first
   * (those that cannot be, because the index key holds another lattice's app, stay unlisted).
   */
  listNames(scope: LatticeRef): Promise<string[]> {
    return this.index.listNames(scope);
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
