/**
 * Healthy marks that wait for a quiet lattice.
 *
 * When a version reaches `deployed`, the owner records it in the app record's rollout history
 * (plan/revert.ts). For a version without `autoRevert` that mark is history only: no revert decision
 * reads it, only a later revert or rollback looking for "the previous healthy version". It still rewrites
 * the whole app record, which every replica's view then decodes. During a deploy of many apps those
 * writes competed with the commands and statuses of the deploy itself, so they wait:
 * - they are written once a pass ends with nothing queued after it (the lattice is quiet), or
 * - at the latest `MARK_WAIT_MS` after the oldest of them was decided, by the pass that finds them due.
 * Marks of versions with `autoRevert` are not kept here: a version marked healthy is never reverted, so
 * that mark is written in its pass, as before.
 *
 * A mark is written by compare-and-set on the revision it was decided on. When the record moved on
 * meanwhile:
 * - it still deploys the same version: the mark is dropped and the next pass decides it again;
 * - another version (or none) is deployed, e.g. a user deployed v2 right after v1 became `deployed`: the
 *   version is added to the healthy versions of the record as it is now (`rolloutWithHealthy`), so a
 *   revert of v2 still finds v1.
 * The marks belong to the owner's memory of the lattice and go with its lease: a new owner decides them
 * again from the records and the statuses.
 */
import { rolloutWithHealthy, type RolloutRecord } from '@wadm-ts/entities';
import type { LatticeRef } from '@wadm-ts/protocol';
import type { ManifestStore, ManifestView } from '@wadm-ts/store';
import type { RolloutWrite } from '../plan/reconcile.js';
import { mapLimit } from './map-limit.js';

/** A history mark waits at most this long for a quiet lattice (ms). */
export const MARK_WAIT_MS = 5_000;

const WRITES_AT_ONCE = 64;

interface Pending {
  write: RolloutWrite;
  /** The version the mark is for. */
  version: string;
  /** When it was first decided (ms, the pass's clock). */
  since: number;
}

/** What a flush did: written, dropped (decided again by the next pass), kept (its write lost a race; tried again). */
export interface MarkFlush {
  written: number;
  dropped: number;
  kept: number;
}

/** Pending marks are kept per app and version: v2's mark still waiting when v3 is marked is written too. */
const keyOf = (app: string, version: string): string => `${app}\u0000${version}`;

export class HealthyMarks {
  private readonly pending = new Map<string, Pending>();

  get size(): number {
    return this.pending.size;
  }

  /** Keep a history mark. A mark already kept for the same app and version stays (it was decided first). */
  add(w: RolloutWrite, now: number): void {
    const version = w.rollout.deployed?.version;
    if (version === undefined) return;
    const key = keyOf(w.app, version);
    if (this.pending.has(key)) return;
    this.pending.set(key, { write: w, version, since: now });
  }

  /** Whether the oldest mark has waited `MARK_WAIT_MS` by `now` (marks are kept in the order they were decided). */
  due(now: number): boolean {
    const oldest = this.pending.values().next();
    return !oldest.done && now - oldest.value.since >= MARK_WAIT_MS;
  }

  /**
   * Write every kept mark (see the file comment), `check` (the lease) before each write. A write that
   * loses its compare-and-set keeps the mark for the next flush.
   */
  async flush(ref: LatticeRef, view: ManifestView, store: ManifestStore, check: () => void): Promise<MarkFlush> {
    const out: MarkFlush = { written: 0, dropped: 0, kept: 0 };
    // One app's marks one after the other, oldest first (they rewrite the same record); apps at once.
    const byApp = new Map<string, Pending[]>();
    for (const p of this.pending.values()) {
      const list = byApp.get(p.write.app);
      if (list) list.push(p);
      else byApp.set(p.write.app, [p]);
    }
    await mapLimit([...byApp.values()], WRITES_AT_ONCE, async (list) => {
      for (const p of list) await this.writeOne(ref, p, view, store, check, out);
    });
    return out;
  }

  private async writeOne(ref: LatticeRef, p: Pending, view: ManifestView, store: ManifestStore, check: () => void, out: MarkFlush): Promise<void> {
    const key = keyOf(p.write.app, p.version);
    const cur = view.peek(ref, p.write.app);
    let rollout: RolloutRecord | undefined;
    if (cur && p.write.revision !== undefined && cur.revision === p.write.revision) rollout = p.write.rollout;
    else if (cur && cur.app.deployedVersion !== p.version && cur.app.versions.some((v) => v.version === p.version)) {
      if (!cur.app.rollout?.healthyVersions.includes(p.version)) rollout = rolloutWithHealthy(cur.app.rollout, p.version, cur.app.deployedVersion);
    }
    if (!cur || rollout === undefined) {
      if (this.pending.get(key) === p) this.pending.delete(key);
      out.dropped++;
      return;
    }
    check();
    const rev = await store.replaceAt(ref, p.write.app, { ...cur.app, rollout }, cur.revision);
    if (rev === undefined) {
      out.kept++;
      return;
    }
    if (this.pending.get(key) === p) this.pending.delete(key);
    out.written++;
  }
}
