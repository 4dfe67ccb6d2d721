/**
 * Scalers are not evaluated again while nothing they depend on changed: a pass at 1,000 apps spent most
 * of its time re-placing instances that were already where they belong, or whose placement was in flight.
 *
 * A workload scaler's evaluation (`evalWorkload`) depends on its spec, the instances of its entity, the
 * live hosts and their labels, in-flight placements of its entity, the host load (only where new
 * instances go), and its configs. Two kinds of evaluation are kept:
 * - **clean**: no command, failure, waiting reason or held instance, every instance the scaler's own;
 * - **pinned** (a deploy under way): no failure, waiting reason or held instance, and every instance and
 *   in-flight placement of the scaler is where the placement wants it, at the wanted count, with nothing
 *   else wanted. Its commands are the placements in flight, wanted again; the issuer holds them back
 *   while they are in flight and issues them again when they expire (the in-flight placements then
 *   change, so the evaluation is not reused).
 * Either is reused only when the spec is the same (the same object, as desired state is memoised per
 * stored manifest, or an equal one after the app record was rewritten), the entity's instances are the
 * very same objects in the same order (`instanceOf` memoises them per state value, and the view replaces
 * a value only when it changes), the entity's in-flight placements are the same (host, scaler, spread and
 * count), the hosts and their labels are the same, and its configs gate the same way (ready, nothing to
 * wait for). Then the evaluation would be the same: the placement takes a scaler's own and in-flight hosts
 * before any other, so one that those hosts satisfy exactly never looked at the load or the tie-break;
 * and such a scaler adds nothing to any host's load. `packages/reconcile/test/plan-memo.test.ts` plans
 * sequences of lattices with and without a memo and compares every output.
 *
 * Statuses are kept too, so that a pass at rest builds and compares nothing for an app that did not
 * change: a reused evaluation's scaler status (the same pending count, no backoff) is the same object
 * every pass (`scalerStatus`), and an app whose scaler statuses are all the very objects of the last pass
 * gets the very status object of the last pass (`appStatus`); the owner's status publisher then knows it
 * unchanged by identity.
 *
 * A memo belongs to one lattice's owner; it is a cache and never changes what a pass decides.
 */
import type { ScalerStatus, Status } from '@wadm-ts/model';
import { SCALER_KEY } from '@wadm-ts/protocol';
import type { HostEntity } from '@wadm-ts/entities';
import type { WorkloadSpec } from './desired.js';
import type { ScalerEval } from './evaluation.js';
import type { Instance } from './observed.js';
import type { PendingPlacement } from './placement.js';
import { sameJson } from './ids.js';
import { opsFor } from './commands.js';
import { scalingMessage } from './workloads.js';

interface Entry {
  spec: WorkloadSpec;
  instances: Instance[];
  /** The entity's in-flight placements when it was evaluated, by host (none: undefined). */
  pending: Array<[string, PendingPlacement]> | undefined;
  eval: ScalerEval;
}

/** The same in-flight placements (host, scaler, spread, count; not when they were issued). */
function samePending(kept: Entry['pending'], now: ReadonlyMap<string, PendingPlacement> | undefined): boolean {
  if (kept === undefined || now === undefined) return kept === undefined && (now === undefined || now.size === 0);
  if (kept.length !== now.size) return false;
  for (const [h, p] of kept) {
    const q = now.get(h);
    if (q === undefined || q.scaler !== p.scaler || q.spread !== p.spread || q.count !== p.count) return false;
  }
  return true;
}

interface AppEntry {
  scalers: readonly ScalerStatus[];
  extra: number;
  status: Status;
}

export class ScalerMemo {
  private entries = new Map<string, Entry>();
  private next = new Map<string, Entry>();
  /** Scaler statuses of kept evaluations, by pending count (no backoff): see `scalerStatus`. */
  private readonly scalerStatuses = new WeakMap<ScalerEval, { pending: number; status: ScalerStatus }>();
  private apps = new Map<string, AppEntry>();
  private nextApps = new Map<string, AppEntry>();
  private hostsKey: string | undefined;
  /** Scalers reused in the current pass (read by tests). */
  reused = 0;
  /** Of those, scalers with placements in flight (pinned). */
  reusedInFlight = 0;

