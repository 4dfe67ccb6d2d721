/**
 * Lattice garbage collection. A lattice with no live host and no deployed app for
 * `WADM_LATTICE_GC_AFTER` seconds is forgotten by its owner: every state key (compare-and-set delete on
 * the revision the view holds: anything written meanwhile stops the collection), its reconcile signal
 * and its lease are removed (delete markers, never purges: store/src/kv-remove.ts); a moment later the
 * markers themselves are dropped from the streams one message at a time (bounded by sequence, so
 * nothing written after the collection is touched). Manifests are never
 * removed. A later event or deploy brings the lattice back as new. The owner's pass loop (`owners.ts`)
 * reports after every pass whether the lattice is idle (`idleLattice`).
 */
import { bucketKeySubject, bucketStream, LEASE_BUCKET, RECONCILE_STREAM, reconcileSubject, type LatticeRef } from '@wadm-ts/protocol';
import { dropMarkers, isCasConflict, latticePrefix, removeKey, subjectsOf, type JetStreamContext, type StateView } from '@wadm-ts/store';
import type { Logger, Metrics } from '@wadm-ts/obs';
import { leaseKey, type Held } from './lease-records.js';
import type { Leases } from './leases.js';

export interface CollectOptions {
  ctx: JetStreamContext;
  state: StateView;
  leases: Leases;
  logger: Logger;
  metrics: Metrics;
  held: Held;
  /** Delay before the removed keys' markers are dropped (ms, default 2000). */
  markerDelayMs?: number;
}

export async function collectLattice(o: CollectOptions): Promise<boolean> {
  const { ref } = o.held;
  const log = o.logger.child({ lattice: ref.lattice });
  if (!o.leases.holds(ref, o.held.epoch)) return false;
  const kv = await o.ctx.kvm.open(o.state.mirror.bucket);
  for (const e of o.state.entries(ref)) {
    if (!o.leases.holds(ref, o.held.epoch)) return false;
    try {
      await removeKey(kv, e.key, e.revision);
      o.state.applyLocal(e.key, undefined, e.revision + 1);
    } catch (err) {
      if (isCasConflict(err)) {
        // Our view is behind: learn what is there now, and let the next attempt decide.
        o.state.mirror.applyRead(e.key, await kv.get(e.key).catch(() => null), e.revision + 1);
        log.info({ key: e.key }, 'lattice garbage collection stopped: its state changed meanwhile');
        return false;
      }
      throw err;
    }
  }
  await dropMarkers(o.ctx.jsm, RECONCILE_STREAM, [reconcileSubject(ref)], undefined, { anyMessage: true });
  if (!(await o.leases.forget(o.held))) return false;
  o.metrics.counter('wadm_lattices_collected_total', 'idle lattices garbage-collected by this replica').inc();
  log.info('idle lattice garbage-collected (state, signal and lease removed; manifests kept)');
  const stateStream = `KV_${o.state.mirror.bucket}`;
  const [stateLast, leaseLast] = await Promise.all([o.ctx.jsm.streams.info(stateStream), o.ctx.jsm.streams.info(bucketStream(LEASE_BUCKET))]);
  const t = setTimeout(() => {
    void Promise.all([
      // Every marker of the lattice: of the keys just removed and of those removed before (in-flight records).
      subjectsOf(o.ctx.jsm, stateStream, `$KV.${o.state.mirror.bucket}.${latticePrefix(ref)}.>`).then((subjects) => dropMarkers(o.ctx.jsm, stateStream, subjects, stateLast.state.last_seq)),
      dropMarkers(o.ctx.jsm, bucketStream(LEASE_BUCKET), [bucketKeySubject(LEASE_BUCKET, leaseKey(ref))], leaseLast.state.last_seq),
    ]).catch((err: unknown) => log.warn({ err: (err as Error).message }, 'dropping the markers of a collected lattice failed'));
  }, o.markerDelayMs ?? 2000);
  t.unref();
  return true;
}

/**
 * After a pass: track idleness on the lease; collect the lattice once idle for `gcAfterMs`. Returns ms
 * until the lattice should be looked at again for collection (undefined: not idle, or collected).
 */
export async function idleLattice(o: CollectOptions & { gcAfterMs: number }, idle: boolean): Promise<number | undefined> {
  const h = o.held;
  const lease = o.leases.lease(h.ref);
  if (!lease) return undefined;
  if (!idle) {
    if (lease.idleSince !== undefined) await o.leases.setIdleSince(h, undefined);
    return undefined;
  }
  const since = lease.idleSince ?? Date.now();
  if (lease.idleSince === undefined) await o.leases.setIdleSince(h, since);
  const due = since + o.gcAfterMs - Date.now();
  if (due > 0) return due + 10;
  const collected = await collectLattice({ ctx: o.ctx, state: o.state, leases: o.leases, logger: o.logger, metrics: o.metrics, held: h });
  // Something changed meanwhile (a late event, a record written): try again shortly if still idle.
  return collected ? undefined : 1000;
}

/** Markers younger than this are kept: a watch that resumes after a stall still finds what it missed. */
export const MARKER_MAX_AGE_MS = 3_600_000;
/** How often an owner sweeps a lattice's old markers. */
export const MARKER_SWEEP_EVERY_MS = 600_000;

/**
 * Drop the delete markers of a live lattice's removed state keys once they are older than `maxAgeMs`,
 * one message at a time. Without it they pile up for as long as the lattice lives: every chunk of
 * commands is recorded under an in-flight key of its own, removed once done, and its marker stays (the
 * last message of its subject). Only keys the view does not hold are looked at, at most `limit` per sweep.
 *
 * Why an age bound is enough: a watch that is behind by less than `maxAgeMs` still gets every marker it
 * has not seen; a replica stalled for longer has been disconnected by the server (its pings), and a
 * reconnect rebuilds the view from fresh initial values, which no longer list the key either.
 * Returns how many markers were dropped.
 */
export async function sweepMarkers(o: { ctx: JetStreamContext; state: StateView; ref: LatticeRef; maxAgeMs?: number; limit?: number; now?: number }): Promise<number> {
  const bucket = o.state.mirror.bucket;
  const stream = `KV_${bucket}`;
  const prefix = `$KV.${bucket}.`;
  const subjects = await subjectsOf(o.ctx.jsm, stream, `${prefix}${latticePrefix(o.ref)}.>`);
  const removed = subjects.filter((s) => o.state.mirror.get(s.slice(prefix.length)) === undefined).slice(0, o.limit ?? 1000);
  if (removed.length === 0) return 0;
  return dropMarkers(o.ctx.jsm, stream, removed, undefined, { storedBefore: (o.now ?? Date.now()) - (o.maxAgeMs ?? MARKER_MAX_AGE_MS) });
}