  /** Start a pass over these live hosts: a change of hosts or labels forgets everything. */
  begin(hosts: readonly HostEntity[]): void {
    let key = '';
    for (const h of hosts) {
      key += `${h.id}\u0001`;
      for (const k of Object.keys(h.labels).sort()) key += `${k}\u0002${h.labels[k]}\u0003`;
      key += '\u0004';
    }
    if (key !== this.hostsKey) this.entries.clear();
    this.hostsKey = key;
    this.next = new Map();
    // App statuses are asked for after `end` (planLattice's last phase): the last pass's are kept until now.
    this.apps = this.nextApps;
    this.nextApps = new Map();
    this.reused = 0;
    this.reusedInFlight = 0;
  }

  /**
   * The reuses counted since the last call (converged, pinned), and count again from zero: for the owner's
   * metrics, read after every pass (a pass over a lattice without hosts plans nothing and does not `begin`).
   */
  takeReused(): { converged: number; pinned: number } {
    const out = { converged: this.reused - this.reusedInFlight, pinned: this.reusedInFlight };
    this.reused = this.reusedInFlight = 0;
    return out;
  }

  /** End a pass: only scalers of this pass are kept. */
  end(): void {
    this.entries = this.next;
    this.next = new Map();
  }

  /**
   * The status of scaler evaluation `e` with `pending` commands and no backoff, made by `make`: for an
   * evaluation this memo kept (reused across passes), the object made the first time, while `pending` is
   * the same. Any other evaluation gets a new one.
   */
  scalerStatus(e: ScalerEval, pending: number, make: () => ScalerStatus): ScalerStatus {
    const c = this.scalerStatuses.get(e);
    if (c !== undefined && c.pending === pending) return c.status;
    const status = make();
    if (this.isKept(e)) this.scalerStatuses.set(e, { pending, status });
    return status;
  }

  /** Whether `e` is an evaluation this memo keeps (the object `get` hands out). */
  private isKept(e: ScalerEval): boolean {
    return (this.next.get(e.id) ?? this.entries.get(e.id))?.eval === e;
  }

  /**
   * The status of app `app` from these scaler statuses and `extra` cleanup infos, made by `make`: the last
   * pass's object when every scaler status is the very object of the last pass (and `extra` the same).
   */
  appStatus(app: string, scalers: readonly ScalerStatus[], extra: number, make: () => Status): Status {
    const prev = this.apps.get(app);
    let status: Status;
    if (prev !== undefined && prev.extra === extra && prev.scalers.length === scalers.length && prev.scalers.every((x, i) => x === scalers[i])) status = prev.status;
    else status = make();
    this.nextApps.set(app, { scalers, extra, status });
    return status;
  }

  /** The evaluation kept for `spec`, if its inputs are unchanged (see above). */
  get(spec: WorkloadSpec, byHost: ReadonlyMap<string, Instance>, pending: ReadonlyMap<string, PendingPlacement> | undefined, gateClean: boolean): ScalerEval | undefined {
    const e = this.entries.get(spec.id);
    if (!e || !gateClean || e.instances.length !== byHost.size || !samePending(e.pending, pending)) return undefined;
    // A rewritten app record (e.g. its rollout history) decodes into new, equal specs: compared by value once.
    if (e.spec !== spec) {
      if (!sameJson(e.spec, spec)) return undefined;
      e.spec = spec;
    }
    let i = 0;
    for (const inst of byHost.values()) if (inst !== e.instances[i++]) return undefined;
    this.next.set(spec.id, e);
    this.reused++;
    if (e.pending) this.reusedInFlight++;
    return e.eval;
  }

  /** Keep `ev` for `spec` when it is clean, or pinned (see above), and every instance is the scaler's own. */
  put(spec: WorkloadSpec, byHost: ReadonlyMap<string, Instance>, pending: ReadonlyMap<string, PendingPlacement> | undefined, gateClean: boolean, pinned: boolean, ev: ScalerEval): void {
    const inFlight = pending !== undefined && pending.size > 0;
    if (!gateClean || ev.failures.length > 0 || ev.waiting.length > 0 || (ev.held?.length ?? 0) > 0) return;
    if (!pinned && (inFlight || ev.commands.length > 0)) return;
    const instances = [...byHost.values()];
    if (instances.some((i) => i.annotations[SCALER_KEY] !== spec.id)) return;
    // Kept detached from the pass that made it: `busy` is the plain scaling message (no predecessors),
    // while the evaluation's own closure holds that pass's whole context (observed index, host load).
    const kept: ScalerEval = { id: ev.id, kind: ev.kind, name: ev.name, app: ev.app, commands: [...ev.commands], failures: [], waiting: [], unhealthy: ev.unhealthy, busy: scalingMessage(opsFor(spec.workload).noun), held: [] };
    this.next.set(spec.id, { spec, instances, pending: inFlight ? [...pending] : undefined, eval: kept });
  }
}
